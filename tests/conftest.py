"""Shared fixtures. Tests never touch the user's data folder: ASSISTANT_HOME
points at a temporary folder for the whole session. The converted model
cache is shared with the user's (it is keyed by the GGUF file, so sharing
is safe) so that the ~20 s conversion happens once per machine."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "corpora" / "sample"
SHARED_DATA = REPO.parent / "shared" / "data"


def pytest_configure(config: pytest.Config) -> None:
    import tempfile

    home = Path(tempfile.mkdtemp(prefix="assistant-test-home-"))
    config._assistant_home = home  # type: ignore[attr-defined]
    os.environ["ASSISTANT_HOME"] = str(home)
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.pop("ASSISTANT_PLUGINS", None)
    os.environ.pop("ASSISTANT_TRACE_HOOKS", None)
    os.environ.pop("ASSISTANT_CONFIG", None)
    os.environ["XDG_CONFIG_HOME"] = str(home / "config")  # no user config file leaks in


def pytest_unconfigure(config: pytest.Config) -> None:
    import shutil

    home = getattr(config, "_assistant_home", None)
    if home is not None:
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty data folder for one test."""
    monkeypatch.setenv("ASSISTANT_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture(scope="session")
def real_llm(embedded_llm):
    """The embedded default generator, float32 on CPU (deterministic greedy text).

    ``embedded_llm`` comes from the test kit (assistant.testing.fixtures), so
    our tests and the strategy contract share one loaded model."""
    return embedded_llm


@pytest.fixture(scope="session")
def sample_engine(real_llm, tmp_path_factory: pytest.TempPathFactory):
    """An engine over the indexed sample corpus, in its own data folder."""
    from assistant import Settings
    from assistant.engine import Engine

    home = tmp_path_factory.mktemp("sample-home")
    old = os.environ.get("ASSISTANT_HOME")
    os.environ["ASSISTANT_HOME"] = str(home)
    try:
        engine = Engine(Settings(device="cpu", dtype="float32", max_new_tokens=48), llm=real_llm)
        engine.index(SAMPLE)
        engine.retriever()  # bind the collection while ASSISTANT_HOME points at it
    finally:
        if old is not None:
            os.environ["ASSISTANT_HOME"] = old
    return engine


def run_cli(*args: str, env: dict[str, str] | None = None, input: str | None = None,
            timeout: float = 300) -> "subprocess.CompletedProcess[str]":
    import subprocess

    return subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, input=input, timeout=timeout, cwd=REPO)
