"""A LoRA merged into a copy of the base GGUF, so decoding with one adapter
costs what decoding without one costs.

Why: llama.cpp applies a run-time LoRA as four extra graph nodes per adapted
matrix (``B @ (A @ x)``, a scale, an add; ``build_lora_mm`` in
``llama-graph.cpp``): 480 nodes for q, k, v, o over 30 layers, each a
synchronisation of the thread pool. On 2 cores that was measured at 0.90-0.97x
of the base model's decode speed (``assistant bench --only backends``).

How: every adapted weight ``W`` is dequantized, ``scale * alpha / r * B @ A``
is added (``B`` already in llama.cpp's rotary row order, see
:mod:`assistant.backends.llamacpp.lora_gguf`), and the sum is stored as ``Q8_0``; every
other tensor and all metadata are copied byte for byte. Why ``Q8_0`` and not
the base's 4-bit type: a LoRA's update is smaller than a 4-bit step and would
mostly round away; a ``Q8_0`` step is ~1/8 of a ``Q4_1`` step (255 levels over
the block's largest magnitude against 16 over its range), the same order as
the ``Q8_1`` rounding llama.cpp already applies to activations, so the merged
model matches the run-time adapter within the tolerance of the equivalence
tests (tests/test_llamacpp.py), and ``Q8_0`` products decode at the base's
speed here (measured, ``llama_decode`` alone, tokens/s: base 103-107, merged
``Q8_0`` 101-109, run-time LoRA 93-97; merged ``F16`` was slower than the
run-time LoRA, 110 vs 114 with the base at 123, and ``F32`` 90).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from assistant.adapters import AdapterError

#: bumped when the written file changes, so cached merges are redone
MERGE_VERSION = 1


def write_merged_gguf(base_gguf: str | Path, tensors: dict[str, np.ndarray], alpha: float, scale: float,
                      target: str | Path, qtype_name: str = "Q8_0") -> Path:
    """The base model with the LoRA ``tensors`` (GGUF names ``<W>.lora_a`` /
    ``<W>.lora_b``) merged at ``scale``, written atomically to ``target``."""
    from gguf import GGMLQuantizationType, GGUFValueType, GGUFWriter
    from gguf.quants import dequantize, quantize

    from .gguf_file import read_gguf

    reader = read_gguf(base_gguf)
    qtype = GGMLQuantizationType[qtype_name]
    stems = {name.rsplit(".lora_", 1)[0] for name in tensors}
    known = {t.name for t in reader.tensors}
    missing = sorted(stems - known)
    if missing:
        raise AdapterError(f"the adapter changes {missing[0]}, which {Path(base_gguf).name} does not have",
                           "was the adapter trained for this model?")
    merged: dict[str, np.ndarray] = {}
    for tensor in reader.tensors:
        if tensor.name not in stems:
            continue
        a, b = tensors[f"{tensor.name}.lora_a"], tensors[f"{tensor.name}.lora_b"]
        weight = dequantize(tensor.data, tensor.tensor_type).astype(np.float32)
        if weight.shape != (b.shape[0], a.shape[1]):
            raise AdapterError(f"the adapter's {tensor.name} is {b.shape[0]}x{a.shape[1]}, the model's is "
                               f"{weight.shape[0]}x{weight.shape[1]}", "was the adapter trained for this model?")
        weight += np.float32(scale * alpha / a.shape[0]) * (b @ a)
        merged[tensor.name] = quantize(weight, qtype)

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    arch = str(reader.fields["general.architecture"].contents())
    writer = GGUFWriter(str(tmp), arch)
    for field in reader.fields.values():
        # the writer adds the architecture and the GGUF header fields itself
        if field.name == "general.architecture" or field.name.startswith("GGUF."):
            continue
        kind = field.types[0]
        sub = field.types[-1] if kind == GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), kind, sub_type=sub)
    writer.add_uint32("assistant.merge.version", MERGE_VERSION)
    for tensor in reader.tensors:
        data = merged.get(tensor.name, tensor.data)
        kind = qtype if tensor.name in merged else tensor.tensor_type
        writer.add_tensor_info(tensor.name, data.shape, data.dtype, data.nbytes, raw_dtype=kind)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for tensor in reader.tensors:
        writer.write_tensor_data(merged.get(tensor.name, tensor.data))
    writer.close()
    os.replace(tmp, target)
    return target
