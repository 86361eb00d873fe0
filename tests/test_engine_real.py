"""Engine.answer() end to end on the real embedded models and the sample corpus."""

from __future__ import annotations

import dataclasses

import pytest

from assistant import Decoding, Message, Settings
from assistant.engine import Engine

pytestmark = pytest.mark.real_model


def test_answer_cites_the_one_document_that_holds_it(sample_engine):
    # Only models.md says where converted weights are cached.
    answer = sample_engine.answer("Where are the converted model weights kept?")
    assert answer.citations, answer.text
    first = answer.citations[0].passage
    assert first.source == "models.md"
    assert "~/.cache/assistant/models" in first.text
    assert first.start_line is not None and first.end_line >= first.start_line
    assert "cache" in answer.text.lower()


def test_answer_carries_trace_and_usage(sample_engine):
    streamed: list[str] = []
    answer = sample_engine.answer("How do I refresh the index?", on_text=streamed.append)
    assert "".join(streamed).strip() == answer.text
    kinds = [s.kind for s in answer.steps]
    assert kinds[:4] == ["retrieve", "examples", "condition", "budget"]
    gen = [s for s in answer.steps if s.kind == "generate"]
    assert len(gen) == 1 and gen[0].detail["outputs"] == [answer.text]
    assert "Passages:" in gen[0].detail["prompts"][0]
    assert answer.usage.model_calls == 1
    assert answer.usage.prompt_tokens == gen[0].prompt_tokens > 100
    assert 0 < answer.usage.completion_tokens <= 48
    assert answer.usage.ms >= sum(s.ms for s in answer.steps) * 0.9
    assert len(answer.passages) == 3 and answer.model.startswith("SmolLM2")


def test_small_context_window_drops_passages_and_says_so(sample_engine, real_llm):
    engine = Engine(dataclasses.replace(sample_engine.settings, context_window=330),
                    host=sample_engine.host, llm=real_llm)
    engine._retrievers = sample_engine._retrievers  # same indexed collection
    real_llm_window = real_llm.context_window
    real_llm.context_window = 330
    try:
        answer = engine.answer("How do I refresh the index?", decoding=Decoding(max_new_tokens=16))
    finally:
        real_llm.context_window = real_llm_window
    assert len(answer.passages) < 3
    assert any("dropped passage" in n for n in answer.notices)
    budget = next(s for s in answer.steps if s.kind == "budget")
    assert budget.notices == answer.notices


def test_sampled_samples_and_history_reach_the_model(sample_engine):
    history = (Message("user", "I keep my notes in ~/notes."), Message("assistant", "Noted."))
    answer = sample_engine.answer("How do I index them?", options={"samples": 2}, history=history,
                                  decoding=Decoding(max_new_tokens=16, temperature=0.8, seed=3))
    assert len(answer.candidates) == 2
    prompt = next(s for s in answer.steps if s.kind == "generate").detail["prompts"][0]
    assert "I keep my notes in ~/notes." in prompt
