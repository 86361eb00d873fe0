"""The built-in backends, transformers and llama.cpp, registered like any
plugin's (``register_backends``; the contract is :mod:`assistant.backend`).

``backend = "auto"`` (the default) asks the registered backends in order of
priority; with the built-ins that means it uses llama.cpp for a GGUF model on the CPU
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

from assistant.backend import Capabilities
from assistant.errors import AssistantError, ConfigError, ModelError
from assistant.hookspecs import hookimpl

AUTO = "auto"


def llamacpp_problem() -> str | None:
    """Why llama.cpp cannot be used here, or None when it can."""
    try:
        from assistant.backends.llamacpp.runtime import import_llama_cpp

        import_llama_cpp()
    except ImportError:
        return "llama-cpp-python is not installed (pip install 'assistant[llamacpp]')"
    except (OSError, AttributeError, RuntimeError) as exc:  # a broken build: missing or mismatched library
        return f"llama-cpp-python is installed but broken ({str(exc).splitlines()[0][:120]})"
    return None


class TransformersBackend:
    """The reference backend: any local model folder, GGUF file (dequantized
    once into the cache) or hub id, on the CPU or a GPU; the one that trains."""

    priority = 10
    label = "transformers"
    capabilities = Capabilities()

    def claims(self, settings: Any) -> bool:
        from assistant.models import resolve_generator

        resolve_generator(settings.model)  # a local path that does not exist fails here, for every backend
        return True

    def problem(self, settings: Any) -> str | None:
        return None

    def load(self, settings: Any, progress: Callable[[str], None] | None = None) -> Any:
        return _transformers(settings, progress)


class LlamaCppBackend:
    """GGUF models on the CPU through llama.cpp (llama-cpp-python): about five
    times faster than transformers there. Beam search and required words run
    on a transformers copy of the same weights, loaded when first needed."""

    priority = 20
    label = "llama.cpp"
    capabilities = Capabilities()

    def claims(self, settings: Any) -> bool:
        return self.problem(settings, install=False) is None

    def problem(self, settings: Any, install: bool = True) -> str | None:
        from assistant.models import resolve_device, resolve_generator

        if resolve_generator(settings.model).kind != "gguf":
            return "the model is not a GGUF file"
        device = resolve_device(settings.device)
        if device != "cpu":
            return f"the model runs on {device}"
        return llamacpp_problem() if install else None

    def load(self, settings: Any, progress: Callable[[str], None] | None = None) -> Any:
        from assistant.backends.llamacpp.backend import LlamaCppLLM
        from assistant.backends.llamacpp.runtime import ContextOptions, Runtime
        from assistant.models import conversion_dir, is_converted, resolve_generator

        source = resolve_generator(settings.model)
        gguf = Path(source.location)
        runtime = Runtime(gguf, ContextOptions(n_ctx=max(4096, settings.context_window or 0),
                                              n_threads=max(0, settings.threads)))
        folder = conversion_dir(gguf)
        return LlamaCppLLM(runtime, gguf, source.label, settings.context_window,
                           reference=lambda: _transformers(settings, progress, "cpu"),
                           base_folder=str(folder) if is_converted(folder) else None)


BUILT_IN = {"llamacpp": LlamaCppBackend, "transformers": TransformersBackend}


@hookimpl
def register_backends(register: Callable[[str, type], None]) -> None:
    for name, backend in BUILT_IN.items():
        register(name, backend)


def load_llm(settings: Any, progress: Callable[[str], None] | None = None,
             backends: dict[str, type] | None = None) -> tuple[Any, list[str]]:
    """The generator for ``settings`` and the notices to show (one line per
    backend passed over). ``backends`` are the registered backend classes by
    name (default: the built-in ones)."""
    viable, notices = plan(settings, backends)
    for i, (name, backend) in enumerate(viable):
        try:
            return backend.load(settings, progress), notices
        except AssistantError as exc:
            if not isinstance(exc, ModelError) or i + 1 == len(viable):
                raise
            error = exc
        except Exception as exc:  # noqa: BLE001 -- a backend's crash is a message naming it, never a traceback
            error = failure(name, "to load the model", exc)
            if i + 1 == len(viable):
                raise error from exc
            notices.append(f"{backend.label} backend failed to load ({error.message}); using {viable[i + 1][1].label}")
    raise AssertionError("unreachable: plan() raises when no backend can run the model")


class BackendCrashed(ModelError):
    """A backend raised something other than an ``AssistantError``: a crash,
    not a verdict on the model spec (so another backend may still claim it)."""


def failure(name: str, what: str, exc: BaseException) -> ModelError:
    """A backend that raised something other than an ``AssistantError``, as
    the error the user sees (a bug in the backend, not in their input)."""
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, (OSError, MemoryError)):
        hint = "free memory or disk space, check the model's files, or choose another backend with --backend"
    else:
        hint = ("a bug in the backend (assistant plugins -v shows which plugin registered it); "
                "choose another with --backend")
    return BackendCrashed(f"backend {name!r} failed {what}: {type(exc).__name__}" + (f": {detail}" if detail else ""),
                          hint)


def _guarded(name: str, what: str, fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except AssistantError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise failure(name, what, exc) from exc


def choose_backend(settings: Any, backends: dict[str, type] | None = None) -> tuple[str, list[str]]:
    """The name of the backend that will run ``settings.model`` and the
    notices about the others, without loading anything (so a wrong model
    spec fails before retrieval runs)."""
    viable, notices = plan(settings, backends)
    return viable[0][0], notices


def plan(settings: Any, backends: dict[str, type] | None = None) -> tuple[list[tuple[str, Any]], list[str]]:
    """The backends that can run ``settings.model``, best first, as (name,
    backend object), and a notice for each one passed over that the user
    would expect to run it: the one they named, or under ``auto`` one that
    claims the model but cannot run it here (llama.cpp not installed).
    Raises ``ModelError`` when none can, with every reason."""
    backends = backends or BUILT_IN
    choice = getattr(settings, "backend", AUTO) or AUTO
    if choice != AUTO and choice not in backends:
        raise ConfigError(f"unknown backend {choice!r}",
                          f"use one of: {', '.join([AUTO, *sorted(backends)])} (assistant plugins lists them)")
    objects: dict[str, Any] = {}
    passed: list[str] = []
    for name, cls in backends.items():
        try:
            objects[name] = _guarded(name, "to start", cls)
        except ModelError as exc:  # one broken plugin backend does not take the others down
            if name == choice:
                raise
            passed.append(f"{name} backend not used: {exc.message}")
    order = sorted(objects, key=lambda n: -getattr(objects[n], "priority", 0))
    viable: list[tuple[str, Any]] = []
    reasons: list[str] = []
    if choice != AUTO:
        order.remove(choice)
        problem = _guarded(choice, "to check the model", lambda: objects[choice].problem(settings))
        if problem is None:  # the named backend runs it: nothing else is probed, nothing falls back
            return [(choice, objects[choice])], []
        else:
            reasons.append(f"{objects[choice].label}: {problem}")
            passed.append(f"{objects[choice].label} backend not used: {problem}")
    wrong: ModelError | None = None  # a spec this backend finds wrong may be another's (a URL, say)
    for name in order:
        backend = objects[name]
        try:
            if not _guarded(name, "to check the model", lambda: backend.claims(settings)):
                continue
            problem = _guarded(name, "to check the model", lambda: backend.problem(settings))
        except ModelError as exc:
            if isinstance(exc, BackendCrashed):  # not a verdict on the spec: keep looking
                passed.append(f"{name} backend not used: {exc.message}")
            else:
                wrong = wrong or exc
            continue
        if problem is None:
            viable.append((name, backend))
            continue
        reasons.append(f"{backend.label}: {problem}")
        if choice == AUTO and not viable:
            passed.append(f"{backend.label} backend not used: {problem}")
    if not viable and wrong is not None and not reasons:  # no backend claimed it: the spec itself is wrong
        raise wrong
    if not viable:
        raise ModelError(f"no backend can run the model {settings.model!r}"
                         + (f" ({'; '.join(reasons)})" if reasons else ""),
                         "install the backend it needs, or choose another model (assistant plugins lists the backends)")
    return viable, [f"{p}; using {viable[0][1].label}" for p in passed]


def _transformers(settings: Any, progress: Callable[[str], None] | None, device: str | None = None) -> Any:
    from assistant.backends.transformers.llm import TransformersLLM
    from assistant.models import load_generator

    if settings.threads > 0:
        import torch

        torch.set_num_threads(settings.threads)
    loaded = load_generator(settings.model, device or settings.device, settings.dtype,
                            offline=settings.offline, progress=progress)
    # dtype "auto" on the CPU: float32 weights prefill (fast matrix products),
    # a bfloat16 copy decodes (half the bytes to read per token); see backends/transformers/decode.py
    decode_dtype = "bfloat16" if settings.dtype == "auto" and loaded.device == "cpu" else None
    return TransformersLLM(loaded, context_window=settings.context_window, decode_dtype=decode_dtype)
