"""Forcing and excluding words, and metadata conditioning, on the real model."""

from __future__ import annotations

import dataclasses

import pytest

from assistant import Settings
from assistant.engine import Engine
from assistant.testing import ScriptedLLM
from assistant.types import Decoding

# real_model test by test: the metadata test runs on the scripted model
QUESTION = "What color is the sky on a clear day? Answer in one sentence."
BASE = Decoding(max_new_tokens=40)


@pytest.mark.real_model
def test_excluding_a_word_removes_it_and_changes_the_answer(real_llm):
    plain = real_llm.generate([QUESTION], decoding=BASE)[0][0].text
    assert "blue" in plain.lower()  # what the model says unconstrained
    constrained = real_llm.generate([QUESTION], decoding=dataclasses.replace(BASE, exclude=("blue",)))[0][0].text
    assert "blue" not in constrained.lower() and constrained != plain


@pytest.mark.real_model
def test_requiring_a_word_makes_it_appear_in_every_path(real_llm):
    plain = real_llm.generate([QUESTION], decoding=BASE)[0][0].text
    assert "ocean" not in plain.lower()
    forced = real_llm.generate([QUESTION], decoding=dataclasses.replace(BASE, require=("ocean",)))[0][0].text
    assert "ocean" in forced.lower()
    sampled = real_llm.generate([QUESTION], n=3, decoding=dataclasses.replace(
        BASE, temperature=0.8, seed=1, require=("ocean",)))[0]
    assert all("ocean" in c.text.lower() for c in sampled)


@pytest.mark.real_model
def test_constraints_hold_when_streaming(real_llm):
    decoding = dataclasses.replace(BASE, require=("purple",), exclude=("blue",))
    text = "".join(real_llm.stream(QUESTION, decoding)).lower()
    assert "purple" in text and "blue" not in text


def test_metadata_conditions_the_prompt_and_flags_reach_the_model(home):
    llm = ScriptedLLM("An answer.")
    engine = Engine(Settings(), llm=llm)
    engine.answer("Explain indexing", use_retrieval=False, metadata={"audience": "children"},
                  decoding=Decoding(max_new_tokens=8, exclude=("embedding",), require=("folder",)))
    assert "Audience: children" in llm.calls[0].prompts[0]
    assert llm.calls[0].decoding.exclude == ("embedding",) and llm.calls[0].decoding.require == ("folder",)
