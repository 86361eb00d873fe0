"""The command line: the happy path and clear one-line errors for user mistakes."""

from __future__ import annotations

import json

import pytest

from .conftest import SAMPLE, run_cli


def assert_clean_error(result, *needles: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr  # one line (plus an optional hint), after any progress output
    for needle in needles:
        assert needle in result.stderr, result.stderr


def test_help_teaches_the_commands():
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("index", "ask", "plugins", "strategies", "bench", "config"):
        assert command in result.stdout
    assert "assistant index ~/notes" in result.stdout
    ask_help = run_cli("ask", "--help").stdout
    assert "--strategy" in ask_help and "--top-k" in ask_help and "Examples:" in ask_help


def test_strategies_lists_docs_and_options():
    result = run_cli("strategies")
    assert result.returncode == 0
    assert "zero_shot  (plugin zero_shot)" in result.stdout
    assert "-o samples=...  default 1." in result.stdout


def test_missing_and_empty_folders(tmp_path):
    assert_clean_error(run_cli("index", str(tmp_path / "missing")), "does not exist")
    (tmp_path / "empty").mkdir()
    assert_clean_error(run_cli("index", str(tmp_path / "empty")), "no indexable files", "hint:")


def test_unknown_strategy_lists_the_available_ones(home):
    assert_clean_error(run_cli("ask", "hi", "--strategy", "nope"), "unknown strategy 'nope'", "available: best_of_n, chain_of_density, chain_of_thought, chain_of_verification, least_to_most, self_consistency, tree_of_thought, zero_shot")


def test_unknown_model_is_a_clean_error(home):
    assert_clean_error(run_cli("ask", "hi", "--no-retrieval", "--model", "nobody/not-a-model-xyz"),
                       "not in the Hugging Face cache", "hf download")
    assert_clean_error(run_cli("ask", "hi", "--model", "./nowhere/model.gguf"), "does not exist")


@pytest.mark.real_model  # ask loads the generator before the retriever finds no index
def test_ask_before_index_says_what_to_do(home):
    assert_clean_error(run_cli("ask", "hi"), "has not been indexed yet", "assistant index PATH")


def test_bad_config_is_a_clean_error(tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_text("top_kk = 3\n")
    assert_clean_error(run_cli("--config", str(cfg), "config"), "unknown setting 'top_kk'", "valid settings")
    cfg.write_text("top_k = 'many'\n")
    assert_clean_error(run_cli("--config", str(cfg), "config"), "must be int")


def test_bad_strategy_option_is_a_clean_error(home):
    assert_clean_error(run_cli("ask", "hi", "-o", "samples"), "not KEY=VALUE")
    assert_clean_error(run_cli("ask", "hi", "-o", "colour=red"), "has no option 'colour'", "samples")


@pytest.mark.real_model
def test_question_longer_than_the_context_window(home):
    question = "Explain this. " + "word " * 600
    result = run_cli("ask", "-", "--no-retrieval", "--context-window", "512", input=question)
    assert_clean_error(result, "question is too long", "tokens but only")


@pytest.mark.real_model
def test_index_then_ask_with_json(home):
    # one index and one ask end to end in real processes, as a user runs them; the rest runs in-process
    indexed = run_cli("index", str(SAMPLE), "--json", process=True)
    assert indexed.returncode == 0, indexed.stderr
    assert json.loads(indexed.stdout)["added"] == len(list(SAMPLE.iterdir()))
    result = run_cli("ask", "Which environment variable is the allow-list of plugins?", "--json",
                     "--max-new-tokens", "40", "--dtype", "float32", process=True)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["text"] and data["usage"]["model_calls"] == 1
    assert data["passages"][0]["source"] == "plugins.md"
    assert all({"source", "start_line", "end_line", "location"} <= set(c) for c in data["citations"])
    plain = run_cli("ask", "How do I refresh the index?", "--max-new-tokens", "30", "--trace")
    assert plain.returncode == 0, plain.stderr
    assert "Sources:" in plain.stdout and "indexing.md" in plain.stdout and "Trace:" in plain.stdout


@pytest.mark.real_model
def test_search_and_corpora_commands(home, tmp_path):
    from assistant.testing import write_tiny_corpus

    corpus = write_tiny_corpus(tmp_path / "tiny")
    assert run_cli("index", str(corpus), "--collection", "tiny").returncode == 0
    found = run_cli("search", "What colour is the Golden Gate Bridge?", "-k", "2", "-c", "tiny", "--json")
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)
    assert hits[0]["source"] == "bridges/golden-gate.md" and hits[0]["heading"] == "The Golden Gate Bridge > Colour"
    assert hits[0]["location"] == "bridges/golden-gate.md:1-5" and len(hits) == 2
    listed = json.loads(run_cli("corpora", "list", "--json").stdout)
    assert [(m["name"], m["files"]) for m in listed] == [("tiny", 3)]
    shown = run_cli("corpora", "show", "tiny").stdout
    assert "owls.md  (1 chunks)" in shown and f"root            {corpus}" in shown
    declined = run_cli("corpora", "rm", "tiny", input="n\n")
    assert declined.returncode == 1 and json.loads(run_cli("corpora", "list", "--json").stdout)
    assert run_cli("corpora", "rm", "tiny", "--yes").returncode == 0
    assert_clean_error(run_cli("corpora", "show", "tiny"), "no collection named 'tiny'")
    assert_clean_error(run_cli("search", "anything", "-c", "tiny"), "has not been indexed yet")
    assert corpus.exists() and (corpus / "owls.md").exists()  # documents untouched


def test_bench_prints_a_table_and_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    result = run_cli("bench", "--only", "help", "--repeat", "2", "--json", str(out))
    assert result.returncode == 0, result.stderr
    assert "assistant --help wall time" in result.stdout and "python -c pass" not in result.stdout
    data = json.loads(out.read_text())
    [row] = data["rows"]
    assert row["name"] == "help.wall_s" and row["bench"] == "help" and row["unit"] == "s" and row["value"] > 0
    assert row["baseline"] > 0 and row["ratio"] == pytest.approx(row["baseline"] / row["value"])
    assert row["met"] in (True, False) and data["repeat"] == 2 and data["quick"] is False
    assert_clean_error(run_cli("bench", "--only", "nonsense"), "unknown benchmark(s): nonsense", "available:")


def test_chat_refuses_a_wrong_retriever_option_or_collection_before_its_window_opens(home):
    wrong = run_cli("chat", "-R", "bogus=1")
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr
    assert "bogus" in wrong.stderr and "chunk_tokens" in wrong.stderr  # names the options there are
    bad_name = run_cli("chat", "--collection", "no such/name")
    assert bad_name.returncode != 0 and "invalid collection name" in bad_name.stderr
