"""Benchmarks of the terminal UI: time to first paint (against a bare
Textual app, in a fresh process each), and the time from Enter to the first
streamed token on screen against the engine's own time to first token in
the same turn (the UI's overhead)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from . import BenchContext, Row, median, ratio, temporary_home

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
    app = ChatApp(ChatSession(Engine(Settings(backend=sys.argv[2], device="cpu"))))
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


def _first_paint(which: str, backend: str) -> float:
    with tempfile.TemporaryDirectory() as home:
        out = subprocess.run([sys.executable, "-c", PAINT, which, backend], capture_output=True, text=True,
                             timeout=120, env={**os.environ, "ASSISTANT_HOME": home})
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])["first_paint_s"]


def bench_tui(ctx: BenchContext) -> list[Row]:
    """First paint of `assistant chat` vs a bare Textual app; Enter-to-first-token overhead."""
    ours = median([_first_paint("ours", ctx.backend) for _ in range(ctx.repeat)])
    bare = median([_first_paint("bare", ctx.backend) for _ in range(ctx.repeat)])
    rows = [Row("tui.first_paint_s", ours, "s", "first paint of the chat screen, s (fresh process)", baseline=bare,
                baseline_name="bare Textual app", ratio=ratio(bare, ours), goal="<= 1 s", met=ours <= 1.0)]
    overheads, ui, engine = _stream_overhead(ctx)
    shown, own = median(ui), median(engine)
    rows.append(Row("tui.enter_to_first_token_ms", shown, "ms", "Enter to first token on screen, ms",
                    baseline=own, baseline_name="engine's own time to first token", ratio=ratio(own, shown)))
    overhead = median(overheads)
    rows.append(Row("tui.first_token_overhead_ms", overhead, "ms", "UI overhead on the first token, ms",
                    goal="<= 50 ms", met=overhead <= 50))
    return rows


def _stream_overhead(ctx: BenchContext) -> tuple[list[float], list[float], list[float]]:
    import asyncio

    from ..engine import Engine
    from ..tui.app import ChatApp
    from ..tui.session import ChatSession

    with tempfile.TemporaryDirectory() as tmp, temporary_home(tmp):
        engine = Engine(ctx.settings(device="cpu", max_new_tokens=ctx.size(16, 4), top_k=ctx.size(3, 1)))
        engine.index(SAMPLE)
        app = ChatApp(ChatSession(engine))
        overheads: list[float] = []
        ui: list[float] = []
        own: list[float] = []

        async def run() -> None:
            async with app.run_test(size=(120, 40)) as pilot:
                while not app.session.loaded:
                    await pilot.pause(0.05)
                warm = ctx.size(1, 0)  # turns that only warm caches (none under --quick)
                for i in range(ctx.repeat + warm):
                    app.query_one("#question").value = f"Where are the converted model weights kept? ({i})"
                    submitted = app.enter_at
                    await pilot.press("enter")
                    while app.enter_at == submitted:  # until the app has taken the question
                        await pilot.pause(0.01)
                    while app.busy:  # a turn that shows nothing (a failure, an empty answer) ends here too
                        await pilot.pause(0.01)
                    t = app.session.timing
                    if i < warm or t.first_piece is None or app.first_shown_at is None or app.enter_at is None:
                        continue
                    shown_ms = (app.first_shown_at - app.enter_at) * 1000
                    engine_ms = (t.first_piece - t.engine_called) * 1000
                    ui.append(shown_ms)
                    own.append(engine_ms)
                    overheads.append(shown_ms - engine_ms)

        asyncio.run(run())
    if not ui:
        raise RuntimeError("no turn of the chat showed a token: nothing to measure")
    ctx.log(f"Enter to first token: {[round(v) for v in ui]} ms; engine: {[round(v) for v in own]} ms")
    return overheads, ui, own
