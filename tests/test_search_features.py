"""Retrieval beyond the first stage: the IVF index of large collections,
metadata filters, MMR, the cross-encoder reranker, JSONL corpora, and
follow-up questions in a conversation. All on the real embedder and a real
FAISS index."""

from __future__ import annotations

import json
import shutil

import pytest

from assistant import Conversation, Message, ModelError, Settings, mmr
from assistant.engine import Engine
from assistant.testing import ScriptedLLM
from assistant_plugins.faiss_retrieval import vector_index
from assistant_plugins.faiss_retrieval.ranking import Filters

from .conftest import SAMPLE, run_cli

# real_model test by test: the IVF round trip and the MMR arithmetic need no embedder

ANIMALS = ["owls", "foxes", "badgers", "herons", "otters", "moles", "hares", "wrens", "voles", "stoats"]


def write_notes(folder, count):
    """``count`` one-chunk notes, each about a different animal and number."""
    folder.mkdir(exist_ok=True)
    for i in range(count):
        animal = ANIMALS[i % len(ANIMALS)]
        (folder / f"note{i:03d}.md").write_text(
            f"# Note {i}\n\nField note {i}: we counted {i * 7 + 3} {animal} near the river today.\n")
    return folder


@pytest.mark.real_model
def test_large_collection_switches_to_ivf_and_keeps_exact_answers(home, tmp_path):
    notes = write_notes(tmp_path / "notes", 120)
    ivf = Engine(Settings(device="cpu", plugins={"faiss": {"ann_threshold": 50}}))
    exact = Engine(Settings(device="cpu", plugins={"faiss": {"ann_threshold": 0}}))
    ivf.index(notes, collection="ivf")
    exact.index(notes, collection="exact")
    manifest = ivf.retriever("ivf").store.manifest()
    assert manifest.index["kind"] == "ivf" and manifest.index["trained_on"] == 120
    assert exact.retriever("exact").store.manifest().index["kind"] == "flat"
    for query in ("how many otters were counted", "Field note 42", "stoats by the river"):
        got = [p.source for p in ivf.retriever("ivf").search(query, 5, mode="dense")]
        want = [p.source for p in exact.retriever("exact").search(query, 5, mode="dense")]
        assert got == want  # nprobe covers every list of this small index: same as exact
    # deletes and additions go into the IVF index without retraining; a fresh engine reloads it
    (notes / "note042.md").unlink()
    (notes / "extra.md").write_text("# Extra\n\nA kingfisher dived for minnows.\n")
    report = ivf.index(notes, collection="ivf")
    assert (report.removed, report.added, report.chunks_embedded) == (1, 1, 1)
    fresh = Engine(Settings(device="cpu", plugins={"faiss": {"ann_threshold": 50}})).retriever("ivf")
    assert fresh.store.manifest().index == manifest.index
    assert "note042.md" not in [p.source for p in fresh.search("Field note 42", 10, mode="dense")]
    assert fresh.search("kingfisher minnows", 1, mode="dense")[0].source == "extra.md"
    # shrinking well below the threshold goes back to exact search
    for path in sorted(notes.glob("note*.md"))[10:]:
        path.unlink()
    ivf.index(notes, collection="ivf")
    assert ivf.retriever("ivf").store.manifest().index["kind"] == "flat"
    assert ivf.retriever("ivf").search("kingfisher", 1)[0].source == "extra.md"


def test_ivf_vectors_round_trip_and_grow_retrains():
    import numpy as np

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((900, 16)).astype("float32")
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(100, 1000, dtype="int64")
    flat = vector_index.new_flat(16)
    flat.add_with_ids(vectors[:100], ids[:100])
    index, info = vector_index.fit(flat, vector_index.IndexInfo(), threshold=50)
    assert info.kind == "ivf" and info.trained_on == 100
    got_ids, got_vectors = vector_index.all_vectors(index)
    order = np.argsort(got_ids)
    assert (got_ids[order] == ids[:100]).all() and np.allclose(got_vectors[order], vectors[:100])
    assert np.allclose(vector_index.reconstruct(index, [105, 100]), vectors[[5, 0]])
    index.add_with_ids(vectors[100:], ids[100:])  # past eightfold growth: the quantizer is retrained
    index, grown = vector_index.fit(index, info, threshold=50)
    assert grown.trained_on == 900 and grown.nlist > info.nlist


@pytest.mark.real_model
def test_filters_restrict_every_mode(home, tmp_corpus):
    retriever = Engine(Settings(device="cpu")).retriever()
    for mode in ("dense", "bm25", "hybrid"):
        query = "green tea and barn owls"
        assert "tea.txt" in [p.source for p in retriever.search(query, 3, mode=mode)]
        only_md = retriever.search(query, 3, mode=mode, filters=Filters.parse(types="md"))
        assert only_md and all(p.source.endswith(".md") for p in only_md)
        bridges = retriever.search("colour", 3, mode=mode, filters=Filters.parse(paths="bridges/*"))
        assert [p.source for p in bridges] == ["bridges/golden-gate.md"]
        assert retriever.search("owls", 3, mode=mode, filters=Filters.parse(paths="nothing/*")) == []
    unfiltered = retriever.search("green tea steeping temperature", 1)
    assert unfiltered[0].source == "tea.txt"


@pytest.mark.real_model
def test_filter_flags_on_the_command_line(home, tmp_corpus):
    result = run_cli("search", "green tea", "--type", "md", "--json")
    assert result.returncode == 0, result.stderr
    assert {p["source"] for p in json.loads(result.stdout)} <= {"owls.md", "bridges/golden-gate.md"}
    result = run_cli("search", "green tea", "--path", "nowhere/*")
    assert result.returncode == 0 and "no passages match" in result.stderr
    result = run_cli("search", "green tea", "--mmr", "1.5")
    assert result.returncode == 2 and "1.5" in result.stderr
    # the plugin's flags and the generic -R set the same [plugins.faiss] options
    for flags in (["--mode", "bm25"], ["-R", "mode=bm25"]):
        result = run_cli("search", "green tea", *flags, "--json")
        assert result.returncode == 0, result.stderr
        assert {p["retriever"] for p in json.loads(result.stdout)} == {"faiss/bm25"}
    # they set the retriever in use, like -R: one without the option refuses it instead of ignoring it
    from assistant.docgen import EXAMPLES

    result = run_cli("--plugins-dir", str(EXAMPLES), "search", "green tea", "--mode", "bm25",
                     env={"ASSISTANT_RETRIEVER": "keyword"})
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "retriever 'keyword' takes no options, got ['mode']" in result.stderr


@pytest.mark.real_model
def test_mmr_prefers_a_different_passage_over_a_duplicate(home, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("Barn owls hunt small mammals at night.\n")
    (docs / "b.md").write_text("Barn owls hunt small mammals at night!\n")
    (docs / "c.md").write_text("Owls have silent flight feathers and hunt in the dark.\n")
    (docs / "d.md").write_text("Green tea is steeped at 80 degrees.\n")
    engine = Engine(Settings(device="cpu"))
    engine.index(docs)
    retriever = engine.retriever()
    plain = [p.source for p in retriever.search("barn owls hunting at night", 2, mode="dense")]
    assert sorted(plain) == ["a.md", "b.md"]
    diverse = [p.source for p in retriever.search("barn owls hunting at night", 2, mode="dense", mmr_lambda=0.5)]
    assert diverse[0] in ("a.md", "b.md") and diverse[1] == "c.md"


def test_mmr_arithmetic():
    import numpy as np

    vectors = np.array([[1, 0], [1, 0], [0.6, 0.8]], dtype="float32")
    assert mmr([1.0, 0.99, 0.9], vectors, 2, lambda_=1.0) == [0, 1]
    assert mmr([1.0, 0.99, 0.9], vectors, 2, lambda_=0.5) == [0, 2]
    assert mmr([], vectors[:0], 2, 0.5) == []


@pytest.mark.real_model
def test_reranker_reorders_by_its_own_scores(home, tmp_corpus):
    from assistant.models import resolve_embedder

    # No cross-encoder ships offline; a MiniLM encoder with a fresh scoring head
    # stands in. Its scores mean nothing, but the order must be exactly theirs.
    folder = resolve_embedder("embedded").location
    engine = Engine(Settings(device="cpu", plugins={"faiss": {"reranker": str(folder)}}))
    passages = engine.retriever().search("owls at night", 3)
    assert passages and all(p.retriever.endswith("+rerank") for p in passages)
    own = engine.retriever().reranker.scores("owls at night", [p.text for p in passages])
    assert [round(p.score, 4) for p in passages] == [round(s, 4) for s in own]
    assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)
    with pytest.raises(ModelError, match="reranker"):
        Engine(Settings(device="cpu", plugins={"faiss": {"reranker": str(home / "no-such-model")}})).retriever().search("owls", 1)


@pytest.mark.real_model
def test_jsonl_corpus_records_are_chunked_and_cited_by_line(home, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    records = [{"_id": "d1", "title": "Owls", "text": "Barn owls swallow their prey whole."},
               {"_id": "d2", "title": "Tea", "text": "Green tea is steeped for two minutes."},
               {"_id": "d3", "title": "", "text": ""},
               {"_id": "d4", "title": "Bridges", "text": "The Golden Gate Bridge is International Orange."}]
    (docs / "corpus.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    (docs / "log.jsonl").write_text('{"event": "start"}\n')
    (docs / "broken.jsonl").write_text('{"text": "fine"}\n{not json\n')
    engine = Engine(Settings(device="cpu"))
    report = engine.index(docs)
    reasons = dict(report.skipped)
    assert "text" in reasons["log.jsonl"] and "line 2 is not JSON" in reasons["broken.jsonl"]
    hit = engine.retriever().search("What colour is the Golden Gate Bridge?", 1)[0]
    assert (hit.source, hit.start_line, hit.heading) == ("corpus.jsonl", 4, "Bridges")
    assert hit.location == "corpus.jsonl:4"


@pytest.mark.real_model
def test_follow_up_questions_find_the_passages_of_the_conversation(home, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "zorblax.md").write_text("# Zorblax\n\nZorblax makes garden tools. It was founded in 1987 in Leeds.\n")
    (docs / "quintor.md").write_text("# Quintor\n\nQuintor builds fishing boats. It was founded in 1950 in Oslo.\n")
    engine = Engine(Settings(device="cpu"), llm=ScriptedLLM(["It was founded then."] * 10))
    engine.index(docs)
    for company, source in (("Zorblax", "zorblax.md"), ("Quintor", "quintor.md")):
        history = [Message("user", f"What does {company} make?"), Message("assistant", "Things.")]
        assert engine.retrieval_queries("When was it founded?", history)[1].startswith(f"What does {company}")
        answer = engine.answer("When was it founded?", history=history, top_k=1)
        assert answer.passages[0].source == source
    off = Engine(Settings(device="cpu", condense="off"), llm=ScriptedLLM(["x"]))
    assert off.retrieval_queries("When was it founded?", history) == ["When was it founded?"]


@pytest.mark.real_model
def test_conversation_keeps_citation_numbers_across_turns(home, tmp_corpus):
    llm = ScriptedLLM(["Barn owls hunt at night [1].", "Tea is steeped at 80 degrees [1].",
                       "Owls swallow prey whole [1]."])
    conversation = Conversation(Engine(Settings(device="cpu", top_k=1), llm=llm))
    first = conversation.ask("When do barn owls hunt?")
    second = conversation.ask("How hot is the water for green tea?")
    third = conversation.ask("And how do owls eat their prey?")
    # each turn's prompt numbered its passage [1]; the conversation keeps one number per passage
    assert [s.number for s in first.sources] == [1] and first.sources[0].passage.source == "owls.md"
    assert [s.number for s in second.sources] == [2] and second.sources[0].passage.source == "tea.txt"
    assert [s.number for s in third.sources] == [1] and conversation.passage(2).source == "tea.txt"
    assert third.sources[0].label.startswith("[1] owls.md:")
    # the model saw the earlier turns
    rendered = llm.calls[-1].prompts[0]
    assert "<user> When do barn owls hunt?\n<assistant> Barn owls hunt at night [1]." in rendered


@pytest.mark.real_model
def test_a_real_conversation_on_the_embedded_model(sample_engine):
    conversation = Conversation(sample_engine)
    first = conversation.ask("How do I build an index of my notes folder?")
    second = conversation.ask("And how do I refresh it after editing files?")
    assert first.answer.passages[0].source == "indexing.md"
    assert any(p.source == "indexing.md" for p in second.answer.passages)
    for turn in (first, second):
        assert turn.answer.text.strip()
        for source in turn.sources:
            assert source.passage.start_line is not None and source.passage.source
    retrieve = [s for s in second.answer.steps if s.kind == "retrieve"][0]
    assert len(retrieve.detail["queries"]) == 2


@pytest.fixture
def tmp_corpus(home, tmp_path):
    from assistant.testing import write_tiny_corpus

    corpus = write_tiny_corpus(tmp_path / "tiny")
    Engine(Settings(device="cpu")).index(corpus)
    return corpus


@pytest.mark.real_model
def test_sample_corpus_filter_by_folder_glob(home, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(SAMPLE, corpus)
    engine = Engine(Settings(device="cpu", plugins={"faiss": {"type_filter": "txt"}}))
    engine.index(corpus)
    assert {p.source for p in engine.retriever().search("installation", 5)} <= {"privacy.txt", "troubleshooting.txt"}


@pytest.mark.real_model
def test_condense_with_the_model_searches_its_rewrite(home, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "zorblax.md").write_text("# Zorblax\n\nZorblax makes garden tools. It was founded in 1987 in Leeds.\n")
    (docs / "quintor.md").write_text("# Quintor\n\nQuintor builds fishing boats. It was founded in 1950 in Oslo.\n")
    llm = ScriptedLLM(["When was Quintor founded?", "In 1950."])
    engine = Engine(Settings(device="cpu", condense="llm"), llm=llm)
    engine.index(docs)
    history = [Message("user", "What does Quintor build?"), Message("assistant", "Fishing boats.")]
    answer = engine.answer("When was it founded?", history=history, top_k=1)
    assert llm.calls[0].label == "condense" and "Follow-up question: When was it founded?" in llm.calls[0].prompts[0]
    retrieve = [s for s in answer.steps if s.kind == "retrieve"][0]
    assert retrieve.detail["queries"] == ["When was Quintor founded?"]
    assert answer.passages[0].source == "quintor.md"
