"""Benchmarks of the spine: start-up, model loading, and the overhead of
``assistant ask`` over a raw ``model.generate`` on the same prompt."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from . import BenchContext, Row, median

SAMPLE_CORPUS = Path(__file__).resolve().parents[2] / "corpora" / "sample"
QUESTION = "How do I refresh the index after editing my notes?"


def bench_help(ctx: BenchContext) -> list[Row]:
    """Wall time of `assistant --help` in a fresh process (goal <= 0.3 s)."""
    times = []
    for _ in range(max(5, ctx.repeat)):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "assistant", "--help"], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    bare = []
    for _ in range(max(5, ctx.repeat)):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True, capture_output=True)
        bare.append(time.perf_counter() - start)
    value = median(times)
    return [Row("help", "assistant --help wall time", value, "s", baseline=median(bare),
                baseline_name="python -c pass", goal="<= 0.3 s", met=value <= 0.3)]


def _load_in_subprocess(cache: str) -> float:
    code = ("import time; t=time.perf_counter(); from assistant.models import load_generator; "
            "load_generator('embedded', 'cpu', 'float32'); print(time.perf_counter()-t)")
    env = {**os.environ, "ASSISTANT_CACHE_DIR": cache}
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env)
    return float(out.stdout.strip().splitlines()[-1])


def bench_model_load(ctx: BenchContext) -> list[Row]:
    """Cold load (GGUF conversion) vs cached load, each in a fresh process."""
    with tempfile.TemporaryDirectory() as cache:
        ctx.log("  cold load (converting the GGUF into a fresh cache)...")
        cold = _load_in_subprocess(cache)
        warm = median([_load_in_subprocess(cache) for _ in range(ctx.repeat)])
    return [
        Row("model_load", "cold load (GGUF conversion)", cold, "s"),
        Row("model_load", "cached load", warm, "s", baseline=cold, baseline_name="cold load",
            ratio=cold / warm, goal="cached faster", met=warm < cold),
    ]


def _raw_stream(model, tokenizer, text: str, max_new_tokens: int) -> tuple[float, float, int]:
    """(time to first token, total time, tokens) of a raw model.generate."""
    import torch
    from transformers import TextIteratorStreamer

    enc = tokenizer([text], return_tensors="pt", add_special_tokens=False)
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
    out = {}

    def work() -> None:
        with torch.inference_mode():
            out["ids"] = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                        pad_token_id=tokenizer.pad_token_id, streamer=streamer)

    start = time.perf_counter()
    thread = threading.Thread(target=work)
    thread.start()
    first = None
    for piece in streamer:
        if first is None and piece.strip():
            first = time.perf_counter() - start
    thread.join()
    total = time.perf_counter() - start
    tokens = int(out["ids"].shape[1] - enc["input_ids"].shape[1])
    return first or total, total, tokens


def bench_ask(ctx: BenchContext) -> list[Row]:
    """Time to first token and decode speed: Engine.answer vs raw model.generate."""
    from ..config import Settings
    from ..engine import Engine

    max_new = 64
    with tempfile.TemporaryDirectory() as home:
        os.environ["ASSISTANT_HOME"] = home
        try:
            settings = Settings(device="cpu", dtype="float32", max_new_tokens=max_new)
            engine = Engine(settings)
            engine.index(SAMPLE_CORPUS)
            llm = engine.llm
            engine.answer(QUESTION)  # warm-up: embedder, model, caches
            ours_first, ours_rate, raw_first, raw_rate = [], [], [], []
            for _ in range(ctx.repeat):
                start = time.perf_counter()
                first: list[float] = []
                answer = engine.answer(QUESTION, on_text=lambda piece: first.append(time.perf_counter() - start)
                                       if not first and piece.strip() else None)
                total = time.perf_counter() - start
                tokens = answer.usage.completion_tokens
                ours_first.append(first[0])
                ours_rate.append((tokens - 1) / max(total - first[0], 1e-9))
                prompt_text = llm.render(answer.prompt)  # exactly what the engine sent
                f, t, n = _raw_stream(llm.model, llm.tokenizer, prompt_text, max_new)
                raw_first.append(f)
                raw_rate.append((n - 1) / max(t - f, 1e-9))
        finally:
            os.environ.pop("ASSISTANT_HOME", None)
    of, orate, rf, rrate = median(ours_first), median(ours_rate), median(raw_first), median(raw_rate)
    return [
        Row("ask", "time to first token (ask vs raw)", of, "s", baseline=rf, baseline_name="raw model.generate",
            ratio=rf / of),
        Row("ask", "decode tokens/s (ask vs raw)", orate, "/s", baseline=rrate, baseline_name="raw model.generate",
            ratio=orate / rrate, goal=">= 0.95x", met=orate / rrate >= 0.95),
    ]
