"""Which backend runs the generator: llama.cpp or transformers.

``backend = "auto"`` (the default) uses llama.cpp for a GGUF model on the CPU
when ``llama-cpp-python`` is installed -- it decodes about five times faster
there -- and transformers otherwise (a GPU, a Hugging Face folder or hub id).
``"llamacpp"`` insists (still falling back, with a notice, when it cannot
load); ``"transformers"`` is the reference implementation, and the one that
trains.

A missing or broken llama.cpp install never stops the assistant: the
transformers backend takes over and one line says why.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import ConfigError, ModelError

BACKENDS = ("auto", "transformers", "llamacpp")


def llamacpp_problem() -> str | None:
    """Why llama.cpp cannot be used here, or None when it can."""
    try:
        from .llamacpp.runtime import import_llama_cpp

        import_llama_cpp()
    except ImportError:
        return "llama-cpp-python is not installed (pip install 'assistant[llamacpp]')"
    except (OSError, AttributeError, RuntimeError) as exc:  # a broken build: missing or mismatched library
        return f"llama-cpp-python is installed but broken ({str(exc).splitlines()[0][:120]})"
    return None


def load_llm(settings: Any, progress: Callable[[str], None] | None = None) -> tuple[Any, list[str]]:
    """The generator for ``settings`` and the notices to show (at most one line)."""
    from .models import conversion_dir, is_converted, resolve_device, resolve_generator

    choice = getattr(settings, "backend", "auto") or "auto"
    if choice not in BACKENDS:
        raise ConfigError(f"unknown backend {choice!r}", f"use one of: {', '.join(BACKENDS)}")
    notices: list[str] = []
    if choice != "transformers":
        source = resolve_generator(settings.model)
        device = resolve_device(settings.device)
        problem = None
        if source.kind != "gguf":
            problem = "the model is not a GGUF file"
        elif device != "cpu":
            problem = f"the model runs on {device}"
        if problem and choice == "llamacpp":
            notices.append(f"llama.cpp backend not used: {problem}; using transformers")
        if not problem:
            problem = llamacpp_problem()
            if problem:
                notices.append(f"llama.cpp backend not used: {problem}; using transformers")
            else:
                try:
                    from .llamacpp.backend import LlamaCppLLM
                    from .llamacpp.runtime import ContextOptions, Runtime

                    gguf = Path(source.location)
                    runtime = Runtime(gguf, ContextOptions(n_ctx=max(4096, settings.context_window or 0),
                                                          n_threads=max(0, settings.threads)))
                    folder = conversion_dir(gguf)
                    llm = LlamaCppLLM(runtime, gguf, source.label, settings.context_window,
                                      reference=lambda: _transformers(settings, progress, "cpu"),
                                      base_folder=str(folder) if is_converted(folder) else None)
                    return llm, notices
                except (ModelError, OSError, AttributeError) as exc:
                    message = getattr(exc, "message", None) or str(exc)
                    notices.append(f"llama.cpp backend failed to load ({message}); using transformers")
    return _transformers(settings, progress), notices


def _transformers(settings: Any, progress: Callable[[str], None] | None, device: str | None = None) -> Any:
    from .hf_llm import TransformersLLM
    from .models import load_generator

    if settings.threads > 0:
        import torch

        torch.set_num_threads(settings.threads)
    loaded = load_generator(settings.model, device or settings.device, settings.dtype,
                            offline=settings.offline, progress=progress)
    # dtype "auto" on the CPU: float32 weights prefill (fast matrix products),
    # a bfloat16 copy decodes (half the bytes to read per token); see hf_decode.py
    decode_dtype = "bfloat16" if settings.dtype == "auto" and loaded.device == "cpu" else None
    return TransformersLLM(loaded, context_window=settings.context_window, decode_dtype=decode_dtype)
