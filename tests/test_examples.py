"""Semantic few-shot example selection on the real embedder."""

from __future__ import annotations

import pytest

from assistant import CorpusError, Example, Settings
from assistant.engine import Engine
from assistant.testing import ScriptedLLM
from assistant_plugins.semantic_examples import SemanticSelector, add_example

from .conftest import run_cli

pytestmark = pytest.mark.real_model


def test_selects_the_most_similar_examples(home):
    chosen = SemanticSelector(Settings()).select("How many eggs are in 5 boxes if a box holds 6 eggs?", 2)
    assert chosen[0].id == "arith-02" and chosen[0].rationale and len(chosen) == 2


def test_the_token_budget_limits_how_many_are_used(home):
    tight = Settings(plugins={"semantic_examples": {"max_tokens": 10}})
    assert len(SemanticSelector(tight).select("How many cookies does each child get?", 3)) == 1


def test_added_examples_persist_and_are_selected(home):
    question = "How many legs do 3 spiders have?"
    before = [e.id for e in SemanticSelector(Settings()).select(question, 1)]
    add_example(Example(input="How many legs do 2 spiders have?", output="The answer is 16.",
                        rationale="A spider has 8 legs, so 2 spiders have 2 * 8 = 16.", id="spiders"))
    after = SemanticSelector(Settings()).select(question, 1)
    assert before != ["spiders"] and after[0].id == "spiders"
    assert (home / "examples" / "added.jsonl").exists()


def test_examples_reach_the_prompt_with_their_rationale(home):
    llm = ScriptedLLM("The answer is 30.")
    engine = Engine(Settings(example_selector="semantic", examples_k=2), llm=llm)
    answer = engine.answer("Each of 5 bags holds 6 apples. How many apples?", use_retrieval=False)
    rendered = llm.calls[0].prompts[0]
    assert "<user> A box holds 6 eggs." in rendered and "so there are 6 * 4 = 24 eggs.\nThe answer is 24." in rendered
    assert [s for s in answer.steps if s.name == "select_examples"][0].detail["examples"]


def test_a_bad_bank_line_names_the_file_and_line(home, tmp_path):
    bank = tmp_path / "bad.jsonl"
    bank.write_text('{"input": "q", "output": "a"}\n{"input": "no output"}\n')
    settings = Settings(plugins={"semantic_examples": {"banks": [str(bank)]}})
    with pytest.raises(CorpusError, match="bad.jsonl, line 2"):
        SemanticSelector(settings).select("q", 1)


def test_examples_commands(home):
    added = run_cli("examples", "add", "--input", "What is 9 times 9?", "--output", "The answer is 81.")
    assert added.returncode == 0 and "added to" in added.stdout
    found = run_cli("examples", "search", "What is 9 times 8?", "-k", "1")
    assert found.returncode == 0 and "9 times 9" in found.stdout
    listed = run_cli("examples", "list")
    assert "arithmetic.jsonl" in listed.stdout and "added.jsonl" in listed.stdout
