"""Benchmark of adapters: what LoRA and soft prompts cost to train against
full fine-tuning of the same model on the same batch, and how fast adapters
switch against reloading the model.

Training memory is measured per method in a fresh process (so peaks do not
mix) and split into weights, gradients + optimizer state (measured from the
tensors after an AdamW step) and the rest of the peak (activations and
temporaries: peak RSS after the steps minus RSS before the first step minus
what was allocated since for gradients and optimizer state).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

from . import BenchContext, Row, median, ratio

METHODS = ("full", "lora", "lora_checkpointing", "prompt")


def _workers(ctx: BenchContext) -> dict[str, dict]:
    """Each method's measurements, from a fresh process per method (so memory
    peaks do not mix); under --quick, one process for all (peaks are not
    compared there, and each process start costs seconds)."""
    shape = ["--batch", "1", "--length", "32", "--steps", "1"] if ctx.quick else []
    groups = [list(METHODS)] if ctx.quick else [[m] for m in METHODS]
    results = {}
    for methods in groups:
        ctx.log(f"adapters: training with {', '.join(methods)} in a fresh process...")
        out = subprocess.run([sys.executable, "-m", "assistant.bench.adapters", *methods, *shape],
                             capture_output=True, text=True, timeout=900)
        if out.returncode != 0:
            raise RuntimeError(f"bench worker {', '.join(methods)} failed: {out.stderr[-2000:]}")
        for line in out.stdout.strip().splitlines()[-len(methods):]:
            result = json.loads(line)
            results[result["method"]] = result
    return results


def bench_adapters(ctx: BenchContext) -> list[Row]:
    """Trainable share, seconds per step and peak memory of LoRA, soft prompt and
    full fine-tuning at batch 4 x 256; adapter switch time vs reloading the model."""
    results = _workers(ctx)
    gib = 1 << 30
    full = results["full"]
    rows: list[Row] = []
    for method, r in results.items():
        rows += [
            Row(f"adapters.{method}.trainable_pct", 100 * r["trainable"] / r["total"], "%",
                f"{method}: trainable share"),
            Row(f"adapters.{method}.step_s", r["step_s"], "s", f"{method}: seconds per step",
                baseline=full["step_s"], baseline_name="full fine-tuning", ratio=ratio(full["step_s"], r["step_s"])),
            Row(f"adapters.{method}.weights_gib", r["weights"] / gib, "GiB", f"{method}: weights"),
            Row(f"adapters.{method}.grads_optim_gib", r["grads_optim"] / gib, "GiB",
                f"{method}: gradients + optimizer state", baseline=full["grads_optim"] / gib,
                baseline_name="full fine-tuning", ratio=full["grads_optim"] / max(r["grads_optim"], 1)),
            Row(f"adapters.{method}.activations_gib", r["activations"] / gib, "GiB",
                f"{method}: activations and temporaries"),
            Row(f"adapters.{method}.peak_gib", r["peak"] / gib, "GiB", f"{method}: total peak",
                baseline=full["peak"] / gib, baseline_name="full fine-tuning", ratio=ratio(full["peak"], r["peak"])),
        ]
    lora = results["lora"]
    smaller = full["grads_optim"] / max(lora["grads_optim"], 1)
    rows.append(Row("adapters.lora_grads_optim_smaller_x", smaller, "x smaller", "LoRA gradients + optimizer vs full",
                    goal=">= 20x", met=smaller >= 20))
    ckpt = results["lora_checkpointing"]["peak"] / full["peak"]
    rows.append(Row("adapters.lora_checkpointing_peak_share", ckpt, "", "LoRA + checkpointing peak / full peak",
                    goal="<= 0.667", met=ckpt <= 2 / 3))
    rows += _switching(ctx)
    return rows


def _switching(ctx: BenchContext) -> list[Row]:
    from ..adapter_runtime import AdapterSet
    from ..adapters import AdapterInfo, AdapterRegistry, AdapterSpec, weights_fingerprint
    from assistant.backends.transformers.llm import TransformersLLM
    from ..models import load_generator

    reload_s, loaded = _timed(lambda: load_generator("embedded", device="cpu", dtype="float32"))
    llm = TransformersLLM(loaded)
    fingerprint = weights_fingerprint(loaded.folder)
    with tempfile.TemporaryDirectory() as root:
        registry = AdapterRegistry(root)
        _save_random_adapters(registry, loaded, fingerprint, AdapterInfo)
        adapters = AdapterSet(llm.model, loaded.source.label, fingerprint, registry)
        llm._adapters[0] = adapters
        load_s, _ = _timed(lambda: [adapters.load(n) for n in ("lora-1", "lora-2", "soft")])
        specs = [AdapterSpec.parse(s) for s in ("lora-1", "lora-2", "", "soft", "lora-1")]
        times = []
        for _ in range(ctx.size(max(ctx.repeat, 5), ctx.repeat)):
            for spec in specs:
                seconds, _ = _timed(lambda: adapters.activate(spec))
                times.append(seconds)
        switch = median(times)
        # what an unmerged adapter costs per generated token
        from ..types import Decoding

        tokens = ctx.size(32, 4)
        decoding = Decoding(max_new_tokens=tokens)
        base_s = median([_timed(lambda: llm.generate(["Tell me about rivers."], decoding=decoding))[0]
                         for _ in range(ctx.repeat)])
        lora = llm.with_adapter("lora-1")
        lora_s = median([_timed(lambda: lora.generate(["Tell me about rivers."], decoding=decoding))[0]
                         for _ in range(ctx.repeat)])
    return [
        Row("adapters.switch_ms", switch * 1000, "ms", "switch adapter (median of lora/lora/none/soft)",
            baseline=reload_s * 1000, baseline_name="reload the base model", ratio=ratio(reload_s, switch),
            goal="<= 50 ms", met=switch <= 0.05),
        Row("adapters.load_three_ms", load_s * 1000, "ms", "load three adapters once"),
        Row("adapters.lora_generate_s", lora_s, "s", f"generate {tokens} tokens with a LoRA active",
            baseline=base_s, baseline_name="no adapter", ratio=ratio(base_s, lora_s)),
    ]


def _save_random_adapters(registry, loaded, fingerprint, info_class) -> None:
    """Two LoRA adapters and a soft prompt with random weights (speed does not depend on training)."""
    import copy

    import torch
    from peft import LoraConfig, PromptTuningConfig, get_peft_model

    configs = {"lora-1": LoraConfig(r=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"),
               "lora-2": LoraConfig(r=16, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"], task_type="CAUSAL_LM"),
               "soft": PromptTuningConfig(num_virtual_tokens=20, task_type="CAUSAL_LM")}
    for name, config in configs.items():
        model = get_peft_model(copy.deepcopy(loaded.model), config)
        with torch.no_grad():
            for param_name, param in model.named_parameters():
                if param.requires_grad:
                    param.normal_(0, 0.02)
        kind = "prompt" if name == "soft" else "lora"
        registry.save(info_class(name=name, kind=kind, base_model=loaded.source.label, base_fingerprint=fingerprint,
                                 prompt_learning=kind == "prompt"), lambda folder: model.save_pretrained(str(folder)))


def _timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def _rss() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def _peak_rss() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def worker(method: str, batch: int = 4, length: int = 256, steps: int = 3) -> dict:
    """Train ``steps`` AdamW steps with ``method`` on a random batch; measure."""
    import torch

    from ..models import load_generator

    torch.manual_seed(0)
    loaded = load_generator("embedded", device="cpu", dtype="float32")
    model = loaded.model
    model.train()
    if method in ("lora", "lora_checkpointing"):
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"],
                                                 lora_dropout=0.0, task_type="CAUSAL_LM"))
    elif method == "prompt":
        from peft import PromptTuningConfig, get_peft_model

        model = get_peft_model(model, PromptTuningConfig(num_virtual_tokens=20, task_type="CAUSAL_LM"))
    if method == "lora_checkpointing":
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    params = [p for p in model.parameters() if p.requires_grad]
    trainable = sum(p.numel() for p in params)
    total = sum(p.numel() for p in model.parameters())
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    optimizer = torch.optim.AdamW(params, lr=1e-5)
    ids = torch.randint(0, loaded.tokenizer.vocab_size, (batch, length))
    before = _rss()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=False)  # keep gradients allocated: they count in the peak
        times.append(time.perf_counter() - start)
    grads = sum(p.grad.numel() * p.grad.element_size() for p in params if p.grad is not None)
    state = sum(t.numel() * t.element_size() for s in optimizer.state.values() for t in s.values()
                if torch.is_tensor(t) and t.dim() > 0)
    peak = _peak_rss()
    activations = max(0, peak - before - grads - state)
    return {"method": method, "trainable": trainable, "total": total, "weights": weights, "grads_optim": grads + state,
            "activations": activations, "peak": weights + grads + state + activations,
            "step_s": median(times[1:]) if len(times) > 1 else times[0], "peak_rss": peak}


def _main(argv: list[str]) -> None:
    """``python -m assistant.bench.adapters METHOD... [--batch B --length L --steps S]``:
    one JSON line per method."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("methods", nargs="+", choices=METHODS)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--length", type=int, default=256)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args(argv)
    for method in args.methods:
        print(json.dumps(worker(method, args.batch, args.length, args.steps)), flush=True)


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    _main(sys.argv[1:])
