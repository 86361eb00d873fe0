"""Grounded answering: draft an answer, then let the model judge whether the
passages support it, by comparing the log-likelihood of "Yes" and "No"
(a self-verification step in the spirit of Weng et al., 2023, "Large
Language Models are Better Reasoners with Self-Verification").
"""

from dataclasses import dataclass, field, replace

from assistant import Prompt, StrategyResult, hookimpl

ASSISTANT_HOOK_CONTRACT = ">=1,<2"
REFUSAL = "The passages do not seem to support an answer to this question."


@hookimpl
def register_strategies(register):
    register("grounded", Grounded)


@dataclass
class Options:
    margin: float = field(default=0.0, metadata={"help": "How much likelier 'Yes' must be than 'No' to keep the answer."})


def check_prompt(prompt: Prompt, draft: str) -> Prompt:
    return replace(prompt, input=f"Question: {prompt.input}\nAnswer: {draft}\n"
                                 "Do the passages support this answer? Reply Yes or No.")


class Grounded:
    """Answer, then keep the answer only if the model judges it supported by the passages."""

    Options = Options

    def __init__(self, options: Options):
        self.options = options

    def run(self, call):
        [[draft]] = call.llm.generate([call.prompt], decoding=call.decoding, label="draft")
        if not call.prompt.passages or not draft.text:
            supported, margin = True, 0.0
        else:
            check = check_prompt(call.prompt, draft.text)
            margin = call.llm.score(check, "Yes") - call.llm.score(check, "No")
            supported = margin >= self.options.margin
        text = draft.text if supported else REFUSAL
        if call.on_text is not None:
            call.on_text(text)
        return StrategyResult(text=text, candidates=(draft,), metadata={"support_margin": margin})
