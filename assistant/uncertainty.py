"""Active prompting: find the questions the model is least sure of, so that
a person writes exemplars for those (and not for questions it already gets).

Diao et al., "Active Prompting with Chain-of-Thought for Large Language
Models" (2023): sample k chain-of-thought answers per question, measure
their disagreement (number of distinct answers / k; entropy is the other
measure they report), annotate the most uncertain questions with
rationales, and use those as few-shot exemplars: +2 to +8 points over
random exemplars on arithmetic benchmarks. Here the k answers come from one
batched call per question, and an annotated exemplar joins the semantic
selector's bank with ``assistant examples add``.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .answers import extract, normalise
from .types import Decoding, Prompt

TRIGGER = "Let's think step by step. End with a line 'The answer is: ...'."


@dataclass(frozen=True)
class Uncertainty:
    question: str
    answers: tuple[str, ...]  # extracted, as written
    disagreement: float  # distinct answers / k
    entropy: float  # of the answer distribution, in nats

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def measure(answers: Sequence[str]) -> tuple[float, float]:
    """(disagreement, entropy) of extracted answers; an empty answer counts as its own kind."""
    if not answers:
        return 0.0, 0.0
    counts = Counter(normalise(a) if a.strip() else "<none>" for a in answers)
    total = len(answers)
    entropy = -sum(c / total * math.log(c / total) for c in counts.values())
    return len(counts) / total, entropy


def rank_questions(llm: Any, questions: Sequence[str], samples: int = 5, decoding: Decoding | None = None,
                   instructions: str = "", answer_kind: str = "auto",
                   on_done: Callable[[int], None] | None = None) -> list[Uncertainty]:
    """Every question with its sampled answers and uncertainty, most uncertain first."""
    decoding = decoding or Decoding(max_new_tokens=128, temperature=0.7, top_p=0.95, top_k=40)
    if not decoding.sampling:
        decoding = dataclasses.replace(decoding, temperature=0.7)
    results = []
    for i, question in enumerate(questions, start=1):
        prompt = Prompt(input=question, instructions=f"{instructions}\n\n{TRIGGER}".strip())
        candidates = llm.generate([prompt], n=samples, decoding=decoding, label="sample answers")[0]
        answers = tuple(extract(c.text, answer_kind) for c in candidates)
        disagreement, entropy = measure(answers)
        results.append(Uncertainty(question, answers, disagreement, entropy))
        if on_done:
            on_done(i)
    return sorted(results, key=lambda u: (-u.disagreement, -u.entropy))
