"""Benchmark of self-consistency's cost: 5 reasoning paths in one batched
call with a shared prompt prefill, against 5 sequential sampled calls and
against one greedy answer, all on the same retrieved prompt in one run.

Sampled paths end at different lengths (EOS), so the table also gives the
completion tokens of each measurement: the batch waits for its longest path.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from . import BenchContext, Row

SAMPLE = Path(__file__).resolve().parents[2] / "corpora" / "sample"
QUESTION = "Where are the converted model weights kept, and why?"


def bench_self_consistency(ctx: BenchContext) -> list[Row]:
    """Self-consistency (5 paths, one batch, shared prefix) vs 5 sequential calls and vs one greedy answer."""
    from ..config import Settings
    from ..engine import Engine
    from ..types import Decoding

    with tempfile.TemporaryDirectory() as home:
        os.environ["ASSISTANT_HOME"] = home
        try:
            engine = Engine(Settings(device="cpu", dtype="float32"))
            engine.index(SAMPLE)
            llm = engine.llm
            prompt = engine.answer(QUESTION, decoding=Decoding(max_new_tokens=4)).prompt  # the real, retrieved prompt
            greedy = Decoding(max_new_tokens=64)
            sampled = Decoding(max_new_tokens=64, temperature=0.7, top_p=0.95, top_k=40)  # self_consistency's defaults
            measures: dict[str, list[tuple[float, int]]] = {"greedy": [], "batch": [], "sequential": [],
                                                            "batch_no_sharing": []}

            def timed(name: str, fn) -> None:
                start = time.perf_counter()
                groups = fn()
                tokens = sum(c.completion_tokens for g in groups for c in g)
                measures[name].append((time.perf_counter() - start, tokens))

            llm.generate([prompt], n=1, decoding=greedy)  # warm-up
            for i in range(ctx.repeat):
                seeded = Decoding(max_new_tokens=64, temperature=0.7, top_p=0.95, top_k=40, seed=i)
                timed("greedy", lambda: llm.generate([prompt], n=1, decoding=greedy))
                timed("batch", lambda: llm.generate([prompt], n=5, decoding=seeded))
                timed("sequential", lambda: [llm.generate([prompt], n=1, decoding=sampled)[0] for _ in range(5)])
                # the same batch without the shared prefill: the prompt repeated 5 times in one generate
                timed("batch_no_sharing", lambda: llm.generate([prompt] * 5, n=1, decoding=seeded))
        finally:
            os.environ.pop("ASSISTANT_HOME", None)

    def med(name: str) -> tuple[float, float]:
        return (statistics.median(t for t, _ in measures[name]), statistics.median(n for _, n in measures[name]))

    (g, gn), (b, bn), (s, sn), (u, un) = med("greedy"), med("batch"), med("sequential"), med("batch_no_sharing")
    ctx.log(f"completion tokens: greedy {gn:.0f}, batch {bn:.0f}, sequential {sn:.0f}, batch without sharing {un:.0f}")
    return [
        Row("strategies", f"self-consistency, 5 paths in one batch, s ({bn:.0f} tokens)", b, "s", baseline=s,
            baseline_name=f"5 sequential sampled calls ({sn:.0f} tokens)", ratio=s / b),
        Row("strategies", "self-consistency vs one greedy answer (x its time)", b / g, "x", baseline=g,
            baseline_name=f"one greedy answer, s ({gn:.0f} tokens)", goal="<= 2.0x", met=b / g <= 2.0),
        Row("strategies", "shared prefill vs the prompt repeated in the batch, s", b, "s", baseline=u,
            baseline_name="batch without prefix sharing", ratio=u / b),
    ]
