"""Summaries scored with ROUGE against reference texts: what chain-of-density
is worth next to a plain summary, round by round.

ROUGE (Lin, "ROUGE: A Package for Automatic Evaluation of Summaries", 2004):
ROUGE-N is the n-gram overlap between a candidate and a reference, ROUGE-L
the longest common subsequence; we report F1 (the harmonic mean of the
overlap's share of the candidate and of the reference) on lower-cased word
tokens, without stemming or stop-word removal, so the numbers sit a little
below those of the reference Perl script with ``-m``.

Data: PubMedQA (Jin et al., EMNLP 2019) records with ``passage`` (the
abstract's context) and ``answer`` (the long answer, the abstract's
conclusion), as in ../shared/data/qa/pubmedqa_sample200.jsonl. The long
answer is a conclusion rather than a summary, so absolute scores are low;
the comparison between strategies on the same records is the point.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CorpusError

TOKEN = re.compile(r"[a-z0-9]+")
INSTRUCTIONS = "You write accurate, concise summaries of scientific abstracts."


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text.lower())


def _f1(overlap: int, candidate: int, reference: int) -> float:
    if overlap == 0 or candidate == 0 or reference == 0:
        return 0.0
    precision, recall = overlap / candidate, overlap / reference
    return 2 * precision * recall / (precision + recall)


def rouge_n(candidate: str, reference: str, n: int) -> float:
    def grams(words: list[str]) -> Counter:
        return Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))

    c, r = grams(tokens(candidate)), grams(tokens(reference))
    return _f1(sum((c & r).values()), sum(c.values()), sum(r.values()))


def lcs_length(a: list[str], b: list[str]) -> int:
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b, start=1):
            current.append(previous[j - 1] + 1 if x == y else max(previous[j], current[-1]))
        previous = current
    return previous[-1]


def rouge_l(candidate: str, reference: str) -> float:
    c, r = tokens(candidate), tokens(reference)
    return _f1(lcs_length(c, r), len(c), len(r))


def rouge(candidate: str, reference: str) -> dict[str, float]:
    return {"rouge1": rouge_n(candidate, reference, 1), "rouge2": rouge_n(candidate, reference, 2),
            "rougeL": rouge_l(candidate, reference)}


@dataclass(frozen=True)
class Document:
    id: str
    text: str
    reference: str


def load_documents(path: Path) -> list[Document]:
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"data set {path} does not exist", "e.g. ../shared/data/qa/pubmedqa_sample200.jsonl")
    docs = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            text = row.get("passage") or row.get("text") or row["context"]
            reference = row.get("answer") or row.get("long_answer") or row["summary"]
        except (ValueError, KeyError, TypeError) as exc:
            raise CorpusError(f"{path}:{number} has no passage/text and answer/summary: {exc}",
                              "give JSONL with passage and answer fields (PubMedQA) or text and summary") from None
        docs.append(Document(str(row.get("id", number)), text, reference))
    if not docs:
        raise CorpusError(f"{path} holds no records", "one JSON object per line")
    return docs


@dataclass
class SummaryScore:
    strategy: str
    scores: list[dict[str, float]] = field(default_factory=list)
    rounds: dict[int, list[dict[str, float]]] = field(default_factory=dict)  # chain-of-density round -> scores
    words: list[int] = field(default_factory=list)
    seconds: float = 0.0
    model_calls: int = 0
    tokens: int = 0

    def mean(self, metric: str, rows: list[dict[str, float]] | None = None) -> tuple[float, float]:
        """Mean and its standard error."""
        values = [r[metric] for r in (self.scores if rows is None else rows)]
        if not values:
            return float("nan"), float("nan")
        mean = sum(values) / len(values)
        if len(values) < 2:
            return mean, float("nan")
        var = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
        return mean, math.sqrt(var / len(values))


def evaluate(engine: Any, strategies: list[str], docs: list[Document], decoding: Any, words: int = 60,
             on_done: Callable[[], None] | None = None) -> dict[str, SummaryScore]:
    """Each strategy summarises each document (no retrieval; the document is the input)."""
    results = {name: SummaryScore(name) for name in strategies}
    for doc in docs:
        question = f"Summarize this abstract in about {words} words.\n\n{doc.text.strip()}"
        for name in strategies:
            options = {"words": words} if name == "chain_of_density" else None
            answer = engine.answer(question, strategy=name, options=options, decoding=decoding, use_retrieval=False)
            score = results[name]
            score.scores.append(rouge(answer.text, doc.reference))
            score.words.append(len(answer.text.split()))
            score.seconds += answer.usage.ms / 1000
            score.model_calls += answer.usage.model_calls
            score.tokens += answer.usage.prompt_tokens + answer.usage.completion_tokens
            for entry in answer.metadata.get("rounds", []):
                score.rounds.setdefault(entry["round"], []).append(rouge(entry["summary"], doc.reference))
            if on_done:
                on_done()
    return results


def table(results: dict[str, SummaryScore]) -> str:
    lines = [f"{'strategy':<22}{'ROUGE-1':>16}{'ROUGE-2':>16}{'ROUGE-L':>16}{'words':>7}{'calls':>7}{'s/doc':>7}"]

    def cells(score: SummaryScore, rows: list[dict[str, float]] | None = None) -> str:
        out = ""
        for metric in ("rouge1", "rouge2", "rougeL"):
            mean, se = score.mean(metric, rows)
            out += f"{100 * mean:>9.1f} ± {100 * se:4.1f}"
        return out

    for name, score in results.items():
        n = max(len(score.scores), 1)
        lines.append(f"{name:<22}{cells(score)}{sum(score.words) / n:>7.0f}{score.model_calls / n:>7.1f}"
                     f"{score.seconds / n:>7.1f}")
        for number, rows in sorted(score.rounds.items()):
            lines.append(f"{'  round ' + str(number):<22}{cells(score, rows)}")
    return "\n".join(lines)


def to_json(results: dict[str, SummaryScore]) -> dict[str, Any]:
    out = {}
    for name, score in results.items():
        out[name] = {"documents": len(score.scores),
                     **{m: score.mean(m)[0] for m in ("rouge1", "rouge2", "rougeL")},
                     "rounds": {str(k): {m: score.mean(m, rows)[0] for m in ("rouge1", "rouge2", "rougeL")}
                                for k, rows in score.rounds.items()},
                     "words": sum(score.words) / max(len(score.words), 1),
                     "calls_per_document": score.model_calls / max(len(score.scores), 1),
                     "seconds_per_document": score.seconds / max(len(score.scores), 1),
                     "per_document": score.scores}
    return out
