"""A form screen, and the two forms the chat uses: a strategy's typed options
and the decoding settings. Both apply to the next turns and are checked
before the form closes, so a bad value is fixed in place and nothing is lost.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from ..errors import AssistantError
from ..strategy import build_options, options_type
from .screens import MODAL_CSS


@dataclass(frozen=True)
class FormField:
    """One line of a form: its name, the current value as text, and a help line."""

    name: str
    value: str
    help: str = ""


class FormScreen(ModalScreen[dict[str, str] | None]):
    """Edit several values; returns {name: text} or None when cancelled.

    ``check(values)`` returns an error message to show (the form stays open)
    or None to accept. Enter moves to the next field and saves on the last;
    Ctrl+S saves from anywhere; Esc cancels.
    """

    DEFAULT_CSS = MODAL_CSS + """
    FormScreen .field { margin-top: 1; }
    FormScreen .help { color: $text-muted; }
    FormScreen #error { color: $error; margin-top: 1; }
    """
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel"), Binding("ctrl+s", "save", "Save")]

    def __init__(self, title: str, fields: list[FormField],
                 check: Callable[[dict[str, str]], str | None] = lambda values: None) -> None:
        super().__init__()
        self.title_text, self.fields, self.check = title, fields, check

    def compose(self) -> Any:
        with Vertical():
            yield Label(self.title_text, classes="title")
            with VerticalScroll():
                for f in self.fields:
                    yield Label(f.name, classes="field")
                    yield Input(f.value, id=f"field-{f.name}")
                    if f.help:
                        yield Static(f.help, classes="help")
            yield Static("", id="error")
            yield Static("Enter: next field, saves on the last · Ctrl+S saves · Esc cancels", classes="hint")

    def on_mount(self) -> None:
        inputs = self.query(Input)
        if inputs:
            inputs.first().focus()

    def values(self) -> dict[str, str]:
        return {f.name: self.query_one(f"#field-{f.name}", Input).value.strip() for f in self.fields}

    def on_input_submitted(self, event: Input.Submitted) -> None:
        inputs = list(self.query(Input))
        if event.input is inputs[-1]:
            self.action_save()
        else:
            inputs[inputs.index(event.input) + 1].focus()

    def action_save(self) -> None:
        values = self.values()
        error = self.check(values)
        if error:
            self.query_one("#error", Static).update(error)
            return
        self.dismiss(values)


# ---------------------------------------------------------------- strategy options


def strategy_fields(strategy_class: type, current: dict[str, Any]) -> list[FormField]:
    """One field per option of the strategy's ``Options`` dataclass."""
    opts = options_type(strategy_class)
    if opts is None:
        return []
    fields = []
    for f in dataclasses.fields(opts):
        default = f.default if f.default is not dataclasses.MISSING else ""
        value = current.get(f.name, default)
        fields.append(FormField(f.name, _text(value), f"{f.metadata.get('help', '')} (default {_text(default)})"))
    return fields


def strategy_check(name: str, strategy_class: type) -> Callable[[dict[str, str]], str | None]:
    def check(values: dict[str, str]) -> str | None:
        try:
            build_options(name, strategy_class, changed_options(strategy_class, values))
        except AssistantError as exc:
            return str(exc)
        return None

    return check


def changed_options(strategy_class: type, values: dict[str, str]) -> dict[str, str]:
    """Only the options that differ from their defaults (what the turn passes on)."""
    opts = options_type(strategy_class)
    defaults = {f.name: _text(f.default) for f in dataclasses.fields(opts)} if opts else {}
    return {k: v for k, v in values.items() if defaults.get(k) != v}


# ---------------------------------------------------------------- decoding

DECODING_FIELDS = [  # (name, help)
    ("temperature", "0 = greedy; 0.7-1.0 for varied answers"),
    ("top_p", "nucleus sampling: keep the smallest set of tokens with this much probability (1 = off)"),
    ("top_k", "sample among the k likeliest tokens (0 = off)"),
    ("max_new_tokens", "longest answer, in tokens"),
    ("repetition_penalty", "> 1 discourages repeating tokens (1 = off)"),
    ("num_beams", "beam search width (1 = off; deterministic)"),
    ("exclude", "words that must never appear, comma-separated"),
    ("require", "words that must appear, comma-separated"),
]


def decoding_fields(decoding: Any) -> list[FormField]:
    return [FormField(name, _text(getattr(decoding, name)), help) for name, help in DECODING_FIELDS]


def decoding_overrides(values: dict[str, str]) -> dict[str, Any]:
    """Typed decoding values from the form's text; ValueError names the bad field."""
    out: dict[str, Any] = {}
    for name, text in values.items():
        if name in ("exclude", "require"):
            out[name] = tuple(w.strip() for w in text.split(",") if w.strip())
            continue
        kind = int if name in ("top_k", "max_new_tokens", "num_beams") else float
        try:
            out[name] = kind(text)
        except ValueError:
            raise ValueError(f"{name} must be {'a whole number' if kind is int else 'a number'}, not {text!r}") \
                from None
    return out


def decoding_check(make: Callable[..., Any]) -> Callable[[dict[str, str]], str | None]:
    """``make(**overrides)`` builds a Decoding and raises on bad values (the engine's own checks)."""
    def check(values: dict[str, str]) -> str | None:
        try:
            make(**decoding_overrides(values))
        except (ValueError, AssistantError) as exc:
            return str(exc)
        return None

    return check


def _text(value: Any) -> str:
    if isinstance(value, tuple | list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return "" if value is None else str(value)
