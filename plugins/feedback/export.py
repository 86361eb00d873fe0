"""Turning stored feedback into training data in TRL's schemas
(conversational form: prompts and completions are lists of messages).

* ``pairs`` (reward model, DPO): every ranking yields a pair for each two
  answers in *different* tiers, best first; answers tied in one tier yield
  no pair, because no order between them was given. The tier gap is the
  pair's ``margin``. A pairwise choice is a pair with margin 1. Siblings
  left out of a ranking are not used, and pairs whose two texts are equal,
  or which answer different prompts, are dropped.
* ``kto``: each rated answer once, with its latest rating: ``label`` is
  True for thumbs up.
* ``sft``: top answers: latest rating up, the sole best of a ranking, the
  winner of a pairwise choice; an answer whose latest rating is down is
  never one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .store import Event, StoredAnswer

FORMATS = ("pairs", "kto", "sft")


@dataclass
class ExportResult:
    rows: list[dict[str, Any]]
    dropped: dict[str, int] = field(default_factory=dict)


def prompt_of(answer: StoredAnswer) -> list[dict[str, str]]:
    return answer.prompt_messages or [{"role": "user", "content": answer.question}]


def completion(answer: StoredAnswer) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": answer.text}]


def latest_ratings(events: Sequence[Event]) -> dict[str, float]:
    ratings: dict[str, float] = {}
    for event in events:  # events come oldest first
        if event.kind == "rating" and event.value is not None:
            for answer_id in event.answer_ids:
                ratings[answer_id] = event.value
    return ratings


def preference_pairs(answers: dict[str, StoredAnswer], events: Sequence[Event]) -> ExportResult:
    result = ExportResult(rows=[], dropped={"tied": 0, "same_text": 0, "different_prompts": 0})
    for event in events:
        if event.kind == "ranking":
            tiers = [list(t) for t in event.ranking]
            result.dropped["tied"] += sum(len(t) * (len(t) - 1) // 2 for t in tiers)
            candidates = [(tiers[i], tiers[j], j - i) for i in range(len(tiers)) for j in range(i + 1, len(tiers))]
            pairs = [(a, b, gap) for better, worse, gap in candidates for a in better for b in worse]
        elif event.kind == "pairwise":
            pairs = [(event.answer_ids[0], event.answer_ids[1], 1)]
        else:
            continue
        for chosen_id, rejected_id, gap in pairs:
            chosen, rejected = answers[chosen_id], answers[rejected_id]
            if chosen.text.strip() == rejected.text.strip():
                result.dropped["same_text"] += 1
                continue
            if prompt_of(chosen) != prompt_of(rejected):
                result.dropped["different_prompts"] += 1
                continue
            result.rows.append({
                "prompt": prompt_of(chosen), "chosen": completion(chosen), "rejected": completion(rejected),
                "margin": float(gap),
                "metadata": {"event": event.id, "chosen_id": chosen_id, "rejected_id": rejected_id,
                             "model": chosen.model, "strategy": [chosen.strategy, rejected.strategy]},
            })
    return result


def kto_rows(answers: dict[str, StoredAnswer], events: Sequence[Event]) -> ExportResult:
    rows = [{"prompt": prompt_of(answers[a]), "completion": completion(answers[a]), "label": value > 0,
             "metadata": {"answer_id": a, "model": answers[a].model}}
            for a, value in latest_ratings(events).items() if value != 0]
    return ExportResult(rows=rows)


def sft_rows(answers: dict[str, StoredAnswer], events: Sequence[Event]) -> ExportResult:
    ratings = latest_ratings(events)
    top: list[str] = [a for a, v in ratings.items() if v > 0]
    for event in events:
        if event.kind == "ranking" and event.ranking and len(event.ranking[0]) == 1 and len(event.ranking) > 1:
            top.append(event.ranking[0][0])
        elif event.kind == "pairwise":
            top.append(event.answer_ids[0])
    chosen = [a for a in dict.fromkeys(top) if ratings.get(a, 0) >= 0]
    rows = [{"prompt": prompt_of(answers[a]), "completion": completion(answers[a]),
             "metadata": {"answer_id": a, "model": answers[a].model}} for a in chosen]
    return ExportResult(rows=rows, dropped={"rated_down": len(set(top)) - len(chosen)})


def export(fmt: str, answers: dict[str, StoredAnswer], events: Sequence[Event]) -> ExportResult:
    builders = {"pairs": preference_pairs, "kto": kto_rows, "sft": sft_rows}
    return builders[fmt](answers, events)
