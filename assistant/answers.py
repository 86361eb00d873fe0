"""Pulling a short final answer out of generated reasoning, normalising it,
and voting.

Reasoning strategies (chain-of-thought, self-consistency, least-to-most)
need the *answer* of a generation, not its reasoning: "... so she has 8
apples left. The answer is 8." -> ``8``. Two answers are the same vote when
their normal forms are equal: numbers compare as numbers (``8``, ``8.0``,
``$8`` and ``8 apples`` are one vote), yes/no in any spelling, anything else
as lower-cased words without punctuation or articles (the SQuAD answer
normalisation of Rajpurkar et al., 2016).

Self-consistency takes the majority of the normal forms (Wang et al.,
"Self-Consistency Improves Chain of Thought Reasoning in Language Models",
ICLR 2023); ``agreement`` is the winner's share of the votes.

A public module: a strategy plugin that reasons before answering uses
:func:`extract` for the answer it reports and :func:`vote` to combine
samples, so its answers compare with the built-ins' (``ANSWER_IS`` is the
"the answer is ..." pattern, for a strategy that must know whether the model
committed to an answer at all).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")
ANSWER_IS = re.compile(r"(?:final answer|the answer|answer)\s*(?:is|:|=)\s*:?\s*(.+)", re.IGNORECASE)
YES = {"yes", "true", "correct", "right", "y"}
NO = {"no", "false", "incorrect", "wrong", "n"}
ARTICLES = re.compile(r"\b(a|an|the)\b")
PUNCTUATION = re.compile(r"[^\w\s.-]")

__all__ = ["ANSWER_IS", "Vote", "extract", "normalise", "vote"]


@dataclass(frozen=True)
class Vote:
    """The outcome of a vote over extracted answers."""

    answer: str  # the winning answer as first written
    normal: str  # its normal form
    counts: dict[str, int]  # normal form -> votes
    agreement: float  # winner's votes / votes cast (0 when nobody answered)
    winner_index: int  # index of the first candidate that gave the winning answer (-1: none)


def extract(text: str, kind: str = "auto") -> str:
    """The final answer in ``text``.

    ``kind``: ``number`` (the last number after "the answer is", else the last
    number), ``yesno``, ``span`` (the text after "the answer is", else the last
    sentence), or ``auto`` (number if there is one after "the answer is", then
    yes/no, then span).
    """
    text = text.strip()
    if not text:
        return ""
    tail = text
    match = None
    for match in ANSWER_IS.finditer(text):
        pass
    if match is not None:
        tail = match.group(1).strip()
    if kind in ("number", "auto"):
        numbers = NUMBER.findall(tail if match is not None else text)
        if numbers:
            return numbers[0] if match is not None else numbers[-1]
        if kind == "number":
            return ""
    first_word = re.split(r"[\s,.;:!]+", tail.lower().strip(), maxsplit=1)[0] if tail else ""
    if kind in ("yesno", "auto") and first_word in YES | NO:
        return "yes" if first_word in YES else "no"
    if kind == "yesno":
        return ""
    if match is None:
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]
        tail = sentences[-1] if sentences else text
    return tail.splitlines()[0].strip().rstrip(".")


def normalise(answer: str) -> str:
    """The form two answers must share to count as the same vote."""
    answer = answer.strip()
    numbers = NUMBER.findall(answer)
    if numbers and len(numbers) == 1:
        try:
            value = float(numbers[0].replace(",", ""))
        except ValueError:
            value = None
        if value is not None:
            return str(int(value)) if value == int(value) else f"{value:g}"
    lowered = answer.lower().strip()
    if lowered in YES:
        return "yes"
    if lowered in NO:
        return "no"
    words = ARTICLES.sub(" ", PUNCTUATION.sub(" ", lowered))
    return " ".join(words.split()).rstrip(".")


def vote(answers: Sequence[str]) -> Vote:
    """Majority vote over normal forms; ties go to the answer given first. Empty answers abstain."""
    normals = [normalise(a) if a.strip() else "" for a in answers]
    counts = Counter(n for n in normals if n)
    if not counts:
        return Vote(answer="", normal="", counts={}, agreement=0.0, winner_index=-1)
    best = max(counts.values())
    winner = next(n for n in normals if n and counts[n] == best)  # first to reach the top count
    index = normals.index(winner)
    return Vote(answer=answers[index].strip(), normal=winner, counts=dict(counts),
                agreement=best / sum(counts.values()), winner_index=index)
