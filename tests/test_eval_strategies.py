"""`assistant eval strategies`: data loading, scoring, the interval, workers."""

from __future__ import annotations

import json

import pytest

from assistant import Settings
from assistant.engine import Engine
from assistant.evaluation.strategies import Problem, evaluate, is_correct, load_problems, wilson
from assistant.testing import ScriptedLLM
from assistant.types import Decoding

from .conftest import SHARED_DATA, run_cli

SVAMP = SHARED_DATA / "svamp" / "SVAMP.json"
GSM8K = SHARED_DATA / "gsm8k" / "test.jsonl"


def test_wilson_interval_matches_known_values():
    low, high = wilson(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)
    assert wilson(0, 300)[0] == 0.0 and wilson(0, 300)[1] == pytest.approx(0.0126, abs=1e-4)
    assert wilson(0, 0) == (0.0, 1.0)


def test_loads_svamp_and_gsm8k():
    if not SVAMP.exists() or not GSM8K.exists():
        pytest.skip("the shared data sets are not available")
    svamp = load_problems(SVAMP)
    assert len(svamp) == 1000 and svamp[0].answer == 51.0 and svamp[0].question.endswith("each pack?")
    gsm = load_problems(GSM8K)
    assert gsm[0].answer == 18.0 and "Janet" in gsm[0].question


def test_bad_data_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q", "answer": "no final number"}\n')
    with pytest.raises(Exception, match="#### N"):
        load_problems(bad)


def test_scoring_counts_each_strategy_on_the_same_questions():
    problems = [Problem("a", "What is 2 + 3?", 5.0), Problem("b", "What is 10 - 4?", 6.0)]

    def reply(prompt: str, i: int) -> str:
        return "2 + 3 = 5. The answer is 5." if "2 + 3" in prompt else "The answer is 7."

    engine = Engine(Settings(), llm=ScriptedLLM(reply))
    scores = evaluate(engine, ["zero_shot", "self_consistency"], problems, Decoding(max_new_tokens=32))
    for name in ("zero_shot", "self_consistency"):
        assert (scores[name].questions, scores[name].correct) == (2, 1)
        assert [p["correct"] for p in scores[name].predictions] == [True, False]
    assert scores["zero_shot"].model_calls == 2 and scores["self_consistency"].tokens > scores["zero_shot"].tokens
    assert is_correct("$1,250.0", 1250) and not is_correct("about five", 5)


def test_a_seed_gives_each_question_its_own_repeatable_seed():
    from assistant.evaluation.strategies import question_seed

    problems = [Problem("a", "What is 2 + 3?", 5.0), Problem("b", "What is 10 - 4?", 6.0)]

    def seeds(seed):
        llm = ScriptedLLM("The answer is 5.")
        evaluate(Engine(Settings(), llm=llm), ["zero_shot", "self_consistency"], problems,
                 Decoding(max_new_tokens=8, temperature=0.7), seed=seed)
        return [c.decoding.seed for c in llm.calls if c.kind == "generate"]

    seeded = seeds(3)
    # per strategy, one call per question; each question its own seed, the same for every strategy
    assert seeded == [question_seed(3, "a"), question_seed(3, "b")] * 2
    assert seeded[0] != seeded[1] and seeds(3) == seeded and seeds(4) != seeded
    assert seeds(None) == [None] * 4


@pytest.mark.real_model
def test_cli_on_svamp_with_two_workers(tmp_path, home):
    if not SVAMP.exists():
        pytest.skip("SVAMP is not available")
    out = tmp_path / "svamp.json"
    # the workers run on the backend the parent was given, and the report names it
    result = run_cli("--backend", "transformers", "eval", "strategies", "--dataset", str(SVAMP),
                     "--strategies", "zero_shot,chain_of_thought",
                     "--limit", "2", "--max-new-tokens", "12", "--workers", "2", "--seed", "7", "--json", str(out))
    assert result.returncode == 0, result.stderr
    assert "zero_shot" in result.stdout and "95% CI" in result.stdout
    report = json.loads(out.read_text())
    assert "(embedded)" in report["model"] and "[llama.cpp]" not in report["model"]
    assert f"model {report['model']}," in result.stdout and ", seed 7" in result.stdout and report["seed"] == 7
    assert [s["questions"] for s in report["summary"]] == [2, 2]
    assert {p["id"] for p in report["scores"]["zero_shot"]["predictions"]} == {"chal-1", "chal-2"}
    bad = run_cli("eval", "strategies", "--dataset", str(SVAMP), "--strategies", "nope", "--limit", "1")
    assert bad.returncode != 0 and "unknown strategy" in bad.stderr


def test_workers_load_the_plugins_folder_too(tmp_path, home):
    """A strategy and a backend from --plugins-dir exist in every worker process."""
    if not SVAMP.exists():
        pytest.skip("SVAMP is not available")
    from assistant.docgen import EXAMPLES

    out = tmp_path / "canned.json"
    result = run_cli("--plugins-dir", str(EXAMPLES), "eval", "strategies", "--dataset", str(SVAMP),
                     "--strategies", "one_sentence", "--model", "canned:The answer is 7.", "--limit", "2",
                     "--workers", "2", "--json", str(out))
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert report["model"] == "canned:The answer is 7." and [s["questions"] for s in report["summary"]] == [2]
    assert {p["id"] for p in report["scores"]["one_sentence"]["predictions"]} == {"chal-1", "chal-2"}


def test_workers_share_the_cores_unless_threads_is_set(monkeypatch):
    from assistant.cli.eval_strategies import worker_env

    monkeypatch.setattr("assistant.cli.eval_strategies.usable_cores", lambda: 16)
    monkeypatch.delenv("ASSISTANT_THREADS", raising=False)
    assert worker_env(0, 4)["ASSISTANT_THREADS"] == "4"
    assert worker_env(0, 32)["ASSISTANT_THREADS"] == "1"
    assert "ASSISTANT_THREADS" not in worker_env(3, 4)  # the user's choice (file or environment) stands
