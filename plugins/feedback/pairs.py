"""Preference pairs as the trainers see them.

A pair is a prompt (chat messages), a chosen and a rejected response, and a
margin (how much better the chosen one is: the rank gap from a ranking, 1
for a pairwise choice). Pairs come from a JSONL file in TRL's schema
(``prompt`` / ``chosen`` / ``rejected``, each a string or a list of chat
messages; ``assistant feedback export --format pairs`` writes it) or
straight from the feedback store.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant import ConfigError

Messages = list[dict[str, str]]


@dataclass(frozen=True)
class Pair:
    prompt: tuple[tuple[str, str], ...]  # (role, content) pairs, hashable
    chosen: str
    rejected: str
    margin: float = 0.0

    @property
    def messages(self) -> Messages:
        return [{"role": r, "content": c} for r, c in self.prompt]

    @property
    def question(self) -> str:
        users = [c for r, c in self.prompt if r == "user"]
        return users[-1] if users else (self.prompt[-1][1] if self.prompt else "")


@dataclass
class PairSet:
    pairs: list[Pair]
    dropped: dict[str, int]
    source: str


def _messages(value: Any, where: str, field: str) -> Messages:
    if isinstance(value, str):
        return [{"role": "user" if field == "prompt" else "assistant", "content": value}]
    if isinstance(value, list) and all(isinstance(m, dict) and isinstance(m.get("content"), str) for m in value):
        return [{"role": str(m.get("role", "user")), "content": m["content"]} for m in value]
    raise ConfigError(f"{where}: {field!r} must be a string or a list of {{role, content}} messages",
                      "use TRL's preference schema: prompt, chosen, rejected")


def _response(value: Any, where: str, field: str) -> str:
    messages = _messages(value, where, field)
    assistant = [m["content"] for m in messages if m["role"] == "assistant"]
    return (assistant[-1] if assistant else messages[-1]["content"]) if messages else ""


def scores_tie(row: dict[str, Any]) -> bool:
    """Whether the row says its two answers were rated equal: ``score_chosen``
    equal to ``score_rejected``, at the top level (UltraFeedback-binarized's
    columns) or under ``metadata``. Such a pair carries no preference; trained
    on, it only teaches noise (train_1000 has 111 of them, eval_200 25)."""
    for place in (row, row.get("metadata")):
        if isinstance(place, dict) and "score_chosen" in place and "score_rejected" in place:
            try:
                return float(place["score_chosen"]) == float(place["score_rejected"])
            except (TypeError, ValueError):
                return False
    return False


def pair_from_row(row: dict[str, Any], where: str) -> Pair | None:
    """One pair from a TRL-schema row; None when chosen equals rejected."""
    missing = [k for k in ("prompt", "chosen", "rejected") if k not in row]
    if missing:
        raise ConfigError(f"{where}: no field {missing[0]!r}",
                          "each line needs prompt, chosen and rejected (see `assistant feedback export --format pairs`)")
    prompt = _messages(row["prompt"], where, "prompt")
    chosen, rejected = _response(row["chosen"], where, "chosen"), _response(row["rejected"], where, "rejected")
    if chosen.strip() == rejected.strip() or not chosen.strip() or not rejected.strip():
        return None
    try:
        margin = float(row.get("margin", 0.0) or 0.0)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: margin {row.get('margin')!r} is not a number", "give margin as a number") from None
    return Pair(tuple((m["role"], m["content"]) for m in prompt), chosen, rejected, margin)


def jsonl_objects(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(file:line, object)`` for each non-blank line of a JSONL file; a line
    that is not a JSON object is refused with its place."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise ConfigError(f"{where} is not valid JSON: {exc}", "one JSON object per line") from None
        if not isinstance(row, dict):
            raise ConfigError(f"{where} is not a JSON object", "one JSON object per line")
        yield where, row


def read_pairs(path: str | Path, limit: int = 0, keep_ties: bool = False) -> PairSet:
    """Pairs from a JSONL file; pairs whose two answers are equal (or empty)
    are dropped and counted, and so are pairs whose scores tie
    (:func:`scores_tie`) unless ``keep_ties``."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"preference data {path} does not exist",
                          "pass a JSONL file (e.g. `assistant feedback export --format pairs --out pairs.jsonl`)")
    pairs: list[Pair] = []
    dropped = {"chosen_equals_rejected": 0, "scores_tie": 0}
    for where, row in jsonl_objects(path):
        pair = pair_from_row(row, where)
        if pair is None:
            dropped["chosen_equals_rejected"] += 1
            continue
        if not keep_ties and scores_tie(row):
            dropped["scores_tie"] += 1
            continue
        pairs.append(pair)
        if limit and len(pairs) >= limit:
            break
    return PairSet(pairs, dropped, str(path))


def pairs_from_store(settings: Any) -> PairSet:
    """Every ranking and pairwise choice in the feedback store, as pairs (ties give none)."""
    from . import open_store, store_path
    from .export import export

    store = open_store(settings)
    try:
        answers, events = {a.id: a for a in store.answers()}, store.events()
    finally:
        store.close()
    result = export("pairs", answers, events)
    pairs = [p for p in (pair_from_row(r, "feedback store") for r in result.rows) if p is not None]
    return PairSet(pairs, dict(result.dropped), str(store_path(settings)))


def split(pairs: Sequence[Pair], val_fraction: float, seed: int) -> tuple[list[Pair], list[Pair]]:
    """Hold out a validation share, grouped by prompt so no prompt sits on both sides."""
    prompts = sorted({p.prompt for p in pairs})
    random.Random(seed).shuffle(prompts)
    n_val = max(1, round(len(prompts) * val_fraction)) if len(prompts) > 1 else 0
    held = set(prompts[:n_val])
    return [p for p in pairs if p.prompt not in held], [p for p in pairs if p.prompt in held]


def require(pairs: Sequence[Pair], minimum: int, what: str, source: str) -> None:
    if len(pairs) < minimum:
        raise ConfigError(
            f"only {len(pairs)} usable preference pairs in {source}; {what} needs at least {minimum}",
            "rank more answers (`assistant feedback rank ...`) or pass a larger --data file")
