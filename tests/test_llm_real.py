"""The LLM object on the real embedded model (SmolLM2-135M-Instruct, float32, CPU)."""

from __future__ import annotations

import pytest

from assistant import Decoding, Prompt
from assistant.llm import MeteredLLM

pytestmark = pytest.mark.real_model

CAPITAL = Prompt(input="What is the capital of France?")


def test_greedy_generate_answers_and_counts_tokens(real_llm):
    [[cand]] = real_llm.generate([CAPITAL], decoding=Decoding(max_new_tokens=24))
    assert "Paris" in cand.text
    assert 0 < cand.completion_tokens <= 24
    assert cand.prompt_tokens == real_llm.count_tokens(CAPITAL)
    assert cand.finish_reason == "stop"


def test_batched_prompts_and_samples_in_one_call(real_llm):
    groups = real_llm.generate([CAPITAL, "Name a fruit."], n=3,
                               decoding=Decoding(max_new_tokens=12, temperature=1.0, top_p=0.95, seed=7))
    assert [len(g) for g in groups] == [3, 3]
    assert [c.index for c in groups[1]] == [1, 1, 1]
    assert len({c.text for c in groups[0] + groups[1]}) > 1  # sampling gives different answers


def test_sampling_is_reproducible_with_a_seed(real_llm):
    d = Decoding(max_new_tokens=10, temperature=1.0, seed=123)
    first = [c.text for c in real_llm.generate([CAPITAL], n=2, decoding=d)[0]]
    again = [c.text for c in real_llm.generate([CAPITAL], n=2, decoding=d)[0]]
    assert first == again


def test_greedy_n_returns_equal_candidates(real_llm):
    group = real_llm.generate([CAPITAL], n=3, decoding=Decoding(max_new_tokens=10))[0]
    assert len(group) == 3 and len({c.text for c in group}) == 1


def test_beam_search(real_llm):
    group = real_llm.generate([CAPITAL], n=2, decoding=Decoding(max_new_tokens=12, num_beams=3))[0]
    assert len(group) == 2 and "Paris" in group[0].text


def test_stop_strings_cut_generate_and_stream_alike(real_llm):
    d = Decoding(max_new_tokens=40, stop=("5",))
    ask = "Count from 1 to 10, one number per line."
    [[cand]] = real_llm.generate([ask], decoding=d)
    stream = real_llm.stream(ask, decoding=d)
    streamed = "".join(stream)
    assert "5" not in cand.text and "4" in cand.text
    assert streamed.strip() == cand.text
    assert stream.candidate.finish_reason == "stop"


def test_stream_matches_greedy_generate(real_llm):
    d = Decoding(max_new_tokens=30)
    [[cand]] = real_llm.generate([CAPITAL], decoding=d)
    stream = real_llm.stream(CAPITAL, decoding=d)
    pieces = list(stream)
    assert len(pieces) > 1
    assert "".join(pieces).strip() == cand.text
    assert stream.candidate.completion_tokens == cand.completion_tokens
    assert stream.first_piece_s is not None


def test_closing_a_stream_early_stops_generation(real_llm):
    stream = real_llm.stream("Write a long story about a dragon.", decoding=Decoding(max_new_tokens=200))
    it = iter(stream)
    next(it)
    stream.close()  # must return promptly and leave the model usable
    [[cand]] = real_llm.generate([CAPITAL], decoding=Decoding(max_new_tokens=8))
    assert cand.text


def test_score_prefers_the_right_answer(real_llm):
    right = real_llm.score(CAPITAL, "The capital of France is Paris.")
    wrong = real_llm.score(CAPITAL, "The capital of France is Berlin.")
    assert right < 0 and wrong < right - 3


def test_metered_llm_records_every_call(real_llm):
    metered = MeteredLLM(real_llm)
    metered.generate([CAPITAL], n=2, decoding=Decoding(max_new_tokens=5, temperature=0.7), label="draft")
    list(metered.stream(CAPITAL, decoding=Decoding(max_new_tokens=5)))
    metered.score(CAPITAL, "Paris")
    assert [s.name for s in metered.steps] == ["draft", "stream", "score"]
    draft = metered.steps[0]
    assert draft.prompt_tokens == real_llm.count_tokens(CAPITAL)  # paid once for both samples
    assert len(draft.detail["outputs"]) == 2 and draft.completion_tokens > 0
    assert "<|im_start|>user\nWhat is the capital of France?" in draft.detail["prompts"][0]
