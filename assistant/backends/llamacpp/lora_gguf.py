"""PEFT adapters in the form llama.cpp reads: LoRA as a GGUF adapter file,
soft prompts as plain float arrays.

LoRA. llama.cpp loads run-time adapters from a GGUF file whose
``general.type`` is ``adapter``, ``adapter.type`` is ``lora`` and
``adapter.lora.alpha`` holds alpha; each adapted weight ``W`` of the base
GGUF comes as two tensors ``<W>.lora_a`` (rank x in) and ``<W>.lora_b``
(out x rank), in PyTorch's layout, and llama.cpp adds
``scale * alpha / rank * B @ A @ x`` (``llama-graph.cpp``, ``build_lora_mm``)
-- PEFT's own scaling (``lora_alpha / r``) -- so a user scale of 1.0 reproduces
PEFT. Module names map to GGUF names as in llama.cpp's
``convert_hf_to_gguf.py``: ``model.layers.N.self_attn.q_proj`` ->
``blk.N.attn_q``, and so on.

The rotary permutation. When llama.cpp's converter writes a Llama model it
reorders the rows of ``q_proj`` and ``k_proj`` per head, from the half-split
rotary layout Hugging Face uses to the interleaved one llama.cpp uses
(``LlamaModel.permute`` in ``convert_hf_to_gguf.py``); transformers undoes
this when it loads a GGUF. A LoRA trained on the transformers model therefore
has ``B`` rows in Hugging Face's order, and ``B`` of ``q_proj`` / ``k_proj`` must
be permuted the same way (``A`` acts on the input and is left alone).

rsLoRA (``use_rslora``) scales by ``alpha / sqrt(r)``; it is written as an
alpha of ``lora_alpha * sqrt(r)`` so llama.cpp's ``alpha / r`` gives the same.

Nothing here imports torch: adapters are read with safetensors' numpy API.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.adapters import AdapterError

#: Hugging Face Llama module -> GGUF tensor stem (convert_hf_to_gguf.py's tensor map)
MODULE_NAMES = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
_KEY = re.compile(r"(?:^|\.)layers\.(\d+)\.(self_attn\.[a-z_]+|mlp\.[a-z_]+)\.lora_([AB])(?:\.[^.]+)?\.weight$")

#: bumped when the written file changes, so cached conversions are redone
FORMAT_VERSION = 1


@dataclass(frozen=True)
class BaseShape:
    """What the permutation needs to know of the base model."""

    n_head: int
    n_head_kv: int
    architecture: str = "llama"


def permute_rows(weight: np.ndarray, n_head: int) -> np.ndarray:
    """Reorder the output rows of a q/k projection (or LoRA B) from Hugging
    Face's rotary layout to llama.cpp's, head by head: within each head the
    two halves (all real parts, then all imaginary parts) are interleaved."""
    rows = weight.shape[0]
    if rows % (2 * n_head):
        raise AdapterError(f"cannot permute {rows} rows over {n_head} heads", "is the base model a Llama model?")
    return (weight.reshape(n_head, 2, rows // n_head // 2, *weight.shape[1:])
            .swapaxes(1, 2).reshape(weight.shape))


def read_base_shape(gguf_path: str | Path) -> BaseShape:
    from .gguf_file import read_gguf

    reader = read_gguf(gguf_path)

    def field(name: str) -> object:
        f = reader.fields.get(name)
        if f is None:
            raise AdapterError(f"{gguf_path} has no {name}", "is it a llama.cpp model file?")
        return f.contents()

    arch = str(field("general.architecture"))
    return BaseShape(int(field(f"{arch}.attention.head_count")),  # type: ignore[arg-type]
                     int(field(f"{arch}.attention.head_count_kv")), arch)  # type: ignore[arg-type]


def lora_tensors(folder: str | Path, base: BaseShape) -> tuple[dict[str, np.ndarray], float]:
    """The GGUF tensors (name -> float32 array) of the PEFT LoRA in ``folder``,
    and the alpha to write."""
    folder = Path(folder)
    config = json.loads((folder / "adapter_config.json").read_text())
    if config.get("peft_type") != "LORA":
        raise AdapterError(f"{folder.name} is a {config.get('peft_type')} adapter, not a LoRA",
                           "only LoRA adapters convert to llama.cpp adapter files")
    if config.get("use_dora"):
        raise AdapterError(f"{folder.name} is a DoRA adapter, which llama.cpp cannot apply",
                           "use --backend transformers for it")
    if config.get("rank_pattern") or config.get("alpha_pattern"):
        raise AdapterError(f"{folder.name} has per-module ranks or alphas, which one GGUF alpha cannot express",
                           "use --backend transformers for it")
    from safetensors.numpy import load_file

    weights = load_file(str(folder / "adapter_model.safetensors"))
    rank = int(config["r"])
    alpha = float(config["lora_alpha"]) * (math.sqrt(rank) if config.get("use_rslora") else 1.0)
    out: dict[str, np.ndarray] = {}
    for key, value in weights.items():
        match = _KEY.search(key)
        if not match:
            raise AdapterError(f"{folder.name}: cannot place tensor {key} in the llama.cpp model",
                               "llama.cpp adapters cover the attention and MLP projections only; "
                               "use --backend transformers for this adapter")
        layer, module, which = match.groups()
        if module not in MODULE_NAMES:
            raise AdapterError(f"{folder.name}: unknown module {module}", "use --backend transformers for it")
        array = value.astype(np.float32)
        if which == "B" and module == "self_attn.q_proj":
            array = permute_rows(array, base.n_head)
        elif which == "B" and module == "self_attn.k_proj":
            array = permute_rows(array, base.n_head_kv)
        out[f"blk.{layer}.{MODULE_NAMES[module]}.weight.lora_{which.lower()}"] = np.ascontiguousarray(array)
    if not out:
        raise AdapterError(f"{folder.name} holds no LoRA weights", "train it again with `assistant tune sft`")
    return out, alpha


def write_lora_gguf(folder: str | Path, base_gguf: str | Path, target: str | Path) -> Path:
    """Convert the PEFT LoRA in ``folder`` for the model in ``base_gguf``."""
    base = read_base_shape(base_gguf)
    tensors, alpha = lora_tensors(folder, base)
    return write_adapter_gguf(tensors, alpha, base.architecture, target)


def write_adapter_gguf(tensors: dict[str, np.ndarray], alpha: float, architecture: str,
                       target: str | Path) -> Path:
    """A llama.cpp LoRA adapter file of GGUF-named ``tensors``, written
    atomically (temporary file, then rename)."""
    from gguf import GGUFWriter

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    writer = GGUFWriter(str(tmp), architecture)
    writer.add_type("adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", alpha)
    writer.add_uint32("assistant.lora_gguf.version", FORMAT_VERSION)
    for name, array in sorted(tensors.items()):
        writer.add_tensor(name, array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(tmp, target)
    return target


def soft_prompt(folder: str | Path) -> np.ndarray:
    """The virtual-token embeddings (k x hidden, float32) of a PEFT prompt-tuning adapter."""
    folder = Path(folder)
    config = json.loads((folder / "adapter_config.json").read_text())
    if config.get("peft_type") != "PROMPT_TUNING":
        raise AdapterError(f"{folder.name} is a {config.get('peft_type')} adapter, not a soft prompt",
                           "use --backend transformers for it")
    from safetensors.numpy import load_file

    weights = load_file(str(folder / "adapter_model.safetensors"))
    if "prompt_embeddings" not in weights:
        raise AdapterError(f"{folder.name} has no prompt_embeddings tensor", "train it again with `assistant tune sft`")
    return np.ascontiguousarray(weights["prompt_embeddings"].astype(np.float32))
