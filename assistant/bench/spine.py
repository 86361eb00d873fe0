"""Benchmarks of the spine: start-up, model loading, and the overhead of
``assistant ask`` over the raw runtime on the same prompt (llama-cpp-python
under the llama.cpp backend, a plain ``model.generate`` under transformers)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import BenchContext, Row, median, ratio, resolved_backend, temporary_home

SAMPLE_CORPUS = Path(__file__).resolve().parents[2] / "corpora" / "sample"
QUESTION = "How do I refresh the index after editing my notes?"


def bench_help(ctx: BenchContext) -> list[Row]:
    """Wall time of `assistant --help` in a fresh process (goal <= 0.3 s)."""
    runs = ctx.size(max(5, ctx.repeat), ctx.repeat)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "assistant", "--help"], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    bare = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True, capture_output=True)
        bare.append(time.perf_counter() - start)
    value, base = median(times), median(bare)
    return [Row("help.wall_s", value, "s", "assistant --help wall time", baseline=base,
                baseline_name="python -c pass", ratio=ratio(base, value), goal="<= 0.3 s", met=value <= 0.3)]


# What the engine does to get its generator, timed in a fresh process.
LOAD = """
import json, sys, time
t = time.perf_counter()
from assistant.backends import load_llm
from assistant.config import Settings
llm, notices = load_llm(Settings(backend=sys.argv[1], device="cpu", dtype="float32"))
print(json.dumps({"seconds": time.perf_counter() - t, "backend": getattr(llm, "backend", "transformers"),
                  "notices": notices}))
"""


def _load_in_subprocess(backend: str, cache: str | None = None) -> tuple[float, str]:
    """Seconds to load the generator in a fresh process (with ``cache`` as its
    cache folder, else the user's), and the backend that loaded it."""
    env = {**os.environ, **({"ASSISTANT_CACHE_DIR": cache} if cache else {})}
    out = subprocess.run([sys.executable, "-c", LOAD, backend], capture_output=True, text=True, env=env,
                         timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"loading the generator failed: {out.stderr[-2000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["seconds"], result["backend"]


def bench_model_load(ctx: BenchContext) -> list[Row]:
    """Loading the generator as the engine does, each time in a fresh process:
    into an empty cache (transformers converts the GGUF file there) and again
    with the cache filled."""
    if ctx.quick and resolved_backend(ctx.backend) == "transformers":
        return _quick_transformers_load(ctx)
    with tempfile.TemporaryDirectory() as cache:
        ctx.log("  cold load (an empty cache: transformers converts the GGUF into it)...")
        cold, used = _load_in_subprocess(ctx.backend, cache)
        warm = median([_load_in_subprocess(ctx.backend, cache)[0] for _ in range(ctx.repeat)])
    # llama.cpp reads the GGUF file as it is: there is nothing to convert, so no goal
    goal = "cached faster" if used == "transformers" else ""
    return [
        Row("model_load.cold_s", cold, "s", f"cold load, empty cache ({used})"),
        Row("model_load.cached_s", warm, "s", f"cached load ({used})", baseline=cold, baseline_name="cold load",
            ratio=ratio(cold, warm), goal=goal, met=warm < cold if goal else None),
    ]


def _quick_transformers_load(ctx: BenchContext) -> list[Row]:
    """--quick on transformers: one load in the user's cache, not a fresh
    conversion (~20 s); a cold load only if the cache was empty anyway."""
    from ..models import conversion_dir, embedded_gguf, is_converted

    cached = is_converted(conversion_dir(embedded_gguf()))
    seconds, used = _load_in_subprocess(ctx.backend)
    if cached:
        ctx.note("model_load: --quick on transformers skips the cold load (a GGUF conversion)")
        return [Row("model_load.cached_s", seconds, "s", f"cached load ({used})")]
    return [Row("model_load.cold_s", seconds, "s", f"cold load, empty cache ({used})")]


def _raw_generate(model: Any, tokenizer: Any, text: str, max_new_tokens: int) -> tuple[float, float]:
    """(time to first token, decode tokens/s) of a raw model.generate."""
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
    first = first if first is not None else total
    return first, (tokens - 1) / max(total - first, 1e-9)


def _raw_baseline(llm: Any, max_new: int) -> tuple[str, Callable[[str], tuple[float, float]], Callable[[], None]]:
    """(name, run(text) -> (first token s, decode tokens/s), close) of the raw
    runtime under ``llm``: llama-cpp-python for the llama.cpp backend, a plain
    model.generate for transformers."""
    if getattr(llm, "backend", "") == "llamacpp":
        from .backends import raw_completion, raw_llama

        raw = raw_llama(llm.gguf, n_ctx=llm.runtime.n_ctx)  # room for the same prompt as ours
        return "raw llama-cpp-python", lambda text: raw_completion(raw, text, max_new), raw.close
    return "raw model.generate", lambda text: _raw_generate(llm.model, llm.tokenizer, text, max_new), lambda: None


def _forget_prompt(llm: Any) -> None:
    """Start the next answer from an empty KV cache: llama.cpp keeps the last
    prompt, and the same question asked again would skip its prefill, which
    neither a fresh `assistant ask` nor the raw baseline (reset each run) gets."""
    forget = getattr(llm, "_forget_cache", None)
    if forget is not None:
        forget()


def bench_ask(ctx: BenchContext) -> list[Row]:
    """Time to first token and decode speed: Engine.answer vs the raw runtime on the same prompt."""
    from ..engine import Engine

    max_new = ctx.size(64, 8)
    with tempfile.TemporaryDirectory() as home, temporary_home(home):
        # --quick: one passage, so the three prefills of the run stay short
        engine = Engine(ctx.settings(device="cpu", dtype="float32", max_new_tokens=max_new, top_k=ctx.size(3, 1)))
        engine.index(SAMPLE_CORPUS)
        llm = engine.llm
        for notice in engine.notices:
            ctx.note(f"ask: {notice}")
        raw_name, raw_run, raw_close = _raw_baseline(llm, max_new)
        try:
            if not ctx.quick:  # warm-up: embedder, model, caches (--quick times first calls: a smoke test)
                raw_run(llm.render(engine.answer(QUESTION).prompt))
            ours_first, ours_rate, ours_finish, raw_first, raw_rate = [], [], [], [], []
            for _ in range(ctx.repeat):
                _forget_prompt(llm)
                start = time.perf_counter()
                pieces: list[float] = []  # when each non-blank piece arrived

                def on_text(piece: str) -> None:
                    if piece.strip():
                        pieces.append(time.perf_counter() - start)

                answer = engine.answer(QUESTION, on_text=on_text)
                total = time.perf_counter() - start
                first, last = (pieces[0], pieces[-1]) if pieces else (total, total)
                ours_first.append(first)
                # decoding ends with the last piece; what follows (citations, saving) is ask.finish_s
                ours_rate.append((answer.usage.completion_tokens - 1) / max(last - first, 1e-9))
                ours_finish.append(total - last)
                f, r = raw_run(llm.render(answer.prompt))  # exactly what the engine sent
                raw_first.append(f)
                raw_rate.append(r)
        finally:
            raw_close()
    of, orate, rf, rrate = median(ours_first), median(ours_rate), median(raw_first), median(raw_rate)
    decode_ratio = ratio(orate, rrate)
    return [
        Row("ask.first_token_s", of, "s", "time to first token (ask vs raw)", baseline=rf, baseline_name=raw_name,
            ratio=ratio(rf, of)),
        Row("ask.decode_tokens_per_s", orate, "tokens/s", "decode tokens/s (ask vs raw)", baseline=rrate,
            baseline_name=raw_name, ratio=decode_ratio, goal=">= 0.95x",
            met=decode_ratio >= 0.95 if decode_ratio is not None else None),
        Row("ask.finish_s", median(ours_finish), "s", "after the last token: citations, saving the answer"),
    ]
