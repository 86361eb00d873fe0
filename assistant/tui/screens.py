"""Modal screens: help, pickers, ranking candidates, reading a source."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.markup import escape
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Markdown, OptionList, SelectionList, Static
from textual.widgets.option_list import Option

from ..types import Passage

MODAL_CSS = """
ModalScreen { align: center middle; }
ModalScreen > Vertical { width: 90%; max-width: 110; height: auto; max-height: 90%;
                         border: round $primary; background: $surface; padding: 1 2; }
ModalScreen .title { text-style: bold; margin-bottom: 1; }
ModalScreen .hint { color: $text-muted; margin-top: 1; }
"""


class HelpScreen(ModalScreen[None]):
    """Every key, generated from the app's bindings."""

    DEFAULT_CSS = MODAL_CSS
    BINDINGS = [Binding("escape,q,f1", "dismiss", "Close")]

    def __init__(self, bindings: list[tuple[str, str]]) -> None:
        super().__init__()
        self.rows = bindings

    def compose(self) -> Any:
        table = "\n".join(f"| `{key}` | {text} |" for key, text in self.rows)
        with Vertical():
            yield Label("Keys", classes="title")
            yield Markdown("| key | action |\n|---|---|\n" + table + "\n\nType a question and press Enter. "
                           "Ctrl+P opens the command palette; keys can be changed in the config file "
                           "(`[plugins.tui.keys]`, e.g. `regenerate = \"ctrl+r\"`).")
            yield Static("Esc closes", classes="hint")


class PickerScreen(ModalScreen[str | None]):
    """Choose one of ``choices`` (value, description); returns the value or None."""

    DEFAULT_CSS = MODAL_CSS
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, title: str, choices: list[tuple[str, str]], current: str | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.choices = choices
        self.current = current

    def compose(self) -> Any:
        with Vertical():
            yield Label(self.title_text, classes="title")
            options = [Option(f"{'● ' if value == self.current else '  '}{value}  {desc}", id=value)
                       for value, desc in self.choices]
            yield OptionList(*options)
            yield Static("Enter chooses · Esc cancels", classes="hint")

    def on_mount(self) -> None:
        option_list = self.query_one(OptionList)
        ids = [value for value, _ in self.choices]
        if self.current in ids:
            option_list.highlighted = ids.index(self.current)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


class PromptScreen(ModalScreen[str | None]):
    """Ask for one line of text (a comment, a setting value)."""

    DEFAULT_CSS = MODAL_CSS
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, title: str, value: str = "", placeholder: str = "") -> None:
        super().__init__()
        self.title_text, self.value, self.placeholder = title, value, placeholder

    def compose(self) -> Any:
        with Vertical():
            yield Label(self.title_text, classes="title")
            yield Input(self.value, placeholder=self.placeholder)
            yield Static("Enter confirms · Esc cancels", classes="hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)


class RankScreen(ModalScreen[str | None]):
    """Show answers to rank, numbered (candidates of one answer, or an
    arena's answers labelled by strategy); the user types their order."""

    DEFAULT_CSS = MODAL_CSS + "RankScreen .candidate { margin-bottom: 1; }"
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, question: str, items: list[tuple[str, str]]) -> None:
        super().__init__()
        self.question, self.items = question, items  # (label, text)

    def compose(self) -> Any:
        with Vertical():
            yield Label(f"Rank {len(self.items)} answers to: {self.question}", classes="title")
            with VerticalScroll():
                for i, (label, text) in enumerate(self.items, start=1):
                    yield Static(f"[b]{i}[/b] [dim]{escape(label)}[/dim]  {escape(text.strip())}",
                                 classes="candidate")
            yield Input(placeholder="best first, '=' for ties, e.g. 2 1 or 1=2 3", id="order")
            yield Static("Enter saves the ranking to the feedback store · Esc cancels", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#order", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)


class MultiPickerScreen(ModalScreen[list[str] | None]):
    """Choose several of ``choices`` (value, description); returns the values in
    the listed order, or None. Space or Enter toggles, Ctrl+S confirms."""

    DEFAULT_CSS = MODAL_CSS
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel"), Binding("ctrl+s", "confirm", "Start")]

    def __init__(self, title: str, choices: list[tuple[str, str]], selected: list[str], hint: str = "") -> None:
        super().__init__()
        self.title_text, self.choices, self.selected, self.hint = title, choices, selected, hint

    def compose(self) -> Any:
        with Vertical():
            yield Label(self.title_text, classes="title")
            yield SelectionList[str](*[(f"{value}  {desc}", value, value in self.selected)
                                       for value, desc in self.choices])
            yield Static(self.hint or "Space or Enter toggles · Ctrl+S confirms · Esc cancels", classes="hint")

    def on_mount(self) -> None:
        selection = self.query_one(SelectionList)
        values = [value for value, _ in self.choices]
        if self.selected and self.selected[0] in values:
            selection.highlighted = values.index(self.selected[0])
        selection.focus()

    def action_confirm(self) -> None:
        chosen = set(self.query_one(SelectionList).selected)
        self.dismiss([value for value, _ in self.choices if value in chosen])


class SourceScreen(ModalScreen[None]):
    """A cited passage in its file, the passage's lines marked."""

    DEFAULT_CSS = MODAL_CSS
    BINDINGS = [Binding("escape,q", "dismiss", "Close")]

    def __init__(self, passage: Passage, root: str | None) -> None:
        super().__init__()
        self.passage = passage
        self.root = root

    def context(self, around: int = 12) -> str:
        """The passage's lines with some lines before and after, from the file when it is text."""
        p = self.passage
        path = Path(self.root) / p.source if self.root else None
        if path is None or p.start_line is None or p.page is not None or not path.is_file():
            return p.text
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return p.text
        end = p.end_line or p.start_line
        first, last = max(1, p.start_line - around), min(len(lines), end + around)
        out = []
        for number in range(first, last + 1):
            mark = "▌" if p.start_line <= number <= end else " "
            out.append(f"{number:>5} {mark} {lines[number - 1]}")
        return "\n".join(out)

    def compose(self) -> Any:
        with Vertical():
            yield Label(f"{self.passage.location}" + (f"  ({self.passage.heading})" if self.passage.heading else ""),
                        classes="title")
            with VerticalScroll():
                yield Static(self.context(), markup=False)
            yield Static("Esc closes", classes="hint")


class HistoryScreen(ModalScreen[tuple[str, str] | None]):
    """Saved conversations, newest first. Returns (action, conversation id):
    Enter resumes, r renames, e exports to Markdown, d deletes."""

    DEFAULT_CSS = MODAL_CSS
    BINDINGS = [Binding("escape", "dismiss(None)", "Close"), Binding("r", "choose('rename')", "Rename"),
                Binding("e", "choose('export')", "Export"), Binding("d", "choose('delete')", "Delete")]

    def __init__(self, conversations: list[Any]) -> None:
        super().__init__()
        self.conversations = conversations

    def compose(self) -> Any:
        import time

        with Vertical():
            yield Label(f"Conversations ({len(self.conversations)})", classes="title")
            options = [Option(f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(c.updated))}  {c.title}  "
                              f"({c.turns} turn{'s' if c.turns != 1 else ''})", id=c.id)
                       for c in self.conversations]
            yield OptionList(*options) if options else Static("No saved conversations yet.")
            yield Static("Enter resumes · r renames · e exports to Markdown · d deletes · Esc closes", classes="hint")

    def _highlighted(self) -> str | None:
        lists = self.query(OptionList)
        if not lists:
            return None
        option_list = lists.first()
        if option_list.highlighted is None:
            return None
        return option_list.get_option_at_index(option_list.highlighted).id

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(("resume", event.option.id))

    def action_choose(self, action: str) -> None:
        cid = self._highlighted()
        if cid is not None:
            self.dismiss((action, cid))
