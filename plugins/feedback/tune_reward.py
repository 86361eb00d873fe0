"""``assistant tune reward``: a reward model from preference pairs.

TRL's ``RewardTrainer`` trains the base model with a LoRA and a scalar head
(``AutoModelForSequenceClassification``, one label) on the pairwise loss
``-log sigmoid(r_chosen - r_rejected - margin)``. The pairs are encoded by
``reward_model.encode`` (the same code that scores at run time) and handed
to TRL already tokenized, so long pairs are truncated rather than silently
dropped (TRL filters out pairs over ``max_length``). Validation pairs are
held out by prompt; pairwise accuracy on them is logged every evaluation
and reported before and after training.

The head reads the mean of the sequence's hidden states by default
(``pooling="mean"``, see :data:`reward_model.POOLINGS` for why), and pairs
whose two answers were scored equal are left out by ``read_pairs``: they
have no right order to learn.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from assistant.adapters import AdapterRegistry

from .pairs import PairSet, require, split
from .reward_model import DEFAULT_POOLING, REWARD_KIND, encode, sequence_classifier
from .runs import (RunConfig, RunResult, Timer, check_new, last, lora_config, pairs_fingerprint, progress_callback,
                   save_run, train_between_evaluations, trl_args)

MIN_PAIRS = 4
#: The scalar head starts from random weights while the LoRA starts from the
#: pretrained model, so the head learns at this multiple of the learning rate
#: (the reasoning of LoRA+, Hayou et al., 2024: parts that start from scratch
#: want a larger step than the same Adam step everywhere).
HEAD_LR_SCALE = 10.0


def scale_head_lr(trainer: Any, scale: float) -> int:
    """Give the scalar head ``scale`` times the learning rate of the rest;
    returns how many head tensors were found. The optimizer is built here,
    before training (TRL leaves it to ``train()``, which then keeps this one);
    the scheduler multiplies every group's rate alike, so the ratio holds."""
    if scale == 1.0:
        return 0
    optimizer = trainer.create_optimizer()
    head = {id(p) for n, p in trainer.model.named_parameters() if p.requires_grad and ".score." in f".{n}"}
    groups = []
    for group in optimizer.param_groups:
        for mine in (False, True):
            params = [p for p in group["params"] if (id(p) in head) == mine]
            if params:
                groups.append({**group, "params": params, "lr": group["lr"] * (scale if mine else 1.0)})
    optimizer.param_groups.clear()  # nothing has been stepped yet, so there is no state to carry
    for group in groups:
        optimizer.add_param_group(group)
    return len(head)


def train_reward(*, name: str, data: PairSet, config: RunConfig, model_spec: str = "embedded", device: str = "auto",
                 registry: AdapterRegistry | None = None, overwrite: bool = False, offline: bool = True,
                 progress: Callable[[str], None] | None = None, pooling: str = DEFAULT_POOLING,
                 head_lr_scale: float = HEAD_LR_SCALE) -> RunResult:
    from datasets import Dataset
    from transformers import AutoTokenizer
    from trl import RewardConfig, RewardTrainer

    from assistant import generator_folder, resolve_device

    say = progress or (lambda _: None)
    registry = registry or AdapterRegistry()
    check_new(name, registry, overwrite)
    require(data.pairs, MIN_PAIRS, "a reward model", data.source)
    timer = Timer()
    train, validation = split(data.pairs, config.val_fraction, config.seed)
    source, folder = generator_folder(model_spec, offline, say)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    dev = resolve_device(device)

    def rows(pairs: list[Any]) -> Any:
        return Dataset.from_list([{
            "chosen_ids": encode(tokenizer, p.messages, p.chosen, config.max_length, config.max_prompt_length),
            "rejected_ids": encode(tokenizer, p.messages, p.rejected, config.max_length, config.max_prompt_length),
            "margin": p.margin} for p in pairs])

    say(f"{len(train)} training and {len(validation)} validation pairs from {data.source} ({source.label} on {dev})")
    model = sequence_classifier(folder, tokenizer, dev, pooling)
    args = trl_args(RewardConfig, config, "reward", registry.run_dir(name), dev, len(train),
                    max_length=None, disable_dropout=True, center_rewards_coefficient=0.01)
    trainer = RewardTrainer(model=model, args=args, train_dataset=rows(train), eval_dataset=rows(validation),
                            processing_class=tokenizer, peft_config=lora_config(config, "SEQ_CLS", model),
                            callbacks=[progress_callback(say)])
    scale_head_lr(trainer, head_lr_scale)
    before, after, history = train_between_evaluations(trainer)
    metrics = {
        "eval_accuracy_before": round(before.get("eval_accuracy", 0.0), 4),
        "eval_accuracy_after": round(after.get("eval_accuracy", 0.0), 4),
        "eval_loss_before": round(before["eval_loss"], 4), "eval_loss_after": round(after["eval_loss"], 4),
        "train_loss": last(history, "train_loss"), "steps": trainer.state.global_step,
        "train_pairs": len(train), "validation_pairs": len(validation), "device": dev,
        "seconds": round(timer.seconds, 1),
    }
    return save_run(name=name, kind=REWARD_KIND, method="reward", model=trainer.model, registry=registry,
                    base_label=source.label, base_folder=folder, data_fingerprint=pairs_fingerprint(data.pairs),
                    config=config, metrics=metrics, history=history, overwrite=overwrite, seconds=timer.seconds,
                    extra_config={"data": data.source, "model": model_spec, "dropped": data.dropped,
                                  "pooling": pooling, "head_lr_scale": head_lr_scale},
                    panels={"pairwise loss": ["loss", "eval_loss"], "accuracy": ["accuracy", "eval_accuracy"]})
