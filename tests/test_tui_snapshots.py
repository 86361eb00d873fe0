"""Snapshot tests of the chat's main screens (pytest-textual-snapshot).

The scripted model and a fixed corpus keep what is drawn deterministic.
After an intended change of the UI, refresh the snapshots with
``pytest tests/test_tui_snapshots.py --snapshot-update`` and look at the
report of the differences before committing them.
"""

from __future__ import annotations

import pytest

from assistant import Settings
from assistant.engine import Engine
from assistant.testing import ScriptedLLM, write_tiny_corpus
from assistant.tui.app import ChatApp
from assistant.tui.session import ChatSession

from .test_tui import rank_screen_ready, until

pytestmark = pytest.mark.real_model  # the app fixture indexes the corpus with the real embedder
SIZE = (110, 32)


@pytest.fixture
def app(home, tmp_path):
    Engine(Settings(device="cpu")).index(write_tiny_corpus(tmp_path / "tiny"))
    replies = iter(["Barn owls hunt at night [1].", "They hunt at night.", "At dusk and at night."])
    engine = Engine(Settings(device="cpu", top_k=2), llm=ScriptedLLM(lambda prompt, i: next(replies)))
    return ChatApp(ChatSession(engine))


async def ready(pilot) -> None:
    for field in pilot.app.query("Input"):
        field.cursor_blink = False  # a blinking cursor would make the picture depend on timing
    await until(pilot, lambda: pilot.app.session.loaded and "ready" in pilot.app.sub_title)


def test_empty_chat_screen(app, snap_compare):
    assert snap_compare(app, terminal_size=SIZE, run_before=ready)


def test_help_screen(app, snap_compare):
    async def before(pilot) -> None:
        await ready(pilot)
        await pilot.press("f1")

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_rank_screen(app, snap_compare):
    async def before(pilot) -> None:
        await ready(pilot)
        app.query_one("#question").value = "When do owls hunt?"
        await pilot.press("enter")
        await until(pilot, lambda: not app.busy and app.session.last_answer is not None)
        await pilot.press("ctrl+f")
        await until(pilot, lambda: rank_screen_ready(app))  # up, its candidates drawn, its input focused
        app.screen.query_one("#order").cursor_blink = False
        await pilot.pause()  # let the input repaint without its blink timer (snap_compare then waits for idle)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)
