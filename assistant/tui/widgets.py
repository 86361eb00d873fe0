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


def _line(value: Any, width: int = 300) -> str:
    return " ".join(str(value).split())[:width]


class TracePanel(Tree):
    """What the turn did, step by step, with time and tokens.

    Steps a reader wants to see in their own shape get it: self-consistency's
    votes with counts and agreement, the tree of thoughts as a tree with each
    thought's value and fate (kept, pruned, expanded, solution), and
    chain-of-verification's questions each with its answer. Any other step
    shows its prompts, outputs and details as leaves.
    """

    def show(self, turn: Turn) -> None:
        answer = turn.answer
        self.clear()
        self.root.set_label(f"{answer.strategy} · {answer.usage.ms / 1000:.1f} s · "
                            f"{answer.usage.prompt_tokens}+{answer.usage.completion_tokens} tokens · "
                            f"{answer.usage.model_calls} model call{'s' if answer.usage.model_calls != 1 else ''}")
        for step in answer.steps:
            tokens = f" · {step.prompt_tokens}+{step.completion_tokens} tok" if step.prompt_tokens else ""
            node = self.root.add(f"{step.kind}: {step.name} · {step.ms:.0f} ms{tokens}",
                                 expand=step.kind in ("vote", "tree", "verify"))
            shaped = {"vote": self._votes, "tree": self._tree, "verify": self._verification}.get(step.kind)
            if shaped is not None and shaped(node, step.detail):
                continue
            self._leaves(node, step.detail)
        if len(answer.candidates) > 1:
            chosen = answer.metadata.get("chosen")
            node = self.root.add(f"{len(answer.candidates)} candidates", expand=True)
            for i, candidate in enumerate(answer.candidates):
                mark = " (chosen)" if chosen == i else ""
                score = f" · score {candidate.score:.3f}" if candidate.score is not None else ""
                node.add_leaf(f"{i + 1}{mark}{score}: {_line(candidate.text, 200)}")
        for notice in answer.notices:
            self.root.add_leaf(f"note: {notice}")
        self.root.expand()

    @staticmethod
    def _leaves(node: Any, detail: dict[str, Any]) -> None:
        for key, value in detail.items():
            if key in ("prompts", "outputs") and isinstance(value, list):
                for i, text in enumerate(value):
                    node.add_leaf(f"{key[:-1]} {i + 1}: {_line(text)}")
            elif key != "decoding":
                node.add_leaf(f"{key}: {_line(value)}")

    @staticmethod
    def _votes(node: Any, detail: dict[str, Any]) -> bool:
        counts = detail.get("counts")
        if not isinstance(counts, dict):
            return False
        total = sum(counts.values()) or 1
        node.set_label(f"{node.label} · agreement {float(detail.get('agreement', 0)):.0%}")
        for answer, count in sorted(counts.items(), key=lambda kv: -kv[1]):
            mark = " ← winner" if answer == detail.get("winner") else ""
            node.add_leaf(f"{'█' * count}{'░' * (total - count)} {count}/{total}  {_line(answer, 80)}{mark}")
        paths = node.add("each path's extracted answer", expand=False)
        for i, answer in enumerate(detail.get("answers", []), start=1):
            paths.add_leaf(f"path {i}: {_line(answer, 120)}")
        return True

    @staticmethod
    def _tree(node: Any, detail: dict[str, Any]) -> bool:
        nodes = detail.get("nodes")
        if not isinstance(nodes, list) or not nodes:
            return False
        children: dict[Any, list[dict[str, Any]]] = {}
        for n in nodes:
            children.setdefault(n.get("parent"), []).append(n)
        icons = {"solution": "★", "pruned": "✗", "expanded": "▸", "kept": "✓", "open": "·"}

        def add(parent: Any, thought: dict[str, Any]) -> None:
            label = (f"{icons.get(thought.get('status', ''), '·')} {thought.get('status', '')} · value "
                     f"{float(thought.get('value', 0)):.2f} · {_line(thought.get('thought') or '(the problem)', 160)}")
            kids = children.get(thought.get("id"), [])
            if not kids:
                parent.add_leaf(label)
                return
            branch = parent.add(label, expand=thought.get("status") != "pruned")
            for kid in kids:
                add(branch, kid)

        pruned = sum(1 for n in nodes if n.get("status") == "pruned")
        node.set_label(f"{node.label} · {len(nodes)} thoughts, {pruned} pruned")
        for root in children.get(None, []):
            add(node, root)
        if "stopped" in detail:
            node.add_leaf(f"stopped: {_line(detail['stopped'])}")
        return True

    @staticmethod
    def _verification(node: Any, detail: dict[str, Any]) -> bool:
        questions = detail.get("questions")
        if not isinstance(questions, list):
            return False
        node.add_leaf(f"draft: {_line(detail.get('draft', ''))}")
        answers = list(detail.get("answers") or [])
        checks = list(detail.get("checks") or [])
        for i, question in enumerate(questions):
            q = node.add(f"Q{i + 1}: {_line(question, 200)}", expand=True)
            if i < len(answers):
                q.add_leaf(f"A: {_line(answers[i])}")
            if i < len(checks):
                q.add_leaf(f"check: {_line(checks[i])}")
        if "stopped" in detail:
            node.add_leaf(f"stopped: {_line(detail['stopped'])}")
        return True
