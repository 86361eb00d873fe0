"""Benchmark of the generation backends, all on one prompt in one run:

* raw llama-cpp-python (its high-level ``Llama.create_completion``, streamed),
  the baseline for single-stream speed;
* our llama.cpp backend: single stream, the same prompt again (prefix reuse),
  n=5 samples of self-consistency sharing one prefill (and ``llama_decode``
  alone with 1 and 5 sequences: the ceiling of any sampler on top), and
  decoding with a LoRA (q, k, v, o, rank 8) merged into the model (what one
  ``--adapter`` runs) and as a run-time adapter (what a mix runs), against
  without;
* the transformers backend's decode loop against ``generate()``
  (:mod:`assistant.bench.transformers_decode`).

Decode speed is (tokens - 1) / (time after the first token); time to first
token includes the prefill. For n samples, "decode total" is every sample's
tokens after the first over the time after the first step (compare with the
single-stream decode), and "end to end" is every token over the whole call,
against n raw calls one after another (the raw API keeps the prompt cached,
so only the first call pays the prefill). Ratios against a baseline are the
median of per-round ratios (each round runs every variant once, so drift of
the machine cancels); values are medians over rounds.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from ..cores import usable_cores
from . import BenchContext, Row, median, ratio
from .transformers_decode import transformers_rows

PROMPT = ("You are a helpful assistant. Read the passage and answer in detail.\n\n"
          "Passage: The Great Barrier Reef is the world's largest coral reef system, composed of over 2,900 "
          "individual reefs and 900 islands stretching for over 2,300 kilometres over an area of approximately "
          "344,400 square kilometres. The reef is located in the Coral Sea, off the coast of Queensland, "
          "Australia. It can be seen from outer space and is the world's biggest single structure made by "
          "living organisms. This reef structure is composed of and built by billions of tiny organisms, known "
          "as coral polyps. It supports a wide diversity of life and was selected as a World Heritage Site in "
          "1981. Climate change, pollution and crown-of-thorns starfish threaten its health.\n\n"
          "Question: Write a long, detailed essay about the reef, its history and the threats it faces.")
#: --quick's prompt: the same code paths with a short prefill
QUICK_PROMPT = "Write a long, detailed essay about the Great Barrier Reef and the threats it faces."
TOKENS = 64
SAMPLES = 5


def _stream_stats(stream: Any) -> tuple[float, float, int]:
    """(time to first token, decode tokens/s, tokens) of one of our streams."""
    start = time.perf_counter()
    first = None
    for piece in stream:
        if first is None and piece:
            first = time.perf_counter() - start
    total = time.perf_counter() - start
    tokens = stream.candidate.completion_tokens if stream.candidate else 0
    first = first if first is not None else total
    return first, (tokens - 1) / max(total - first, 1e-9), tokens


def raw_llama(gguf: Path, n_ctx: int = 2048) -> Any:
    """llama-cpp-python's own high-level API, on every core like our backend
    (its default is half of them). Also the raw baseline of ``bench ask``."""
    from assistant.backends.llamacpp.runtime import import_llama_cpp

    return import_llama_cpp().Llama(model_path=str(gguf), n_ctx=n_ctx, n_threads=usable_cores(),
                                    verbose=False)


def raw_completion(llm: Any, text: str, tokens: int = TOKENS) -> tuple[float, float]:
    """TTFT and decode tokens/s of one cold greedy completion on the raw API."""
    llm.reset()  # a cold prompt each time
    start = time.perf_counter()
    first = None
    count = 0
    for _ in llm.create_completion(text, max_tokens=tokens, temperature=0.0, stream=True):
        if first is None:
            first = time.perf_counter() - start
        count += 1
    total = time.perf_counter() - start
    first = first if first is not None else total
    return first, (count - 1) / max(total - first, 1e-9)


def _raw_samples(llm: Any, text: str, tokens: int) -> float:
    """Tokens per second of SAMPLES sampled completions on the raw API, one
    after another (its prompt cache spares the prefill after the first)."""
    llm.reset()
    start = time.perf_counter()
    produced = 0
    for seed in range(SAMPLES):
        out = llm.create_completion(text, max_tokens=tokens, temperature=0.7, top_p=0.95, seed=seed)
        produced += out["usage"]["completion_tokens"]
    return produced / (time.perf_counter() - start)


def _pure_decode(runtime: Any, prompt_ids: list[int], sequences: int, steps: int) -> float:
    """Tokens/s of ``llama_decode`` alone (no sampling, no text) with
    ``sequences`` copies of the prompt decoding side by side: the ceiling any
    sampler on top can reach."""
    runtime.clear()
    runtime.decode_tokens([(t, i, 0, i == len(prompt_ids) - 1) for i, t in enumerate(prompt_ids)])
    for seq in range(1, sequences):
        runtime.seq_cp(0, seq, 0, len(prompt_ids))
    start = time.perf_counter()
    for step in range(steps):
        runtime.decode_tokens([(100 + step, len(prompt_ids) + step, seq, True) for seq in range(sequences)])
    rate = sequences * steps / (time.perf_counter() - start)
    runtime.clear()
    return rate


def _bench_lora(gguf: Path, folder: Path) -> tuple[Path, Path]:
    """A random rank-8 LoRA on q, k, v, o of every layer, written straight to
    GGUF as a run-time adapter, and merged into a copy of the model."""
    import numpy as np

    from assistant.backends.llamacpp.gguf_file import read_gguf
    from assistant.backends.llamacpp.lora_gguf import write_adapter_gguf
    from assistant.backends.llamacpp.merge import write_merged_gguf

    reader = read_gguf(gguf)  # parsed once per process (write_merged_gguf reads the same one)
    shapes = {t.name: [int(x) for x in t.shape] for t in reader.tensors}
    architecture = str(reader.fields["general.architecture"].contents())
    rng = np.random.default_rng(0)
    tensors = {}
    for name, shape in shapes.items():
        if name.startswith("blk.") and name.split(".")[2] in ("attn_q", "attn_k", "attn_v", "attn_output"):
            n_in, n_out = shape
            tensors[f"{name}.lora_a"] = rng.normal(0, 0.02, (8, n_in)).astype(np.float32)
            tensors[f"{name}.lora_b"] = rng.normal(0, 0.02, (n_out, 8)).astype(np.float32)
    adapter = write_adapter_gguf(tensors, 16.0, architecture, folder / "bench-lora.gguf")
    return adapter, write_merged_gguf(gguf, tensors, 16.0, 1.0, folder / "bench-merged.gguf")


def bench_backends(ctx: BenchContext) -> list[Row]:
    """Decode speed and first-token time of both backends and of raw llama.cpp;
    n=5 samples sharing a prefill; LoRA decode cost. Without llama.cpp only
    the transformers rows run (and a note says why)."""
    from ..backends import llamacpp_problem

    tokens, prompt = ctx.size(TOKENS, 8), ctx.size(PROMPT, QUICK_PROMPT)
    problem = llamacpp_problem()
    if problem:
        ctx.note(f"backends: the llama.cpp rows were not run: {problem}")
        return transformers_rows(ctx, prompt, tokens, SAMPLES, _stream_stats, None)
    rows, ours_rate = _llamacpp_rows(ctx, prompt, tokens)
    return rows + transformers_rows(ctx, prompt, tokens, SAMPLES, _stream_stats, ours_rate)


def _llamacpp_rows(ctx: BenchContext, prompt: str, tokens: int) -> tuple[list[Row], float]:
    """The llama.cpp rows, and our backend's single-stream decode rate."""
    from assistant.backends.llamacpp.backend import LlamaCppLLM
    from assistant.backends.llamacpp.runtime import Runtime
    from assistant.backends.sampling import Sampler
    from ..models import embedded_gguf, resolve_generator
    from ..types import Decoding

    gguf = embedded_gguf()
    label = resolve_generator("embedded").label
    greedy = Decoding(max_new_tokens=tokens)
    sampled = Decoding(max_new_tokens=tokens, temperature=0.7, top_p=0.95, seed=1)

    ctx.log("backends: raw llama-cpp-python and our llama.cpp backend, every variant in each round...")
    cpp = LlamaCppLLM(Runtime(gguf), gguf, label)
    text = cpp.render(prompt)
    prompt_tokens = cpp.count_tokens(prompt)
    prompt_ids = cpp._tokens(prompt)
    raw = raw_llama(gguf)
    m: dict[str, list[float]] = {k: [] for k in ("raw_ttft", "raw_rate", "cold", "warm", "rate", "lora_rate",
                                                  "samples", "samples_e2e", "raw_samples_e2e", "pure1", "pure5", "merged_rate")}

    def fresh() -> None:
        cpp.runtime.clear()
        cpp._shared["cached"] = []

    with tempfile.TemporaryDirectory() as tmp:
        adapter_file, merged_file = _bench_lora(gguf, Path(tmp))
        lora = cpp.runtime.load_lora(adapter_file)
        merged = LlamaCppLLM(Runtime(merged_file), merged_file, label)  # what `--adapter NAME` runs
        # Rounds hold one run of every variant, so a machine that speeds up or
        # slows down (these shared cores do, by +-20 %) affects all alike.
        for round_ in range(ctx.repeat):
            ctx.log(f"backends: round {round_ + 1} of {ctx.repeat}")
            first, rate = raw_completion(raw, text, tokens)
            m["raw_ttft"].append(first)
            m["raw_rate"].append(rate)
            fresh()
            first, rate, _ = _stream_stats(cpp.stream(prompt, decoding=greedy))
            m["cold"].append(first)
            m["rate"].append(rate)
            first, _, _ = _stream_stats(cpp.stream(prompt, decoding=greedy))
            m["warm"].append(first)
            # the LoRA is set behind the backend's back: its adapter key stays "none", so it stays on
            cpp.runtime.set_loras([(lora, 1.0)])
            fresh()
            m["lora_rate"].append(_stream_stats(cpp.stream(prompt, decoding=greedy))[1])
            cpp.runtime.set_loras([])
            fresh()
            merged.runtime.clear()
            merged._shared["cached"] = []
            m["merged_rate"].append(_stream_stats(merged.stream(prompt, decoding=greedy))[1])
            with cpp._lock:
                start = time.perf_counter()
                first = None
                sample_rows: list[Any] = []
                for sample_rows in cpp._steps([prompt_ids], [(0, j) for j in range(SAMPLES)], sampled,
                                              Sampler(sampled)):
                    if first is None:
                        first = time.perf_counter() - start  # the prefill and every sample's first token
                total = time.perf_counter() - start
            produced = sum(len(r.generated) for r in sample_rows)
            m["samples"].append((produced - SAMPLES) / max(total - (first or 0.0), 1e-9))
            m["samples_e2e"].append(produced / total)
            m["raw_samples_e2e"].append(_raw_samples(raw, text, tokens))
            m["pure1"].append(_pure_decode(cpp.runtime, prompt_ids, 1, tokens))
            m["pure5"].append(_pure_decode(cpp.runtime, prompt_ids, SAMPLES, tokens))
    raw.close()
    fresh()
    raw_ttft, raw_rate = median(m["raw_ttft"]), median(m["raw_rate"])
    ours_rate, ours_ttft, ours_warm = median(m["rate"]), median(m["cold"]), median(m["warm"])
    samples_rate, samples_e2e, raw_samples_e2e = median(m["samples"]), median(m["samples_e2e"]), \
        median(m["raw_samples_e2e"])
    lora_rate, merged_rate = median(m["lora_rate"]), median(m["merged_rate"])
    merged.runtime.close()
    pure1, pure5 = median(m["pure1"]), median(m["pure5"])
    cpp.runtime.close()

    def paired(top: str, bottom: str) -> float:
        """The median of per-round ratios: both sides of each ratio ran within
        a minute of each other, so the machine's drift cancels."""
        return median([a / b for a, b in zip(m[top], m[bottom]) if b])

    raw_name = "raw llama-cpp-python"
    speed, samples_ratio, merged_ratio = paired("rate", "raw_rate"), paired("samples", "raw_rate"), \
        paired("merged_rate", "rate")
    rows = [
        Row("backends.prompt_tokens", prompt_tokens, "tokens", "prompt tokens"),
        Row("backends.raw_llamacpp.decode_tokens_per_s", raw_rate, "tokens/s", "raw llama.cpp decode"),
        Row("backends.raw_llamacpp.first_token_s", raw_ttft, "s", "raw llama.cpp first token"),
        Row("backends.llamacpp.decode_tokens_per_s", ours_rate, "tokens/s", "llamacpp backend decode",
            baseline=raw_rate, baseline_name=raw_name, ratio=speed, goal=">= 1.0x", met=speed >= 1.0),
        Row("backends.llamacpp.first_token_s", ours_ttft, "s", "llamacpp backend first token", baseline=raw_ttft,
            baseline_name=raw_name, ratio=ratio(raw_ttft, ours_ttft)),
        Row("backends.llamacpp.same_prompt_first_token_s", ours_warm, "s", "llamacpp same prompt again, first token",
            baseline=ours_ttft, baseline_name="cold prompt", ratio=ratio(ours_ttft, ours_warm)),
        Row("backends.llamacpp.samples_decode_tokens_per_s", samples_rate, "tokens/s",
            f"llamacpp n={SAMPLES} samples, decode total", baseline=raw_rate,
            baseline_name=raw_name + " single-stream decode", ratio=samples_ratio, goal=">= 1.5x",
            met=samples_ratio >= 1.5),
        Row("backends.llama_decode.sequences_tokens_per_s", pure5, "tokens/s",
            f"llama_decode alone, {SAMPLES} sequences (the ceiling)", baseline=pure1,
            baseline_name="llama_decode alone, 1 sequence", ratio=paired("pure5", "pure1")),
        Row("backends.llamacpp.samples_end_to_end_tokens_per_s", samples_e2e, "tokens/s",
            f"llamacpp n={SAMPLES} samples, end to end", baseline=raw_samples_e2e,
            baseline_name=f"{SAMPLES} raw calls (prompt cached)", ratio=ratio(samples_e2e, raw_samples_e2e)),
        Row("backends.llamacpp.merged_lora_decode_tokens_per_s", merged_rate, "tokens/s",
            "llamacpp decode with a LoRA merged (q,k,v,o r8)", baseline=ours_rate, baseline_name="no adapter",
            ratio=merged_ratio, goal=">= 0.95x", met=merged_ratio >= 0.95),
        Row("backends.llamacpp.runtime_lora_decode_tokens_per_s", lora_rate, "tokens/s",
            "llamacpp decode with a run-time LoRA (mixes)", baseline=ours_rate, baseline_name="no adapter",
            ratio=paired("lora_rate", "rate")),
    ]
    return rows, ours_rate
