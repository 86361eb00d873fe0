"""A strategy that asks for a one-sentence answer and streams it."""

from dataclasses import replace

from assistant import StrategyResult, hookimpl


class OneSentence:
    """Answer in exactly one sentence."""

    def run(self, call):
        prompt = replace(call.prompt, output_format="Answer in exactly one sentence.")
        if call.on_text is None:
            [[candidate]] = call.llm.generate([prompt], decoding=call.decoding, label="answer")
            return StrategyResult(text=candidate.text, candidates=(candidate,))
        stream = call.llm.stream(prompt, call.decoding, label="answer")
        for piece in stream:
            call.on_text(piece)
        return StrategyResult(text=stream.candidate.text, candidates=(stream.candidate,))


@hookimpl
def register_strategies(register):
    register("one_sentence", OneSentence)
