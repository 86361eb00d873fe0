"""Best-of-N: sample N answers in one batch and keep the one the verifiers
like best.

The built-in verifier is the model's own likelihood of each answer, per
token (length-normalised, so short answers are not favoured merely for being
short); every ``score_candidates`` plugin (a reward model trained from
feedback, a checker of your own) adds its scores, z-normalised so that no
verifier dominates by its scale. Reranking sampled candidates with a
verifier is the recipe of Cobbe et al., "Training Verifiers to Solve Math
Word Problems" (2021), where a verifier over 100 samples beat fine-tuning a
model 30 times larger.

Use it for open answers when you can afford N samples; with a trained reward
model plugged into ``score_candidates`` it is how ranking feedback improves
answers without retraining the generator.
"""

from __future__ import annotations

import dataclasses
import statistics
from dataclasses import dataclass, field

from assistant import BudgetExhausted, CapabilityMissing, Step, StrategyCall, StrategyResult, hookimpl


@hookimpl
def register_strategies(register):
    register("best_of_n", BestOfN)


@dataclass
class BestOfNOptions:
    samples: int = field(default=4, metadata={"help": "Answers sampled in one batched call."})
    temperature: float = field(default=0.8, metadata={"help": "Sampling temperature of the answers."})
    top_p: float = field(default=0.95, metadata={"help": "Nucleus sampling mass."})
    likelihood_weight: float = field(default=1.0, metadata={
        "help": "Weight of the model's own per-token likelihood (0 leaves only the verifier plugins)."})


def zscores(values: list[float]) -> list[float]:
    if len(values) < 2:
        return [0.0] * len(values)
    spread = statistics.pstdev(values)
    mean = statistics.fmean(values)
    return [(v - mean) / spread if spread > 0 else 0.0 for v in values]


class BestOfN:
    """Sample several answers and keep the one the verifiers score highest."""

    Options = BestOfNOptions

    def __init__(self, options: BestOfNOptions | None = None) -> None:
        self.options = options or BestOfNOptions()

    def run(self, call: StrategyCall) -> StrategyResult:
        o = self.options
        decoding = dataclasses.replace(call.decoding, temperature=o.temperature, top_p=o.top_p)
        candidates = call.llm.generate([call.prompt], n=max(1, o.samples), decoding=decoding, label="candidates")[0]
        scores: dict[str, list[float]] = {}
        skipped = ""
        if o.likelihood_weight and len(candidates) > 1:
            likelihood = []
            try:
                for c in candidates:
                    likelihood.append(call.llm.score(call.prompt, c.text) / max(c.completion_tokens, 1))
            except BudgetExhausted:
                likelihood = []  # no budget left to verify: the plugins' scores (or the first) decide
            except CapabilityMissing:  # a model without log-probabilities (a server that gives none)
                likelihood = []
                skipped = f"model {call.llm.name!r} cannot score answers: ranked without their likelihood"
            if likelihood:
                scores["likelihood"] = likelihood
        if len(candidates) > 1:
            scores.update(call.score_candidates(candidates))
        totals = [0.0] * len(candidates)
        for name, values in scores.items():
            weight = o.likelihood_weight if name == "likelihood" else 1.0
            for i, z in enumerate(zscores(values)):
                totals[i] += weight * z
        best = max(range(len(candidates)), key=totals.__getitem__) if candidates else 0
        text = candidates[best].text if candidates else ""
        if call.on_text is not None:
            call.on_text(text)
        step = Step(kind="verify", name="best of n", ms=0.0,
                    detail={"scores": {k: [round(v, 4) for v in vs] for k, vs in scores.items()},
                            "totals": [round(t, 4) for t in totals], "chosen": best},
                    notices=(skipped,) if skipped else ())
        return StrategyResult(text=text, candidates=tuple(candidates), steps=(step,),
                              metadata={"chosen": best, "scores": scores})
