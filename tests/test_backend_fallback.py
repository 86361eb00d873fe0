"""A broken (not missing) llama.cpp install: the assistant falls back to the
transformers backend with one notice saying why (assistant/backends/__init__.py), and
still answers. The missing case is in tests/test_llamacpp.py.

A fake ``llama_cpp`` package stands in for the broken install. It is put
first on sys.path; a real
``llama_cpp`` this process may already have imported is set aside for the
test and put back after it, so later llama.cpp tests see the real one.

ASSISTANT_REQUIRE_LLAMACPP=1 (set in CI) turns the llama.cpp backend's own
tests from skips into failures, through the ``embedded_llamacpp_llm`` fixture.
These tests are about what a user with a broken install gets, whether or not
the real backend works here, so they do not use that fixture and clear the
variable: CI's setting cannot change their outcome.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from assistant import Decoding, Settings
from assistant.backends import load_llm

pytestmark = pytest.mark.real_model  # the fallback loads the embedded generator on transformers

#: What llama-cpp-python 0.3 raises on import when its shared library cannot be loaded.
BROKEN_LIBRARY = ('raise RuntimeError("Failed to load shared library \'/site-packages/llama_cpp/lib/libllama.so\': '
                  'libggml-base.so: cannot open shared object file: No such file or directory")\n')
#: A dynamic linker error (an OSError) from a build against another libc or CPU.
BAD_SYMBOL = 'raise OSError("libllama.so: undefined symbol: ggml_backend_cpu_init")\n'
#: A package that imports but is not the llama-cpp-python the backend was written for.
NO_SYMBOLS = '__version__ = "0.0.1"  # none of the llama_* functions the runtime calls\n'


@pytest.fixture
def fake_llama_cpp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``install(source)``: make ``import llama_cpp`` run ``source``."""
    monkeypatch.delenv("ASSISTANT_REQUIRE_LLAMACPP", raising=False)

    def install(source: str) -> None:
        root = tmp_path / "fake-site"
        (root / "llama_cpp").mkdir(parents=True)
        (root / "llama_cpp" / "__init__.py").write_text(source)
        monkeypatch.syspath_prepend(str(root))
        for name in [n for n in sys.modules if n == "llama_cpp" or n.startswith("llama_cpp.")]:
            monkeypatch.delitem(sys.modules, name)
        # record "llama_cpp" (absent now) so teardown also removes the fake module an import leaves behind
        monkeypatch.setitem(sys.modules, "llama_cpp", None)
        del sys.modules["llama_cpp"]

    return install


def _settings() -> Settings:
    # auto, the embedded GGUF model and the CPU: the case where llama.cpp is chosen when it works;
    # float32 spares the bfloat16 decode copy, which has nothing to do with the fallback
    return Settings(backend="auto", model="embedded", device="cpu", dtype="float32")


@pytest.mark.parametrize("source", [BROKEN_LIBRARY, BAD_SYMBOL], ids=["library-fails-to-load", "undefined-symbol"])
def test_a_llamacpp_that_fails_to_import_falls_back_with_one_notice(fake_llama_cpp, source):
    from assistant.backends.transformers.llm import TransformersLLM

    fake_llama_cpp(source)
    llm, notices = load_llm(_settings())
    assert isinstance(llm, TransformersLLM)
    assert len(notices) == 1, notices
    [notice] = notices
    assert notice.startswith("llama.cpp backend not used: llama-cpp-python is installed but broken (") and \
        notice.endswith("; using transformers"), notice
    # the cause is quoted, so the user can tell a broken build from a missing package
    assert ("Failed to load shared library" if "RuntimeError" in source else "undefined symbol") in notice
    assert "not installed" not in notice


def test_a_llamacpp_without_its_functions_falls_back_and_the_engine_still_answers(fake_llama_cpp):
    from assistant.engine import Engine
    from assistant.backends.transformers.llm import TransformersLLM

    fake_llama_cpp(NO_SYMBOLS)
    said: list[str] = []
    engine = Engine(_settings(), progress=said.append)
    answer = engine.answer("Name a colour.", use_retrieval=False, decoding=Decoding(max_new_tokens=2))
    assert isinstance(engine.llm, TransformersLLM)
    assert answer.text.strip() and answer.usage.completion_tokens > 0
    # one notice, kept by the engine (the chat shows these) and said once through progress (the command
    # line prints what progress says, so this is the one line `assistant ask` shows)
    assert len(engine.notices) == 1, engine.notices
    assert engine.notices[0].startswith("llama.cpp backend failed to load (") and "llama_" in engine.notices[0]
    assert [line for line in said if "llama.cpp" in line] == [f"note: {engine.notices[0]}"]



class ExplodingBackend:
    """A plugin backend with a bug: it claims its specs and then raises on load."""

    label = "exploding"
    priority = 40

    def claims(self, settings):
        return settings.model.startswith("boom:")

    def problem(self, settings):
        return None

    def load(self, settings, progress=None):
        raise RuntimeError("kaput")


class CrashingClaimsBackend:
    label = "crashing"
    priority = 50

    def claims(self, settings):
        raise KeyError("oops")


class UnbuildableBackend:
    label = "unbuildable"

    def __init__(self):
        raise ValueError("no config")


def test_a_plugin_backend_that_raises_is_an_error_naming_it_and_the_others_still_run(tmp_path):
    from assistant import ModelError
    from assistant.backends import BUILT_IN, choose_backend

    backends = {**BUILT_IN, "exploding": ExplodingBackend, "unbuildable": UnbuildableBackend}
    with pytest.raises(ModelError, match="backend 'exploding' failed to load the model: RuntimeError: kaput") as err:
        load_llm(Settings(model="boom:x", backend="exploding"), backends=backends)
    assert "--backend" in err.value.hint
    with pytest.raises(ModelError, match="backend 'unbuildable' failed to start: ValueError: no config"):
        load_llm(Settings(backend="unbuildable"), backends=backends)
    name, notices = choose_backend(Settings(), backends)  # the embedded model, on a built-in backend
    assert name in BUILT_IN and any("unbuildable backend not used" in n for n in notices)
    # a backend that crashes while looking at a spec is passed over; a wrong path still says so
    backends["crashing"] = CrashingClaimsBackend
    name, notices = choose_backend(Settings(), backends)
    assert name in BUILT_IN and any("crashing backend not used" in n and "KeyError" in n for n in notices)
    with pytest.raises(ModelError, match="does not exist") as err:
        choose_backend(Settings(model=str(tmp_path / "missing.gguf")), backends)
    assert "bug in the backend" not in str(err.value)

    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "exploding.py").write_text(
        "from assistant import hookimpl\n"
        "class Exploding:\n"
        "    label = 'exploding'\n"
        "    def claims(self, settings): return settings.model.startswith('boom:')\n"
        "    def problem(self, settings): return None\n"
        "    def load(self, settings, progress=None): raise RuntimeError('kaput')\n"
        "@hookimpl\n"
        "def register_backends(register):\n"
        "    register('exploding', Exploding)\n")
    from .conftest import run_cli

    result = run_cli("--plugins-dir", str(plugins), "ask", "Hi?", "--no-retrieval", "--model", "boom:x")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "backend 'exploding' failed to load the model: RuntimeError: kaput" in result.stderr
