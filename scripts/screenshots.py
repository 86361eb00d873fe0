"""Write SVG screenshots of the chat's main screens to docs/screenshots/,
on the real embedded model over the sample corpus (about a minute):

    .venv/bin/python scripts/screenshots.py
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "docs" / "screenshots"


async def main() -> None:
    from assistant.config import Settings
    from assistant.engine import Engine
    from assistant.tui.app import ChatApp
    from assistant.tui.session import ChatSession

    engine = Engine(Settings(device="cpu", max_new_tokens=64))
    engine.index(REPO / "corpora" / "sample")
    app = ChatApp(ChatSession(engine))
    OUT.mkdir(parents=True, exist_ok=True)

    async def wait(condition, step: float = 0.1, what: str = "the app", timeout: float = 300.0) -> None:
        waited = 0.0
        while not condition():
            if waited > timeout:
                raise TimeoutError(f"waited {timeout:.0f} s for {what}; screen {type(app.screen).__name__}")
            await pilot.pause(step)
            waited += step

    async def ask(question: str) -> None:
        """Type ``question`` into the input (focused first: a closed form leaves focus elsewhere) and send it."""
        box = app.query_one("#question")
        box.focus()
        box.value = question
        await pilot.press("enter")

    async def shot(name: str, screen: str = "", settle: float = 0.5) -> None:
        """Wait for ``screen`` (a screen class name) if given, let it settle, save ``name``.svg."""
        if screen:
            await wait(lambda: type(app.screen).__name__ == screen, step=0.2, what=screen)
        await pilot.pause(settle)
        app.save_screenshot(filename=f"{name}.svg", path=str(OUT))

    async with app.run_test(size=(130, 40)) as pilot:
        await wait(lambda: app.session.loaded, what="the model to load")
        await ask("Where are the converted model weights kept?")
        await wait(lambda: not app.busy and app.session.last_answer is not None, what="the first answer")
        await shot("chat")
        await pilot.press("ctrl+t")
        await shot("trace")
        await pilot.press("ctrl+s")
        await pilot.press("enter")
        await shot("source")
        await pilot.press("escape")
        await pilot.press("ctrl+f")
        await shot("rank", "RankScreen")
        await pilot.press("escape")
        await pilot.press("f1")
        await shot("help")
        await pilot.press("escape")
        await pilot.press("f2")
        await shot("decoding", "FormScreen")
        await pilot.press("escape")
        app.session.strategy = "self_consistency"
        app.action_strategy_options()
        await shot("options", "FormScreen")
        await pilot.press("escape")
        app.session.options = {"samples": "3"}
        await ask("How long does converting the model take?")
        await wait(lambda: not app.busy and app.session.last_answer.strategy == "self_consistency",
                   what="the self-consistency answer")
        await pilot.press("ctrl+t")
        await shot("trace-votes")
        app.session.strategy = "zero_shot"
        app.session.options = {}
        await pilot.press("f7")
        await shot("arena-pick", "MultiPickerScreen", settle=0.3)
        await pilot.press("ctrl+s")
        await shot("arena-rank", "RankScreen")
    print(f"wrote {', '.join(sorted(p.name for p in OUT.glob('*.svg')))} to {OUT}")


if __name__ == "__main__":
    os.environ.setdefault("ASSISTANT_HOME", tempfile.mkdtemp(prefix="assistant-shots-"))
    asyncio.run(main())
