"""Least-to-most prompting: split a hard question into easier sub-questions,
answer them in order (each answer feeding the next), then answer the
original question with all of them in view.

Zhou et al., "Least-to-Most Prompting Enables Complex Reasoning in Large
Language Models" (ICLR 2023): on SCAN length generalisation it reached 99.7 %
where chain-of-thought got 16 %. Stage 1 decomposes, stage 2 solves
sequentially. The sub-questions, their answers and the final answer are all
in the trace.

Use it for questions that are compositions of simpler ones ("how long will
it take if ... and then ..."). With a budget, it stops asking sub-questions
when the budget runs out and answers with what it has.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

from assistant import BudgetExhausted, Message, Prompt, Step, StrategyCall, StrategyResult, hookimpl, user_message
from assistant.answers import extract


@hookimpl
def register_strategies(register):
    register("least_to_most", LeastToMost)


@dataclass
class LeastToMostOptions:
    max_subquestions: int = field(default=3, metadata={"help": "Most sub-questions answered before the final one."})
    answer_kind: str = field(default="auto", metadata={"help": "What to extract as the answer: auto, number, yesno, span."})


DECOMPOSE = ("Do not answer yet. To answer the question, which simpler questions must be answered first? "
             "Write each one on its own line, starting with '- '.")
LIST_ITEM = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s*(.+?)\s*$")


def parse_subquestions(text: str, limit: int) -> list[str]:
    """Sub-questions from a list the model wrote (bullets or numbers; plain lines ending in '?' too)."""
    found = []
    for line in text.splitlines():
        match = LIST_ITEM.match(line)
        item = match.group(1) if match else (line.strip() if line.strip().endswith("?") else "")
        if item and item not in found:
            found.append(item)
    return found[:limit]


def decompose_prompt(prompt: Prompt) -> Prompt:
    return dataclasses.replace(prompt, input=f"{prompt.input}\n\n{DECOMPOSE}")


def solve_prompt(prompt: Prompt, solved: list[tuple[str, str]], question: str) -> Prompt:
    """The passages and question, the sub-questions solved so far as earlier turns, then ``question``."""
    history = list(prompt.history)
    first = True
    for sub, answer in solved:
        text = user_message(dataclasses.replace(prompt, input=sub)) if first else sub
        history += [Message("user", text), Message("assistant", answer)]
        first = False
    if solved:
        return dataclasses.replace(prompt, history=tuple(history), passages=(), input=question)
    return dataclasses.replace(prompt, input=question)


class LeastToMost:
    """Decompose into sub-questions, answer them in order, then answer the question."""

    Options = LeastToMostOptions

    def __init__(self, options: LeastToMostOptions | None = None) -> None:
        self.options = options or LeastToMostOptions()

    def run(self, call: StrategyCall) -> StrategyResult:
        o = self.options
        plan = call.llm.generate([decompose_prompt(call.prompt)], n=1, decoding=call.decoding,
                                 label="decompose")[0][0].text
        subquestions = [q for q in parse_subquestions(plan, o.max_subquestions) if q.strip() != call.question.strip()]
        solved: list[tuple[str, str]] = []
        stopped = ""
        try:
            for sub in subquestions:
                reply = call.llm.generate([solve_prompt(call.prompt, solved, sub)], n=1, decoding=call.decoding,
                                          label=f"sub-question {len(solved) + 1}")[0][0].text
                solved.append((sub, reply))
            final_prompt = solve_prompt(call.prompt, solved, call.question)
            candidate = call.final(final_prompt)
            text = candidate.text if candidate else ""
        except BudgetExhausted as exc:
            if not solved:
                raise
            stopped = exc.message
            text = solved[-1][1]  # the best so far: the last sub-answer
            if call.on_text is not None:
                call.on_text(text)
        step = Step(kind="plan", name="sub-questions", ms=0.0,
                    detail={"plan": plan, "subquestions": subquestions, "solved": [a for _, a in solved],
                            **({"stopped": stopped} if stopped else {})})
        return StrategyResult(text=text, steps=(step,),
                              metadata={"answer": extract(text, o.answer_kind), "subquestions": subquestions,
                                        **({"budget": stopped} if stopped else {})})
