"""Test kit for plugin authors: a scripted fake model.

:class:`ScriptedLLM` implements the :class:`~assistant.llm.LLM` interface
without any weights. Give it a function from the rendered prompt to the
reply (or a list of replies to hand out in order); it records every call, so
a test can check a strategy's control flow: how many calls, with which
prompts, how many samples. Test the same strategy on the real model too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from ..llm import PromptLike, TextStream
from ..prompt import as_prompt, to_messages
from ..types import Candidate, Decoding


@dataclass
class Call:
    kind: str  # "generate", "stream" or "score"
    prompts: list[str]
    n: int = 1
    decoding: Decoding | None = None
    label: str = ""


@dataclass
class ScriptedLLM:
    """A fake LLM. ``reply(prompt_text, sample_index) -> str`` decides each answer."""

    reply: Callable[[str, int], str] | Sequence[str] = "scripted answer"
    name: str = "scripted"
    context_window: int = 2048
    scores: Callable[[str, str], float] = field(default=lambda prompt, continuation: -float(len(continuation)))
    calls: list[Call] = field(default_factory=list)
    _queue: list[str] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.reply, str):
            text = self.reply
            self.reply = lambda prompt, i: text
        elif not callable(self.reply):
            self._queue = list(self.reply)
            self.reply = self._next_from_queue

    def _next_from_queue(self, prompt: str, index: int) -> str:
        if not self._queue:
            raise AssertionError("ScriptedLLM ran out of scripted replies")
        return self._queue.pop(0)

    def render(self, prompt: PromptLike) -> str:
        return "\n".join(f"<{m.role}> {m.content}" for m in to_messages(as_prompt(prompt)))

    def count_tokens(self, prompt: PromptLike) -> int:
        return len(self.render(prompt).split())

    def _candidate(self, text: str, prompt: str, decoding: Decoding, index: int) -> Candidate:
        words = text.split()
        limit = decoding.max_new_tokens
        finish = "length" if len(words) > limit else "stop"
        if len(words) > limit:  # within the limit the text is kept as written, newlines included
            text = " ".join(words[:limit])
        for stop in decoding.stop:
            if stop in text:
                text, finish = text[: text.index(stop)], "stop"
        return Candidate(text=text.strip(), prompt_tokens=len(prompt.split()),
                         completion_tokens=min(len(words), limit), finish_reason=finish, index=index)

    def generate(self, prompts: Sequence[PromptLike], n: int = 1, decoding: Decoding | None = None,
                 label: str = "generate") -> list[list[Candidate]]:
        decoding = decoding or Decoding()
        texts = [self.render(p) for p in prompts]
        self.calls.append(Call("generate", texts, n, decoding, label))
        return [[self._candidate(self.reply(t, j), t, decoding, i) for j in range(n)]  # type: ignore[operator]
                for i, t in enumerate(texts)]

    def stream(self, prompt: PromptLike, decoding: Decoding | None = None, label: str = "stream") -> TextStream:
        decoding = decoding or Decoding()
        text = self.render(prompt)
        self.calls.append(Call("stream", [text], 1, decoding, label))
        candidate = self._candidate(self.reply(text, 0), text, decoding, 0)  # type: ignore[operator]

        def pieces(stream: TextStream) -> Iterator[str]:
            for i, word in enumerate(candidate.text.split(" ")):
                yield word if i == 0 else " " + word
            stream.candidate = candidate

        return TextStream(pieces)

    def score(self, prompt: PromptLike, continuation: str) -> float:
        text = self.render(prompt)
        self.calls.append(Call("score", [text]))
        return self.scores(text, continuation)
