"""The transformers backend's decode loop against ``model.generate()``, on the
prompt of the backends benchmark (part of ``assistant bench --only backends``).

Variants, each once per round (these cores drift, so ratios are taken within
the run):

* ``generate()`` float32 and bfloat16, streamed through a timing streamer:
  the baselines;
* our backend with float32 weights (``dtype = "float32"``): the loop alone;
* our backend with ``dtype = "auto"``: float32 prefill, bfloat16-twin decode;
* n=5 samples end to end: our loop (one prefill, rows leave when finished)
  against ``generate(num_return_sequences=5)``.
"""

from __future__ import annotations

import time
from typing import Any

from ..types import Decoding
from . import BenchContext, Row, median, ratio


class _TimingStreamer:
    """A ``generate()`` streamer that only notes when each token arrives
    (the first ``put`` is the prompt)."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def put(self, value: Any) -> None:
        self.times.append(time.perf_counter())

    def end(self) -> None:
        pass


def _generate_stats(model: Any, enc: Any, tokens: int) -> tuple[float, float]:
    """(time to first token, decode tokens/s) of one greedy ``generate()``."""
    import torch

    streamer = _TimingStreamer()
    start = time.perf_counter()
    with torch.inference_mode():
        model.generate(**enc, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False, streamer=streamer)
    arrivals = streamer.times[1:]
    return arrivals[0] - start, (len(arrivals) - 1) / max(arrivals[-1] - arrivals[0], 1e-9)


def _generate_samples(llm: Any, enc: Any, tokens: int, samples: int) -> float:
    """Tokens per second of ``samples`` sampled answers in one ``generate()``
    (tokens counted to each answer's end of turn, as our backend counts them)."""
    import torch

    start = time.perf_counter()
    with torch.inference_mode():
        out = llm.model.generate(**enc, max_new_tokens=tokens, do_sample=True, temperature=0.7, top_p=0.95,
                                 num_return_sequences=samples, pad_token_id=llm.tokenizer.pad_token_id)
    seconds = time.perf_counter() - start
    width = enc["input_ids"].shape[1]
    return sum(llm._candidate(row[width:], 0, Decoding(), 0).completion_tokens for row in out) / seconds


def transformers_rows(ctx: BenchContext, prompt: str, tokens: int, samples: int, stream_stats: Any,
                      llamacpp_rate: float | None) -> list[Row]:
    """The transformers rows; ``llamacpp_rate`` (None without llama.cpp) is
    our llama.cpp backend's decode speed, for the last comparison."""
    from assistant.backends.transformers.llm import TransformersLLM
    from ..models import load_generator

    ctx.log("backends: transformers, our decode loop against generate()...")
    loaded = load_generator("embedded", device="cpu", dtype="float32")
    fp32 = TransformersLLM(loaded)
    auto = TransformersLLM(loaded, decode_dtype="bfloat16")
    twin = auto._decode_model(auto._active())  # the bfloat16 copy, also generate()'s bfloat16 baseline
    enc = fp32._encode([prompt])
    greedy = Decoding(max_new_tokens=tokens)
    sampled = Decoding(max_new_tokens=tokens, temperature=0.7, top_p=0.95, seed=1)
    m: dict[str, list[float]] = {}

    def note(key: str, value: float) -> None:
        m.setdefault(key, []).append(value)

    for round_ in range(ctx.repeat):
        ctx.log(f"backends: transformers round {round_ + 1} of {ctx.repeat}")
        first, rate = _generate_stats(loaded.model, enc, tokens)
        note("gen32_first", first)
        note("gen32", rate)
        first, rate = _generate_stats(twin, enc, tokens)
        note("gen16_first", first)
        note("gen16", rate)
        first, rate, _ = stream_stats(fp32.stream(prompt, decoding=greedy))
        note("loop32", rate)
        first, rate, _ = stream_stats(auto.stream(prompt, decoding=greedy))
        note("auto_first", first)
        note("auto", rate)
        note("gen_samples", _generate_samples(fp32, enc, tokens, samples))
        start = time.perf_counter()
        out = auto.generate([prompt], n=samples, decoding=sampled)[0]
        note("auto_samples", sum(c.completion_tokens for c in out) / (time.perf_counter() - start))
    g32, g16, loop32, ours = (median(m[k]) for k in ("gen32", "gen16", "loop32", "auto"))
    g16_first, ours_first = median(m["gen16_first"]), median(m["auto_first"])
    gen_samples, ours_samples = median(m["gen_samples"]), median(m["auto_samples"])
    rows = [
        Row("backends.transformers.generate_fp32_decode_tokens_per_s", g32, "tokens/s",
            "transformers generate() fp32 decode"),
        Row("backends.transformers.generate_fp32_first_token_s", median(m["gen32_first"]), "s",
            "transformers generate() fp32 first token"),
        Row("backends.transformers.generate_bf16_decode_tokens_per_s", g16, "tokens/s",
            "transformers generate() bf16 decode"),
        Row("backends.transformers.generate_bf16_first_token_s", g16_first, "s",
            "transformers generate() bf16 first token"),
        Row("backends.transformers.loop_fp32_decode_tokens_per_s", loop32, "tokens/s",
            "transformers backend fp32 decode (our loop)", baseline=g32, baseline_name="generate() fp32",
            ratio=ratio(loop32, g32)),
        Row("backends.transformers.auto_decode_tokens_per_s", ours, "tokens/s",
            "transformers backend auto decode (bf16 twin)", baseline=g32, baseline_name="generate() fp32",
            ratio=ratio(ours, g32)),
        Row("backends.transformers.auto_vs_generate_bf16_tokens_per_s", ours, "tokens/s",
            "transformers bf16 decode: our loop vs generate()", baseline=g16, baseline_name="generate() bf16",
            ratio=ratio(ours, g16)),
        Row("backends.transformers.auto_first_token_s", ours_first, "s",
            "transformers backend auto first token (fp32 prefill)", baseline=g16_first,
            baseline_name="generate() bf16", ratio=ratio(g16_first, ours_first)),
        Row("backends.transformers.samples_end_to_end_tokens_per_s", ours_samples, "tokens/s",
            f"transformers backend n={samples} samples, end to end", baseline=gen_samples,
            baseline_name=f"generate(num_return_sequences={samples}) fp32", ratio=ratio(ours_samples, gen_samples)),
    ]
    if llamacpp_rate is not None:
        rows.append(Row("backends.transformers.auto_vs_llamacpp_tokens_per_s", ours, "tokens/s",
                        "transformers backend auto decode vs llama.cpp", baseline=llamacpp_rate,
                        baseline_name="llamacpp backend", ratio=ratio(ours, llamacpp_rate)))
    return rows
