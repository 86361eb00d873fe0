"""ROUGE as Lin (2004) defines it, and the summaries evaluation on the real model."""

from __future__ import annotations

import pytest

from assistant.evaluation import summaries as ev
from tests.conftest import SHARED_DATA


def test_rouge_matches_hand_computed_values():
    reference = "the cat sat on the mat"
    candidate = "the cat lay on the mat"
    # unigrams: 5 of 6 shared each way -> F1 5/6; bigrams: (the cat),(on the),(the mat) = 3 of 5
    assert ev.rouge_n(candidate, reference, 1) == pytest.approx(5 / 6)
    assert ev.rouge_n(candidate, reference, 2) == pytest.approx(3 / 5)
    assert ev.rouge_l(candidate, reference) == pytest.approx(5 / 6)  # LCS: the cat on the mat
    assert ev.rouge_l("mat the on sat cat the", reference) == pytest.approx(3 / 6)  # LCS: the on the
    assert ev.rouge("", reference) == {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    assert ev.lcs_length(list("ABCBDAB"), list("BDCABA")) == 4  # the textbook example


@pytest.mark.real_model
@pytest.mark.skipif(not (SHARED_DATA / "qa" / "pubmedqa_sample200.jsonl").exists(), reason="needs ../shared/data")
def test_chain_of_density_and_zero_shot_are_scored_round_by_round(real_llm):
    from assistant import Settings
    from assistant.engine import Engine

    docs = ev.load_documents(SHARED_DATA / "qa" / "pubmedqa_sample200.jsonl")[:1]
    engine = Engine(Settings(device="cpu", instructions=ev.INSTRUCTIONS,
                             plugins={"strategy.chain_of_density": {"rounds": 1}}), llm=real_llm)
    results = ev.evaluate(engine, ["zero_shot", "chain_of_density"], docs, engine.decoding(max_new_tokens=48), words=30)
    for name in ("zero_shot", "chain_of_density"):
        assert len(results[name].scores) == 1 and 0 < results[name].scores[0]["rouge1"] <= 1
    assert sorted(results["chain_of_density"].rounds) == [0, 1]
    assert results["chain_of_density"].model_calls == 2
    assert "round 1" in ev.table(results)
