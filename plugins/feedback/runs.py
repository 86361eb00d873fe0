"""What every preference-training run shares: its configuration, the TRL
config built from it (CPU-safe: TRL defaults to bfloat16 and gradient
checkpointing, which CPUs without a GPU do not want), the LoRA it trains,
and saving the result to the adapter registry with its config, seed,
metrics, log history and a PNG of its curves.

Runs go through TRL's trainers (subclasses of the Hugging Face Trainer), so
``accelerate launch -m assistant tune dpo ...`` runs the same command on
several GPUs.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from assistant import ConfigError
from assistant.adapters import AdapterInfo, AdapterRegistry, check_name, weights_fingerprint

# Learning rates that worked for a LoRA on the 135M default model; TRL's own
# defaults (1e-6 for DPO, 1e-4 for reward) target full fine-tuning of larger models.
DEFAULT_LR = {"reward": 1e-4, "dpo": 5e-5, "kto": 5e-5, "rl": 2e-5}
TARGETS = {"attention": ["q_proj", "k_proj", "v_proj", "o_proj"], "all-linear": "all-linear"}


@dataclass(frozen=True)
class RunConfig:
    epochs: float = 1.0
    max_steps: int = 0  # 0: run the epochs
    learning_rate: float = 0.0  # 0: the method's default (DEFAULT_LR)
    batch_size: int = 4
    grad_accum: int = 1
    max_length: int = 384  # tokens of prompt + response
    max_prompt_length: int = 128  # the prompt keeps at least this much of its end
    val_fraction: float = 0.1
    eval_every: int = 25
    rank: int = 8
    alpha: int = 16
    dropout: float = 0.05
    targets: str = "attention"
    top_layers: int = 0  # adapt only the last N transformer layers (0: all); backward then stops there
    beta: float = 0.1  # DPO / KTO / RL: strength of the pull towards the reference model
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 < self.val_fraction < 0.9:
            raise ConfigError(f"val_fraction must be between 0 and 0.9, got {self.val_fraction}")
        if self.batch_size < 1 or self.grad_accum < 1:
            raise ConfigError("batch size and gradient accumulation must be at least 1")
        if self.max_length < 32 or not 8 <= self.max_prompt_length < self.max_length:
            raise ConfigError(f"max_length {self.max_length} / max_prompt_length {self.max_prompt_length} do not fit",
                              "max_length at least 32, max_prompt_length between 8 and max_length")
        if self.top_layers < 0:
            raise ConfigError(f"top_layers must be 0 (all) or more, got {self.top_layers}")
        if self.targets not in TARGETS:
            raise ConfigError(f"unknown LoRA targets {self.targets!r}", f"use one of: {', '.join(TARGETS)}")


@dataclass
class RunResult:
    info: AdapterInfo
    folder: Path
    seconds: float
    history: list[dict[str, Any]]
    notices: list[str]


def lora_config(config: RunConfig, task_type: str, model: Any = None) -> Any:
    """The run's LoRA. With ``top_layers`` it adapts only the last layers:
    gradients then flow through those layers alone, which on a CPU cuts a
    step's backward pass roughly in proportion (the scalar head of a reward
    model is trained in full either way)."""
    from peft import LoraConfig

    layers = None
    total = getattr(getattr(model, "config", None), "num_hidden_layers", 0) if model is not None else 0
    if config.top_layers and total:
        layers = list(range(max(0, total - config.top_layers), total))
    targets = TARGETS[config.targets]
    if layers is not None and targets == "all-linear":
        targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    return LoraConfig(task_type=task_type, r=config.rank, lora_alpha=config.alpha, lora_dropout=config.dropout,
                      target_modules=targets, layers_to_transform=layers)


def trl_args(config_class: Any, config: RunConfig, method: str, run_dir: Path, device: str, n_train: int,
             evaluate: bool = True, **extra: Any) -> Any:
    """A TRL config with the run's settings; ``extra`` sets method-specific fields."""
    steps_per_epoch = max(1, math.ceil(n_train / (config.batch_size * config.grad_accum)))
    total = config.max_steps or max(1, math.ceil(steps_per_epoch * config.epochs))
    eval_every = max(1, min(config.eval_every, total))
    cuda = device.startswith("cuda")
    fields = getattr(config_class, "__dataclass_fields__", {})
    values: dict[str, Any] = dict(
        output_dir=str(run_dir), num_train_epochs=config.epochs, max_steps=config.max_steps or -1,
        learning_rate=config.learning_rate or DEFAULT_LR[method],
        per_device_train_batch_size=config.batch_size, per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum, warmup_steps=0.05,
        eval_strategy="steps" if evaluate else "no", eval_steps=eval_every,
        save_strategy="no", logging_steps=max(1, min(5, eval_every)),
        bf16=cuda, use_cpu=not cuda and not device.startswith("mps"),
        seed=config.seed, data_seed=config.seed, report_to="none", dataloader_num_workers=0,
    )
    for name in ("gradient_checkpointing", "activation_checkpointing"):
        if name in fields:
            values[name] = False
    values.update(extra)
    unknown = sorted(k for k in values if fields and k not in fields)
    for key in unknown:  # a field this TRL version does not have: leave TRL's default
        values.pop(key)
    return config_class(**values)


def save_run(*, name: str, kind: str, method: str, model: Any, registry: AdapterRegistry, base_label: str,
             base_folder: str, data_fingerprint: str, config: RunConfig, metrics: dict[str, Any],
             history: Sequence[Mapping[str, Any]], panels: Mapping[str, Sequence[str]], overwrite: bool,
             extra_config: Mapping[str, Any] | None = None, seconds: float = 0.0,
             notices: list[str] | None = None) -> RunResult:
    """Save the trained LoRA (safetensors) with its metadata, history and curves."""
    from assistant import plot_curves

    notices = list(notices or [])
    trainable, _total = model.get_nb_trainable_parameters()
    info = AdapterInfo(
        name=name, kind=kind, base_model=base_label, base_fingerprint=weights_fingerprint(base_folder),
        data_fingerprint=data_fingerprint,
        config={"method": method, "training": asdict(config), **dict(extra_config or {})},
        metrics=metrics, trainable_parameters=trainable,
    )
    rows = [dict(h) for h in history]

    def write(folder: Path) -> None:
        model.save_pretrained(str(folder))
        (folder / "log_history.json").write_text(json.dumps(rows, indent=1), encoding="utf-8")
        if not plot_curves(rows, folder / "curves.png", f"{name} ({method})", panels):
            notices.append("no curves.png: nothing was logged, or matplotlib is missing")

    folder = registry.save(info, write, overwrite=overwrite)
    return RunResult(info, folder, seconds, rows, notices)


def check_new(name: str, registry: AdapterRegistry, overwrite: bool) -> None:
    check_name(name)
    if registry.path(name).exists() and not overwrite:
        raise ConfigError(f"an adapter named {name!r} already exists", "choose another --name, or pass --overwrite")


def pairs_fingerprint(pairs: Sequence[Any]) -> str:
    import hashlib

    digest = hashlib.sha256()
    for p in pairs:
        digest.update(json.dumps([p.prompt, p.chosen, p.rejected, p.margin]).encode())
    return digest.hexdigest()[:16]


class Timer:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.start


def last(history: Sequence[Mapping[str, Any]], key: str) -> float | None:
    values = [h[key] for h in history if key in h]
    return round(float(values[-1]), 4) if values else None


#: Training-log keys worth a glance while a run goes on (reward, DPO/KTO, GRPO/RLOO).
PROGRESS_KEYS = ("loss", "accuracy", "margin", "rewards/accuracies", "rewards/margins", "reward", "kl",
                 "learning_rate")
#: Seconds between two "evaluating" lines.
EVAL_REPORT_EVERY = 15.0


def minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def progress_callback(say: Callable[[str], None]) -> Any:
    """A Trainer callback that reports the run in plain lines: evaluations
    (batches done every ``EVAL_REPORT_EVERY`` s, then the metrics), and each
    training log as ``step 15/199: loss …`` with the time per step and the
    time left. It replaces Trainer's printers (raw log dicts, or bars that a
    log file cannot show), which :func:`train_between_evaluations` removes."""
    from transformers import TrainerCallback

    class Report(TrainerCallback):
        def __init__(self) -> None:
            self.started = 0.0
            self.first_step = 0
            self.eval_batches = 0
            self.eval_said = 0.0

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.started, self.first_step = time.perf_counter(), state.global_step

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
            logs = logs or {}
            if "loss" not in logs:  # evaluations and the end-of-training summary are said elsewhere
                return
            shown = ", ".join(f"{k} {float(logs[k]):.4g}" for k in PROGRESS_KEYS if isinstance(logs.get(k), (int, float)))
            timing = ""
            done = state.global_step - self.first_step
            if self.started and done > 0:
                per_step = (time.perf_counter() - self.started) / done
                timing = f" ({per_step:.1f} s/step, about {minutes(per_step * (state.max_steps - state.global_step))} left)"
            say(f"step {state.global_step}/{state.max_steps}: {shown}{timing}")

        def on_prediction_step(self, args: Any, state: Any, control: Any, eval_dataloader: Any = None,
                               **kwargs: Any) -> None:
            self.eval_batches += 1
            now = time.perf_counter()
            if self.eval_batches == 1 or now - self.eval_said >= EVAL_REPORT_EVERY:
                total = len(eval_dataloader) if hasattr(eval_dataloader, "__len__") else "?"
                say(f"evaluating on the validation pairs: batch {self.eval_batches}/{total}")
                self.eval_said = now

        def on_evaluate(self, args: Any, state: Any, control: Any, metrics: Any = None, **kwargs: Any) -> None:
            self.eval_batches = 0
            shown = {k.removeprefix("eval_"): v for k, v in (metrics or {}).items()
                     if isinstance(v, float)
                     and not k.endswith(("runtime", "per_second", "preparation_time", "num_tokens", "epoch"))}
            say(f"step {state.global_step}: " + ", ".join(f"{k} {v:.4f}" for k, v in sorted(shown.items())))

    return Report()


def train_between_evaluations(trainer: Any) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """Evaluate, train, evaluate; returns (before, after, log history). ``train()``
    starts a fresh log, so the evaluation before training is put back as step 0.
    When training ended on an evaluation, that one is the "after" (no second
    pass over the validation pairs). Trainer's own printers are removed: the
    run's progress callback reports instead."""
    from transformers import PrinterCallback, ProgressCallback

    for printer in (PrinterCallback, ProgressCallback):
        trainer.remove_callback(printer)
    before = trainer.evaluate()
    trainer.train()
    logged = [h for h in trainer.state.log_history if any(k.startswith("eval_") for k in h)]
    if logged and logged[-1].get("step") == trainer.state.global_step:
        after = dict(logged[-1])
    else:
        after = trainer.evaluate()
    history = [{"step": 0, **{k: v for k, v in before.items() if k.startswith("eval_")}}] + list(trainer.state.log_history)
    return before, after, history
