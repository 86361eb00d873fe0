"""Semantic few-shot example selection on the real embedder."""

from __future__ import annotations

import pytest

from assistant import CorpusError, Example, Settings
from assistant.engine import Engine
from assistant.testing import ScriptedLLM
from assistant import add_example
from assistant_plugins.semantic_examples import SemanticSelector

from .conftest import run_cli

# real_model test by test: a bad bank line and the active-prompting arithmetic need no embedder


@pytest.mark.real_model
def test_selects_the_most_similar_examples(home):
    chosen = SemanticSelector(Settings()).select("How many eggs are in 5 boxes if a box holds 6 eggs?", 2)
    assert chosen[0].id == "arith-02" and chosen[0].rationale and len(chosen) == 2


@pytest.mark.real_model
def test_the_token_budget_limits_how_many_are_used(home):
    tight = Settings(plugins={"semantic_examples": {"max_tokens": 10}})
    assert len(SemanticSelector(tight).select("How many cookies does each child get?", 3)) == 1


@pytest.mark.real_model
def test_added_examples_persist_and_are_selected(home):
    question = "How many legs do 3 spiders have?"
    before = [e.id for e in SemanticSelector(Settings()).select(question, 1)]
    add_example(Example(input="How many legs do 2 spiders have?", output="The answer is 16.",
                        rationale="A spider has 8 legs, so 2 spiders have 2 * 8 = 16.", id="spiders"))
    after = SemanticSelector(Settings()).select(question, 1)
    assert before != ["spiders"] and after[0].id == "spiders"
    assert (home / "examples" / "added.jsonl").exists()


@pytest.mark.real_model
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


@pytest.mark.real_model
def test_examples_commands(home):
    added = run_cli("examples", "add", "--input", "What is 9 times 9?", "--output", "The answer is 81.")
    assert added.returncode == 0 and "added to" in added.stdout
    found = run_cli("examples", "search", "What is 9 times 8?", "-k", "1")
    assert found.returncode == 0 and "9 times 9" in found.stdout
    listed = run_cli("examples", "list")
    assert "arithmetic.jsonl" in listed.stdout and "added.jsonl" in listed.stdout


def test_active_prompting_ranks_the_questions_the_model_disagrees_on():
    from assistant.uncertainty import measure, rank_questions

    assert measure(["5", "5.0", "$5"]) == (pytest.approx(1 / 3), pytest.approx(0.0))
    assert measure(["1", "2", ""])[0] == 1.0

    def reply(prompt: str, i: int) -> str:
        return "The answer is 4." if "2 + 2" in prompt else f"The answer is {i}."

    llm = ScriptedLLM(reply)
    ranked = rank_questions(llm, ["What is 2 + 2?", "How many stars are there?"], samples=4)
    assert [u.question for u in ranked] == ["How many stars are there?", "What is 2 + 2?"]
    assert ranked[0].disagreement == 1.0 and ranked[1].disagreement == 0.25 and ranked[1].entropy == 0.0
    assert all(c.n == 4 and c.decoding.temperature > 0 for c in llm.calls)


@pytest.mark.real_model
def test_examples_uncertain_on_the_real_model(home, tmp_path):
    questions = tmp_path / "q.txt"
    questions.write_text("What is 2 + 2?\nHow many legs do 3 spiders have?\n")
    out = tmp_path / "uncertain.jsonl"
    result = run_cli("examples", "uncertain", "--dataset", str(questions), "--samples", "3",
                     "--max-new-tokens", "24", "--top", "2", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("disagreement") == 2 and len(out.read_text().splitlines()) == 2
