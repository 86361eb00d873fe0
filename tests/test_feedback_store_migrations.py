"""Feedback-store schema migrations (plugins/feedback/store.py) on real SQLite
files: a new store gets every migration, an older one is brought up to date
keeping its rows, a failing migration leaves the store as it was, and a store
written by a newer version is refused, untouched, with a message that says
what to do."""

from __future__ import annotations

import sqlite3

import pytest

from assistant import AssistantError, Feedback
from assistant_plugins.feedback import store as store_module
from assistant_plugins.feedback.store import FeedbackStore

from .conftest import run_cli
from .test_feedback import make_answer


def user_version(path) -> int:
    con = sqlite3.connect(path)
    try:
        return con.execute("PRAGMA user_version").fetchone()[0]
    finally:
        con.close()


def columns(path, table: str) -> list[str]:
    con = sqlite3.connect(path)
    try:
        return [row[1] for row in con.execute(f"PRAGMA table_info({table})")]
    finally:
        con.close()


@pytest.fixture
def filled(home):
    """A store at today's schema holding one answer and one rating, written through the engine."""
    engine, answer = make_answer()
    engine.feedback(Feedback(kind="rating", answer_ids=(answer.id,), value=1.0, comment="good"))
    path = home / "feedback.sqlite"
    assert user_version(path) == len(store_module.MIGRATIONS)
    return path, answer


def test_a_new_store_runs_every_migration(tmp_path):
    path = tmp_path / "feedback.sqlite"
    FeedbackStore(path).close()
    assert user_version(path) == len(store_module.MIGRATIONS) >= 1
    assert {"id", "group_id", "prompt_messages", "passages", "usage"} <= set(columns(path, "answers"))
    assert {"kind", "answer_ids", "ranking", "comment"} <= set(columns(path, "events"))
    FeedbackStore(path).close()  # opening again migrates nothing (it would fail: the tables exist)
    assert user_version(path) == len(store_module.MIGRATIONS)


def test_an_older_store_is_migrated_and_keeps_its_rows(filled, monkeypatch):
    path, answer = filled
    old = len(store_module.MIGRATIONS)
    # the next version of the schema, as a release would add it
    monkeypatch.setattr(store_module, "MIGRATIONS", [*store_module.MIGRATIONS, """
        ALTER TABLE answers ADD COLUMN reviewed INTEGER NOT NULL DEFAULT 0;
        CREATE INDEX events_kind ON events(kind)
    """])
    store = FeedbackStore(path)
    try:
        assert user_version(path) == old + 1
        assert "reviewed" in columns(path, "answers")
        [stored] = store.answers([answer.id])
        assert stored.text == answer.text
        assert [(e.kind, e.value, e.comment) for e in store.events()] == [("rating", 1.0, "good")]
        assert store.con.execute("SELECT reviewed FROM answers WHERE id = ?", (answer.id,)).fetchone() == (0,)
        assert store.integrity_ok()
    finally:
        store.close()
    FeedbackStore(path).close()  # already at the new version: not migrated twice
    assert user_version(path) == old + 1


def test_a_failing_migration_leaves_the_store_as_it_was(filled, monkeypatch):
    path, answer = filled
    old = len(store_module.MIGRATIONS)
    original = list(store_module.MIGRATIONS)
    monkeypatch.setattr(store_module, "MIGRATIONS", [*original, """
        ALTER TABLE answers ADD COLUMN reviewed INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE no_such_table ADD COLUMN x INTEGER
    """])
    with pytest.raises(sqlite3.OperationalError, match="no_such_table"):
        FeedbackStore(path)
    # one transaction: the first statement of the failed migration is rolled back with it
    assert user_version(path) == old and "reviewed" not in columns(path, "answers")
    monkeypatch.setattr(store_module, "MIGRATIONS", original)
    store = FeedbackStore(path)
    try:
        assert [a.id for a in store.answers([answer.id])] == [answer.id] and len(store.events()) == 1
    finally:
        store.close()


def test_a_store_from_a_newer_version_is_refused_and_left_untouched(filled):
    path, answer = filled
    newer = len(store_module.MIGRATIONS) + 1
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version = {newer}")
    con.close()
    with pytest.raises(AssistantError, match=rf"written by a newer version \(schema {newer}\)") as refused:
        FeedbackStore(path)
    assert refused.value.hint == "upgrade the assistant"
    assert user_version(path) == newer  # not "migrated" down, nothing run on it
    con = sqlite3.connect(path)
    try:
        assert con.execute("SELECT id FROM answers").fetchall() == [(answer.id,)]
    finally:
        con.close()
    # the command line says it in one line, without a traceback
    result = run_cli("feedback", "stats")
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
    assert f"newer version (schema {newer})" in result.stderr and "upgrade the assistant" in result.stderr
