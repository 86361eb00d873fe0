"""The real `assistant chat` in a real terminal (tmux), when tmux is installed."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from .conftest import REPO


@pytest.mark.real_model
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_the_chat_works_in_a_real_terminal():
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "tui_smoke.py")], capture_output=True,
                            text=True, timeout=600, cwd=REPO)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for step in ("painted", "loaded in the background", "sources are listed", "help screen", "Ctrl+Q quits"):
        assert step in result.stdout
