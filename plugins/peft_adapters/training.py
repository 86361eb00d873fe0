"""Supervised fine-tuning of an adapter: ``assistant tune sft``.

Records (JSONL) go through an instruction template into chat messages and a
response; the loss is cross-entropy on the response tokens only (the prompt's
labels are -100). The Hugging Face ``Trainer`` runs the loop, so the same
command runs on several GPUs under ``accelerate launch``, and gives
evaluation loss, checkpoints, resume and early stopping. The adapter is
saved to the registry atomically with its metadata, its loss history and a
PNG of the loss curves (when matplotlib is installed).
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from assistant import ConfigError, to_messages
from assistant.adapters import AdapterInfo, AdapterRegistry, check_name, data_fingerprint, weights_fingerprint

from .templates import Template


@dataclass(frozen=True)
class TrainConfig:
    epochs: float = 3.0
    max_steps: int = 0  # 0: run the epochs
    learning_rate: float = 0.0  # 0: the kind's default (LoRA 2e-4, soft prompts 3e-2)
    batch_size: int = 4
    grad_accum: int = 1
    max_length: int = 256
    val_fraction: float = 0.1
    eval_every: int = 20  # steps between evaluations (and checkpoints)
    patience: int = 3  # evaluations without improvement before stopping; 0: never stop early
    gradient_checkpointing: bool = False
    seed: int = 0
    warmup_ratio: float = 0.05

    def __post_init__(self) -> None:
        if not 0.0 < self.val_fraction < 0.9:
            raise ConfigError(f"val_fraction must be between 0 and 0.9, got {self.val_fraction}")
        if self.batch_size < 1 or self.grad_accum < 1 or self.max_length < 16:
            raise ConfigError("batch size and gradient accumulation must be at least 1, max length at least 16")


DEFAULT_LR = {"lora": 2e-4, "prompt": 3e-2, "prefix": 1e-2}


@dataclass
class TokenizedSet:
    train: list[dict[str, list[int]]]
    validation: list[dict[str, list[int]]]
    skipped: list[str] = field(default_factory=list)  # reasons, one per skipped record
    truncated: int = 0
    validation_records: list[int] = field(default_factory=list)  # 0-based record numbers held out


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"training data {path} does not exist", "pass a JSONL file with --data")
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise ConfigError(f"{path}:{number} is not valid JSON: {exc}", "one JSON object per line") from None
        if not isinstance(record, dict):
            raise ConfigError(f"{path}:{number} is not a JSON object", "one JSON object per line")
        records.append(record)
    if not records:
        raise ConfigError(f"{path} holds no records", "one JSON object per line")
    return records


def tokenize(records: list[dict[str, Any]], template: Template, tokenizer: Any, config: TrainConfig) -> TokenizedSet:
    """Prompt through the chat template, response + end-of-turn token; labels
    mask the prompt. Records missing a template field are skipped, with why."""
    rows: list[dict[str, list[int]]] = []
    skipped: list[str] = []
    truncated = 0
    end = tokenizer.eos_token or ""
    for number, record in enumerate(records, start=1):
        try:
            prompt, response = template.apply(record)
        except KeyError as exc:
            skipped.append(f"record {number}: no field {exc} (template {template.name} needs {', '.join(template.fields)})")
            continue
        if not response.strip():
            skipped.append(f"record {number}: empty response")
            continue
        chat = [{"role": m.role, "content": m.content} for m in to_messages(prompt)]
        prompt_text = (tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
                       if getattr(tokenizer, "chat_template", None) else "\n\n".join(m["content"] for m in chat) + "\n\n")
        prompt_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
        response_ids = tokenizer(response.strip() + end, add_special_tokens=False)["input_ids"]
        room = config.max_length - len(response_ids)
        if room < 8:
            skipped.append(f"record {number}: the response alone is longer than max_length {config.max_length}")
            continue
        if len(prompt_ids) > room:  # keep the end of the prompt: the question sits there
            prompt_ids = prompt_ids[-room:]
            truncated += 1
        rows.append({"input_ids": prompt_ids + response_ids, "labels": [-100] * len(prompt_ids) + response_ids,
                     "record": number - 1})
    if len(rows) < 2:
        raise ConfigError(f"only {len(rows)} usable training records" + (f"; first problem: {skipped[0]}" if skipped else ""),
                          "training needs at least 2 records that have every field the template names")
    order = list(range(len(rows)))
    random.Random(config.seed).shuffle(order)
    n_val = max(1, round(len(rows) * config.val_fraction))
    validation = [rows[i] for i in order[:n_val]]
    train = [rows[i] for i in order[n_val:]]
    return TokenizedSet(train, validation, skipped, truncated,
                        validation_records=sorted(r.pop("record") for r in validation))


class Collator:
    """Right-pads a batch; padded labels are -100 so they cost nothing."""

    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, rows: list[dict[str, list[int]]]) -> dict[str, Any]:
        import torch

        rows = [{"input_ids": r["input_ids"], "labels": r["labels"]} for r in rows]
        width = max(len(r["input_ids"]) for r in rows)
        ids = [r["input_ids"] + [self.pad_id] * (width - len(r["input_ids"])) for r in rows]
        labels = [r["labels"] + [-100] * (width - len(r["labels"])) for r in rows]
        mask = [[1] * len(r["input_ids"]) + [0] * (width - len(r["input_ids"])) for r in rows]
        return {"input_ids": torch.tensor(ids), "labels": torch.tensor(labels), "attention_mask": torch.tensor(mask)}


@dataclass
class TuneResult:
    info: AdapterInfo
    folder: Path
    seconds: float
    steps: int
    history: list[dict[str, Any]]
    notices: list[str]


def train_sft(*, name: str, kind: Any, options: Any, data: str | Path, template: Template,
              config: TrainConfig, model_spec: str = "embedded", device: str = "auto",
              registry: AdapterRegistry | None = None, resume: bool = False, overwrite: bool = False,
              offline: bool = True, progress: Callable[[str], None] | None = None) -> TuneResult:
    """Train one adapter and save it to the registry; see the module docstring."""
    from assistant import load_generator

    check_name(name)
    registry = registry or AdapterRegistry()
    if registry.path(name).exists() and not overwrite:
        raise ConfigError(f"an adapter named {name!r} already exists", "choose another --name, or pass --overwrite")
    say = progress or (lambda _: None)
    records = read_jsonl(data)
    started = time.perf_counter()
    loaded = load_generator(model_spec, device, "float32", offline=offline, progress=say)
    tokenizer = loaded.tokenizer
    tokenizer.padding_side = "right"
    dataset = tokenize(records, template, tokenizer, config)
    notices = [f"skipped {len(dataset.skipped)} records, e.g. {dataset.skipped[0]}"] if dataset.skipped else []
    if dataset.truncated:
        notices.append(f"{dataset.truncated} prompts were cut from the front to fit max_length {config.max_length}")
    say(f"{len(dataset.train)} training and {len(dataset.validation)} validation examples "
        f"(template {template.name}, {loaded.source.label} on {loaded.device})")

    from peft import get_peft_model

    model = loaded.model
    model.train()
    peft_model = get_peft_model(model, kind.peft_config(options, model))
    trainable, total = peft_model.get_nb_trainable_parameters()
    say(f"{kind.name}: {trainable:,} trainable parameters of {total:,} ({100 * trainable / total:.3f} %)")

    run_dir = registry.run_dir(name)
    trainer = _trainer(peft_model, tokenizer, dataset, config, kind, run_dir, loaded.device)
    before = trainer.evaluate()["eval_loss"]
    say(f"validation loss before training: {before:.4f}")
    checkpoint = resume and any(run_dir.glob("checkpoint-*"))
    if resume and not checkpoint:
        notices.append(f"no checkpoint in {run_dir} to resume from; started afresh")
    trainer.train(resume_from_checkpoint=True if checkpoint else None)
    after = trainer.evaluate()["eval_loss"]
    seconds = time.perf_counter() - started
    # train() starts a fresh state, so the evaluation before training is added back as step 0
    history = [{"step": 0, "eval_loss": before}] + [dict(h) for h in trainer.state.log_history]
    metrics = {
        "eval_loss_before": round(before, 4), "eval_loss_after": round(after, 4),
        "train_loss": _last(history, "train_loss") or _last(history, "loss"),
        "steps": trainer.state.global_step, "epochs": round(trainer.state.epoch or 0.0, 3),
        "seconds": round(seconds, 1), "train_examples": len(dataset.train),
        "validation_examples": len(dataset.validation), "device": loaded.device,
        "stopped_early": bool(config.max_steps == 0 and trainer.state.global_step < trainer.state.max_steps),
    }
    info = AdapterInfo(
        name=name, kind=kind.name, base_model=loaded.source.label, base_fingerprint=weights_fingerprint(loaded.folder),
        data_fingerprint=data_fingerprint(data),
        config={"options": asdict(options), "template": template.name,
                "training": {**asdict(config), "learning_rate": trainer.args.learning_rate},
                "data": str(Path(data).resolve()), "model": model_spec,
                "validation_records": dataset.validation_records},
        metrics=metrics, trainable_parameters=trainable, prompt_learning=bool(kind.prompt_learning),
    )

    def write(folder: Path) -> None:
        peft_model.save_pretrained(str(folder))
        (folder / "log_history.json").write_text(json.dumps(history, indent=1), encoding="utf-8")
        if not plot_losses(history, folder / "loss.png", title=f"{name} ({kind.name})"):
            notices.append("no loss.png: install matplotlib for the plot")

    folder = registry.save(info, write, overwrite=overwrite)
    return TuneResult(info, folder, seconds, trainer.state.global_step, history, notices)


def _trainer(model: Any, tokenizer: Any, dataset: TokenizedSet, config: TrainConfig, kind: Any,
             run_dir: Path, device: str) -> Any:
    from transformers import EarlyStoppingCallback, Trainer, TrainingArguments

    steps_per_epoch = math.ceil(len(dataset.train) / (config.batch_size * config.grad_accum))
    eval_every = max(1, min(config.eval_every, steps_per_epoch * max(1, int(config.epochs))))
    cuda = device.startswith("cuda")
    args = TrainingArguments(
        output_dir=str(run_dir),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps or -1,
        learning_rate=config.learning_rate or DEFAULT_LR.get(kind.name, 1e-4),
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        warmup_steps=config.warmup_ratio,
        eval_strategy="steps", eval_steps=eval_every,
        save_strategy="steps", save_steps=eval_every, save_total_limit=2,
        load_best_model_at_end=True, metric_for_best_model="eval_loss", greater_is_better=False,
        logging_steps=max(1, min(10, eval_every)),
        **_checkpointing_arg(TrainingArguments, config.gradient_checkpointing),
        bf16=cuda,  # bfloat16 autocast on the GPU; float32 on CPU (bf16 autocast gains ~5 % there)
        use_cpu=not cuda and not device.startswith("mps"),
        seed=config.seed, data_seed=config.seed,
        report_to="none", remove_unused_columns=False,
        dataloader_num_workers=0,
    )
    callbacks = [EarlyStoppingCallback(early_stopping_patience=config.patience)] if config.patience else []
    return Trainer(model=model, args=args, train_dataset=dataset.train, eval_dataset=dataset.validation,
                   data_collator=Collator(tokenizer.pad_token_id), callbacks=callbacks)


def _checkpointing_arg(args_class: Any, enabled: bool) -> dict[str, bool]:
    """transformers 5 renamed gradient_checkpointing to activation_checkpointing."""
    fields = getattr(args_class, "__dataclass_fields__", {})
    return {"activation_checkpointing" if "activation_checkpointing" in fields else "gradient_checkpointing": enabled}


def _last(history: list[dict[str, Any]], key: str) -> float | None:
    values = [h[key] for h in history if key in h]
    return round(values[-1], 4) if values else None


def plot_losses(history: list[dict[str, Any]], target: Path, title: str) -> bool:
    """Training and validation loss against steps; False when matplotlib is missing."""
    from assistant import plot_curves

    return plot_curves(history, target, title, {"cross-entropy": ["loss", "eval_loss"]})
