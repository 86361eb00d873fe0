"""Zero-shot prompting: the conditioned prompt, one model call, no examples.

The baseline every other strategy is measured against. It streams the answer
when the face asks for streaming. With sampling and ``samples > 1`` it draws
several answers in one batched call and keeps the one the verifiers score
highest (or the first, when no verifier is installed).

Reference: Brown et al., "Language Models are Few-Shot Learners" (2020),
which introduced the zero-/few-shot terminology.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from assistant import StrategyCall, StrategyResult, hookimpl


@hookimpl
def register_strategies(register):
    register("zero_shot", ZeroShot)


@dataclass
class ZeroShotOptions:
    samples: int = field(default=1, metadata={"help": "Answers to draw in one batch (needs temperature > 0 to differ)."})


class ZeroShot:
    """Answer directly from the conditioned prompt in one model call."""

    Options = ZeroShotOptions

    def __init__(self, options: ZeroShotOptions | None = None) -> None:
        self.options = options or ZeroShotOptions()

    def run(self, call: StrategyCall) -> StrategyResult:
        if self.options.samples <= 1 and call.on_text is not None:
            candidate = call.final(call.prompt, label="answer")
            return StrategyResult(text=candidate.text if candidate else "", candidates=(candidate,) if candidate else ())
        candidates = call.llm.generate([call.prompt], n=max(1, self.options.samples), decoding=call.decoding,
                                       label="answer")[0]
        best = 0
        if len(candidates) > 1:
            scores = call.score_candidates(candidates)
            if scores:
                totals = [sum(s[i] for s in scores.values()) for i in range(len(candidates))]
                best = max(range(len(candidates)), key=totals.__getitem__)
        if call.on_text is not None:
            call.on_text(candidates[best].text)
        return StrategyResult(text=candidates[best].text, candidates=tuple(candidates),
                              metadata={"chosen": best})
