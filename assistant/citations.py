"""Which passages an answer relies on.

Explicit markers win: if the answer names ``[2]``, passage 2 is cited. Small
models rarely write markers, so otherwise each passage's *support* is
measured: the share of the answer's content words that appear in the
passage. Passages with at least half the best support (and a best support of
at least 0.2) are cited, in retrieval order. An answer that shares nothing
with the passages cites nothing: the passages are then only "consulted".
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .types import Citation, Passage

MARKER = re.compile(r"\[(\d{1,3})\]")
WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'-]*")
STOPWORDS = frozenset("""
a an and are as at be been but by can could did do does for from had has have how i if in into is it its
may might must no not of on or our so such than that the their them then there these they this to was we
were what when where which who why will with would you your yes also only just more most other some any
""".split())


def content_words(text: str) -> set[str]:
    return {w.lower() for w in WORD.findall(text) if len(w) > 2 and w.lower() not in STOPWORDS}


def support(answer: str, passage: Passage) -> float:
    words = content_words(answer)
    if not words:
        return 0.0
    return len(words & content_words(passage.text + " " + (passage.heading or ""))) / len(words)


def cite(answer: str, passages: Sequence[Passage]) -> tuple[Citation, ...]:
    explicit = []
    for match in MARKER.finditer(answer):
        number = int(match.group(1))
        if 1 <= number <= len(passages) and number not in explicit:
            explicit.append(number)
    if explicit:
        return tuple(Citation(n, passages[n - 1], explicit=True) for n in explicit)
    scored = [(support(answer, p), -i, i) for i, p in enumerate(passages)]
    best = max((s for s, _, _ in scored), default=0.0)
    if best < 0.2:
        return ()
    # Among the passages that support the answer, retrieval rank decides the order: on 40 SQuAD
    # answers of the default model, rank order cited the gold passage first 24 times, support order 18.
    chosen = [i for s, _, i in scored if s >= best / 2]
    return tuple(Citation(i + 1, passages[i], explicit=False) for i in chosen)
