"""Prompt anatomy rendering and context budgeting."""

from __future__ import annotations

import pytest

from assistant import Example, Message, Passage, Prompt, PromptTooLongError
from assistant.budget import fit_prompt
from assistant.prompt import to_messages


def words(prompt: Prompt) -> int:
    return sum(len(m.content.split()) for m in to_messages(prompt))


def passage(i: int, size: int = 50) -> Passage:
    return Passage(id=f"p{i}", text=" ".join([f"w{i}"] * size), source=f"doc{i}.md", start_line=i, end_line=i + 3)


def test_render_places_each_part():
    prompt = Prompt(input="Why?", instructions="Be brief.", context="Today is Monday.", output_format="One line.",
                    examples=(Example(input="2+2?", output="4", rationale="Add them."),),
                    passages=(passage(1, 3),), history=(Message("user", "hi"), Message("assistant", "hello")),
                    metadata={"audience": "children"})
    msgs = to_messages(prompt)
    assert [m.role for m in msgs] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert msgs[0].content.startswith("Be brief.") and "Today is Monday." in msgs[0].content
    assert "One line." in msgs[0].content and "Audience: children" in msgs[0].content
    assert msgs[2].content == "Add them.\n4"
    assert msgs[-1].content.startswith("Passages:\n\n[1] doc1.md:1-4\n")
    assert msgs[-1].content.endswith("Question: Why?")


def test_prompt_that_fits_is_untouched():
    prompt = Prompt(input="q", passages=(passage(1),))
    fitted, notices = fit_prompt(prompt, words, 1000)
    assert fitted == prompt and notices == []


def test_examples_go_first_then_lowest_ranked_passages():
    prompt = Prompt(input="question", examples=tuple(Example(input=f"ex {i} " * 20, output="o", id=f"e{i}")
                                                      for i in range(2)),
                    passages=tuple(passage(i) for i in range(3)))
    fitted, notices = fit_prompt(prompt, words, 120)
    assert fitted.examples == ()
    assert [p.id for p in fitted.passages] == ["p0", "p1"]  # p2, the lowest ranked, went
    assert any("dropped example 'e1'" in n for n in notices)
    assert any("dropped passage doc2.md:2-5" in n for n in notices)
    assert words(fitted) <= 120


def test_history_then_context_are_cut_before_giving_up():
    prompt = Prompt(input="question", context=" ".join(["ctx"] * 100),
                    history=(Message("user", "old " * 30), Message("assistant", "reply " * 30)))
    fitted, notices = fit_prompt(prompt, words, 40)
    assert fitted.history == ()
    assert len(fitted.context.split()) < 40
    assert any("trimmed the context" in n for n in notices)


def test_question_too_long_raises_a_clear_error():
    prompt = Prompt(input="word " * 500, passages=(passage(1),))
    with pytest.raises(PromptTooLongError, match=r"needs \d+ tokens but only 100 fit"):
        fit_prompt(prompt, words, 100)
