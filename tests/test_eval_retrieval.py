"""Retrieval metrics and `assistant eval retrieval` on BEIR data."""

from __future__ import annotations

import json
import math
import re

import pytest

from assistant.evaluation.metrics import evaluate, mrr_at_k, ndcg_at_k, recall_at_k

from .conftest import SHARED_DATA, run_cli


def test_metrics_match_hand_computation():
    ranked, judged = ["d1", "d2", "d3"], {"d2": 1, "d4": 1}
    assert ndcg_at_k(ranked, judged, 10) == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))
    assert recall_at_k(ranked, judged, 10) == 0.5 and recall_at_k(ranked, judged, 1) == 0.0
    assert mrr_at_k(ranked, judged, 10) == 0.5
    # graded relevance: the ideal order puts the grade-2 document first
    assert ndcg_at_k(["b", "a"], {"a": 2, "b": 1}, 10) == pytest.approx(
        (1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3)))
    assert ndcg_at_k(["a", "b"], {"a": 2, "b": 1}, 10) == pytest.approx(1.0)


def test_evaluate_averages_over_judged_queries_only():
    run = {"q1": ["x"], "q2": ["y"], "unjudged": ["z"]}
    qrels = {"q1": {"x": 1}, "q2": {"n": 1}}
    scores = evaluate(run, qrels)
    assert scores["nDCG@10"] == 0.5 and scores["MRR@10"] == 0.5 and scores["recall@100"] == 0.5


def write_scifact_subset(folder, judgements: int, distractors: int):
    """The first ``judgements`` SciFact test judgements (their queries and
    relevant abstracts) and ``distractors`` other abstracts, in BEIR layout."""
    source = SHARED_DATA / "scifact"
    if not (source / "corpus.jsonl").exists():
        pytest.skip(f"SciFact is not available at {source}")
    qrels_lines = (source / "qrels" / "test.tsv").read_text().splitlines()
    header, rows = qrels_lines[0], [line.split("\t") for line in qrels_lines[1:judgements + 1]]
    wanted_q = {r[0] for r in rows}
    relevant = {r[1] for r in rows}
    docs = []
    with open(source / "corpus.jsonl") as fh:
        for line in fh:
            doc = json.loads(line)
            if doc["_id"] in relevant or len(docs) < distractors + len(relevant):
                docs.append(line)
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text("".join(docs))
    queries = [line for line in (source / "queries.jsonl").read_text().splitlines(keepends=True)
               if json.loads(line)["_id"] in wanted_q]
    (folder / "queries.jsonl").write_text("".join(queries))
    (folder / "qrels" / "test.tsv").write_text("\n".join([header] + ["\t".join(r) for r in rows]) + "\n")
    return folder


@pytest.fixture
def scifact_subset(tmp_path):
    """20 SciFact test judgements, their relevant abstracts and 180 distractors."""
    return write_scifact_subset(tmp_path / "scifact-subset", 20, 180)


@pytest.fixture
def small_scifact(tmp_path):
    """5 judgements and 25 distractors: for what needs an index, not good metrics."""
    return write_scifact_subset(tmp_path / "scifact-small", 5, 25)


@pytest.mark.real_model
def test_eval_retrieval_on_real_scifact_claims(scifact_subset, tmp_path, home):
    out = tmp_path / "result.json"
    result = run_cli("eval", "retrieval", "--beir", str(scifact_subset), "--compare", "mode=dense,bm25,hybrid",
                     "--json", str(out))
    assert result.returncode == 0, result.stderr
    assert "nDCG@10" in result.stdout and "MRR@10" in result.stdout
    data = json.loads(out.read_text())
    assert data["retriever"] == "faiss"
    queries = len({line.split()[0] for line in (scifact_subset / "qrels" / "test.tsv").read_text().splitlines()[1:]})
    assert set(data["results"]) == {"dense", "bm25", "hybrid"} and data["compare"] == "mode"
    for mode, result in data["results"].items():
        assert result["queries"] == queries
        # Among ~200 abstracts the relevant one is usually near the top; the full set is measured in the note.
        assert 0.6 < result["metrics"]["nDCG@10"] <= 1.0, mode
        assert result["metrics"]["recall@100"] >= result["metrics"]["recall@10"]


    # a second run re-embeds nothing: the corpus folder and its collection are kept in the cache
    again = run_cli("eval", "retrieval", "--beir", str(scifact_subset), "--compare", "mode=dense", "--json", str(out))
    assert again.returncode == 0, again.stderr
    assert json.loads(out.read_text())["results"]["dense"]["metrics"] == data["results"]["dense"]["metrics"]
    documents = data["results"]["dense"]["documents"]
    assert f"0 added, 0 updated, 0 removed, {documents} unchanged, 0 chunks embedded" in again.stderr


@pytest.mark.real_model
def test_compare_over_an_indexing_option_searches_an_index_built_with_each_value(small_scifact, tmp_path, home):
    out = tmp_path / "chunks.json"
    result = run_cli("eval", "retrieval", "--beir", str(small_scifact), "--compare", "chunk_tokens=100000,120",
                     "--json", str(out))
    assert result.returncode == 0, result.stderr
    pattern = r"^(\S+): collection '(\S+)' synced .* (\d+) in all$"
    synced = {label: (collection, int(chunks)) for label, collection, chunks in re.findall(pattern, result.stderr, re.M)}
    documents = json.loads(out.read_text())["results"]["120"]["documents"]
    assert synced["100000"] == ("beir", documents)  # whole abstracts: one chunk each
    collection, chunks = synced["120"]
    assert collection == "beir-1" and chunks > documents  # its own index, cut at 120 tokens


def test_eval_retrieval_runs_on_any_registered_retriever(scifact_subset, tmp_path, home):
    """The docs' KeywordRetriever (no embeddings, no FAISS) through the same command."""
    from assistant.docgen import EXAMPLES

    out = tmp_path / "keyword.json"
    result = run_cli("--plugins-dir", str(EXAMPLES), "eval", "retrieval", "--beir", str(scifact_subset),
                     "--json", str(out), env={"ASSISTANT_RETRIEVER": "keyword"})
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text())
    assert data["retriever"] == "keyword" and list(data["results"]) == ["keyword"]
    # word overlap among ~200 abstracts finds the relevant one often, though less often than BM25 or embeddings
    assert 0.2 < data["results"]["keyword"]["metrics"]["nDCG@10"] <= 1.0
    assert "retriever 'keyword'" in result.stderr


def test_eval_retrieval_on_a_folder_that_is_not_beir(tmp_path):
    result = run_cli("eval", "retrieval", "--beir", str(tmp_path))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "is not a BEIR data set" in result.stderr


@pytest.mark.real_model
def test_eval_citations_on_the_squad_sample(tmp_path, home):
    qa = SHARED_DATA / "qa" / "squad_train_sample500.jsonl"
    if not qa.exists():
        pytest.skip(f"the SQuAD sample is not available at {qa}")
    out = tmp_path / "citations.json"
    result = run_cli("eval", "citations", "--qa", str(qa), "--limit", "60", "--json", str(out))
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert report["questions"] == 60 and report["passages"] <= 60
    # measured on all 500: 0.928 ranked first, 0.978 in the top 3
    assert report["first_is_gold"] >= 0.85 and report["gold_in_top_k"] >= report["first_is_gold"]
    assert "gold passage ranked first" in result.stdout
