"""``assistant tune dpo`` and ``assistant tune kto``: a chat LoRA trained
straight from preferences, with no reward model in between.

* DPO (Rafailov et al., 2023, "Direct Preference Optimization: Your Language
  Model is Secretly a Reward Model") on pairs: the loss
  ``-log sigmoid(beta * (log-ratio(chosen) - log-ratio(rejected)))`` where a
  log-ratio compares the policy with the frozen reference model.
* KTO (Ethayarajh et al., 2024, "KTO: Model Alignment as Prospect Theoretic
  Optimization") on single answers marked desirable or not: thumbs up/down
  from the feedback store, or each pair split into a good and a bad row.

Both use TRL's trainers with a LoRA on the base model; the reference model
is the same base with the adapter switched off, so no second copy is held.
The implicit rewards (``beta`` times the log-ratios), their margins and the
share of pairs ranked right are logged, and the adapter is saved as kind
``lora``: it loads into the chat with ``--adapter NAME`` like any other.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from assistant import ConfigError
from assistant.adapters import AdapterRegistry

from .pairs import Pair, PairSet, require, split
from .reward_model import clipped_prompt
from .runs import (RunConfig, RunResult, Timer, check_new, last, lora_config, pairs_fingerprint, progress_callback,
                   save_run, train_between_evaluations, trl_args)

MIN_PAIRS = 4
CURVES = {"loss": ["loss", "eval_loss"],
          "implicit reward margin": ["rewards/margins", "eval_rewards/margins"],
          "pairs ranked right": ["rewards/accuracies", "eval_rewards/accuracies"]}


def read_kto(path: str | Path) -> list[dict[str, Any]]:
    """KTO rows (``prompt``, ``completion``, ``label``) from JSONL, as
    ``assistant feedback export --format kto`` writes them."""
    from .pairs import _messages, _response, jsonl_objects

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"KTO data {path} does not exist", "export it: assistant feedback export --format kto --out FILE")
    rows = []
    for where, row in jsonl_objects(path):
        if not {"prompt", "completion", "label"} <= set(row):
            raise ConfigError(f"{where} needs prompt, completion and label", "use TRL's unpaired preference schema")
        rows.append({"messages": _messages(row["prompt"], where, "prompt"),
                     "completion": _response(row["completion"], where, "completion"), "label": bool(row["label"])})
    return rows


def kto_rows_from_pairs(pairs: list[Pair]) -> list[dict[str, Any]]:
    return [row for p in pairs for row in ({"messages": p.messages, "completion": p.chosen, "label": True},
                                            {"messages": p.messages, "completion": p.rejected, "label": False})]


def _policy(model_spec: str, device: str, offline: bool, say: Callable[[str], None]) -> Any:
    from assistant import load_generator

    loaded = load_generator(model_spec, device, "float32", offline=offline, progress=say)
    loaded.model.train()
    loaded.tokenizer.padding_side = "right"
    return loaded


def train_dpo(*, name: str, data: PairSet, config: RunConfig, model_spec: str = "embedded", device: str = "auto",
              registry: AdapterRegistry | None = None, overwrite: bool = False, offline: bool = True,
              progress: Callable[[str], None] | None = None) -> RunResult:
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    say = progress or (lambda _: None)
    registry = registry or AdapterRegistry()
    check_new(name, registry, overwrite)
    require(data.pairs, MIN_PAIRS, "DPO", data.source)
    timer = Timer()
    train, validation = split(data.pairs, config.val_fraction, config.seed)
    loaded = _policy(model_spec, device, offline, say)
    tok = loaded.tokenizer

    def rows(pairs: list[Pair]) -> Any:
        return Dataset.from_list([{"prompt": clipped_prompt(tok, p.messages, config.max_prompt_length),
                                   "chosen": p.chosen.strip(), "rejected": p.rejected.strip()} for p in pairs])

    say(f"DPO: {len(train)} training and {len(validation)} validation pairs from {data.source} "
        f"({loaded.source.label} on {loaded.device})")
    args = trl_args(DPOConfig, config, "dpo", registry.run_dir(name), loaded.device, len(train),
                    max_length=config.max_length, beta=config.beta, disable_dropout=True)
    trainer = DPOTrainer(model=loaded.model, ref_model=None, args=args, train_dataset=rows(train),
                         eval_dataset=rows(validation), processing_class=tok,
                         peft_config=lora_config(config, "CAUSAL_LM", loaded.model), callbacks=[progress_callback(say)])
    return _finish(trainer, name=name, method="dpo", loaded=loaded, data=data, config=config, registry=registry,
                   overwrite=overwrite, timer=timer, model_spec=model_spec,
                   counts={"train_pairs": len(train), "validation_pairs": len(validation)})


def train_kto(*, name: str, data: PairSet | None = None, kto_file: str | Path | None = None, config: RunConfig,
              model_spec: str = "embedded", device: str = "auto", registry: AdapterRegistry | None = None,
              overwrite: bool = False, offline: bool = True,
              progress: Callable[[str], None] | None = None) -> RunResult:
    from datasets import Dataset
    from trl import KTOConfig, KTOTrainer

    say = progress or (lambda _: None)
    registry = registry or AdapterRegistry()
    check_new(name, registry, overwrite)
    if kto_file is not None:
        items, source = read_kto(kto_file), str(kto_file)
    elif data is not None:
        items, source = kto_rows_from_pairs(data.pairs), data.source
    else:
        raise ConfigError("KTO needs data", "pass --data with pairs or KTO rows, or --from-store")
    if len(items) < 2 * MIN_PAIRS or len({r["label"] for r in items}) < 2:
        raise ConfigError(f"only {len(items)} KTO rows in {source} ({sum(r['label'] for r in items)} good); "
                          f"KTO needs at least {2 * MIN_PAIRS} with both good and bad answers",
                          "rate more answers up and down (`assistant feedback rate ID up|down`)")
    timer = Timer()
    # hold out by prompt, as for pairs
    keyed = [Pair(tuple((m["role"], m["content"]) for m in r["messages"]), r["completion"], "", 0.0) for r in items]
    train_keys, val_keys = split(keyed, config.val_fraction, config.seed)
    held = {k.prompt for k in val_keys}
    loaded = _policy(model_spec, device, offline, say)
    tok = loaded.tokenizer

    def rows(selected: list[dict[str, Any]]) -> Any:
        return Dataset.from_list([{"prompt": clipped_prompt(tok, r["messages"], config.max_prompt_length),
                                   "completion": r["completion"].strip(), "label": r["label"]} for r in selected])

    train = [r for r, k in zip(items, keyed) if k.prompt not in held]
    validation = [r for r, k in zip(items, keyed) if k.prompt in held]
    say(f"KTO: {len(train)} training and {len(validation)} validation answers from {source} "
        f"({loaded.source.label} on {loaded.device})")
    args = trl_args(KTOConfig, config, "kto", registry.run_dir(name), loaded.device, len(train),
                    max_length=config.max_length, beta=config.beta, disable_dropout=True)
    trainer = KTOTrainer(model=loaded.model, ref_model=None, args=args, train_dataset=rows(train),
                         eval_dataset=rows(validation), processing_class=tok,
                         peft_config=lora_config(config, "CAUSAL_LM", loaded.model), callbacks=[progress_callback(say)])
    pseudo = PairSet([], {}, source)
    return _finish(trainer, name=name, method="kto", loaded=loaded, data=pseudo, config=config, registry=registry,
                   overwrite=overwrite, timer=timer, model_spec=model_spec,
                   counts={"train_answers": len(train), "validation_answers": len(validation)},
                   fingerprint=pairs_fingerprint(keyed))


def _finish(trainer: Any, *, name: str, method: str, loaded: Any, data: PairSet, config: RunConfig,
            registry: AdapterRegistry, overwrite: bool, timer: Timer, model_spec: str, counts: dict[str, int],
            fingerprint: str | None = None) -> RunResult:
    before, after, history = train_between_evaluations(trainer)
    metrics: dict[str, Any] = {
        "eval_loss_before": round(before["eval_loss"], 4), "eval_loss_after": round(after["eval_loss"], 4),
        "train_loss": last(history, "train_loss"), "steps": trainer.state.global_step,
        "device": loaded.device, "seconds": round(timer.seconds, 1), **counts,
    }
    for key in ("eval_rewards/margins", "eval_rewards/accuracies"):
        if key in after:
            metrics[key.replace("eval_rewards/", "eval_reward_")] = round(float(after[key]), 4)
    return save_run(name=name, kind="lora", method=method, model=trainer.model, registry=registry,
                    base_label=loaded.source.label, base_folder=loaded.folder,
                    data_fingerprint=fingerprint or pairs_fingerprint(data.pairs), config=config, metrics=metrics,
                    history=history, overwrite=overwrite, seconds=timer.seconds, panels=CURVES,
                    extra_config={"data": data.source, "model": model_spec, "dropped": data.dropped,
                                  "options": {"rank": config.rank, "alpha": config.alpha, "dropout": config.dropout,
                                              "targets": config.targets}})
