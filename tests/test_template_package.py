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
    _, env = installed_template
    strategies = run_cli("strategies", env=env)
    assert "grounded  (plugin grounded)" in strategies.stdout
    plugins = run_cli("plugins", "--verbose", env=env)
    assert "grounded 0.1.0  [entry point]  strategy grounded" in plugins.stdout
    assert "hook contract: >=1,<2 (this assistant: 1)" in plugins.stdout


@pytest.mark.real_model
def test_ask_runs_the_installed_strategy(installed_template, home):
    _, env = installed_template
    result = run_cli("ask", "What is the capital of France?", "--strategy", "grounded", "--no-retrieval",
                     "--max-new-tokens", "12", "--dtype", "float32", "--trace", env=env)
    assert result.returncode == 0, result.stderr
    assert "Paris" in result.stdout and "draft" in result.stdout
    assert "grounded" in result.stderr  # the usage line names the strategy


@pytest.mark.real_model
def test_the_templates_own_tests_pass(installed_template):
    copy, env = installed_template
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
                            cwd=copy, capture_output=True, text=True, env={**os.environ, **env}, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "11 passed" in result.stdout  # 10 contract tests (one on the llama.cpp backend) + the plugin's own
