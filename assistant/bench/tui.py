"""Benchmarks of the terminal UI: time to first paint (against a bare
Textual app, in a fresh process each), and the time from Enter to the first
streamed token on screen against the engine's own time to first token in
the same turn (the UI's overhead)."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import BenchContext, Row

SAMPLE = Path(__file__).resolve().parents[2] / "corpora" / "sample"

PAINT = r"""
import time
t0 = time.perf_counter()
import asyncio, json, sys
if sys.argv[1] == "ours":
    from assistant.config import Settings
    from assistant.engine import Engine
    from assistant.tui.app import ChatApp
    from assistant.tui.session import ChatSession
    app = ChatApp(ChatSession(Engine(Settings(device="cpu"))))
else:
    from textual.app import App
    from textual.widgets import Footer, Header, Input
    class Bare(App):
        def compose(self):
            yield Header(); yield Input(); yield Footer()
    app = Bare()
painted = []
async def main():
    async with app.run_test(size=(120, 40)) as pilot:
        app.call_after_refresh(lambda: painted.append(time.perf_counter() - t0))
        while not painted:
            await pilot.pause(0.005)
asyncio.run(main())
print(json.dumps({"first_paint_s": painted[0]}))
"""


def _first_paint(which: str) -> float:
    out = subprocess.run([sys.executable, "-c", PAINT, which], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "ASSISTANT_HOME": tempfile.mkdtemp()})
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])["first_paint_s"]


def bench_tui(ctx: BenchContext) -> list[Row]:
    """First paint of `assistant chat` vs a bare Textual app; Enter-to-first-token overhead."""
    ours = statistics.median(_first_paint("ours") for _ in range(ctx.repeat))
    bare = statistics.median(_first_paint("bare") for _ in range(ctx.repeat))
    rows = [Row("tui", "first paint of the chat screen, s (fresh process)", ours, "s", baseline=bare,
                baseline_name="bare Textual app", ratio=bare / ours, goal="<= 1 s", met=ours <= 1.0)]
    overheads, ui, engine = _stream_overhead(ctx)
    rows.append(Row("tui", "Enter to first token on screen, ms", statistics.median(ui), "ms",
                    baseline=statistics.median(engine), baseline_name="engine's own time to first token",
                    ratio=statistics.median(engine) / statistics.median(ui)))
    overhead = statistics.median(overheads)
    rows.append(Row("tui", "UI overhead on the first token, ms", overhead, "ms", goal="<= 50 ms",
                    met=overhead <= 50))
    return rows


def _stream_overhead(ctx: BenchContext) -> tuple[list[float], list[float], list[float]]:
    import asyncio

    from ..config import Settings
    from ..engine import Engine
    from ..tui.app import ChatApp
    from ..tui.session import ChatSession

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["ASSISTANT_HOME"] = tmp
        try:
            engine = Engine(Settings(device="cpu", max_new_tokens=16))
            engine.index(SAMPLE)
            app = ChatApp(ChatSession(engine))
            overheads, ui, own = [], [], []

            async def run() -> None:
                async with app.run_test(size=(120, 40)) as pilot:
                    while not app.session.loaded:
                        await pilot.pause(0.05)
                    for i in range(ctx.repeat + 1):
                        app.query_one("#question").value = f"Where are the converted model weights kept? ({i})"
                        await pilot.press("enter")
                        while app.busy or app.first_shown_at is None:
                            await pilot.pause(0.01)
                        t = app.session.timing
                        if i == 0 or t.first_piece is None:
                            continue  # the first turn warms caches
                        shown_ms = (app.first_shown_at - app.enter_at) * 1000
                        engine_ms = (t.first_piece - t.engine_called) * 1000
                        ui.append(shown_ms)
                        own.append(engine_ms)
                        overheads.append(shown_ms - engine_ms)

            asyncio.run(run())
            ctx.log(f"Enter to first token: {[round(v) for v in ui]} ms; engine: {[round(v) for v in own]} ms")
            return overheads, ui, own
        finally:
            os.environ.pop("ASSISTANT_HOME", None)
            time.sleep(0)
