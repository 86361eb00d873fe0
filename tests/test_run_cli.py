"""The tests' ``run_cli`` runs the command in the test process: it must answer
exactly as ``python -m assistant`` does, and leave nothing behind for the
next call (environment, working folder, commands a plugin added)."""

from __future__ import annotations

import os

import pytest

from .conftest import REPO, run_cli

HOOK_EXAMPLES = REPO / "docs" / "examples" / "hooks"  # register_commands.py adds `assistant collections`


@pytest.mark.parametrize("args", [
    ("--help",),  # wrapped at the same width
    ("ask", "--help"),
    ("strategies",),
    ("ask", "hi", "-o", "samples"),  # an AssistantError: one line and a hint, exit 2
    ("search", "x", "--mmr", "1.5"),  # a usage error from click
    ("--config", "nowhere.toml", "config"),  # a relative path, from the same working folder
    ("no-such-command",),
])
def test_in_process_answers_as_a_process_does(args, home):
    inside, outside = run_cli(*args), run_cli(*args, process=True)
    assert (inside.returncode, inside.stdout, inside.stderr) == (outside.returncode, outside.stdout, outside.stderr)


def test_env_applies_to_the_call_only_and_nothing_leaks(tmp_path):
    environ, cwd = dict(os.environ), os.getcwd()
    shown = run_cli("config", env={"ASSISTANT_TOP_K": "7"})
    assert shown.returncode == 0 and "\ntop_k = 7\n" in shown.stdout
    assert dict(os.environ) == environ and os.getcwd() == cwd  # the command's own setdefault()s are undone too
    added = run_cli("--plugins-dir", str(HOOK_EXAMPLES), "collections", env={"ASSISTANT_HOME": str(tmp_path)})
    assert added.returncode == 0, added.stderr
    gone = run_cli("collections")  # a fresh process would not know the plugin's command
    assert gone.returncode == 2 and "No such command 'collections'" in gone.stderr
    assert dict(os.environ) == environ
