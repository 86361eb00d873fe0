"""The template plugin package installs as a real distribution and works."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from .conftest import REPO, run_cli

TEMPLATE = REPO / "docs" / "examples" / "assistant-plugin-template"


@pytest.fixture(scope="module")
def installed_template(tmp_path_factory):
    """Build and install a copy of the template into its own site folder (no network)."""
    root = tmp_path_factory.mktemp("template")
    copy = root / "assistant-plugin-template"
    shutil.copytree(TEMPLATE, copy)
    site = root / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(site), str(copy)], check=True, capture_output=True)
    assert list(site.glob("assistant_grounded-0.1.0.dist-info/entry_points.txt"))
    return copy, {"PYTHONPATH": str(site)}


def test_assistant_lists_the_installed_strategy(installed_template, home):
    _, env = installed_template  # processes: the entry points of the installed site are read at start
    strategies = run_cli("strategies", env=env, process=True)
    assert "grounded  (plugin grounded)" in strategies.stdout
    plugins = run_cli("plugins", "--verbose", env=env, process=True)
    assert "grounded 0.1.0  [entry point]  strategy grounded" in plugins.stdout
    assert "hook contract: >=1,<2 (this assistant: 1)" in plugins.stdout


@pytest.mark.real_model
def test_ask_runs_the_installed_strategy(installed_template, home):
    """The installed strategy on the real model, on the transformers backend
    (the template's own tests below run it on llama.cpp)."""
    _, env = installed_template
    result = run_cli("--backend", "transformers", "ask", "What is the capital of France?", "--strategy", "grounded",
                     "--no-retrieval", "--max-new-tokens", "12", "--dtype", "float32", "--trace", env=env,
                     process=True)
    assert result.returncode == 0, result.stderr
    assert "Paris" in result.stdout and "draft" in result.stdout
    assert "grounded" in result.stderr  # the usage line names the strategy


@pytest.mark.real_model
def test_the_templates_own_tests_pass(installed_template):
    copy, env = installed_template
    # the real-model contract once, on llama.cpp: the transformers backend ran the strategy just above
    # (and runs every built-in strategy's contract in test_strategy_contract.py), so the nested
    # session needs no torch
    once = "tests/test_grounded.py::TestGroundedContract::test_runs_on_the_real_embedded_model"
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests",
                             "--deselect", once],
                            cwd=copy, capture_output=True, text=True, env={**os.environ, **env}, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "10 passed, 1 deselected" in result.stdout  # 9 contract tests (one on llama.cpp) + the plugin's own
