"""What each strategy is worth on math word problems: accuracy with a 95 %
confidence interval, and the cost per question (model calls, tokens,
seconds), every strategy on the same questions with the same model.

Data sets: SVAMP (Patel et al., NAACL 2021; ``Body`` + ``Question``, numeric
``Answer``) and GSM8K (Cobbe et al., 2021; the answer after ``####``). A
prediction is correct when its extracted number equals the gold one
(within 1e-6). The interval is Wilson's score interval, which behaves at
accuracies near 0 and 1 where the normal approximation does not.

``--workers N`` runs N processes, each on its share of the questions (one
model each): on a GPU, where one small model leaves the device mostly idle,
this multiplies throughput; on two CPU cores it does not help.

A public module, for plugins that measure something on the same problems
(``eval adapters`` does): :func:`load_problems` reads either data set,
``INSTRUCTIONS`` is the system text every strategy is evaluated with,
:func:`is_correct` compares an extracted answer with the gold number, and
:func:`wilson` gives the interval to report with an accuracy.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..answers import extract, normalise
from ..errors import CorpusError

INSTRUCTIONS = "Solve the math word problem. Give the final answer as a number."

__all__ = ["INSTRUCTIONS", "Problem", "StrategyScore", "evaluate", "is_correct", "load_problems", "wilson"]


@dataclass(frozen=True)
class Problem:
    """One math word problem: the question as one text, and the gold number."""

    id: str
    question: str
    answer: float


@dataclass
class StrategyScore:
    strategy: str
    questions: int = 0
    correct: int = 0
    model_calls: int = 0
    tokens: int = 0
    seconds: float = 0.0
    errors: int = 0
    predictions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.correct / self.questions if self.questions else 0.0

    def interval(self, z: float = 1.96) -> tuple[float, float]:
        return wilson(self.correct, self.questions, z)

    def summary(self) -> dict[str, Any]:
        low, high = self.interval()
        n = max(self.questions, 1)
        return {"strategy": self.strategy, "questions": self.questions, "correct": self.correct,
                "accuracy": self.accuracy, "ci95": [low, high], "calls_per_question": self.model_calls / n,
                "tokens_per_question": self.tokens / n, "seconds_per_question": self.seconds / n,
                "errors": self.errors}


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (Wilson, JASA 1927)."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def load_problems(path: Path) -> list[Problem]:
    """SVAMP (a JSON list) or GSM8K (JSONL with ``question`` and ``answer`` ending in ``#### N``)."""
    path = Path(path)
    if not path.exists():
        raise CorpusError(f"data set {path} does not exist", "e.g. ../shared/data/svamp/SVAMP.json")
    text = path.read_text(encoding="utf-8")
    problems = []
    try:
        if path.suffix == ".json":
            for row in json.loads(text):
                body = f"{row['Body'].strip()} {row['Question'].strip()}".strip()
                problems.append(Problem(str(row.get("ID", len(problems))), body, float(row["Answer"])))
        else:
            for number, line in enumerate(text.splitlines(), start=1):
                if not line.strip():
                    continue
                row = json.loads(line)
                gold = re.search(r"####\s*(-?[\d,]*\.?\d+)", row["answer"])
                if gold is None:
                    raise ValueError(f"line {number}: no '#### N' answer")
                problems.append(Problem(str(row.get("id", number)), row["question"].strip(),
                                        float(gold.group(1).replace(",", ""))))
    except (ValueError, KeyError, TypeError) as exc:
        raise CorpusError(f"{path} is not SVAMP (JSON) or GSM8K (JSONL) data: {exc}",
                          "give SVAMP.json or a GSM8K .jsonl file") from None
    if not problems:
        raise CorpusError(f"{path} holds no problems", "give SVAMP.json or a GSM8K .jsonl file")
    return problems


def is_correct(predicted: str, gold: float) -> bool:
    """Whether an extracted answer (``"8"``, ``"$8.00"``) is the gold number, within 1e-6."""
    value = normalise(predicted)
    try:
        return abs(float(value) - gold) < 1e-6
    except ValueError:
        return False


def question_seed(seed: int, problem_id: str) -> int:
    """The sampling seed of one question: ``seed`` mixed with the question's id,
    so every question draws its own samples and a rerun (or a worker that got
    the question) draws the same ones."""
    return (seed * 1_000_003 + zlib.crc32(problem_id.encode("utf-8"))) % 2**31


def evaluate(engine: Any, strategies: list[str], problems: list[Problem], decoding: Any,
             on_done: Callable[[dict[str, StrategyScore]], None] | None = None,
             seed: int | None = None) -> dict[str, StrategyScore]:
    """Every strategy on every problem, without retrieval, with the math instructions.

    ``seed``: sample each question with :func:`question_seed` (None: unseeded)."""
    from ..strategy import options_type

    scores = {name: StrategyScore(name) for name in strategies}
    for name in strategies:
        score = scores[name]
        opts = options_type(engine.host.registry.get("strategy", name).obj)
        fields = {f.name for f in dataclasses.fields(opts)} if opts else set()
        options = {"answer_kind": "number"} if "answer_kind" in fields else None  # vote on numbers
        for problem in problems:
            asked = decoding if seed is None else dataclasses.replace(decoding, seed=question_seed(seed, problem.id))
            try:
                answer = engine.answer(problem.question, strategy=name, decoding=asked, use_retrieval=False,
                                       options=options)
            except Exception as exc:  # a strategy failing on one question is counted, not fatal
                score.questions += 1
                score.errors += 1
                score.predictions.append({"id": problem.id, "error": f"{type(exc).__name__}: {exc}"})
            else:
                predicted = str(answer.metadata.get("answer") or extract(answer.text, "number"))
                ok = is_correct(predicted, problem.answer)
                score.questions += 1
                score.correct += ok
                score.model_calls += answer.usage.model_calls
                score.tokens += answer.usage.prompt_tokens + answer.usage.completion_tokens
                score.seconds += answer.usage.ms / 1000
                score.predictions.append({"id": problem.id, "predicted": predicted, "gold": problem.answer,
                                          "correct": ok})
            if on_done:
                on_done(scores)
    return scores


def merge(parts: list[dict[str, StrategyScore]]) -> dict[str, StrategyScore]:
    """Scores of several workers' shares added up, strategy by strategy."""
    merged: dict[str, StrategyScore] = {}
    for part in parts:
        for name, s in part.items():
            m = merged.setdefault(name, StrategyScore(name))
            m.questions += s.questions
            m.correct += s.correct
            m.model_calls += s.model_calls
            m.tokens += s.tokens
            m.seconds += s.seconds
            m.errors += s.errors
            m.predictions.extend(s.predictions)
    return merged


def scores_to_json(scores: dict[str, StrategyScore]) -> dict[str, Any]:
    return {name: asdict(s) for name, s in scores.items()}


def scores_from_json(data: dict[str, Any]) -> dict[str, StrategyScore]:
    return {name: StrategyScore(**value) for name, value in data.items()}


def chart(scores: dict[str, StrategyScore], path: Path, title: str) -> bool:
    """A PNG bar chart of accuracy with its interval; False when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    names = [n for n in scores if scores[n].questions]  # a strategy that answered nothing has no bar
    if not names:
        return False
    acc = [scores[n].accuracy * 100 for n in names]
    low = [acc[i] - scores[n].interval()[0] * 100 for i, n in enumerate(names)]
    high = [scores[n].interval()[1] * 100 - acc[i] for i, n in enumerate(names)]
    fig, ax = plt.subplots(figsize=(1.6 * len(names) + 2, 4))
    ax.bar(names, acc, yerr=[low, high], capsize=6, color="#4c72b0")
    ax.set_ylabel("accuracy, % (95 % Wilson interval)")
    ax.set_title(title)
    for i, n in enumerate(names):
        ax.text(i, acc[i] + high[i] + 0.5, f"{acc[i]:.1f}% of {scores[n].questions}\n"
                f"{scores[n].tokens / max(scores[n].questions, 1):.0f} tok/q",
                ha="center", va="bottom", fontsize=8)
    ax.set_ylim(0, max(acc[i] + high[i] for i in range(len(names))) * 1.3 + 5)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True
