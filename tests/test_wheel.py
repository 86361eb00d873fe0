"""The wheel a user gets from ``pip install .`` (not editable) is complete:
every package of the source tree and the data files are in it, and installed
on its own into a fresh virtual environment it runs ``assistant --help`` and
``assistant plugins`` and finds the llama.cpp backend.

The fresh environment borrows the dependencies (torch, transformers, llama-cpp-
python...) from this one through a ``.pth`` file instead of installing them
again: a path in a ``.pth`` file is only added to ``sys.path``, so this
checkout's editable install (a finder hook run from a ``.pth`` file of its
own) stays out, and ``assistant`` can only come from the wheel.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from .conftest import REPO


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import shutil

    out = tmp_path_factory.mktemp("wheel")
    # pip builds a local folder in place, and setuptools reuses its build/lib: a file deleted from the
    # source would still be in the wheel. So build from a clean copy of the source, never the checkout.
    source = tmp_path_factory.mktemp("source") / "assistant"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "bench-results", ".pytest_cache"))
    # --no-build-isolation: build with this environment's setuptools, offline
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out),
                    str(source)], check=True, capture_output=True, text=True, timeout=300)
    (built,) = out.glob("assistant-*.whl")
    return built


def _source_packages() -> set[str]:
    names = set()
    for top, import_name in (("assistant", "assistant"), ("plugins", "assistant_plugins")):
        for init in (REPO / top).rglob("__init__.py"):
            if "__pycache__" in init.parts:
                continue
            parts = init.parent.relative_to(REPO / top).parts
            names.add(".".join((import_name, *parts)))
    return names


def test_the_wheel_holds_every_package_and_the_data(wheel):
    files = set(zipfile.ZipFile(wheel).namelist())
    packages = {str(Path(f).parent).replace("/", ".") for f in files if f.endswith("/__init__.py")}
    missing = _source_packages() - packages
    assert not missing, f"packages missing from the wheel (add them to pyproject.toml's packages): {sorted(missing)}"
    assert "assistant/py.typed" in files
    assert any(f.startswith("assistant_plugins/example_banks/") and f.endswith(".jsonl") for f in files)
    assert not any(f.startswith(("tests/", "plugins/")) for f in files), "tests and the source folder name stay out"
    stale = [f for f in files if f.endswith(".py")
             and not (REPO / f.replace("assistant_plugins/", "plugins/", 1)).exists()]
    assert not stale, f"modules in the wheel that the source no longer has: {stale}"


def test_the_wheel_installed_alone_runs(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    target = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                            check=True, capture_output=True, text=True).stdout.strip()
    Path(target, "borrowed-dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index",
                    str(wheel)], check=True, capture_output=True, text=True, timeout=300)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        # cwd outside the checkout, so nothing is imported from the source tree
        return subprocess.run(list(args), capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)

    where = run(str(python), "-c", "import assistant, assistant_plugins; print(assistant.__file__); "
                "print(assistant_plugins.__file__)")
    assert where.returncode == 0, where.stderr
    assert all(str(venv) in line for line in where.stdout.splitlines()), where.stdout
    helped = run(str(venv / "bin" / "assistant"), "--help")
    assert helped.returncode == 0 and "index" in helped.stdout and "chat" in helped.stdout, helped.stderr
    plugins = run(str(venv / "bin" / "assistant"), "plugins")
    assert plugins.returncode == 0, plugins.stderr
    for builtin in ("zero_shot", "faiss_retrieval", "peft_adapters", "feedback", "semantic_examples"):
        assert builtin in plugins.stdout
    from assistant.backends import llamacpp_problem

    backend = run(str(python), "-c", "from assistant.backends import llamacpp_problem; "
                  "import assistant.backends.llamacpp.backend; print(llamacpp_problem())")
    assert backend.returncode == 0, backend.stderr
    # the same dependencies, so the same verdict as here: None where llama.cpp is installed (CI)
    assert backend.stdout.strip() == str(llamacpp_problem()), f"the wheel's llama.cpp backend: {backend.stdout}"
    banks = run(str(python), "-c", "from assistant_plugins.semantic_examples import PROJECT_BANKS; "
                "print(sorted(p.name for p in PROJECT_BANKS.glob('*.jsonl')))")
    assert "arithmetic.jsonl" in banks.stdout, banks.stderr
