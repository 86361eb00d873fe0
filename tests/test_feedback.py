"""The feedback plugin: store with provenance, validation, tie-aware export,
crash safety under concurrent writers, and the CLI on the real model."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import textwrap

import pytest

from assistant import AssistantError, Decoding, Feedback, Passage, Prompt, Settings, hookimpl
from assistant.engine import Engine
from assistant.plugins import make_plugin_host
from assistant.testing import ScriptedLLM
from assistant_plugins.feedback.export import export
from assistant_plugins.feedback.store import FeedbackStore

from .conftest import REPO, run_cli


class OnePassage:
    """Registers a retriever that always finds one passage."""

    class One:
        def __init__(self, collection, settings, loaders):
            pass

        def search(self, query, k):
            return [Passage(id="doc:1", text="Owls hunt at night.", source="owls.md", start_line=3, end_line=4)]

    @hookimpl
    def register_retrievers(self, register):
        register("one", self.One)


def make_answer(reply: str = "an answer", **kwargs):
    """A real Answer from the engine, with the built-in feedback plugin storing it."""
    host = make_plugin_host(extra=[("one_passage", OnePassage())])
    engine = Engine(Settings(retriever="one"), host=host, llm=ScriptedLLM(reply))
    return engine, engine.answer("When do owls hunt?", **kwargs)


@pytest.fixture
def store(tmp_path):
    s = FeedbackStore(tmp_path / "feedback.sqlite")
    yield s
    s.close()


def test_answers_are_stored_with_provenance_and_candidates_as_siblings(home):
    engine, answer = make_answer(options={"samples": 3}, decoding=Decoding(temperature=0.7, max_new_tokens=9))
    store = FeedbackStore(home / "feedback.sqlite")  # written by the built-in plugin's on_answer
    [stored] = store.answers([answer.id])
    assert stored.question == "When do owls hunt?" and stored.text == answer.text
    assert stored.strategy == "zero_shot" and stored.model == "scripted"
    assert stored.passages == [{"id": "doc:1", "location": "owls.md:3-4", "score": pytest.approx(0.0)}]
    assert stored.decoding["temperature"] == 0.7 and stored.usage["model_calls"] == 1
    assert stored.prompt_messages[-1]["content"].endswith("Question: When do owls hunt?")
    assert [s.id for s in store.siblings(answer.id)] == [answer.id] + [f"{answer.id}-{i}" for i in range(3)]
    assert store.stats()["answers"] == 1 and store.stats()["candidates"] == 3


def test_feedback_through_the_engine_is_stored(home):
    engine, answer = make_answer()
    assert engine.feedback(Feedback(kind="rating", answer_ids=(answer.id,), value=1.0, comment="good")) == []
    [event] = FeedbackStore(home / "feedback.sqlite").events()
    assert (event.kind, event.answer_ids, event.value, event.comment) == ("rating", (answer.id,), 1.0, "good")


def test_bad_feedback_is_refused_clearly(store, home):
    _, answer = make_answer()
    store = FeedbackStore(home / "feedback.sqlite")
    with pytest.raises(AssistantError, match="no stored answer with id 'nope'"):
        store.add_feedback(Feedback(kind="ranking", answer_ids=(answer.id, "nope"), ranking=((answer.id,), ("nope",))))
    with pytest.raises(AssistantError, match="exactly two answers"):
        store.add_feedback(Feedback(kind="pairwise", answer_ids=(answer.id,)))
    with pytest.raises(AssistantError, match="needs a value"):
        store.add_feedback(Feedback(kind="rating", answer_ids=(answer.id,)))
    with pytest.raises(AssistantError, match="appears twice"):
        store.add_feedback(Feedback(kind="pairwise", answer_ids=(answer.id, answer.id)))
    assert store.events() == []  # nothing half-written
    with pytest.raises(AssistantError, match="no stored answer"):
        store.resolve("zzz")


def seeded_store(store: FeedbackStore, texts: dict[str, str], question: str = "Q?") -> None:
    """Hand-built answers sharing one prompt, ids as given."""
    from assistant import Answer, Usage

    for answer_id, text in texts.items():
        store.add_answer(Answer(id=answer_id, question=question, text=text, citations=(), passages=(), steps=(),
                                usage=Usage(), strategy="s", options={}, model="m", decoding=Decoding(),
                                prompt=Prompt(input=question)))


def pairs_of(store):
    result = export("pairs", {a.id: a for a in store.answers()}, store.events())
    return {(r["metadata"]["chosen_id"], r["metadata"]["rejected_id"], r["margin"]) for r in result.rows}, result


def test_pair_export_never_invents_order_among_ties(store):
    seeded_store(store, {"a": "alpha", "b": "beta", "c": "gamma", "d": "delta", "e": "unranked"})
    store.add_feedback(Feedback(kind="ranking", answer_ids=("a", "b", "c", "d"), ranking=(("a",), ("b", "c"), ("d",))))
    pairs, result = pairs_of(store)
    assert pairs == {("a", "b", 1.0), ("a", "c", 1.0), ("a", "d", 2.0), ("b", "d", 1.0), ("c", "d", 1.0)}
    assert result.dropped["tied"] == 1  # b = c
    assert not any("e" in p[:2] for p in pairs)  # the unranked sibling is not used
    row = result.rows[0]
    assert row["prompt"][-1] == {"role": "user", "content": "Q?"} and row["chosen"][0]["role"] == "assistant"


def test_single_answers_all_tied_and_equal_texts_give_no_pairs(store):
    seeded_store(store, {"a": "same", "b": "same", "c": "other"})
    store.add_feedback(Feedback(kind="ranking", answer_ids=("a", "c"), ranking=(("a", "c"),)))  # one tier: all tied
    store.add_feedback(Feedback(kind="ranking", answer_ids=("a", "b"), ranking=(("a",), ("b",))))  # equal texts
    pairs, result = pairs_of(store)
    assert pairs == set() and result.dropped == {"tied": 1, "same_text": 1, "different_prompts": 0}


def test_pairs_across_questions_are_dropped_and_choices_count(store):
    seeded_store(store, {"a": "A1", "b": "B1"}, question="First?")
    seeded_store(store, {"x": "X1"}, question="Second?")
    store.add_feedback(Feedback(kind="pairwise", answer_ids=("a", "b")))
    store.add_feedback(Feedback(kind="pairwise", answer_ids=("a", "x")))
    pairs, result = pairs_of(store)
    assert pairs == {("a", "b", 1.0)} and result.dropped["different_prompts"] == 1


def test_kto_uses_the_latest_rating_and_sft_takes_the_top(store):
    seeded_store(store, {"a": "A", "b": "B", "c": "C", "d": "D"})
    store.add_feedback(Feedback(kind="rating", answer_ids=("a",), value=1))
    store.add_feedback(Feedback(kind="rating", answer_ids=("b",), value=1))
    store.add_feedback(Feedback(kind="rating", answer_ids=("b",), value=-1))  # changed their mind
    store.add_feedback(Feedback(kind="ranking", answer_ids=("c", "d"), ranking=(("c",), ("d",))))
    answers = {a.id: a for a in store.answers()}
    kto = export("kto", answers, store.events()).rows
    assert {(r["metadata"]["answer_id"], r["label"]) for r in kto} == {("a", True), ("b", False)}
    sft = export("sft", answers, store.events()).rows
    assert [r["metadata"]["answer_id"] for r in sft] == ["a", "c"]


WRITER = textwrap.dedent("""
    import sys, time
    sys.path[:0] = {paths!r}
    from assistant import Answer, Decoding, Feedback, Usage
    from assistant_plugins.feedback.store import FeedbackStore
    store = FeedbackStore(sys.argv[1])
    worker, count = sys.argv[2], int(sys.argv[3])
    for i in range(count):
        store.add_feedback(Feedback(kind="rating", answer_ids=("seed",), value=1, comment=f"{{worker}}:{{i}}"))
        print(f"{{worker}}:{{i}}", flush=True)  # printed only after the commit
""")


def test_sigkill_during_concurrent_writes_loses_no_committed_row(store, tmp_path):
    seeded_store(store, {"seed": "text"})
    script = tmp_path / "writer.py"
    script.write_text(WRITER.format(paths=[str(REPO), str(REPO / "plugins")]))
    workers = [subprocess.Popen([sys.executable, str(script), str(store.path), f"w{n}", "250"],
                                stdout=subprocess.PIPE, text=True) for n in range(4)]
    victim = workers[0]
    seen = [victim.stdout.readline() for _ in range(20)]  # let it commit a few, then kill it mid-stream
    victim.send_signal(signal.SIGKILL)
    outputs = [p.communicate(timeout=120)[0] for p in workers]
    committed = {line.strip() for line in "".join(seen).splitlines() + "".join(outputs).splitlines() if line.strip()}
    stored = {e.comment for e in FeedbackStore(store.path).events()}
    assert committed <= stored, f"committed rows missing: {sorted(committed - stored)[:5]}"
    assert sum(1 for c in stored if not c.startswith("w0:")) == 750  # the others all finished
    assert victim.returncode == -signal.SIGKILL
    assert FeedbackStore(store.path).integrity_ok()


def test_export_of_an_empty_store_is_a_clean_error(home):
    result = run_cli("feedback", "export", "--format", "pairs")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "error: no feedback to export as pairs" in result.stderr and "hint:" in result.stderr


@pytest.mark.real_model
def test_ask_rank_candidates_and_export_on_the_real_model(home, tmp_path):
    asked = run_cli("ask", "Name a colour.", "--no-retrieval", "-o", "samples=3", "--temperature", "1.0",
                    "--seed", "5", "--max-new-tokens", "12", "--dtype", "float32")
    assert asked.returncode == 0, asked.stderr
    candidates = re.search(r"candidates: (.*)", asked.stderr).group(1).split()
    assert len(candidates) == 3
    ranked = run_cli("feedback", "rank", candidates[0], f"{candidates[1]}={candidates[2]}", "--comment", "test")
    assert ranked.returncode == 0, ranked.stderr
    answer_id = re.search(r"answer ([0-9a-f]{16})", asked.stderr).group(1)
    rated = run_cli("feedback", "rate", answer_id[:8], "up")
    assert rated.returncode == 0, rated.stderr
    out = tmp_path / "pairs.jsonl"
    exported = run_cli("feedback", "export", "--format", "pairs", "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert 1 <= len(rows) <= 2  # candidate 0 over each of the tied others, unless their texts are equal
    assert all(r["metadata"]["chosen_id"] == candidates[0] for r in rows)
    stats = run_cli("feedback", "stats").stdout
    assert "rankings      1" in stats and "ratings_up    1" in stats and "candidates    3" in stats
    assert "Name a colour." in run_cli("feedback", "list").stdout
    assert run_cli("feedback", "rank", "nonexistent", answer_id).stderr.startswith("error: no stored answer")
