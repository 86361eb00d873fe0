"""The feedback store: every answer with its provenance, and every rating,
ranking and pairwise choice, in one SQLite file.

* WAL journal and a busy timeout, so several processes (the chat, a CLI
  command, a training run reading) can use it at once; every write is one
  transaction, so a killed writer loses at most its own uncommitted write.
* Schema migrations keyed on ``PRAGMA user_version``.
* Candidates produced for one question (samples, best-of-N, an arena of
  strategies) share a ``group_id`` and are stored as sibling rows, so they
  can be ranked against each other.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from assistant import Answer, AssistantError, Feedback, to_messages

MIGRATIONS: list[str] = [
    # 1: answers with provenance, feedback events
    """
    CREATE TABLE answers (
        id TEXT PRIMARY KEY,
        group_id TEXT NOT NULL,
        candidate_index INTEGER,
        created REAL NOT NULL,
        question TEXT NOT NULL,
        text TEXT NOT NULL,
        prompt_messages TEXT NOT NULL,
        history TEXT NOT NULL,
        strategy TEXT NOT NULL,
        options TEXT NOT NULL,
        model TEXT NOT NULL,
        adapter TEXT,
        decoding TEXT NOT NULL,
        collection TEXT,
        passages TEXT NOT NULL,
        example_ids TEXT NOT NULL,
        usage TEXT NOT NULL,
        notices TEXT NOT NULL
    );
    CREATE INDEX answers_group ON answers(group_id);
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created REAL NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('rating', 'ranking', 'pairwise')),
        answer_ids TEXT NOT NULL,
        value REAL,
        ranking TEXT NOT NULL,
        comment TEXT NOT NULL
    );
    """,
]


@dataclass(frozen=True)
class StoredAnswer:
    id: str
    group_id: str
    candidate_index: int | None
    created: float
    question: str
    text: str
    prompt_messages: list[dict[str, str]]
    strategy: str
    model: str
    adapter: str | None
    passages: list[dict[str, Any]]
    decoding: dict[str, Any]
    usage: dict[str, Any]


@dataclass(frozen=True)
class Event:
    id: int
    created: float
    kind: str
    answer_ids: tuple[str, ...]
    value: float | None
    ranking: tuple[tuple[str, ...], ...]
    comment: str


class FeedbackStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.con = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self.con.execute("PRAGMA journal_mode=WAL")
        self.con.execute("PRAGMA busy_timeout=30000")
        self.con.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    def close(self) -> None:
        self.con.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.con.execute("BEGIN IMMEDIATE")  # take the write lock up front: no upgrade deadlocks
        try:
            yield self.con
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def _migrate(self) -> None:
        with self.transaction() as con:
            version = con.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise AssistantError(f"the feedback store {self.path} was written by a newer version (schema {version})",
                                     "upgrade the assistant")
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in script.split(";"):
                    if statement.strip():
                        con.execute(statement)
                con.execute(f"PRAGMA user_version = {number}")

    # ---------------------------------------------------------------- writing

    def add_answer(self, answer: Answer) -> list[str]:
        """Store an answer and, when it has several candidates, each as a sibling."""
        group = str(answer.metadata.get("group_id") or answer.id)
        prompt = answer.prompt
        messages = [asdict(m) for m in to_messages(prompt)] if prompt is not None else []
        common = dict(
            group_id=group, created=time.time(), question=answer.question,
            prompt_messages=json.dumps(messages),
            history=json.dumps([asdict(m) for m in (prompt.history if prompt else ())]),
            strategy=answer.strategy, options=json.dumps(answer.options, default=str), model=answer.model,
            adapter=answer.metadata.get("adapter"), decoding=json.dumps(asdict(answer.decoding)),
            collection=answer.metadata.get("collection"),
            passages=json.dumps([{"id": p.id, "location": p.location, "score": p.score} for p in answer.passages]),
            example_ids=json.dumps([e.id for e in (prompt.examples if prompt else ()) if e.id]),
            usage=json.dumps(asdict(answer.usage)), notices=json.dumps(list(answer.notices)),
        )
        rows = [dict(common, id=answer.id, candidate_index=None, text=answer.text)]
        if len(answer.candidates) > 1:
            rows += [dict(common, id=f"{answer.id}-{i}", candidate_index=i, text=c.text)
                     for i, c in enumerate(answer.candidates)]
        columns = list(rows[0])
        with self.transaction() as con:
            con.executemany(f"INSERT INTO answers ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                            [[row[c] for c in columns] for row in rows])
        return [row["id"] for row in rows]

    def add_feedback(self, feedback: Feedback) -> int:
        """Validate and store one feedback event; returns its id."""
        ids = list(feedback.answer_ids) or [a for tier in feedback.ranking for a in tier]
        if feedback.kind not in ("rating", "ranking", "pairwise"):
            raise AssistantError(f"unknown feedback kind {feedback.kind!r}", "use rating, ranking or pairwise")
        if not ids:
            raise AssistantError("feedback names no answer", "give at least one answer id")
        if feedback.kind == "rating" and feedback.value is None:
            raise AssistantError("a rating needs a value (+1 for up, -1 for down)")
        if feedback.kind == "pairwise" and len(ids) != 2:
            raise AssistantError("a pairwise choice names exactly two answers: the winner, then the loser")
        if len(set(ids)) != len(ids):
            raise AssistantError("an answer appears twice in the same feedback", "name each answer once")
        with self.transaction() as con:
            known = {row[0] for row in con.execute(
                f"SELECT id FROM answers WHERE id IN ({', '.join('?' * len(ids))})", ids)}
            missing = [i for i in ids if i not in known]
            if missing:
                raise AssistantError(f"no stored answer with id {missing[0]!r}",
                                     "see `assistant feedback list` for the ids of stored answers")
            cur = con.execute(
                "INSERT INTO events (created, kind, answer_ids, value, ranking, comment) VALUES (?, ?, ?, ?, ?, ?)",
                (time.time(), feedback.kind, json.dumps(ids), feedback.value,
                 json.dumps([list(t) for t in feedback.ranking]), feedback.comment))
            return int(cur.lastrowid)

    # ---------------------------------------------------------------- reading

    def resolve(self, prefix: str) -> str:
        """The full answer id for a unique prefix (like git's short hashes).

        A prefix of an answer also matches its candidates (``<id>-0`` ...);
        when every match belongs to one answer, that answer is meant.
        """
        rows = self.con.execute("SELECT id, candidate_index FROM answers WHERE substr(id, 1, ?) = ? LIMIT 100",
                                (len(prefix), prefix)).fetchall()
        ids = [r[0] for r in rows]
        if prefix in ids:
            return prefix
        bases = [r[0] for r in rows if r[1] is None]
        if len(bases) == 1 and all(i.startswith(bases[0]) for i in ids):
            return bases[0]
        if len(ids) == 1:
            return ids[0]
        if not ids:
            raise AssistantError(f"no stored answer with id {prefix!r}",
                                 "see `assistant feedback list` for the ids of stored answers")
        raise AssistantError(f"answer id prefix {prefix!r} is ambiguous ({', '.join(ids[:2])}, ...)",
                             "type more characters of the id")

    def answers(self, ids: Sequence[str] | None = None, limit: int | None = None) -> list[StoredAnswer]:
        query = ("SELECT id, group_id, candidate_index, created, question, text, prompt_messages, strategy, model, "
                 "adapter, passages, decoding, usage FROM answers")
        args: list[Any] = []
        if ids is not None:
            query += f" WHERE id IN ({', '.join('?' * len(ids))})"
            args = list(ids)
        query += " ORDER BY created DESC, id"
        if limit:
            query += f" LIMIT {int(limit)}"
        return [StoredAnswer(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]), r[7], r[8], r[9],
                             json.loads(r[10]), json.loads(r[11]), json.loads(r[12]))
                for r in self.con.execute(query, args)]

    def siblings(self, answer_id: str) -> list[StoredAnswer]:
        group = self.con.execute("SELECT group_id FROM answers WHERE id = ?", (answer_id,)).fetchone()
        if group is None:
            return []
        ids = [r[0] for r in self.con.execute("SELECT id FROM answers WHERE group_id = ? ORDER BY id", group)]
        return self.answers(ids)

    def events(self) -> list[Event]:
        return [Event(r[0], r[1], r[2], tuple(json.loads(r[3])), r[4],
                      tuple(tuple(t) for t in json.loads(r[5])), r[6])
                for r in self.con.execute("SELECT id, created, kind, answer_ids, value, ranking, comment "
                                          "FROM events ORDER BY id")]

    def stats(self) -> dict[str, int]:
        one = lambda q: int(self.con.execute(q).fetchone()[0])  # noqa: E731
        return {
            "answers": one("SELECT count(*) FROM answers WHERE candidate_index IS NULL"),
            "candidates": one("SELECT count(*) FROM answers WHERE candidate_index IS NOT NULL"),
            "ratings_up": one("SELECT count(*) FROM events WHERE kind = 'rating' AND value > 0"),
            "ratings_down": one("SELECT count(*) FROM events WHERE kind = 'rating' AND value < 0"),
            "rankings": one("SELECT count(*) FROM events WHERE kind = 'ranking'"),
            "pairwise": one("SELECT count(*) FROM events WHERE kind = 'pairwise'"),
        }

    def integrity_ok(self) -> bool:
        return self.con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
