"""The chat screen's widgets: messages, the sources list and the trace."""

from __future__ import annotations

from typing import Any

from textual.containers import Vertical
from textual.widgets import ListItem, ListView, Markdown, Static, Tree

from ..conversation import Source, Turn


class UserMessage(Static):
    DEFAULT_CSS = """
    UserMessage { margin: 1 0 0 8; padding: 0 1; background: $primary 20%; border-left: thick $primary; }
    """


class AnswerMessage(Vertical):
    """An answer: Markdown streamed as it is generated, then a status line."""

    DEFAULT_CSS = """
    AnswerMessage { height: auto; margin: 1 8 0 0; padding: 0 1; border-left: thick $success; }
    AnswerMessage Markdown { margin: 0; padding: 0; }
    AnswerMessage .status { color: $text-muted; }
    """

    def __init__(self, text: str = "", status: str = "thinking…") -> None:
        super().__init__()
        self.text = text
        self.pieces = 0  # streamed pieces shown before the answer finished
        self.markdown = Markdown(text)
        self.status = Static(status, classes="status")
        self._stream: Any = None

    def compose(self) -> Any:
        yield self.markdown
        yield self.status

    async def write(self, piece: str) -> None:
        if self._stream is None:
            self._stream = Markdown.get_stream(self.markdown)
            self.status.update("answering…  (Esc stops)")
        if not self.text:
            piece = piece.lstrip()
        self.text += piece
        self.pieces += 1
        await self._stream.write(piece)

    async def finish(self, text: str | None, status: str) -> None:
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None
        if text is not None and text.strip() != self.text.strip():
            self.text = text.strip()
            await self.markdown.update(self.text)
        self.status.update(status)


class SourceItem(ListItem):
    def __init__(self, source: Source) -> None:
        p = source.passage
        heading = f"\n  {p.heading}" if p.heading else ""
        cited = "cited" if source.number > 0 else "consulted"
        number = f"[{source.number}]" if source.number > 0 else "[-]"
        super().__init__(Static(f"{number} {p.location}  {p.score:.3f} {cited}{heading}"))
        self.source = source


class SourcesPanel(ListView):
    """The passages behind the current answer: cited ones with their
    conversation-wide numbers first, then those only consulted."""

    def show(self, turn: Turn) -> None:
        self.clear()
        cited = {s.passage.id for s in turn.sources}
        for source in turn.sources:
            self.append(SourceItem(source))
        for passage in turn.answer.passages:
            if passage.id not in cited:
                self.append(SourceItem(Source(0, passage)))
        self.index = 0


class TracePanel(Tree):
    """What the turn did, step by step, with time and tokens."""

    def show(self, turn: Turn) -> None:
        answer = turn.answer
        self.clear()
        self.root.set_label(f"{answer.strategy} · {answer.usage.ms / 1000:.1f} s · "
                            f"{answer.usage.prompt_tokens}+{answer.usage.completion_tokens} tokens")
        for step in answer.steps:
            tokens = f" · {step.prompt_tokens}+{step.completion_tokens} tok" if step.prompt_tokens else ""
            node = self.root.add(f"{step.kind}: {step.name} · {step.ms:.0f} ms{tokens}", expand=False)
            for key, value in step.detail.items():
                if key in ("prompts", "outputs") and isinstance(value, list):
                    for i, text in enumerate(value):
                        node.add_leaf(f"{key[:-1]} {i + 1}: {' '.join(str(text).split())[:300]}")
                elif key == "decoding":
                    continue
                else:
                    node.add_leaf(f"{key}: {' '.join(str(value).split())[:300]}")
        if len(answer.candidates) > 1:
            chosen = answer.metadata.get("chosen")
            node = self.root.add(f"{len(answer.candidates)} candidates", expand=True)
            for i, candidate in enumerate(answer.candidates):
                mark = " (chosen)" if chosen == i else ""
                node.add_leaf(f"{i + 1}{mark}: {' '.join(candidate.text.split())[:200]}")
        for notice in answer.notices:
            self.root.add_leaf(f"note: {notice}")
        self.root.expand()
