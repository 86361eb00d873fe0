"""A conversation over the engine: history, follow-up retrieval, and
citation numbers that stay the same from turn to turn.

Within one answer, citations are numbered by the passage's position in that
turn's prompt ([1] is whatever was retrieved first). Across a conversation
that would make [1] mean different passages in different turns, so a
:class:`Conversation` gives every passage it cites a number of its own, the
first time it is cited, and keeps it: if ``notes.md:10-20`` was source 2 in
the first answer, it is source 2 whenever it is cited again. The number is
keyed by the passage id (``collection:chunk``), which is stable for as long
as the chunk's file does not change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .types import Answer, Citation, Message, Passage


@dataclass(frozen=True)
class Source:
    """A cited passage with its conversation-wide number."""

    number: int
    passage: Passage
    explicit: bool = False

    @property
    def label(self) -> str:
        return f"[{self.number}] {self.passage.location}"


@dataclass
class Turn:
    answer: Answer
    sources: tuple[Source, ...]


@dataclass
class Conversation:
    """Ask questions one after another; each sees the turns before it.

    ``max_turns`` earlier exchanges are given to the model (older ones drop
    out first, and the context budget may trim further).
    """

    engine: Any
    max_turns: int = 4
    turns: list[Turn] = field(default_factory=list)
    _numbers: dict[str, int] = field(default_factory=dict)
    _passages: dict[int, Passage] = field(default_factory=dict)

    @property
    def history(self) -> list[Message]:
        messages: list[Message] = []
        for turn in self.turns[-self.max_turns:] if self.max_turns > 0 else []:
            messages.append(Message("user", turn.answer.question))
            messages.append(Message("assistant", turn.answer.text))
        return messages

    def ask(self, question: str, on_text: Callable[[str], None] | None = None, **options: Any) -> Turn:
        """One turn: ``options`` are those of :meth:`Engine.answer` (strategy, decoding, top_k, ...)."""
        answer = self.engine.answer(question, history=self.history, on_text=on_text, **options)
        turn = Turn(answer=answer, sources=tuple(self.source(c) for c in answer.citations))
        self.turns.append(turn)
        return turn

    def restore(self, answers: list[Answer]) -> None:
        """Carry on a saved conversation: its answers become the earlier turns."""
        self.clear()
        for answer in answers:
            self.turns.append(Turn(answer=answer, sources=tuple(self.source(c) for c in answer.citations)))

    def source(self, citation: Citation) -> Source:
        """The stable number of a cited passage (assigned on first citation)."""
        pid = citation.passage.id
        if pid not in self._numbers:
            self._numbers[pid] = len(self._numbers) + 1
            self._passages[self._numbers[pid]] = citation.passage
        return Source(self._numbers[pid], citation.passage, citation.explicit)

    def passage(self, number: int) -> Passage | None:
        """The passage cited as ``[number]`` anywhere in this conversation."""
        return self._passages.get(number)

    def clear(self) -> None:
        self.turns.clear()
        self._numbers.clear()
        self._passages.clear()
