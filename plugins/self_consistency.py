"""Self-consistency: sample several chains of thought, extract each one's
answer, and keep the answer most of them reach.

Wang et al., "Self-Consistency Improves Chain of Thought Reasoning in
Language Models" (ICLR 2023): on GSM8K with PaLM 540B, 40 sampled paths
lifted chain-of-thought from 56.5 % to 74.4 %; they sample with temperature
0.5-0.7. All paths here come from one batched ``generate`` call (the backend
reuses the prompt's KV cache across the samples), so N paths cost far less
than N answers; top-k 40 follows the paper's setting for LaMDA and PaLM
(with temperature 0.5) and trims the per-token cost of nucleus sampling.
The answer reports its ``agreement`` (the winner's share of
the votes): a low agreement flags a question the model is unsure of.

Use it when answers are short and checkable (numbers, yes/no, names) and a
few times the cost of one answer is acceptable.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from assistant import Prompt, Step, StrategyCall, StrategyResult, hookimpl
from assistant.answers import extract, vote


@hookimpl
def register_strategies(register):
    register("self_consistency", SelfConsistency)


@dataclass
class SelfConsistencyOptions:
    samples: int = field(default=5, metadata={"help": "Reasoning paths sampled (in one batched call)."})
    temperature: float = field(default=0.7, metadata={"help": "Sampling temperature of the paths."})
    top_p: float = field(default=0.95, metadata={"help": "Nucleus sampling mass of the paths."})
    top_k: int = field(default=40, metadata={"help": "Top-k truncation of the paths (0: off); also makes sampling cheaper."})
    trigger: str = field(default="Let's think step by step.", metadata={"help": "Reasoning trigger."})
    answer_format: str = field(default="End with a line 'The answer is: ...'.",
                               metadata={"help": "How the model is asked to state its final answer."})
    answer_kind: str = field(default="auto", metadata={"help": "What to extract and vote on: auto, number, yesno, span."})


def reasoning_prompt(prompt: Prompt, trigger: str, answer_format: str) -> Prompt:
    """The prompt with the reasoning instructions appended to the system text (as chain-of-thought does)."""
    extra = " ".join(part for part in (trigger, answer_format) if part.strip())
    return dataclasses.replace(prompt, instructions=f"{prompt.instructions.strip()}\n\n{extra}".strip())


class SelfConsistency:
    """Sample several reasoning paths in one batch and take the majority answer."""

    Options = SelfConsistencyOptions

    def __init__(self, options: SelfConsistencyOptions | None = None) -> None:
        self.options = options or SelfConsistencyOptions()

    def run(self, call: StrategyCall) -> StrategyResult:
        o = self.options
        prompt = reasoning_prompt(call.prompt, o.trigger, o.answer_format)
        decoding = dataclasses.replace(call.decoding, temperature=o.temperature, top_p=o.top_p, top_k=o.top_k)
        candidates = call.llm.generate([prompt], n=max(1, o.samples), decoding=decoding, label="paths")[0]
        answers = [extract(c.text, o.answer_kind) for c in candidates]
        result = vote(answers)
        chosen = max(result.winner_index, 0)
        text = candidates[chosen].text if candidates else ""
        if call.on_text is not None:
            call.on_text(text)
        step = Step(kind="vote", name="majority", ms=0.0,
                    detail={"answers": answers, "counts": result.counts, "winner": result.normal,
                            "agreement": round(result.agreement, 3)})
        return StrategyResult(text=text, candidates=tuple(candidates), steps=(step,),
                              metadata={"answer": result.answer, "agreement": result.agreement,
                                        "votes": result.counts, "chosen": chosen})
