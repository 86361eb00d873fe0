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

    _one_core_per_worker()

    home = Path(tempfile.mkdtemp(prefix="assistant-test-home-"))
    config._assistant_home = home  # type: ignore[attr-defined]
    os.environ["ASSISTANT_HOME"] = str(home)
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.pop("ASSISTANT_PLUGINS", None)
    os.environ.pop("ASSISTANT_TRACE_HOOKS", None)
    os.environ.pop("ASSISTANT_CONFIG", None)
    os.environ["XDG_CONFIG_HOME"] = str(home / "config")  # no user config file leaks in


def _one_core_per_worker() -> None:
    """Under pytest-xdist (``-n 2``), pin each worker to a core of its own.

    Two workers whose math libraries each start a thread per core would share
    2 cores among 4 busy threads, and llama.cpp's threads spin while they wait
    for each other (measured: a suite run with 2 unpinned workers took longer
    than one process). Pinned before torch or llama.cpp is imported, every
    library and every subprocess sees one usable core
    (:func:`assistant.cores.usable_cores`, OpenMP's default)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw") or not hasattr(os, "sched_setaffinity"):
        return
    cores = sorted(os.sched_getaffinity(0))
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > len(cores):
        return  # more workers than cores: leave the scheduler to share them
    os.sched_setaffinity(0, {cores[int(worker[2:]) % len(cores)]})
    os.environ["OMP_NUM_THREADS"] = "1"


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
            timeout: float = 300, process: bool = False) -> "subprocess.CompletedProcess[str]":
    """Run ``assistant ARGS`` and return its exit status, stdout and stderr.

    In this process by default (click's test runner: no interpreter start, no
    second import of torch and sentence-transformers, the process's embedder
    cache), with ``env`` applied for the call only and everything the command
    changes put back afterwards (see :func:`_in_process`). ``process=True``
    starts ``python -m assistant`` instead, for what only a real process shows:
    the installed entry points of a ``PYTHONPATH`` site, the end-to-end path
    from a cold start. ``timeout`` applies to processes (pytest-timeout covers
    the rest)."""
    import subprocess

    if process:
        return subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True, text=True,
                              env={**os.environ, **(env or {})}, input=input, timeout=timeout, cwd=REPO)
    returncode, stdout, stderr = _in_process(list(args), env or {}, input)
    return subprocess.CompletedProcess([sys.executable, "-m", "assistant", *args], returncode, stdout, stderr)


def _in_process(argv: list[str], env: dict[str, str], input: str | None) -> tuple[int, str, str]:
    """``assistant.cli.main(argv)`` run as a fresh process would run it, then
    what it leaves behind undone.

    Each call builds its own settings, plugin host and engine (main() does).
    Put back afterwards: the environment (the overrides and any change the
    command makes), the working folder (REPO, as for a process), the command
    tree (plugins add their commands on every call), logging handlers bound
    to the captured streams, the random generators and torch's thread count;
    the llama.cpp models the call loaded are freed (nothing else holds them)."""
    import traceback

    from click import formatting as click_formatting
    from click.testing import CliRunner

    from assistant.cli import build_cli, main
    from assistant.backends.llamacpp import runtime as llamacpp_runtime

    commands = _command_tree(build_cli())  # the built-in commands attach on import, as in any process
    saved_env, cwd, outer, state = dict(os.environ), os.getcwd(), (sys.stdout, sys.stderr), _global_state()
    runtimes: list = []
    runtime_init = llamacpp_runtime.Runtime.__init__

    def tracked_init(self, *a, **k):
        runtime_init(self, *a, **k)
        runtimes.append(self)

    llamacpp_runtime.Runtime.__init__ = tracked_init
    returncode = 0
    try:
        os.chdir(REPO)
        with CliRunner().isolation(input=input, env=env) as (out, err, _mixed):
            # help text wraps as in a process whose output is a pipe: at $COLUMNS, else 80 columns
            click_formatting.FORCED_WIDTH = None  # (the runner's 80 ignores max_content_width)
            os.environ.setdefault("COLUMNS", "80")
            captured = (sys.stdout, sys.stderr)
            try:
                main(argv)
            except SystemExit as exc:
                code = exc.code
                if code is not None and not isinstance(code, int):
                    sys.stderr.write(f"{code}\n")
                    code = 1
                returncode = code or 0
            except Exception:  # a process would print the traceback and exit 1
                sys.stderr.write(traceback.format_exc())
                returncode = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                _rebind_handlers(captured, outer)
            stdout = out.getvalue().decode("utf-8", "replace")
            stderr = err.getvalue().decode("utf-8", "backslashreplace")
    finally:
        llamacpp_runtime.Runtime.__init__ = runtime_init
        for runtime in runtimes:
            runtime.close()
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        for group, children in commands:
            group.commands.clear()
            group.commands.update(children)
        _restore_global_state(state)
    return returncode, stdout, stderr


def _command_tree(group) -> list:
    """Every group under ``group`` (itself included) with a copy of its commands."""
    import click

    found, todo = [], [group]
    while todo:
        current = todo.pop()
        found.append((current, dict(current.commands)))
        todo.extend(c for c in current.commands.values() if isinstance(c, click.Group))
    return found


def _rebind_handlers(captured: tuple, outer: tuple) -> None:
    """Logging handlers made during the call (transformers makes its own on
    first use) write to the captured streams, closed once the call ends:
    point them at the streams outside."""
    import logging

    loggers = [logging.getLogger()] + [v for v in logging.Logger.manager.loggerDict.values()
                                       if isinstance(v, logging.Logger)]
    for handler in {h for lg in loggers for h in lg.handlers}:
        stream = getattr(handler, "stream", None)
        if isinstance(handler, logging.StreamHandler) and any(stream is c for c in captured) \
                and not isinstance(getattr(type(handler), "stream", None), property):  # lastResort: sys.stderr
            handler.setStream(outer[0] if stream is captured[0] else outer[1])


def _global_state() -> dict:
    import random

    state = {"random": random.getstate()}
    if "numpy" in sys.modules:
        state["numpy"] = sys.modules["numpy"].random.get_state()
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        state["torch"] = (torch.get_rng_state(), torch.get_num_threads())
    return state


def _restore_global_state(state: dict) -> None:
    import random

    random.setstate(state["random"])
    if "numpy" in state:
        sys.modules["numpy"].random.set_state(state["numpy"])
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        rng, threads = state.get("torch", (None, None))
        if rng is not None:
            torch.set_rng_state(rng)
        if threads is not None and torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
