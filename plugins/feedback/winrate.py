"""Before/after win rate of an adapter over the base model, judged by a
reward model, and the Wilson score interval used for it (Wilson, 1927:
better behaved than the normal approximation near 0 and 1 and at small n)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from assistant import Decoding, Message, Prompt


def wilson(rate: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % (by default) interval of a proportion observed ``rate`` in ``n`` trials."""
    if n <= 0:
        return 0.0, 1.0
    centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
    spread = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - spread), min(1.0, centre + spread)


def prompt_from_messages(key: Sequence[tuple[str, str]]) -> Prompt:
    """A Prompt whose rendering is the conversation: system text as
    instructions, earlier turns as history, the last user turn as input."""
    system = "\n\n".join(c for r, c in key if r == "system")
    turns = [(r, c) for r, c in key if r != "system"]
    last = max((i for i, (r, _) in enumerate(turns) if r == "user"), default=len(turns) - 1)
    return Prompt(input=turns[last][1] if turns else "", instructions=system,
                  history=tuple(Message(r, c) for r, c in turns[:last]))


@dataclass
class WinRate:
    n: int
    wins: int
    ties: int
    losses: int
    mean_base: float
    mean_adapter: float
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return (self.wins + 0.5 * self.ties) / self.n if self.n else 0.0

    @property
    def low(self) -> float:
        return wilson(self.rate, self.n)[0]

    @property
    def high(self) -> float:
        return wilson(self.rate, self.n)[1]

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "rate": self.rate, "ci95": [self.low, self.high]}


def win_rate(base: Any, adapted: Any, judge: Any, prompts: Sequence[Sequence[tuple[str, str]]], max_new_tokens: int,
             on_prompt: Callable[[], None] | None = None, tie: float = 1e-3) -> WinRate:
    """Greedy answers of ``base`` and ``adapted`` (two views of one LLM) to
    each prompt, both scored by ``judge``; scores closer than ``tie`` tie."""
    decoding = Decoding(max_new_tokens=max_new_tokens)
    wins = ties = losses = 0
    rows = []
    for key in prompts:
        prompt = prompt_from_messages(key)
        before = base.generate([prompt], decoding=decoding, label="winrate base")[0][0].text
        after = adapted.generate([prompt], decoding=decoding, label="winrate adapter")[0][0].text
        messages = [{"role": r, "content": c} for r, c in key]
        score_base, score_adapter = judge.score(messages, [before, after])
        if abs(score_adapter - score_base) < tie:
            ties += 1
        elif score_adapter > score_base:
            wins += 1
        else:
            losses += 1
        rows.append({"prompt": messages[-1]["content"][:200], "base": before, "adapter": after,
                     "score_base": score_base, "score_adapter": score_adapter})
        if on_prompt is not None:
            on_prompt()
    n = len(rows)
    return WinRate(n, wins, ties, losses, sum(r["score_base"] for r in rows) / max(n, 1),
                   sum(r["score_adapter"] for r in rows) / max(n, 1), rows)
