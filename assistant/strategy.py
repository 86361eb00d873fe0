"""What a strategy is given and how its options are built.

A strategy is a class registered through ``register_strategies``:

.. code-block:: python

    @dataclass
    class Options:
        trigger: str = field(default="Let's think step by step.", metadata={"help": "..."})

    class MyStrategy:
        \"\"\"One line shown by `assistant strategies`.\"\"\"
        Options = Options
        def __init__(self, options: Options): self.options = options
        def run(self, call: StrategyCall) -> StrategyResult: ...

``run`` talks to the model only through ``call.llm`` and to verifiers only
through ``call.score_candidates``; it never imports the engine.
``call.final(prompt)`` writes the final answer, streamed when the face asks
for streaming.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError
from .llm import LLM
from .types import Candidate, Decoding, Prompt


@dataclass
class StrategyCall:
    """Everything a strategy may use for one turn.

    Attributes:
        question: the user's question as typed.
        prompt: the conditioned prompt (instructions, passages, examples...).
        llm: the model; every call is recorded in the answer's trace.
        decoding: the user's decoding settings; derive variants with
            ``dataclasses.replace``.
        score_candidates: ``score_candidates(candidates) -> {verifier: [scores]}``
            runs every verifier plugin on the candidates.
        on_text: when set, the face wants the final answer streamed: call it
            with each new piece of text of the final answer.
    """

    question: str
    prompt: Prompt
    llm: LLM
    decoding: Decoding
    score_candidates: Callable[[Sequence[Candidate]], dict[str, list[float]]]
    on_text: Callable[[str], None] | None = None

    def final(self, prompt: Prompt | str, label: str = "final answer") -> Candidate | None:
        """Generate the final answer from ``prompt`` with the user's decoding:
        streamed piece by piece to ``on_text`` when the face wants streaming,
        else in one ``generate`` call. ``None`` if the stream produced nothing."""
        if self.on_text is None:
            return self.llm.generate([prompt], n=1, decoding=self.decoding, label=label)[0][0]
        stream = self.llm.stream(prompt, self.decoding, label=label)
        for piece in stream:
            self.on_text(piece)
        return stream.candidate


def options_type(strategy_class: type) -> type | None:
    opts = getattr(strategy_class, "Options", None)
    return opts if opts is not None and dataclasses.is_dataclass(opts) else None


def build_options(strategy_name: str, strategy_class: type, values: dict[str, Any], what: str = "strategy") -> Any:
    """Instantiate the class's ``Options`` dataclass from strings or typed values
    (strategies, and adapter kinds with ``what="adapter kind"``). A ``ValueError``
    raised by the dataclass's own checks becomes a :class:`ConfigError`."""
    opts_cls = options_type(strategy_class)
    if opts_cls is None:
        if values:
            raise ConfigError(f"{what} {strategy_name!r} takes no options, got {sorted(values)}")
        return None
    known = {f.name: f for f in dataclasses.fields(opts_cls)}
    typed: dict[str, Any] = {}
    for key, raw in values.items():
        if key not in known:
            raise ConfigError(f"{what} {strategy_name!r} has no option {key!r}",
                              "options: " + (", ".join(sorted(known)) or "none"))
        typed[key] = _coerce_option(strategy_name, key, raw, known[key], what)
    try:
        return opts_cls(**typed)
    except ValueError as exc:
        raise ConfigError(f"{what} {strategy_name!r}: {exc}") from None


def _coerce_option(strategy: str, key: str, raw: Any, f: dataclasses.Field, what: str = "strategy") -> Any:
    if not isinstance(raw, str):
        return raw
    default = f.default if f.default is not dataclasses.MISSING else None
    kind = type(default) if default is not None else str
    try:
        if kind is bool:
            if raw.lower() in {"1", "true", "yes", "on"}:
                return True
            if raw.lower() in {"0", "false", "no", "off"}:
                return False
            raise ValueError(raw)
        if kind in (int, float):
            return kind(raw)
    except ValueError:
        raise ConfigError(f"option {key!r} of {what} {strategy!r} must be {kind.__name__}, got {raw!r}") from None
    return raw


def describe_options(strategy_class: type) -> list[tuple[str, str, str]]:
    """(name, default, help) of each option, for ``assistant strategies``."""
    opts_cls = options_type(strategy_class)
    if opts_cls is None:
        return []
    return [(f.name, repr(f.default if f.default is not dataclasses.MISSING else None), f.metadata.get("help", ""))
            for f in dataclasses.fields(opts_cls)]
