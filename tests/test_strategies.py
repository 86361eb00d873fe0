"""The reasoning strategies' control flow (scripted model) and answer
extraction; the shared contract (tests/test_strategy_contract.py) runs each
of them on the real model too."""

from __future__ import annotations

import pytest

from assistant import Settings
from assistant.answers import extract, normalise, vote
from assistant.engine import Engine
from assistant.testing import ScriptedLLM
from assistant.types import Decoding


def engine(llm, **settings) -> Engine:
    return Engine(Settings(**settings), llm=llm)


@pytest.mark.parametrize("text, kind, expected", [
    ("She had 5, ate 2, so 3 are left. The answer is 3.", "auto", "3"),
    ("So 12 + 30 = 42 in total", "auto", "42"),
    ("The answer is: $1,250.50 dollars", "number", "1,250.50"),
    ("Yes, because the sky scatters blue light.", "auto", "yes"),
    ("Answer: no", "yesno", "no"),
    ("It was built in Paris. The answer is the Eiffel Tower.", "span", "the Eiffel Tower"),
    ("Nothing numeric here.", "number", ""),
    ("", "auto", ""),
])
def test_extract(text, kind, expected):
    assert extract(text, kind) == expected


def test_normalise_and_vote():
    assert normalise("8") == normalise("8.0") == normalise("$8") == normalise("8 apples") == "8"
    assert normalise("1,250") == "1250" and normalise("True") == "yes"
    assert normalise("The Eiffel Tower.") == normalise("eiffel tower") == "eiffel tower"
    result = vote(["8", "7", "8.0", "", "$8"])
    assert (result.normal, result.counts, result.agreement, result.winner_index) == ("8", {"8": 3, "7": 1}, 0.75, 0)
    assert vote(["7", "8"]).winner_index == 0  # ties go to the answer given first
    assert vote(["", ""]).agreement == 0.0 and vote([]).winner_index == -1


def test_self_consistency_samples_once_in_a_batch_and_votes():
    paths = ["3 + 5 = 8. The answer is 8.", "The answer is 7.", "So 8.0 in total. The answer is 8.0",
             "I am not sure.", "The answer is $8."]
    llm = ScriptedLLM(lambda prompt, i: paths[i])
    answer = engine(llm).answer("What is 3 + 5?", strategy="self_consistency", use_retrieval=False)
    assert len(llm.calls) == 1 and llm.calls[0].n == 5
    assert llm.calls[0].decoding.temperature == 0.7 and "step by step" in llm.calls[0].prompts[0]
    # "I am not sure." is a (wrong) span answer too: 3 of 5 votes
    assert answer.metadata["answer"] == "8" and answer.metadata["agreement"] == pytest.approx(0.6)
    assert answer.text == paths[0] and len(answer.candidates) == 5
    vote_step = [s for s in answer.steps if s.kind == "vote"][0]
    assert vote_step.detail["counts"] == {"8": 3, "7": 1, "i am not sure": 1}


def test_chain_of_thought_extracts_and_asks_again_only_when_needed():
    stated = ScriptedLLM(lambda prompt, i: "Two pairs make 4 shoes. The answer is 4.")
    answer = engine(stated).answer("How many shoes in two pairs?", strategy="chain_of_thought",
                                   options={"extract_with_model": True}, use_retrieval=False)
    assert answer.metadata["answer"] == "4" and len(stated.calls) == 1
    replies = iter(["Two pairs, each of two shoes, make four shoes", "4"])
    unstated = ScriptedLLM(lambda prompt, i: next(replies))
    answer = engine(unstated).answer("How many shoes in two pairs?", strategy="chain_of_thought",
                                     options={"extract_with_model": True}, use_retrieval=False)
    assert len(unstated.calls) == 2 and "Therefore, the answer" in unstated.calls[1].prompts[0]
    assert "four shoes" in unstated.calls[1].prompts[0]  # the second stage sees the reasoning
    assert answer.metadata["answer"] == "4" and answer.text.startswith("Two pairs")


def test_least_to_most_answers_sub_questions_in_order():
    def reply(prompt: str, i: int) -> str:
        if "simpler questions" in prompt:
            return "- How many apples did Ann pick?\n- How many did she give away?\n- Off topic?\n- Extra?"
        if prompt.rstrip().endswith("How many apples did Ann pick?\n<assistant>") or "Ann pick?" in prompt.splitlines()[-1]:
            return "Ann picked 10 apples."
        return "She gave away 4, so 6 are left. The answer is 6."

    llm = ScriptedLLM(reply)
    answer = engine(llm).answer("Ann picked 10 apples and gave 4 away. How many are left?",
                                strategy="least_to_most", use_retrieval=False)
    labels = [c.label for c in llm.calls]
    assert labels == ["decompose", "sub-question 1", "sub-question 2", "sub-question 3", "final answer"]
    assert "Ann picked 10 apples." in llm.calls[2].prompts[0]  # the first answer feeds the second
    assert all(q in llm.calls[-1].prompts[0] for q in ("Ann pick?", "give away?"))
    assert answer.metadata["answer"] == "6"
    plan = [s for s in answer.steps if s.kind == "plan"][0]
    assert len(plan.detail["subquestions"]) == 3


def test_least_to_most_stops_at_the_budget_with_its_best_so_far():
    llm = ScriptedLLM(lambda prompt, i: "- first?\n- second?\n- third?" if "simpler" in prompt else "part answer 5")
    answer = engine(llm, budget_calls=3).answer("A question?", strategy="least_to_most", use_retrieval=False)
    assert len(llm.calls) == 3 and answer.text == "part answer 5"
    assert "budget of 3 model calls" in answer.metadata["budget"]


def test_budget_in_seconds_and_tokens_stops_a_turn_clearly():
    llm = ScriptedLLM(lambda prompt, i: "- a?\n- b?" if "simpler" in prompt else "x")
    with pytest.raises(Exception, match="budget"):
        engine(llm, budget_tokens=1).answer("Q?", strategy="least_to_most", use_retrieval=False,
                                            decoding=Decoding(max_new_tokens=8))


@pytest.mark.real_model
def test_self_consistency_on_the_real_model_reports_agreement(real_llm):
    answer = engine(real_llm).answer("What is 2 + 3?", strategy="self_consistency", use_retrieval=False,
                                     options={"samples": 3}, decoding=Decoding(max_new_tokens=40, seed=0))
    assert len(answer.candidates) == 3 and answer.usage.model_calls == 1  # three paths, one batched call
    # the vote recounted from the three real paths: the reported votes, agreement and winner must be theirs
    normals = [normalise(extract(c.text)) for c in answer.candidates]
    counts = {n: normals.count(n) for n in normals if n}
    assert counts, f"no path gave an answer: {[c.text for c in answer.candidates]}"
    assert answer.metadata["votes"] == counts
    assert answer.metadata["agreement"] == pytest.approx(max(counts.values()) / sum(counts.values()))
    chosen = answer.metadata["chosen"]
    assert counts[normals[chosen]] == max(counts.values()) and answer.text == answer.candidates[chosen].text


def test_best_of_n_keeps_the_candidate_the_verifiers_prefer():
    from assistant import hookimpl
    from assistant.plugins import make_plugin_host

    texts = ["short", "a medium answer here", "the longest answer of all four here", "tiny one"]

    class PrefersLong:
        @hookimpl
        def score_candidates(self, query, candidates, prompt):
            return [float(len(c.text)) for c in candidates]

    llm = ScriptedLLM(lambda prompt, i: texts[i], scores=lambda prompt, text: -1.0 * len(text.split()))
    # likelihood alone: per-token scores are all -1, a tie; the plugin decides
    host = make_plugin_host(None, extra=[("prefers_long", PrefersLong())])
    answer = Engine(Settings(), host=host, llm=llm).answer("Q?", strategy="best_of_n", use_retrieval=False)
    assert answer.text == texts[2] and answer.metadata["chosen"] == 2
    assert (llm.calls[0].kind, llm.calls[0].label, llm.calls[0].n) == ("generate", "candidates", 4)
    verify = [s for s in answer.steps if s.kind == "verify"][0]
    assert set(verify.detail["scores"]) == {"likelihood", "prefers_long"}
    # without plugins, the likelihood decides: a scripted model that likes "tiny one" best
    liked = ScriptedLLM(lambda prompt, i: texts[i], scores=lambda prompt, text: 0.0 if text == "tiny one" else -5.0)
    answer = engine(liked).answer("Q?", strategy="best_of_n", use_retrieval=False)
    assert answer.text == "tiny one"
    assert sum(1 for c in liked.calls if c.kind == "score") == 4


def _cove_reply(prompt: str, i: int) -> str:
    last = prompt.rsplit("<user>", 1)[-1]
    if "check the facts in the draft" in last:
        return "1. Where is the Eiffel Tower?\n2. When was it built?"
    if "Does the checked answer agree" in last:
        return "inconsistent: it was built in 1889" if "built" in last else "consistent"
    if "Write the final answer" in last:
        return "The Eiffel Tower is in Paris and was built in 1889."
    if "Where is the Eiffel Tower?" in last:
        return "In Paris."
    if "When was it built?" in last:
        return "In 1889."
    return "The Eiffel Tower is in Paris and was built in 1925."  # the draft, with a mistake


@pytest.mark.parametrize("variant", ["factored", "factor_revise", "two_step", "joint"])
def test_chain_of_verification_variants(variant):
    llm = ScriptedLLM(_cove_reply)
    answer = engine(llm).answer("Tell me about the Eiffel Tower.", strategy="chain_of_verification",
                                options={"variant": variant}, use_retrieval=False)
    labels = [c.label for c in llm.calls]
    assert labels[0] == "draft" and labels[-1] == "final answer"
    verify = [s for s in answer.steps if s.kind == "verify"][0]
    assert verify.detail["draft"].endswith("1925.")
    if variant in ("factored", "factor_revise"):
        [factored] = [c for c in llm.calls if c.label == "verify (factored)"]
        assert len(factored.prompts) == 2  # one prompt per question, in one batched call
        for prompt, question in zip(factored.prompts, verify.detail["questions"]):
            assert question in prompt and "1925" not in prompt  # never sees the draft
            assert sum(q in prompt for q in verify.detail["questions"]) == 1  # nor the other questions
        assert verify.detail["answers"] == ["In Paris.", "In 1889."]
    if variant == "factor_revise":
        assert verify.detail["checks"][1].startswith("inconsistent")
        assert "Check: inconsistent" in llm.calls[-1].prompts[0]
    if variant == "two_step":
        assert labels == ["draft", "plan", "verify", "final answer"] and "1925" not in llm.calls[2].prompts[0]
    assert answer.text == "The Eiffel Tower is in Paris and was built in 1889."


def test_chain_of_verification_rejects_an_unknown_variant():
    with pytest.raises(Exception, match="variant must be one of"):
        engine(ScriptedLLM("x")).answer("Q?", strategy="chain_of_verification", options={"variant": "bogus"},
                                        use_retrieval=False)


def test_chain_of_density_adds_entities_round_by_round_at_a_fixed_length():
    replies = iter(["Summary: Owls hunt at night.",
                    "Missing: barn owl; prey\nSummary: Barn owls hunt prey at night.",
                    "Missing: Leeds\nSummary: Barn owls near Leeds hunt prey at night.",
                    "no format at all"])
    llm = ScriptedLLM(lambda prompt, i: next(replies))
    answer = engine(llm).answer("Summarise the passages about owls.", strategy="chain_of_density",
                                options={"rounds": 3, "words": 12}, use_retrieval=False)
    rounds = answer.metadata["rounds"]
    assert [r["added"] for r in rounds] == [[], ["barn owl", "prey"], ["Leeds"], []]
    assert answer.text == "no format at all"  # a reply without 'Summary:' is taken whole
    assert "Current summary: Barn owls near Leeds hunt prey at night." in llm.calls[3].prompts[0]
    assert all("about 12 words" in c.prompts[0] for c in llm.calls)


def _tot_reply(prompt: str, i: int) -> str:
    last = prompt.rsplit("<user>", 1)[-1]
    if "Write only the next step" in last:
        return ["add 2 and 3", "guess wildly", "multiply 2 by 3"][i % 3]
    if "Propose" in last:
        return "1. add 2 and 3\n2. guess wildly\n3. multiply 2 by 3"
    if "sure, likely or impossible" in last:
        if "guess" in last:
            return "impossible"
        return "sure" if "add 2 and 3" in last else "likely"
    if "most promising" in last:
        return "The best choice is 1"
    return "The answer is 5."


@pytest.mark.parametrize("search, generation, evaluation", [
    ("bfs", "sample", "value"), ("bfs", "propose", "vote"), ("dfs", "propose", "value"), ("dfs", "sample", "value")])
def test_tree_of_thought_expands_prunes_and_answers(search, generation, evaluation):
    llm = ScriptedLLM(_tot_reply)
    answer = engine(llm).answer("What is 2 + 3?", strategy="tree_of_thought", use_retrieval=False, options={
        "search": search, "generation": generation, "evaluation": evaluation, "depth": 2, "breadth": 2})
    tree = [s for s in answer.steps if s.kind == "tree"][0].detail["nodes"]
    statuses = {n["status"] for n in tree}
    assert "pruned" in statuses and answer.metadata["answer"] == "5"
    best = [n for n in tree if n["status"] == "solution"][0]
    if evaluation == "value":
        assert "guess" not in " ".join(answer.metadata["steps"])  # the impossible branch never wins
        assert all(n["value"] == 0.0 for n in tree if "guess" in n["thought"])
    if search == "bfs":
        level1 = [n for n in tree if n["parent"] == 0]
        assert len([n for n in level1 if n["status"] in ("expanded", "kept")]) == 2  # breadth 2 survive
    else:
        # depth first: pruned children are never expanded
        expanded = {n["parent"] for n in tree if n["parent"] is not None}
        assert not [n for n in tree if n["status"] == "pruned" and n["id"] in expanded]
    assert best["id"] == [s for s in answer.steps if s.kind == "tree"][0].detail["best"]
    assert llm.calls[-1].label == "final answer"


def test_tree_of_thought_bfs_spends_two_batched_calls_per_level():
    llm = ScriptedLLM(_tot_reply)
    engine(llm).answer("What is 2 + 3?", strategy="tree_of_thought", use_retrieval=False,
                       options={"depth": 2, "breadth": 2, "branching": 3})
    assert [c.label for c in llm.calls] == ["sample thoughts", "value states", "sample thoughts", "value states",
                                             "final answer"]
    # level 1: the problem -> 3 thoughts, valued together; level 2: both kept states in one call -> 6 children
    assert [len(c.prompts) for c in llm.calls] == [1, 3, 2, 6, 1]
    sample, value, final = llm.calls[0], llm.calls[1], llm.calls[-1]
    assert sample.n == 3 and sample.decoding.stop[-1] == "\n"  # a thought is one line
    assert value.decoding.max_new_tokens <= 10 < final.decoding.max_new_tokens  # a value is one word


def test_tree_of_thought_respects_the_budget():
    llm = ScriptedLLM(_tot_reply)
    answer = engine(llm, budget_calls=3).answer("What is 2 + 3?", strategy="tree_of_thought", use_retrieval=False,
                                                options={"depth": 3})
    assert len(llm.calls) == 3 and "budget of 3 model calls" in answer.metadata["budget"]
    assert answer.text  # the best state so far
