"""Adapters loaded once onto one base model and switched per call.

Weight-changing adapters (LoRA and other PEFT "tuner" methods) are injected
into the base model's layers through one ``PeftModel`` and switched with
``set_adapter`` (a few milliseconds, shared/FIELD-NOTES.md); "no adapter"
turns their layers off. Prompt-learning adapters (soft prompts, prefixes)
cannot share a ``PeftModel`` with LoRA (PEFT refuses to mix the two), so
each gets its own thin ``PeftModel`` around the same base weights; while one
is active the LoRA layers are off. The base model is never copied.

A weighted mix of LoRA adapters (``qa*0.7+style*0.3``) is built once with
PEFT's ``add_weighted_adapter`` (``cat`` combination, so ranks may differ) and
then switched like any other adapter.

Callers hold the model's lock around :meth:`AdapterSet.activate` and the
forward passes that follow it.
"""

from __future__ import annotations

import hashlib
import time
import warnings
from dataclasses import dataclass
from typing import Any

from .adapters import AdapterError, AdapterInfo, AdapterRegistry, AdapterSpec, check_compatible


# PEFT warns on every generate with a soft prompt that it ignores position
# ids; that is how soft prompts work (they take the first positions).
warnings.filterwarnings("ignore", message="Position ids are not supported for parameter efficient tuning")
# peft 0.21 still asks transformers 5 for the old attribute name
warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)


@dataclass(frozen=True)
class Active:
    """The module to call for the current adapter, and how many virtual
    tokens it puts in front of the input (soft prompts), which callers must
    skip in the logits."""

    module: Any
    virtual_tokens: int = 0
    prompt_learning: bool = False


class AdapterSet:
    def __init__(self, base: Any, base_label: str, base_fingerprint: str,
                 registry: AdapterRegistry | None = None) -> None:
        self.base = base
        self.base_label = base_label
        self.base_fingerprint = base_fingerprint
        self.registry = registry or AdapterRegistry()
        self.infos: dict[str, AdapterInfo] = {}
        self._lora: Any = None  # the PeftModel that holds every weight-changing adapter
        self._prompt: dict[str, Any] = {}  # name -> its own PeftModel (prompt learning)
        self._mixes: set[str] = set()
        self.active = AdapterSpec()
        self.last_switch_ms = 0.0

    # ------------------------------------------------------------- loading

    def load(self, name: str) -> AdapterInfo:
        """Load one saved adapter (once); refuse one made for another base model."""
        if name in self.infos:
            return self.infos[name]
        info = self.registry.get(name)
        if info.kind == "reward":
            raise AdapterError(f"{name!r} is a reward model (it scores answers, it does not write them)",
                               f"use it as a verifier: set reward_model = \"{name}\", or pass it to "
                               f"`assistant eval winrate --reward-model {name}`")
        check_compatible(info, self.base_label, self.base_fingerprint)
        folder = str(self.registry.path(name))
        from peft import PeftConfig, PeftModel

        try:
            config = PeftConfig.from_pretrained(folder)
        except (OSError, ValueError) as exc:
            raise AdapterError(f"adapter {name!r} has an unreadable adapter_config.json: {exc}",
                               f"remove it with `assistant adapters rm {name}` and train it again") from None
        device = next(self.base.parameters()).device
        try:
            if config.is_prompt_learning:
                wrapper = PeftModel.from_pretrained(self.base, folder, adapter_name=name, is_trainable=False)
                wrapper.to(device)
                wrapper.eval()
                self._prompt[name] = wrapper
            elif self._lora is None:
                self._lora = PeftModel.from_pretrained(self.base, folder, adapter_name=name, is_trainable=False)
                self._lora.to(device)
                self._lora.eval()
            else:
                self._lora.load_adapter(folder, adapter_name=name, is_trainable=False)
                self._lora.to(device)
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise AdapterError(f"could not load adapter {name!r} from {folder}: {exc}",
                               "check that it was saved by `assistant tune sft` for this model") from None
        self.infos[name] = info
        if self._lora is not None:  # a fresh load activates itself; keep the current choice
            self._restore_lora_state()
        return info

    def _restore_lora_state(self) -> None:
        names = self.active.names
        lora_active = bool(names) and all(n not in self._prompt for n in names)
        if lora_active:
            self._lora.base_model.enable_adapter_layers()
            self._lora.base_model.set_adapter(self._lora_name(self.active))
        else:
            self._lora.base_model.disable_adapter_layers()

    def prepare(self, spec: AdapterSpec) -> None:
        """Load everything ``spec`` needs (and build a mix) without activating it."""
        for name in spec.names:
            self.load(name)
        if len(spec.parts) > 1 or (spec.parts and spec.parts[0][1] != 1.0):
            self._mix(spec)

    def _mix(self, spec: AdapterSpec) -> str:
        label = self._lora_name(spec)
        if label in self._mixes:
            return label
        prompt = [n for n in spec.names if n in self._prompt]
        if prompt:
            raise AdapterError(f"soft-prompt adapters cannot be mixed: {', '.join(prompt)}",
                               "mix only LoRA adapters, or use one soft prompt on its own")
        kinds = {self.infos[n].kind for n in spec.names}
        if kinds != {"lora"}:
            raise AdapterError(f"only LoRA adapters can be mixed; {spec.label} has {', '.join(sorted(kinds))}",
                               "mix only LoRA adapters")
        try:
            self._lora.add_weighted_adapter(spec.names, [w for _, w in spec.parts], adapter_name=label,
                                            combination_type="cat")
        except (ValueError, RuntimeError) as exc:
            raise AdapterError(f"could not mix {spec.label}: {exc}", "mix LoRA adapters with the same target modules") from None
        self._mixes.add(label)
        self._restore_lora_state()
        return label

    @staticmethod
    def _lora_name(spec: AdapterSpec) -> str:
        if len(spec.parts) == 1 and spec.parts[0][1] == 1.0:
            return spec.parts[0][0]
        # PEFT adapter names become module names: no dots or colons
        return "mix_" + hashlib.sha1(spec.label.encode()).hexdigest()[:10]

    # ----------------------------------------------------------- switching

    def activate(self, spec: AdapterSpec) -> Active:
        """Make ``spec`` the active adapter (call under the model's lock)."""
        if spec != self.active:
            start = time.perf_counter()
            self.prepare(spec)
            self.active = spec
            if self._lora is not None:
                self._restore_lora_state()
            self.last_switch_ms = (time.perf_counter() - start) * 1000
        return self.current()

    def current(self) -> Active:
        names = self.active.names
        if not names:
            return Active(self.base)
        if names[0] in self._prompt:
            wrapper = self._prompt[names[0]]
            config = wrapper.peft_config[names[0]]
            # soft prompts are prepended to the input embeddings (and logits); prefixes live in the KV cache
            virtual = config.num_virtual_tokens if config.peft_type.value != "PREFIX_TUNING" else 0
            return Active(wrapper, virtual, prompt_learning=True)
        return Active(self._lora)

    @property
    def loaded(self) -> list[str]:
        return sorted(self.infos)


def prompt_virtual(active: Active) -> Any:
    """The active prompt-learning adapter as the decode loop's :class:`~assistant.backends.transformers.decode.Virtual`:
    a soft prompt's embeddings (P-tuning's come out of its encoder the same
    way), or a prefix's keys and values for a batch of a given size."""
    from assistant.backends.transformers.decode import Virtual

    wrapper = active.module
    config = wrapper.active_peft_config
    if config.peft_type.value == "PREFIX_TUNING":
        return Virtual(config.num_virtual_tokens, prefix=lambda batch: wrapper.get_prompt(batch_size=batch))
    return Virtual(config.num_virtual_tokens, embeds=wrapper.get_prompt(batch_size=1)[0])  # (tokens, hidden)
