"""`assistant chat`: the Textual chat app over a :class:`ChatSession`.

The window paints at once; the model loads in a thread worker meanwhile
(the header says so), and a question asked before it is ready simply waits
for it. Answers run in a thread worker and stream into the message as
Markdown through thread-safe messages, so the UI keeps handling keys while
the model generates (Esc stops it at the next token).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Footer, Header, Input, ListView, TabbedContent, TabPane

from ..errors import AssistantError
from ..retriever import ShowsSources
from .pickers import PickerActions
from .screens import HelpScreen, HistoryScreen, MultiPickerScreen, PromptScreen, RankScreen, SourceScreen
from .session import ChatSession, GenerationStopped
from .widgets import AnswerMessage, SourceItem, SourcesPanel, TracePanel, UserMessage

KEYS = [  # (action, default keys, footer label, description); the config file can rebind them by action
    ("stop", "escape", "Stop", "Stop the answer"),
    ("regenerate", "ctrl+r", "Regenerate", "Regenerate the last answer"),
    ("rank", "ctrl+f", "Rank", "Draw several answers to the last question and rank them"),
    ("arena", "f7", "Arena", "Answer the last question with several strategies side by side and rank them"),
    ("rate_up", "ctrl+g", "Good", "Good answer (thumbs up)"),
    ("rate_down", "ctrl+b", "Bad", "Bad answer (thumbs down, with a comment)"),
    ("copy", "ctrl+y", "Copy", "Copy the last answer"),
    ("sources", "ctrl+s", "Sources", "Go to the sources; Enter opens one"),
    ("trace", "ctrl+t", "Trace", "Show the trace of the last answer"),
    ("pick_strategy", "ctrl+o", "Strategy", "Choose the strategy, then set its options"),
    ("strategy_options", "f6", "Options", "Options of the current strategy (samples, depth, variant...)"),
    ("pick_collection", "ctrl+l", "Collection", "Choose the collection"),
    ("decoding", "f2", "Decoding", "Decoding: temperature, top-p, length, words to force or exclude"),
    ("pick_adapter", "f5", "Adapter", "Choose the adapter (LoRA, soft prompt) for the next turns"),
    ("new_conversation", "ctrl+n", "New", "Start a new conversation"),
    ("history", "f3", "History", "Saved conversations: resume, rename, export, delete"),
    ("collections", "f4", "Collections", "Collections: add a folder, sync, see skipped files, choose, delete"),
    ("help", "f1", "Help", "All keys"),
    ("quit", "ctrl+q", "Quit", "Quit"),
]


class Piece(Message):
    """A streamed piece of text for an answer (posted from the worker thread)."""

    def __init__(self, view: AnswerMessage, text: str) -> None:
        super().__init__()
        self.view, self.text = view, text


class ChatApp(PickerActions, App[None]):
    TITLE = "assistant"
    CSS = """
    #main { height: 1fr; }
    #chat { width: 3fr; padding: 0 1; }
    #side { width: 2fr; border-left: solid $primary 40%; }
    #question { dock: bottom; margin: 0 1; }
    SourcesPanel, TracePanel { height: 1fr; }
    """
    BINDINGS = [Binding(keys, action, label, tooltip=text, id=action, show=action in
                        ("stop", "regenerate", "rank", "rate_up", "rate_down", "sources", "help", "quit"))
                for action, keys, label, text in KEYS]

    def __init__(self, session: ChatSession, rank_samples: int = 2) -> None:
        super().__init__()
        self.session = session
        self.rank_samples = rank_samples
        self.busy = False
        self.started = time.perf_counter()
        self.first_paint_s: float | None = None
        self.enter_at: float | None = None
        self.first_shown_at: float | None = None
        keys = session.engine.settings.plugin_options("tui").get("keys", {})
        if keys:
            self.set_keymap({str(k): str(v) for k, v in keys.items()})

    # ------------------------------------------------------------------ layout

    def compose(self) -> Any:
        yield Header()
        with Horizontal(id="main"):
            yield VerticalScroll(id="chat")
            with TabbedContent(id="side"):
                with TabPane("Sources", id="sources-tab"):
                    yield SourcesPanel(id="sources")
                with TabPane("Trace", id="trace-tab"):
                    yield TracePanel("no answer yet", id="trace")
        yield Input(placeholder="Ask about your documents…  (Enter sends · F1 help)", id="question")
        yield Footer()

    def on_mount(self) -> None:
        self.update_header()
        if self.session.conversation.turns:  # a resumed conversation
            self.show_turns(list(self.session.conversation.turns))
        self.query_one("#question", Input).focus()
        self.call_after_refresh(self._painted)
        self.load_model()

    def _painted(self) -> None:
        if self.first_paint_s is None:
            self.first_paint_s = time.perf_counter() - self.started

    def update_header(self) -> None:
        s = self.session
        settings = s.engine.settings
        try:
            temperature = f"{s.decoding().temperature:g}"
        except AssistantError:
            temperature = "?"
        adapter = settings.adapter if s.adapter is None else s.adapter
        shown = f" · adapter {adapter}" if adapter and adapter != "none" else ""
        options = f" ({', '.join(f'{k}={v}' for k, v in s.options.items())})" if s.options else ""
        self.sub_title = (f"{s.collection or settings.collection} · {s.strategy or settings.strategy}{options}"
                          f"{shown} · T={temperature} · {s.status}")

    def set_status(self, status: str) -> None:
        self.session.status = status
        self.update_header()

    @work(thread=True, exclusive=True, group="load")
    def load_model(self) -> None:
        try:
            self.session.load(report=lambda status: self.call_from_thread(self.set_status, status))
            for notice in self.session.engine.notices:
                self.call_from_thread(self.notify, notice, title="model", severity="warning", timeout=10)
        except AssistantError as exc:
            self.call_from_thread(self.notify, str(exc), title="model", severity="error", timeout=15)
        except Exception as exc:  # a bug, but the window stays usable
            self.call_from_thread(self.notify, f"{type(exc).__name__}: {exc}", title="model", severity="error")

    # ------------------------------------------------------------------ asking

    @on(Input.Submitted, "#question")
    def submitted(self, event: Input.Submitted) -> None:
        question = event.value.strip()
        if not question:
            return
        if self.busy:
            self.notify("an answer is still being written; Esc stops it", severity="warning")
            return
        event.input.value = ""
        self.enter_at = time.perf_counter()
        self.first_shown_at = None
        self.start_turn(question)

    def start_turn(self, question: str, samples: int = 1) -> None:
        chat = self.query_one("#chat", VerticalScroll)
        view = AnswerMessage()
        chat.mount(UserMessage(question))
        chat.mount(view)
        chat.scroll_end(animate=False)
        self.busy = True
        self.answer(question, view, samples)

    @work(thread=True, exclusive=True, group="answer")
    def answer(self, question: str, view: AnswerMessage, samples: int) -> None:
        try:
            turn = self.session.ask(question, on_text=lambda text: self.post_message(Piece(view, text)),
                                    samples=samples)
        except GenerationStopped:
            self.call_from_thread(self.turn_failed, view, "stopped (Esc); not kept in the conversation")
        except AssistantError as exc:
            self.call_from_thread(self.turn_failed, view, f"error: {exc.message}", str(exc))
        except Exception as exc:
            self.call_from_thread(self.turn_failed, view, "failed", f"{type(exc).__name__}: {exc}")
        else:
            self.call_from_thread(self.turn_done, view, turn, samples)

    async def on_piece(self, message: Piece) -> None:
        await message.view.write(message.text)
        if self.first_shown_at is None:
            self.first_shown_at = time.perf_counter()
        self.query_one("#chat", VerticalScroll).scroll_end(animate=False)

    async def turn_done(self, view: AnswerMessage, turn: Any, samples: int) -> None:
        answer = turn.answer
        try:
            await view.finish(answer.text, self._status_line(turn))
            self.query_one("#sources", SourcesPanel).show(turn)
            self.query_one("#trace", TracePanel).show(turn)
        finally:
            self.busy = False  # after the sources and the trace are shown: the turn is done when all of it is
        self.query_one("#chat", VerticalScroll).scroll_end(animate=False)
        for notice in answer.notices:
            self.notify(notice, title="note", severity="warning")
        if samples > 1:
            self.push_screen(RankScreen(answer.question, [(label, text) for _, label, text in
                                                          self.session.rankable()]), self.ranked)

    @staticmethod
    def _status_line(turn: Any) -> str:
        answer = turn.answer
        labels = " ".join(f"[{s.number}]" for s in turn.sources) or "none"
        return (f"{answer.model} · {answer.usage.ms / 1000:.1f} s · {answer.usage.completion_tokens} tokens · "
                f"sources {labels}")

    async def turn_failed(self, view: AnswerMessage, status: str, error: str | None = None) -> None:
        self.busy = False
        await view.finish(None, status)
        if error:
            self.notify(error, title="answer", severity="error", timeout=10)

    # ------------------------------------------------------------------ actions

    def action_stop(self) -> None:
        if self.busy:
            self.session.stop()
        elif isinstance(self.focused, ListView):
            self.query_one("#question", Input).focus()

    def action_regenerate(self) -> None:
        self._again(samples=1)

    def action_rank(self) -> None:
        self._again(samples=self.rank_samples)

    def _again(self, samples: int) -> None:
        if self.busy:
            self.notify("wait for the answer to finish, or press Esc", severity="warning")
            return
        try:
            question = self.session.regenerate_question()
        except AssistantError as exc:
            self.notify(str(exc), severity="warning")
            return
        self.enter_at = time.perf_counter()
        self.first_shown_at = None
        self.start_turn(question, samples)

    def ranked(self, order: str | None) -> None:
        if not order:
            return
        try:
            ranking = self.session.rank(order)
        except AssistantError as exc:
            self.notify(str(exc), severity="error")
            return
        labels = {answer_id: label for answer_id, label, _ in self.session.rankable()}
        self.notify("ranking saved: " + " > ".join("=".join(labels.get(a, a) for a in tier) for tier in ranking),
                    title="feedback")
        if self.session.arena_turns:  # the winner now stands as the conversation's turn
            self.query_one("#sources", SourcesPanel).show(self.session.conversation.turns[-1])
            self.query_one("#trace", TracePanel).show(self.session.conversation.turns[-1])

    def action_rate_up(self) -> None:
        self._rate(1, "")

    def action_rate_down(self) -> None:
        if self.session.last_answer is None:
            self.notify("there is no answer to rate yet", severity="warning")
            return
        self.push_screen(PromptScreen("What was wrong? (optional)", placeholder="a comment"),
                         lambda comment: None if comment is None else self._rate(-1, comment))

    def _rate(self, value: int, comment: str) -> None:
        try:
            notices = self.session.rate(value, comment)
        except AssistantError as exc:
            self.notify(str(exc), severity="warning")
            return
        for notice in notices:
            self.notify(notice, severity="warning")
        self.notify("thanks: rated " + ("up" if value > 0 else "down"), title="feedback")

    def action_copy(self) -> None:
        answer = self.session.last_answer
        if answer is None:
            self.notify("there is no answer to copy yet", severity="warning")
            return
        self.copy_to_clipboard(answer.text)
        self.notify("answer copied to the clipboard")

    def action_sources(self) -> None:
        self.query_one("#side", TabbedContent).active = "sources-tab"
        self.query_one("#sources", SourcesPanel).focus()

    def action_trace(self) -> None:
        self.query_one("#side", TabbedContent).active = "trace-tab"
        self.query_one("#trace", TracePanel).focus()

    @on(ListView.Selected, "#sources")
    def open_source(self, event: ListView.Selected) -> None:
        if isinstance(event.item, SourceItem):
            passage = event.item.source.passage
            root = None
            try:
                retriever = self.session.engine.retriever(passage.collection)
                if isinstance(retriever, ShowsSources):  # an optional capability: else the passage alone
                    root = retriever.source_root()
            except AssistantError:
                pass
            self.push_screen(SourceScreen(passage, root))

    def action_arena(self) -> None:
        if self.busy:
            self.notify("wait for the answer to finish, or press Esc", severity="warning")
            return
        if self.session.last_answer is None:
            self.notify("ask a question first; the arena answers it again with each strategy", severity="warning")
            return
        choices = self.strategy_choices()
        current = self.session.strategy or self.session.engine.settings.strategy
        names = [name for name, _ in choices]
        selected = [current] + [n for n in ("chain_of_thought", "zero_shot") if n != current and n in names][:1]
        self.push_screen(MultiPickerScreen("Arena: strategies to answer the last question side by side", choices,
                                           selected, "Space or Enter toggles · Ctrl+S starts · Esc cancels"),
                         self._start_arena)

    def _start_arena(self, strategies: list[str] | None) -> None:
        if strategies is None:
            return
        if len(strategies) < 2:
            self.notify("choose at least two strategies for an arena", severity="warning")
            return
        try:
            question = self.session.regenerate_question()
        except AssistantError as exc:
            self.notify(str(exc), severity="warning")
            return
        chat = self.query_one("#chat", VerticalScroll)
        chat.mount(UserMessage(question))
        views = [AnswerMessage(status=f"{name}: waiting") for name in strategies]
        for view in views:
            chat.mount(view)
        chat.scroll_end(animate=False)
        self.busy = True
        self.enter_at = time.perf_counter()
        self.first_shown_at = None
        self.run_arena(question, strategies, views)

    @work(thread=True, exclusive=True, group="answer")
    def run_arena(self, question: str, strategies: list[str], views: list[AnswerMessage]) -> None:
        try:
            turns = self.session.arena(question, strategies,
                                       on_text=lambda i, text: self.post_message(Piece(views[i], text)))
        except GenerationStopped:
            for view in views:
                self.call_from_thread(self.turn_failed, view, "stopped (Esc); the arena is not kept")
        except AssistantError as exc:
            self.call_from_thread(self.turn_failed, views[0], f"error: {exc.message}", str(exc))
        except Exception as exc:
            self.call_from_thread(self.turn_failed, views[0], "failed", f"{type(exc).__name__}: {exc}")
        else:
            self.call_from_thread(self.arena_done, views, turns)

    async def arena_done(self, views: list[AnswerMessage], turns: list[Any]) -> None:
        self.busy = False
        for i, (view, turn) in enumerate(zip(views, turns), start=1):
            await view.finish(turn.answer.text, f"[{i}] {turn.answer.strategy} · " + self._status_line(turn))
        self.query_one("#sources", SourcesPanel).show(turns[0])
        self.query_one("#trace", TracePanel).show(turns[0])
        self.push_screen(RankScreen(turns[0].answer.question, [(label, text) for _, label, text in
                                                                 self.session.rankable()]), self.ranked)

    def action_new_conversation(self) -> None:
        if self.busy:
            self.notify("wait for the answer to finish, or press Esc", severity="warning")
            return
        self.session.new_conversation()
        self.query_one("#chat", VerticalScroll).remove_children()
        self.query_one("#sources", SourcesPanel).clear()
        self.notify("new conversation")

    def action_collections(self) -> None:
        from .collections import CollectionsScreen

        self.push_screen(CollectionsScreen(self.session.engine), self._set_collection)

    def action_history(self) -> None:
        if self.session.history is None:
            self.notify("conversation history is off (--no-history)", severity="warning")
            return
        self.push_screen(HistoryScreen(self.session.history.list()), self._history_action)

    def _history_action(self, choice: tuple[str, str] | None) -> None:
        if choice is None:
            return
        action, cid = choice
        history = self.session.history
        if action == "resume":
            if self.busy:
                self.notify("wait for the answer to finish, or press Esc", severity="warning")
                return
            self.show_turns(self.session.resume(cid))
            self.notify(f"resumed: {history.get(cid).title}")
        elif action == "delete":
            history.delete(cid)
            if self.session.conversation_id == cid:
                self.session.conversation_id = None
            self.notify("conversation deleted")
        elif action == "rename":
            self.push_screen(PromptScreen("New title", history.get(cid).title),
                             lambda title: title and (history.rename(cid, title), self.notify("renamed")))
        elif action == "export":
            default = str(Path.cwd() / f"conversation-{cid}.md")
            self.push_screen(PromptScreen("Export to Markdown file", default),
                             lambda path: path and self._export(cid, path))

    def _export(self, cid: str, path: str) -> None:
        from ..atomic import atomic_path

        target = Path(path).expanduser()
        try:
            with atomic_path(target) as tmp:
                tmp.write_text(self.session.history.markdown(cid), encoding="utf-8")
        except OSError as exc:
            self.notify(f"could not write {target}: {exc.strerror}", severity="error")
            return
        self.notify(f"exported to {target}")

    def show_turns(self, turns: list[Any]) -> None:
        chat = self.query_one("#chat", VerticalScroll)
        chat.remove_children()
        for turn in turns:
            view = AnswerMessage(text=turn.answer.text, status=self._status_line(turn))
            chat.mount(UserMessage(turn.answer.question))
            chat.mount(view)
        if turns:
            self.query_one("#sources", SourcesPanel).show(turns[-1])
        chat.scroll_end(animate=False)

    def get_system_commands(self, screen: Any) -> Any:
        """Every chat action in the command palette (Ctrl+P), with its key."""
        yield from super().get_system_commands(screen)
        for action, keys, label, text in KEYS:
            if action != "quit":
                yield SystemCommand(label, f"{text}  [{self._key_of(action, keys)}]",
                                    getattr(self, f"action_{action}"))

    def action_help(self) -> None:
        rows = [(self._key_of(action, keys), text) for action, keys, _label, text in KEYS]
        self.push_screen(HelpScreen(rows))

    def _key_of(self, action: str, default: str) -> str:
        keys = self.session.engine.settings.plugin_options("tui").get("keys", {})
        return str(keys.get(action, default))
