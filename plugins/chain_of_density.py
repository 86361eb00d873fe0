"""Chain-of-density: a summary made denser over several rounds, adding one to
three missing entities per round while keeping its length.

Adams et al., "From Sparse to Dense: GPT-4 Summarization with Chain of
Density Prompting" (2023): people preferred summaries about as dense as
human-written ones, reached after about three of five rounds. Round 0 writes
a plain summary of ``words`` words; each later round names the informative
entities of the source the summary lacks and rewrites it, at the same
length, to include them. The trace keeps every round's summary, the
entities it added and its length.

The source is the retrieved passages (or, without retrieval, the question
text itself). Use it for "summarise ..." requests where a short but
information-rich answer matters.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

from assistant import BudgetExhausted, Step, StrategyCall, StrategyResult, hookimpl

SUMMARY = re.compile(r"summary\s*:\s*(.+)", re.IGNORECASE | re.DOTALL)
MISSING = re.compile(r"missing(?: entities)?\s*:\s*(.+)", re.IGNORECASE)


@hookimpl
def register_strategies(register):
    register("chain_of_density", ChainOfDensity)


@dataclass
class ChainOfDensityOptions:
    rounds: int = field(default=3, metadata={"help": "Densifying rounds after the first summary."})
    words: int = field(default=80, metadata={"help": "Target length of every summary, in words."})


def parse_round(text: str) -> tuple[list[str], str]:
    """(entities added, summary) from a round's reply; the whole reply when it has no 'Summary:'."""
    missing = MISSING.search(text)
    entities = [e.strip(" .") for e in re.split(r"[;,]", missing.group(1).splitlines()[0])] if missing else []
    summary = SUMMARY.search(text)
    return [e for e in entities if e], (summary.group(1) if summary else text).strip()


class ChainOfDensity:
    """Summarise, then make the summary denser round by round at a fixed length."""

    Options = ChainOfDensityOptions

    def __init__(self, options: ChainOfDensityOptions | None = None) -> None:
        self.options = options or ChainOfDensityOptions()

    def run(self, call: StrategyCall) -> StrategyResult:
        o = self.options
        first = dataclasses.replace(call.prompt, input=(
            f"{call.prompt.input}\n\nWrite a summary of about {o.words} words. Start with 'Summary:'."))
        summary = parse_round(call.llm.generate([first], decoding=call.decoding, label="round 0")[0][0].text)[1]
        rounds = [{"round": 0, "added": [], "summary": summary, "words": len(summary.split())}]
        stopped = ""
        try:
            for number in range(1, max(0, o.rounds) + 1):
                prompt = dataclasses.replace(call.prompt, input=(
                    f"{call.prompt.input}\n\nCurrent summary: {summary}\n\nName 1-3 informative entities from the "
                    f"passages that the summary lacks, on a line starting 'Missing:'. Then rewrite the summary in "
                    f"about {o.words} words so that it keeps everything and adds them, on a line starting 'Summary:'."))
                reply = call.llm.generate([prompt], decoding=call.decoding, label=f"round {number}")[0][0].text
                added, new = parse_round(reply)
                if new:
                    summary = new
                rounds.append({"round": number, "added": added, "summary": summary, "words": len(summary.split())})
        except BudgetExhausted as exc:
            stopped = exc.message
        if call.on_text is not None:
            call.on_text(summary)
        step = Step(kind="densify", name="chain of density", ms=0.0,
                    detail={"rounds": rounds, **({"stopped": stopped} if stopped else {})})
        return StrategyResult(text=summary, steps=(step,), metadata={"rounds": rounds})
