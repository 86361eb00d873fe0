"""Saved PEFT adapters: what an adapter kind is, and the registry on disk.

An adapter is a PEFT folder (``adapter_config.json`` + ``adapter_model.safetensors``)
plus ``assistant-adapter.json``, the metadata this project adds: the kind, the
base model it was trained on and a fingerprint of that model's weights, the
fingerprint of the training data, the training config and the metrics. They
live in ``<data>/adapters/<name>/``. Loading one onto another base model is
refused (:func:`check_compatible`): a LoRA delta or a soft prompt means
nothing for weights it was not trained against.

Adapter *kinds* are plugins (``register_adapter_kinds``). A kind is a class
with a typed ``Options`` dataclass and ``peft_config(options, model)``;
loading is kind-neutral (PEFT reads the config), so a third-party kind only
has to say how to build its PEFT config for training.

A public module, for plugins that train or load adapters: save a trained
adapter with :meth:`AdapterRegistry.save` and an :class:`AdapterInfo` (fill
``base_fingerprint`` with :func:`weights_fingerprint` of the base model's
folder, ``data_fingerprint`` with :func:`data_fingerprint` of the training
file), and it appears in ``assistant adapters list`` and loads with
``--adapter NAME``. :func:`check_name` validates a name before training
starts; :func:`check_compatible` refuses an adapter made for other weights.
``META_FILE`` is the metadata file beside the PEFT files.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

from . import paths
from .errors import AssistantError

META_FILE = "assistant-adapter.json"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

__all__ = ["META_FILE", "AdapterError", "AdapterInfo", "AdapterKind", "AdapterRegistry", "AdapterSpec",
           "check_compatible", "check_name", "data_fingerprint", "weights_fingerprint"]


class AdapterError(AssistantError):
    """An adapter is missing, malformed, or made for another model."""


@runtime_checkable
class AdapterKind(Protocol):
    """One kind of PEFT adapter, registered through ``register_adapter_kinds``.

    ``Options`` is a dataclass of the kind's hyper-parameters (with defaults);
    ``peft_config`` turns options into a ``peft`` config for ``model`` (the
    transformers model about to be trained, so a kind can look at its
    module names or hidden size). ``prompt_learning`` says whether the
    adapter adds virtual tokens (soft prompts, prefixes) rather than
    changing weights: such adapters cannot be merged or combined.
    """

    name: ClassVar[str]
    Options: ClassVar[type]
    prompt_learning: ClassVar[bool]

    def peft_config(self, options: Any, model: Any) -> Any: ...


@dataclass(frozen=True)
class AdapterInfo:
    """The metadata saved beside an adapter's PEFT files."""

    name: str
    kind: str
    base_model: str  # what the user named (label) of the base model
    base_fingerprint: str
    data_fingerprint: str = ""
    config: dict[str, Any] = field(default_factory=dict)  # kind options + training config
    metrics: dict[str, Any] = field(default_factory=dict)
    created: float = 0.0
    trainable_parameters: int = 0
    prompt_learning: bool = False

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "AdapterInfo":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def check_name(name: str) -> str:
    """``name`` if it can name an adapter (a folder under the registry), else an :class:`AdapterError`."""
    if not NAME_PATTERN.match(name or ""):
        raise AdapterError(f"{name!r} is not a valid adapter name",
                           "use letters, digits, '-', '_' or '.', starting with a letter or digit (64 at most)")
    return name


def weights_fingerprint(folder: str | Path, edge: int = 1 << 20) -> str:
    """A fingerprint of a model folder's weights: for every ``*.safetensors``
    file its name, size, and first and last MiB (~ms, and distinct for
    different weights). Adapters record it so they refuse another base model."""
    folder = Path(folder)
    files = sorted(folder.glob("*.safetensors")) or sorted(folder.glob("*.bin"))
    digest = hashlib.sha256()
    for path in files:
        size = path.stat().st_size
        digest.update(f"{path.name}|{size}".encode())
        with open(path, "rb") as fh:
            digest.update(fh.read(edge))
            fh.seek(max(0, size - edge))
            digest.update(fh.read(edge))
    return digest.hexdigest()[:16]


def data_fingerprint(path: str | Path) -> str:
    """The SHA-256 of a training file (16 hex digits), recorded so a run says what it learnt from."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def check_compatible(info: AdapterInfo, base_label: str, base_fingerprint: str) -> None:
    """Refuse an adapter trained on other base weights, with a message that says which."""
    if info.base_fingerprint != base_fingerprint:
        raise AdapterError(
            f"adapter {info.name!r} was trained on {info.base_model} (weights {info.base_fingerprint}), "
            f"but the loaded model is {base_label} (weights {base_fingerprint})",
            f"use --model with the adapter's base model, or train a new adapter for this one "
            f"(assistant tune sft --model ...)",
        )


class AdapterRegistry:
    """Adapters saved under one folder (``<data>/adapters`` by default)."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root else paths.data_dir() / "adapters"

    def path(self, name: str) -> Path:
        return self.root / check_name(name)

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / META_FILE).is_file())

    def list(self) -> list[AdapterInfo]:
        return [self.get(n) for n in self.names()]

    def get(self, name: str) -> AdapterInfo:
        folder = self.path(name)
        meta = folder / META_FILE
        if not meta.is_file():
            available = ", ".join(self.names()) or "none yet"
            raise AdapterError(f"no adapter named {name!r} in {self.root}",
                               f"available: {available}; train one with `assistant tune sft`")
        try:
            info = AdapterInfo.from_json(json.loads(meta.read_text(encoding="utf-8")))
        except (ValueError, TypeError) as exc:
            raise AdapterError(f"the metadata of adapter {name!r} ({meta}) is unreadable: {exc}",
                               f"remove it with `assistant adapters rm {name}` and train it again") from None
        if not (folder / "adapter_config.json").is_file():
            raise AdapterError(f"adapter {name!r} has no adapter_config.json in {folder}",
                               f"remove it with `assistant adapters rm {name}` and train it again")
        return info

    def files(self, name: str) -> dict[str, int]:
        folder = self.path(name)
        return {p.name: p.stat().st_size for p in sorted(folder.iterdir()) if p.is_file()}

    def run_dir(self, name: str) -> Path:
        """Where training keeps the checkpoints of adapter ``name`` (for ``--resume``)."""
        return self.root / ".runs" / check_name(name)

    def remove(self, name: str) -> None:
        self.get(name)  # a clear error when it does not exist
        shutil.rmtree(self.path(name))
        shutil.rmtree(self.run_dir(name), ignore_errors=True)

    def save(self, info: AdapterInfo, write: Callable[[Path], None], overwrite: bool = False) -> Path:
        """Save atomically: ``write(folder)`` fills a temp folder beside the
        target (PEFT files, plots), the metadata is added, then the folder is
        renamed into place. A crash leaves the old adapter or none, never half."""
        target = self.path(info.name)
        if target.exists() and not overwrite:
            raise AdapterError(f"an adapter named {info.name!r} already exists",
                               "choose another --name, or pass --overwrite")
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{info.name}.", dir=self.root))
        try:
            write(tmp)
            stamped = dataclasses.replace(info, created=info.created or time.time())
            (tmp / META_FILE).write_text(json.dumps(stamped.to_json(), indent=2, sort_keys=True) + "\n",
                                         encoding="utf-8")
            if target.exists():
                old = target.with_name(f".{info.name}.old")
                shutil.rmtree(old, ignore_errors=True)
                os.replace(target, old)
                os.replace(tmp, target)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return target


@dataclass(frozen=True)
class AdapterSpec:
    """What a turn asks for: no adapter, one adapter, or a weighted mix of LoRA adapters."""

    parts: tuple[tuple[str, float], ...] = ()

    @property
    def names(self) -> list[str]:
        return [n for n, _ in self.parts]

    @property
    def label(self) -> str:
        if not self.parts:
            return ""
        if len(self.parts) == 1 and self.parts[0][1] == 1.0:
            return self.parts[0][0]
        return "+".join(f"{n}*{w:g}" for n, w in self.parts)

    @classmethod
    def parse(cls, text: str | None) -> "AdapterSpec":
        """``""``/``"none"``: no adapter; ``"qa"``: one; ``"qa*0.7+style*0.3"``: a weighted LoRA mix."""
        text = (text or "").strip()
        if text in ("", "none", "base"):
            return cls()
        parts = []
        for piece in text.split("+"):
            name, _, weight = piece.strip().partition("*")
            try:
                value = float(weight) if weight else 1.0
            except ValueError:
                raise AdapterError(f"bad adapter weight {weight!r} in {text!r}",
                                   "write NAME, or a mix like qa*0.7+style*0.3") from None
            parts.append((check_name(name.strip()), value))
        if len({n for n, _ in parts}) != len(parts):
            raise AdapterError(f"an adapter appears twice in {text!r}", "name each adapter once")
        return cls(tuple(parts))
