"""The built-in adapter kinds: LoRA, prompt tuning (soft prompts), prefix tuning.

Each is a template for a third-party kind: a typed ``Options`` dataclass and
``peft_config(options, model)``. Register yours with::

    @hookimpl
    def register_adapter_kinds(register):
        register("ia3", IA3Kind)

References: LoRA, Hu et al. 2021 (arXiv:2106.09685): a rank-r update
``B A`` beside frozen weights, scaled by alpha / r; prompt tuning, Lester et
al. 2021 (arXiv:2104.08691): trainable embeddings of virtual tokens put in
front of the input, best initialised from real vocabulary; prefix tuning,
Li and Liang 2021 (arXiv:2101.00190): trainable key/value prefixes in every
layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

ATTENTION = ("q_proj", "k_proj", "v_proj", "o_proj")


@dataclass(frozen=True)
class LoraOptions:
    rank: int = 8  # 4-32 is the usual range
    alpha: int = 16  # the update is scaled by alpha / rank
    dropout: float = 0.05
    targets: str = "attention"  # attention | all-linear | comma-separated module names

    def __post_init__(self) -> None:
        if not 1 <= self.rank <= 256:
            raise ValueError(f"rank must be between 1 and 256, got {self.rank}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")


class LoraKind:
    """LoRA: low-rank updates of the attention projections (or every linear layer)."""

    name: ClassVar[str] = "lora"
    Options: ClassVar[type] = LoraOptions
    prompt_learning: ClassVar[bool] = False

    def peft_config(self, options: LoraOptions, model: Any) -> Any:
        from peft import LoraConfig

        if options.targets == "attention":
            present = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}
            targets: Any = [t for t in ATTENTION if t in present] or "all-linear"
        elif options.targets == "all-linear":
            targets = "all-linear"
        else:
            targets = [t.strip() for t in options.targets.split(",") if t.strip()]
        return LoraConfig(r=options.rank, lora_alpha=options.alpha, lora_dropout=options.dropout,
                          target_modules=targets, task_type="CAUSAL_LM", bias="none")


@dataclass(frozen=True)
class PromptOptions:
    virtual_tokens: int = 20  # 8-100
    init: str = "text"  # text | vocab | random
    init_text: str = "Answer the question using the context, briefly and accurately."

    def __post_init__(self) -> None:
        if not 1 <= self.virtual_tokens <= 200:
            raise ValueError(f"virtual_tokens must be between 1 and 200, got {self.virtual_tokens}")
        if self.init not in ("text", "vocab", "random"):
            raise ValueError(f"init must be text, vocab or random, got {self.init!r}")


class PromptTuningKind:
    """Prompt tuning: a soft prompt of trainable virtual-token embeddings."""

    name: ClassVar[str] = "prompt"
    Options: ClassVar[type] = PromptOptions
    prompt_learning: ClassVar[bool] = True

    def peft_config(self, options: PromptOptions, model: Any) -> Any:
        from peft import PromptTuningConfig

        folder = getattr(model, "name_or_path", None) or model.config.name_or_path
        init = {"text": "TEXT", "vocab": "SAMPLE_VOCAB", "random": "RANDOM"}[options.init]
        extra = {"prompt_tuning_init_text": options.init_text, "tokenizer_name_or_path": folder} if init == "TEXT" else {}
        return PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=options.virtual_tokens,
                                  prompt_tuning_init=init, **extra)


@dataclass(frozen=True)
class PrefixOptions:
    virtual_tokens: int = 20
    projection: bool = False  # reparametrise the prefix through an MLP while training (Li & Liang)

    def __post_init__(self) -> None:
        if not 1 <= self.virtual_tokens <= 200:
            raise ValueError(f"virtual_tokens must be between 1 and 200, got {self.virtual_tokens}")


class PrefixTuningKind:
    """Prefix tuning: trainable key/value prefixes in every attention layer."""

    name: ClassVar[str] = "prefix"
    Options: ClassVar[type] = PrefixOptions
    prompt_learning: ClassVar[bool] = True

    def peft_config(self, options: PrefixOptions, model: Any) -> Any:
        from peft import PrefixTuningConfig

        return PrefixTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=options.virtual_tokens,
                                  prefix_projection=options.projection)


KINDS = (LoraKind, PromptTuningKind, PrefixTuningKind)
