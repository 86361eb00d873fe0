"""pytest fixtures for plugin authors, registered through the ``pytest11``
entry point, so any project that installs ``assistant`` can use them."""

from __future__ import annotations

from pathlib import Path

import pytest

from .corpus import write_tiny_corpus
from .scripted import ScriptedLLM


@pytest.fixture
def scripted_llm():
    """A factory: ``scripted_llm(reply)`` builds a :class:`ScriptedLLM`."""
    return ScriptedLLM


@pytest.fixture
def tiny_corpus(tmp_path: Path) -> Path:
    """A folder holding the three documents of ``TINY_CORPUS``."""
    return write_tiny_corpus(tmp_path / "tiny-corpus")


@pytest.fixture(scope="session")
def embedded_llm():
    """The real embedded default model (float32 on CPU: deterministic greedy text)."""
    from assistant.backends.transformers.llm import TransformersLLM
    from ..models import load_generator

    return TransformersLLM(load_generator("embedded", device="cpu", dtype="float32"))


@pytest.fixture(scope="session")
def embedded_llamacpp_llm():
    """The embedded default model on the llama.cpp backend. Skips when
    llama-cpp-python is not installed, unless ``ASSISTANT_REQUIRE_LLAMACPP=1``
    (CI sets it), where a missing backend fails instead."""
    import os

    from ..backends import llamacpp_problem

    problem = llamacpp_problem()
    if problem:
        if os.environ.get("ASSISTANT_REQUIRE_LLAMACPP") == "1":
            pytest.fail(f"ASSISTANT_REQUIRE_LLAMACPP=1 but {problem}")
        pytest.skip(problem)
    from assistant.backends.llamacpp.backend import LlamaCppLLM
    from assistant.backends.llamacpp.runtime import Runtime
    from ..models import embedded_gguf, resolve_generator

    gguf = embedded_gguf()
    return LlamaCppLLM(Runtime(gguf), gguf, resolve_generator("embedded").label)
