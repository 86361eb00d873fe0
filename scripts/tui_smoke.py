"""Drive the real `assistant chat` in tmux: index the sample corpus into a
throwaway data folder, open the chat in a 120x40 pane, ask a question, wait
for the streamed answer and its sources, open the help screen, quit.
Checks what is on the screen at each step (tmux capture-pane).

    python scripts/tui_smoke.py            # exits 0 when every check passed

The test suite runs it when tmux is installed (tests/test_tui_tmux.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SESSION = f"assistant-smoke-{os.getpid()}"


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True).stdout


def screen() -> str:
    return tmux("capture-pane", "-p", "-t", SESSION)


def wait_for(text: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        shown = screen()
        if text in shown:
            return shown
        time.sleep(0.2)
    raise SystemExit(f"FAIL: {text!r} did not appear within {timeout:.0f} s; the screen was:\n{screen()}")


def main() -> int:
    if shutil.which("tmux") is None:
        print("tmux is not installed", file=sys.stderr)
        return 2
    home = tempfile.mkdtemp(prefix="assistant-smoke-")
    env = {**os.environ, "ASSISTANT_HOME": home}
    assistant = [sys.executable, "-m", "assistant"]
    subprocess.run([*assistant, "index", str(REPO / "corpora" / "sample")], env=env, check=True,
                   capture_output=True, cwd=REPO)
    # LINES/COLUMNS inherited from a test runner would override the pane's real size
    command = " ".join(["env", "-u", "LINES", "-u", "COLUMNS", f"ASSISTANT_HOME={home}", *assistant, "chat"])
    tmux("new-session", "-d", "-s", SESSION, "-x", "120", "-y", "40", "-c", str(REPO), command)
    try:
        wait_for("assistant", 30)
        print("ok: the chat screen painted")
        wait_for("ready", 120)
        print("ok: the model loaded in the background")
        tmux("send-keys", "-t", SESSION, "-l", "Where are the converted model weights kept?")
        tmux("send-keys", "-t", SESSION, "Enter")
        shown = wait_for("sources [", 180)
        assert "Where are the converted model weights kept?" in shown, shown
        wait_for("models.md", 10)  # the sources panel fills right after the answer's status line
        print("ok: the answer streamed in and its sources are listed")
        tmux("send-keys", "-t", SESSION, "F1")
        wait_for("Regenerate the last answer", 10)
        deadline = time.monotonic() + 10
        while "Regenerate the last answer" in screen():
            # a lone Esc is told from a key sequence by a pause: send it again if it was taken as one
            tmux("send-keys", "-t", SESSION, "Escape")
            time.sleep(1.0)
            if time.monotonic() > deadline:
                raise SystemExit("FAIL: Esc did not close the help screen:\n" + screen())
        print("ok: the help screen opens and closes")
        tmux("send-keys", "-t", SESSION, "C-q")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if subprocess.run(["tmux", "has-session", "-t", SESSION], capture_output=True).returncode != 0:
                print("ok: Ctrl+Q quits")
                return 0
            time.sleep(0.2)
        raise SystemExit("FAIL: Ctrl+Q did not quit; the screen was:\n" + screen())
    finally:
        subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
