"""Question-answer data from documents: the filters, and the recipe on the real model."""

from __future__ import annotations

import pytest

from assistant import Passage
from assistant_plugins.peft_adapters import qa_data as q

PASSAGE = ("The kettle switches itself off when the water boils. Descale it every month with white vinegar. "
           "The warranty covers the heating element for two years.")


def test_question_filters():
    seen: set[str] = set()
    assert q.check_question("How often should the kettle be descaled?", PASSAGE, seen) is None
    assert q.check_question("How often should the kettle be descaled", PASSAGE, seen) == "no question in the sample"
    assert q.check_question("Why?", PASSAGE, seen) == "question too short or too long"
    assert q.check_question("What is the capital city of Peru today?", PASSAGE, seen) == "question not about the passage"
    seen.add("how often should the kettle be descaled")
    assert q.check_question("How often should the kettle be descaled?", PASSAGE, seen) == "duplicate question"


def test_answer_filters():
    question = "How often should the kettle be descaled?"
    assert q.check_answer("Descale the kettle every month with white vinegar.", question, PASSAGE) is None
    assert q.check_answer("1. 1.", question, PASSAGE) == "empty answer"
    assert q.check_answer("The answer is: 1.1", question, PASSAGE) == "answer says nothing"
    assert q.check_answer("I don't know, the passage is unclear.", question, PASSAGE) == "answer refuses"
    assert q.check_answer("How often should the kettle be descaled? Monthly.", question, PASSAGE) == "answer repeats the question"
    assert q.check_answer("Descale it monthly with vinegar. Descale it monthly with vinegar.", question, PASSAGE) == \
        "answer repeats itself"
    assert q.check_answer("Paris hosts fashion weeks and museums galore.", question, PASSAGE) == \
        "answer not grounded in the passage"
    assert q.check_answer("[1] notes.md:3-9 The kettle", question, PASSAGE) == "answer copies a passage header"


def test_question_extraction_and_sentences():
    assert q.first_question("This passage answers the question: what does the warranty cover?\nAnswer: x") == \
        "What does the warranty cover?"
    assert q.first_question("Sure! Here you go.") == ""
    assert q.sentences("# Title\n\nThe kettle switches itself off when the water boils. Short one.\n- Descale it every month please") == \
        ["The kettle switches itself off when the water boils.", "Descale it every month please"]


@pytest.mark.real_model
def test_recipe_on_the_real_model_keeps_only_filtered_grounded_pairs(real_llm):
    passage = Passage(id="p", text=PASSAGE, source="kettle.md", start_line=1, end_line=1)
    report = q.generate_qa(real_llm, [passage], questions_per_passage=1, max_new_tokens=32)
    assert report.passages == 1 and report.model_calls >= 2
    kept = report.records
    # one question asked for, from three sampled drafts (seed 0), and an unusable free answer is replaced
    # by the passage sentence the model finds likeliest: the recipe must end with one usable pair here
    assert len(kept) == 1, f"no pair kept; dropped: {dict(report.dropped)}"
    for record in kept:
        assert q.check_question(record["question"], PASSAGE, set()) is None
        assert q.check_answer(record["answer"], record["question"], PASSAGE) is None
        assert record["context"] == PASSAGE and record["source"] == "kettle.md:1"
        assert record["answer_kind"] in ("generated", "extracted")
