"""The one way strategies talk to a model.

:class:`LLM` is the interface every backend's models implement
(transformers, llama.cpp, and any registered with ``register_backends``; see
:mod:`assistant.backend`); :class:`MeteredLLM` wraps one for a single turn
and records every call as a trace :class:`~assistant.types.Step` with its
prompts, outputs, token counts and milliseconds, so strategies get a full
trace without writing any tracing code. It also stands between strategies and
what a model cannot do (its ``capabilities``): several samples become
several calls, a stream becomes one piece, and a score, beam search or word
constraint the model cannot give raises ``CapabilityMissing``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from .errors import AssistantError
from .types import Candidate, Decoding, Prompt, Step

PromptLike = Prompt | str


@runtime_checkable
class LLM(Protocol):
    """A loaded language model (base weights plus the active adapter, if any).

    A model may also have a ``capabilities`` attribute
    (:class:`assistant.Capabilities`) saying what it cannot do; without one
    it is taken to do everything below. Where a capability is missing the
    method may raise ``CapabilityMissing`` (``score``) or answer as well as
    it can (``count_tokens`` an estimate, ``render`` its best rendering).

    Every message's content (passages, the question, earlier turns, examples)
    and ``score``'s continuation are untrusted text: a backend tokenizes them
    so that they can never become control tokens of the model's vocabulary
    (a document holding ``<|im_end|>`` must not end the turn). For a chat
    template, :func:`assistant.backends.untrusted.template_pieces` does it;
    a server backend sends the messages as separate, structured messages."""

    name: str
    context_window: int

    def generate(self, prompts: Sequence[PromptLike], n: int = 1, decoding: Decoding | None = None,
                 label: str = "generate") -> list[list[Candidate]]:
        """Generate ``n`` candidates for each prompt in one batched call.

        Returns one list per prompt, each with ``n`` candidates. Greedy
        decoding with ``n > 1`` returns ``n`` equal candidates computed once.
        """
        ...

    def stream(self, prompt: PromptLike, decoding: Decoding | None = None,
               label: str = "stream") -> "TextStream":
        """Stream one answer as text pieces; ``.candidate`` is set at the end."""
        ...

    def score(self, prompt: PromptLike, continuation: str) -> float:
        """Log-likelihood (natural log, summed over tokens) of ``continuation``
        following the rendered ``prompt``."""
        ...

    def count_tokens(self, prompt: PromptLike) -> int:
        """Tokens of the rendered prompt, chat template included."""
        ...

    def render(self, prompt: PromptLike) -> str:
        """The exact text the model sees for this prompt."""
        ...


class TextStream:
    """An iterator of text pieces; after it is exhausted, ``candidate`` holds
    the full result with token counts. ``close()`` stops generation early."""

    def __init__(self, produce: "Callable[[TextStream], Iterator[str]]") -> None:
        """``produce(stream)`` returns the pieces and sets ``stream.candidate`` when done."""
        self.candidate: Candidate | None = None
        self.first_piece_s: float | None = None
        self._pieces = produce(self)

    def __iter__(self) -> Iterator[str]:
        start = time.perf_counter()
        for piece in self._pieces:
            if self.first_piece_s is None and piece:
                self.first_piece_s = time.perf_counter() - start
            yield piece

    def close(self) -> None:
        close = getattr(self._pieces, "close", None)
        if close:
            close()


@dataclass(frozen=True)
class Budget:
    """Limits on one turn's model use; 0 means no limit. A strategy that
    reaches one gets :class:`BudgetExhausted` from its next model call and
    should answer with the best it has so far."""

    max_calls: int = 0
    max_tokens: int = 0  # prompt + completion tokens over the turn
    max_seconds: float = 0.0


class BudgetExhausted(AssistantError):
    """The turn's budget of model calls, tokens or seconds is spent."""


class MeteredLLM:
    """Wraps an LLM for one turn, recording each call as a Step and enforcing the budget."""

    def __init__(self, inner: LLM, budget: Budget | None = None) -> None:
        from .backend import capabilities_of

        self.inner = inner
        self.name = inner.name
        self.context_window = inner.context_window
        self.capabilities = capabilities_of(inner)
        self.steps: list[Step] = []
        self.notices: list[str] = []  # said once each: what the model could not do and what ran instead
        self.budget = budget or Budget()
        self.started = time.perf_counter()

    @property
    def calls(self) -> int:
        return sum(1 for s in self.steps if s.kind in ("generate", "score"))

    @property
    def tokens(self) -> int:
        return sum(s.prompt_tokens + s.completion_tokens for s in self.steps)

    def check_budget(self) -> None:
        """Raise :class:`BudgetExhausted` if the next call would go over a limit."""
        b = self.budget
        if b.max_calls and self.calls >= b.max_calls:
            raise BudgetExhausted(f"the budget of {b.max_calls} model calls is spent")
        if b.max_tokens and self.tokens >= b.max_tokens:
            raise BudgetExhausted(f"the budget of {b.max_tokens} tokens is spent")
        if b.max_seconds and time.perf_counter() - self.started >= b.max_seconds:
            raise BudgetExhausted(f"the budget of {b.max_seconds:g} s is spent")

    def notice(self, text: str) -> None:
        if text not in self.notices:
            self.notices.append(text)

    def _check_decoding(self, decoding: Decoding | None) -> None:
        from .backend import CapabilityMissing

        if decoding is not None and (decoding.exclude or decoding.require) and not self.capabilities.words:
            raise CapabilityMissing(self.name, "words", "drop the excluded/required words, or use another backend")
        if decoding is not None and decoding.num_beams > 1 and not self.capabilities.beam_search:
            raise CapabilityMissing(self.name, "beam_search", "use num_beams 1, or another backend")

    def generate(self, prompts: Sequence[PromptLike], n: int = 1, decoding: Decoding | None = None,
                 label: str = "generate") -> list[list[Candidate]]:
        self.check_budget()
        self._check_decoding(decoding)
        start = time.perf_counter()
        if n > 1 and not self.capabilities.samples and not (decoding or Decoding()).sampling:
            one = self.inner.generate(prompts, n=1, decoding=decoding, label=label)  # greedy: n equal candidates
            result = [[row[0]] * n for row in one]
        elif n > 1 and not self.capabilities.samples:
            self.notice(f"model {self.name!r} gives one sample per call: {n} samples took {n} calls")
            rows = []
            for i in range(n):
                if i:
                    self.check_budget()
                rows.append(self.inner.generate(prompts, n=1, decoding=_seeded(decoding, i), label=label))
            result = [[row[p][0] for row in rows] for p in range(len(prompts))]
        else:
            result = self.inner.generate(prompts, n=n, decoding=decoding, label=label)
        ms = (time.perf_counter() - start) * 1000
        flat = [c for group in result for c in group]
        # prompt tokens are paid once per prompt, not once per sample
        prompt_tokens = sum(group[0].prompt_tokens for group in result if group)
        self.steps.append(Step(
            kind="generate", name=label, ms=ms,
            detail={"prompts": [self.inner.render(p) for p in prompts], "n": n,
                    "outputs": [c.text for c in flat], "decoding": decoding or Decoding()},
            prompt_tokens=prompt_tokens,
            completion_tokens=sum(c.completion_tokens for c in flat),
        ))
        return result

    def stream(self, prompt: PromptLike, decoding: Decoding | None = None, label: str = "stream") -> TextStream:
        self.check_budget()
        self._check_decoding(decoding)
        if not self.capabilities.streaming:
            self.notice(f"model {self.name!r} cannot stream: the answer arrives in one piece")
            inner_stream = _whole(self.inner, prompt, decoding, label)
        else:
            inner_stream = self.inner.stream(prompt, decoding=decoding, label=label)
        return TextStream(lambda outer: self._record_stream(inner_stream, outer, prompt, decoding, label))

    def _record_stream(self, inner: TextStream, outer: TextStream, prompt: PromptLike,
                       decoding: Decoding | None, label: str) -> Iterator[str]:
        start = time.perf_counter()
        try:
            yield from inner
        finally:
            inner.close()
        candidate = outer.candidate = inner.candidate
        self.steps.append(Step(
            kind="generate", name=label, ms=(time.perf_counter() - start) * 1000,
            detail={"prompts": [self.inner.render(prompt)], "n": 1,
                    "outputs": [candidate.text if candidate else ""], "decoding": decoding or Decoding(),
                    "first_token_ms": (inner.first_piece_s or 0.0) * 1000},
            prompt_tokens=candidate.prompt_tokens if candidate else 0,
            completion_tokens=candidate.completion_tokens if candidate else 0,
        ))

    def score(self, prompt: PromptLike, continuation: str) -> float:
        if not self.capabilities.score:
            from .backend import CapabilityMissing

            raise CapabilityMissing(self.name, "score")
        self.check_budget()
        start = time.perf_counter()
        value = self.inner.score(prompt, continuation)
        self.steps.append(Step(kind="score", name="score", ms=(time.perf_counter() - start) * 1000,
                               detail={"continuation": continuation, "logprob": value}))
        return value

    def count_tokens(self, prompt: PromptLike) -> int:
        return self.inner.count_tokens(prompt)

    def render(self, prompt: PromptLike) -> str:
        return self.inner.render(prompt)


def _seeded(decoding: Decoding | None, i: int) -> Decoding | None:
    """The i-th of several one-sample calls: its own seed when one was set."""
    import dataclasses

    if decoding is None or decoding.seed is None:
        return decoding
    return dataclasses.replace(decoding, seed=decoding.seed + i)


def _whole(llm: LLM, prompt: PromptLike, decoding: Decoding | None, label: str) -> TextStream:
    """A stream of one piece, from ``generate``, for a model that cannot stream."""
    def produce(stream: TextStream) -> Iterator[str]:
        [[candidate]] = llm.generate([prompt], n=1, decoding=decoding, label=label)
        stream.candidate = candidate
        yield candidate.text

    return TextStream(produce)


def stream_rows(steps: Iterator[Sequence[Any]], stops: Sequence[str], stream: TextStream,
                prompt_tokens: int) -> Iterator[str]:
    """The text pieces of a backend's step generator for one row (an object
    with ``text``, ``finish``, ``generated`` and ``stopped_by_string``),
    holding back a tail that may begin a stop string; closes ``steps`` when
    the reader stops, then sets ``stream.candidate``."""
    hold = max((len(s) for s in stops), default=0)
    sent = 0
    row: Any = None
    try:
        for rows in steps:
            row = rows[0]
            ready = len(row.text) if row.finish else max(sent, len(row.text) - hold)
            if ready > sent:
                yield row.text[sent:ready]
                sent = ready
    finally:
        steps.close()  # type: ignore[attr-defined]
    assert row is not None
    stream.candidate = Candidate(text=row.text[:sent].strip(), prompt_tokens=prompt_tokens,
                                 completion_tokens=len(row.generated),
                                 finish_reason="stop" if row.stopped_by_string else row.finish or "stop")


def cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """``text`` up to the first stop string, and whether one was found."""
    positions = [text.find(s) for s in stops if s and s in text]
    if not positions:
        return text, False
    return text[: min(positions)], True
