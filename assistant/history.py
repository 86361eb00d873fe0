"""Saved conversations: a SQLite file beside the collections
(``<data>/history.sqlite``), one row per conversation and one per turn.

A turn keeps what is needed to show it again and to carry the conversation
on: the question, the answer text, the passages with their locations, which
of them were cited, strategy, model, time and tokens. The full trace of an
answer (prompts, every model call) is in the feedback store under the same
answer id. Every change is one transaction; the database runs in WAL mode so
the chat and `assistant history` can use it at the same time.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError, CorpusError
from .paths import data_dir
from .types import Answer, Citation, Decoding, Passage, Usage

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    position INTEGER NOT NULL, answer_id TEXT NOT NULL, created REAL NOT NULL, record TEXT NOT NULL,
    PRIMARY KEY (conversation_id, position)
);
"""


@dataclass(frozen=True)
class SavedConversation:
    id: str
    title: str
    created: float
    updated: float
    turns: int


def history_path() -> Path:
    return data_dir() / "history.sqlite"


def answer_record(answer: Answer) -> dict[str, Any]:
    """The part of an answer a saved conversation keeps (JSON-safe)."""
    return {"id": answer.id, "question": answer.question, "text": answer.text, "strategy": answer.strategy,
            "model": answer.model, "ms": answer.usage.ms, "prompt_tokens": answer.usage.prompt_tokens,
            "completion_tokens": answer.usage.completion_tokens,
            "passages": [dataclasses.asdict(p) for p in answer.passages],
            "citations": [[c.marker, c.explicit] for c in answer.citations]}


def answer_from_record(record: dict[str, Any]) -> Answer:
    """A display-and-continue Answer (no trace) from :func:`answer_record`."""
    passages = tuple(Passage(**p) for p in record["passages"])
    citations = tuple(Citation(marker, passages[marker - 1], bool(explicit))
                      for marker, explicit in record["citations"] if 1 <= marker <= len(passages))
    usage = Usage(prompt_tokens=record["prompt_tokens"], completion_tokens=record["completion_tokens"],
                  model_calls=0, ms=record["ms"])
    return Answer(id=record["id"], question=record["question"], text=record["text"], citations=citations,
                  passages=passages, steps=(), usage=usage, strategy=record["strategy"], options={},
                  model=record["model"], decoding=Decoding(), metadata={"restored": True})


class HistoryStore:
    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path or history_path())
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.con = sqlite3.connect(self.path, timeout=10, check_same_thread=False)
            self.con.execute("PRAGMA journal_mode=WAL")
            self.con.execute("PRAGMA foreign_keys=ON")
            self.con.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise CorpusError(f"the conversation history {self.path} is unreadable ({exc})",
                              "move the file aside; a new one will be started") from None

    def close(self) -> None:
        self.con.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self.con:
            yield self.con

    def new(self, title: str) -> str:
        cid = uuid.uuid4().hex[:12]
        now = time.time()
        with self.transaction() as con:
            con.execute("INSERT INTO conversations VALUES (?, ?, ?, ?)", (cid, _title(title), now, now))
        return cid

    def add_turn(self, conversation_id: str, answer: Answer) -> None:
        now = time.time()
        with self.transaction() as con:
            position = con.execute("SELECT coalesce(max(position), -1) + 1 FROM turns WHERE conversation_id = ?",
                                   (conversation_id,)).fetchone()[0]
            con.execute("INSERT INTO turns VALUES (?, ?, ?, ?, ?)",
                        (conversation_id, position, answer.id, now, json.dumps(answer_record(answer))))
            con.execute("UPDATE conversations SET updated = ? WHERE id = ?", (now, conversation_id))

    def drop_last_turn(self, conversation_id: str) -> None:
        with self.transaction() as con:
            con.execute("DELETE FROM turns WHERE conversation_id = ? AND position = "
                        "(SELECT max(position) FROM turns WHERE conversation_id = ?)",
                        (conversation_id, conversation_id))

    def list(self) -> list[SavedConversation]:
        rows = self.con.execute(
            "SELECT c.id, c.title, c.created, c.updated, count(t.position) FROM conversations c "
            "LEFT JOIN turns t ON t.conversation_id = c.id GROUP BY c.id ORDER BY c.updated DESC").fetchall()
        return [SavedConversation(*row) for row in rows]

    def resolve(self, prefix: str) -> str:
        rows = self.con.execute("SELECT id FROM conversations WHERE id LIKE ?", (prefix + "%",)).fetchall()
        if len(rows) == 1:
            return rows[0][0]
        if not rows:
            raise ConfigError(f"no saved conversation {prefix!r}", "see `assistant history list`")
        raise ConfigError(f"{prefix!r} matches {len(rows)} conversations", "give more characters of the id")

    def answers(self, conversation_id: str) -> list[Answer]:
        rows = self.con.execute("SELECT record FROM turns WHERE conversation_id = ? ORDER BY position",
                                (conversation_id,)).fetchall()
        return [answer_from_record(json.loads(r[0])) for r in rows]

    def get(self, conversation_id: str) -> SavedConversation:
        for saved in self.list():
            if saved.id == conversation_id:
                return saved
        raise ConfigError(f"no saved conversation {conversation_id!r}", "see `assistant history list`")

    def rename(self, conversation_id: str, title: str) -> None:
        if not title.strip():
            raise ConfigError("the new title is empty", "give a title")
        with self.transaction() as con:
            con.execute("UPDATE conversations SET title = ? WHERE id = ?", (_title(title), conversation_id))

    def delete(self, conversation_id: str) -> None:
        with self.transaction() as con:
            con.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    def markdown(self, conversation_id: str) -> str:
        """The conversation as Markdown: questions, answers, and the sources each cited."""
        saved = self.get(conversation_id)
        out = [f"# {saved.title}", "", f"*{time.strftime('%Y-%m-%d %H:%M', time.localtime(saved.created))}*", ""]
        for answer in self.answers(conversation_id):
            out += [f"**You:** {answer.question}", "", answer.text.strip(), ""]
            if answer.citations:
                out.append("Sources: " + "; ".join(f"[{c.marker}] `{c.passage.location}`" for c in answer.citations))
                out.append("")
        return "\n".join(out)


def _title(text: str) -> str:
    words = " ".join(text.split())
    return words if len(words) <= 60 else words[:57].rstrip() + "…"
