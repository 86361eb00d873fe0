"""A backend for demos and tests: the model spec ``canned:TEXT`` answers TEXT.

It shows the whole backend contract (``claims``, ``problem``, ``load``) and
how a model declares what it cannot do: this one cannot score, stream or
count tokens exactly, so the core streams its answer in one piece and
strategies that need likelihoods skip them with a notice.

    assistant --plugins-dir docs/examples/hooks ask "Hi?" --no-retrieval --model "canned:Hello there."
"""

from assistant import Candidate, Capabilities, CapabilityMissing, Decoding, TextStream, as_prompt, hookimpl, to_messages


class CannedLLM:
    capabilities = Capabilities(score=False, streaming=False, count_tokens=False, words=False,
                                beam_search=False, adapter_kinds=())

    def __init__(self, text):
        self.text, self.name, self.context_window = text, f"canned:{text}", 4096

    def render(self, prompt):
        return "\n".join(f"{m.role}: {m.content}" for m in to_messages(as_prompt(prompt)))

    def count_tokens(self, prompt):
        return len(self.render(prompt)) // 4 + 1  # an estimate: about four characters a token

    def _answer(self, prompt, decoding):
        words = self.text.split()
        text, finish = " ".join(words[:decoding.max_new_tokens]), "length" if len(words) > decoding.max_new_tokens else "stop"
        for stop in decoding.stop:
            if stop in text:
                text, finish = text[:text.index(stop)], "stop"
        return Candidate(text=text.strip(), prompt_tokens=self.count_tokens(prompt),
                         completion_tokens=min(len(words), decoding.max_new_tokens), finish_reason=finish)

    def generate(self, prompts, n=1, decoding=None, label="generate"):
        decoding = decoding or Decoding()
        return [[self._answer(p, decoding) for _ in range(n)] for p in prompts]

    def stream(self, prompt, decoding=None, label="stream"):
        def pieces(stream):
            [[stream.candidate]] = self.generate([prompt], decoding=decoding)
            yield stream.candidate.text

        return TextStream(pieces)

    def score(self, prompt, continuation):
        raise CapabilityMissing(self.name, "score")


class CannedBackend:
    """Answers with the text after `canned:` in the model setting (demos and tests)."""

    priority = 30  # claims only its own specs, so it may go first under `auto`
    label = "canned"
    capabilities = CannedLLM.capabilities

    def claims(self, settings):
        return settings.model.startswith("canned:")

    def problem(self, settings):
        return None if self.claims(settings) else "the model setting does not start with 'canned:'"

    def load(self, settings, progress=None):
        return CannedLLM(settings.model.removeprefix("canned:"))


@hookimpl
def register_backends(register):
    register("canned", CannedBackend)
