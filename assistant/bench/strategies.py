"""Benchmark of self-consistency's cost: 5 reasoning paths in one batched
call with a shared prompt prefill, against 5 sequential sampled calls and
against one greedy answer, all on the same retrieved prompt in one run.

Sampled paths end at different lengths (EOS), so the table also gives the
completion tokens of each measurement: the batch waits for its longest path.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from . import BenchContext, Row, ratio, temporary_home

SAMPLE = Path(__file__).resolve().parents[2] / "corpora" / "sample"
QUESTION = "Where are the converted model weights kept, and why?"


def bench_self_consistency(ctx: BenchContext) -> list[Row]:
    """Self-consistency (5 paths, one batch, shared prefix) vs 5 sequential calls and vs one greedy answer."""
    from ..engine import Engine
    from ..types import Decoding

    tokens = ctx.size(64, 8)
    with tempfile.TemporaryDirectory() as home, temporary_home(home):
        engine = Engine(ctx.settings(device="cpu", dtype="float32", top_k=ctx.size(3, 1)))  # --quick: a short prompt
        engine.index(SAMPLE)
        llm = engine.llm
        prompt = engine.answer(QUESTION, decoding=Decoding(max_new_tokens=4)).prompt  # the real, retrieved prompt
        greedy = Decoding(max_new_tokens=tokens)
        sampled = Decoding(max_new_tokens=tokens, temperature=0.7, top_p=0.95, top_k=40)  # self_consistency's defaults
        measures: dict[str, list[tuple[float, int]]] = {"greedy": [], "batch": [], "sequential": [],
                                                        "batch_no_sharing": []}

        def timed(name: str, fn) -> None:
            start = time.perf_counter()
            groups = fn()
            produced = sum(c.completion_tokens for g in groups for c in g)
            measures[name].append((time.perf_counter() - start, produced))

        if not ctx.quick:
            llm.generate([prompt], n=1, decoding=greedy)  # warm-up
        for i in range(ctx.repeat):
            seeded = Decoding(max_new_tokens=tokens, temperature=0.7, top_p=0.95, top_k=40, seed=i)
            timed("greedy", lambda: llm.generate([prompt], n=1, decoding=greedy))
            timed("batch", lambda: llm.generate([prompt], n=5, decoding=seeded))
            timed("sequential", lambda: [llm.generate([prompt], n=1, decoding=sampled)[0] for _ in range(5)])
            # the same batch without the shared prefill: the prompt repeated 5 times in one generate
            timed("batch_no_sharing", lambda: llm.generate([prompt] * 5, n=1, decoding=seeded))

    def med(name: str) -> tuple[float, float]:
        return (statistics.median(t for t, _ in measures[name]), statistics.median(n for _, n in measures[name]))

    (g, gn), (b, bn), (s, sn), (u, un) = med("greedy"), med("batch"), med("sequential"), med("batch_no_sharing")
    ctx.log(f"completion tokens: greedy {gn:.0f}, batch {bn:.0f}, sequential {sn:.0f}, batch without sharing {un:.0f}")
    times_greedy = b / g
    return [
        Row("self_consistency.batch_s", b, "s", f"self-consistency, 5 paths in one batch, s ({bn:.0f} tokens)",
            baseline=s, baseline_name=f"5 sequential sampled calls ({sn:.0f} tokens)", ratio=ratio(s, b)),
        Row("self_consistency.greedy_s", g, "s", f"one greedy answer, s ({gn:.0f} tokens)"),
        Row("self_consistency.vs_greedy_x", times_greedy, "x", "self-consistency vs one greedy answer (x its time)",
            goal="<= 2.0x", met=times_greedy <= 2.0),
        Row("self_consistency.shared_prefill_s", b, "s", "shared prefill vs the prompt repeated in the batch, s",
            baseline=u, baseline_name=f"batch without prefix sharing ({un:.0f} tokens)", ratio=ratio(u, b)),
    ]
