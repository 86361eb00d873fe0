"""Chain-of-thought: the model reasons step by step before it answers.

Zero-shot, a trigger phrase starts the reasoning (Kojima et al., "Large
Language Models are Zero-Shot Reasoners", NeurIPS 2022: "Let's think step by
step" took text-davinci-002 from 17.7 % to 78.7 % on MultiArith). Few-shot,
examples with a ``rationale`` show the reasoning before their answer (Wei et
al., "Chain-of-Thought Prompting Elicits Reasoning in Large Language Models",
NeurIPS 2022); the prompt renderer already places each example's rationale
before its output.

The final answer is extracted from the reasoning (``assistant.answers``):
after "The answer is", else the last number or sentence. With
``extract_with_model``, a second short call asks "Therefore, the answer is"
when the reasoning states no answer, Kojima et al.'s two-stage extraction.

Use it for arithmetic, multi-step and logic questions on models large enough
to reason (the gains appear from about 10B parameters in Wei et al.); on the
embedded 135M model it mostly adds tokens.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from assistant import Message, Prompt, Step, StrategyCall, StrategyResult, hookimpl, user_message
from assistant.answers import ANSWER_IS, extract


@hookimpl
def register_strategies(register):
    register("chain_of_thought", ChainOfThought)


@dataclass
class ChainOfThoughtOptions:
    trigger: str = field(default="Let's think step by step.",
                         metadata={"help": "Instruction that starts the reasoning (zero-shot trigger)."})
    answer_format: str = field(default="End with a line 'The answer is: ...'.",
                               metadata={"help": "How the model is asked to state its final answer."})
    answer_kind: str = field(default="auto", metadata={"help": "What to extract: auto, number, yesno or span."})
    extract_with_model: bool = field(default=False, metadata={
        "help": "When the reasoning states no answer, ask 'Therefore, the answer is' in a second call."})


def reasoning_prompt(prompt: Prompt, trigger: str, answer_format: str) -> Prompt:
    """The prompt with the reasoning instructions appended to the system text."""
    extra = " ".join(part for part in (trigger, answer_format) if part.strip())
    instructions = f"{prompt.instructions.strip()}\n\n{extra}".strip()
    return dataclasses.replace(prompt, instructions=instructions)


def extraction_prompt(prompt: Prompt, reasoning: str) -> Prompt:
    """Kojima et al.'s second stage: the reasoning so far, then "Therefore, the answer is"."""
    history = prompt.history + (Message("user", user_message(prompt)), Message("assistant", reasoning))
    return dataclasses.replace(prompt, history=history, passages=(), examples=(),
                               input="Therefore, the answer (only the answer) is:")


class ChainOfThought:
    """Reason step by step, then answer; the trace keeps the reasoning."""

    Options = ChainOfThoughtOptions

    def __init__(self, options: ChainOfThoughtOptions | None = None) -> None:
        self.options = options or ChainOfThoughtOptions()

    def run(self, call: StrategyCall) -> StrategyResult:
        o = self.options
        prompt = reasoning_prompt(call.prompt, o.trigger, o.answer_format)
        candidate = call.final(prompt, label="reasoning")
        candidates = (candidate,) if candidate else ()
        reasoning = candidates[0].text if candidates else ""
        answer = extract(reasoning, o.answer_kind)
        steps = []
        if o.extract_with_model and reasoning.strip() and not ANSWER_IS.search(reasoning):
            short = dataclasses.replace(call.decoding, max_new_tokens=min(16, call.decoding.max_new_tokens))
            stated = call.llm.generate([extraction_prompt(call.prompt, reasoning)], n=1, decoding=short,
                                       label="extract answer")[0][0].text
            answer = extract(stated, o.answer_kind) or answer
        steps.append(Step(kind="extract", name="answer", ms=0.0, detail={"answer": answer}))
        return StrategyResult(text=reasoning, candidates=candidates, steps=tuple(steps),
                              metadata={"answer": answer, "reasoning": reasoning})
