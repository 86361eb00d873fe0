from assistant.testing import ScriptedLLM, StrategyContract

from assistant_grounded import REFUSAL

# The whole shared contract, in one line.
TestGroundedContract = StrategyContract.for_strategy("grounded")


def test_unsupported_answers_are_refused():
    # The fake model finds "No" likelier than "Yes": the draft must be replaced.
    llm = ScriptedLLM("Paris", scores=lambda prompt, continuation: -1.0 if continuation == "No" else -5.0)
    answer = TestGroundedContract().ask(llm)
    assert answer.text == REFUSAL
    assert [c.kind for c in llm.calls] == ["generate", "score", "score"]
