"""What the chat screen does, without the screen: load the model in the
background, answer in a conversation with cancellation, regenerate, rate and
rank. The Textual app is a thin face over a :class:`ChatSession`; tests can
drive either.

Thread safety: the model and the embedder load once, under a lock, in
whichever thread first needs them (the app starts a loader thread at once,
so the window is usable while the ~4 s load runs). Answers run in a worker
thread; Esc sets an event that the streaming callback checks, which stops
generation at the next token.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..conversation import Conversation, Turn
from ..errors import AssistantError, ConfigError
from ..retriever import WarmsUp
from ..types import Answer, Feedback


class GenerationStopped(AssistantError):
    """The user stopped the answer (Esc)."""


@dataclass
class Timing:
    """When the last turn's milestones happened (perf_counter seconds)."""

    submitted: float = 0.0
    engine_called: float = 0.0
    first_piece: float | None = None
    finished: float | None = None


@dataclass
class ChatSession:
    engine: Any
    strategy: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    temperature: float | None = None
    max_new_tokens: int | None = None
    collection: str | None = None
    adapter: str | None = None  # None: the `adapter` setting; "none": the base model
    status: str = "not loaded"
    timing: Timing = field(default_factory=Timing)
    history: Any = None  # a HistoryStore: every turn is saved there when set
    conversation_id: str | None = None
    decoding_overrides: dict[str, Any] = field(default_factory=dict)  # from the decoding form

    def __post_init__(self) -> None:
        self.conversation = Conversation(self.engine)
        self._load_lock = threading.Lock()
        self._loaded = False
        self._stop = threading.Event()
        self.arena_turns: list[Turn] = []  # the last arena's answers, one per strategy, until ranked

    # ------------------------------------------------------------------ loading

    def load(self, report: Callable[[str], None] = lambda s: None) -> None:
        """Load the generator and the embedder (idempotent, thread-safe)."""
        with self._load_lock:
            if self._loaded:
                return
            self.status = "loading model"
            report(self.status)
            try:
                self.engine.llm  # noqa: B018  (loads, converting the GGUF once)
            except Exception:
                self.status = "model failed to load"
                report(self.status)
                raise
            try:
                retriever = self.engine.retriever(self.collection)
                if isinstance(retriever, WarmsUp) and retriever.exists():  # an optional capability
                    retriever.warm_up()
            except Exception:
                self.status = "retriever failed to load"
                report(self.status)
                raise
            self._loaded = True
            self.status = "ready"
            report(self.status)

    @property
    def loaded(self) -> bool:
        return self._loaded

    @property
    def model_name(self) -> str:
        return self.engine.llm.name if self._loaded else self.engine.settings.model

    # ------------------------------------------------------------------ turns

    def decoding(self) -> Any:
        values = {"temperature": self.temperature, "max_new_tokens": self.max_new_tokens, **self.decoding_overrides}
        return self.engine.decoding(**values)

    def set_decoding(self, overrides: dict[str, Any]) -> None:
        """Decoding settings for the next turns (checked by the engine first)."""
        self.engine.decoding(**overrides)
        self.decoding_overrides = dict(overrides)
        self.temperature = overrides.get("temperature", self.temperature)
        self.max_new_tokens = overrides.get("max_new_tokens", self.max_new_tokens)

    def ask(self, question: str, on_text: Callable[[str], None] | None = None, samples: int = 1) -> Turn:
        """Answer ``question`` in the conversation; ``samples`` > 1 draws candidates to rank."""
        self._begin()
        piece = self._streamer(on_text)
        options = dict(self.options)
        decoding = self.decoding()
        if samples > 1:
            options["samples"] = samples
            if decoding.temperature == 0:  # greedy samples would all be the same answer
                decoding = self.engine.decoding(temperature=0.8, top_p=0.95, max_new_tokens=self.max_new_tokens)
        self.timing.engine_called = time.perf_counter()
        turn = self.conversation.ask(question, on_text=piece, strategy=self.strategy, options=options or None,
                                     decoding=decoding, collection=self.collection, adapter=self.adapter)
        self.timing.finished = time.perf_counter()
        self._save(turn)
        return turn

    def arena(self, question: str, strategies: list[str],
              on_text: Callable[[int, str], None] | None = None) -> list[Turn]:
        """Answer ``question`` once with each strategy, side by side, to rank.

        The answers share a group id, so the feedback store keeps them as
        siblings and a ranking of them exports as preference pairs. The first
        answer stands as the conversation's turn until :meth:`rank` promotes
        the winner. ``on_text(i, piece)`` streams the i-th strategy's answer.
        """
        if len(strategies) < 2:
            raise ConfigError("an arena needs at least two strategies", "choose two or more")
        registry = self.engine.host.registry.of("strategy")
        unknown = [s for s in strategies if s not in registry]
        if unknown:
            raise ConfigError(f"unknown strategy {unknown[0]!r}", "see `assistant strategies`")
        group = uuid.uuid4().hex[:12]
        history = self.conversation.history
        turns: list[Turn] = []
        self._begin()
        for i, strategy in enumerate(strategies):
            piece = self._streamer(None if on_text is None else (lambda text, i=i: on_text(i, text)))
            self.timing.engine_called = time.perf_counter()
            options = self.options if strategy == (self.strategy or self.engine.settings.strategy) else {}
            answer = self.engine.answer(question, history=history, on_text=piece, strategy=strategy,
                                        options=dict(options) or None, decoding=self.decoding(),
                                        collection=self.collection, adapter=self.adapter,
                                        group=group)
            self.timing.finished = time.perf_counter()
            turns.append(Turn(answer=answer, sources=tuple(self.conversation.source(c) for c in answer.citations)))
        self.conversation.turns.append(turns[0])
        self._save(turns[0])
        self.arena_turns = turns
        return turns

    def _begin(self) -> None:
        """Start a turn: clear Esc, start timing, load the model if needed."""
        self._stop.clear()
        self.arena_turns = []
        self.timing = Timing(submitted=time.perf_counter())
        self.load()

    def _streamer(self, on_text: Callable[[str], None] | None) -> Callable[[str], None]:
        """The streaming callback: passes pieces on, raises :class:`GenerationStopped` after Esc."""

        def piece(text: str) -> None:
            if self._stop.is_set():
                raise GenerationStopped("stopped")
            if self.timing.first_piece is None:
                self.timing.first_piece = time.perf_counter()
            if on_text is not None:
                on_text(text)

        return piece

    def _save(self, turn: Turn) -> None:
        if self.history is not None:
            if self.conversation_id is None:
                self.conversation_id = self.history.new(turn.answer.question)
            self.history.add_turn(self.conversation_id, turn.answer)

    def stop(self) -> None:
        self._stop.set()

    def regenerate_question(self) -> str:
        """Forget the last turn and return its question, to ask again."""
        if not self.conversation.turns:
            raise ConfigError("there is no answer to regenerate yet", "ask a question first")
        if self.history is not None and self.conversation_id is not None:
            self.history.drop_last_turn(self.conversation_id)
        self.arena_turns = []
        return self.conversation.turns.pop().answer.question

    @property
    def last_answer(self) -> Answer | None:
        return self.conversation.turns[-1].answer if self.conversation.turns else None

    # ------------------------------------------------------------------ feedback

    def rate(self, value: int, comment: str = "") -> list[str]:
        answer = self._need_answer()
        return self.engine.feedback(Feedback(kind="rating", answer_ids=(answer.id,), value=float(value),
                                             comment=comment))

    def rankable(self) -> list[tuple[str, str, str]]:
        """(answer id, label, text) of what the rank screen shows: the last
        arena's answers, or else the last answer's candidates."""
        if self.arena_turns:
            return [(t.answer.id, t.answer.strategy, t.answer.text) for t in self.arena_turns]
        answer = self._need_answer()
        return [(f"{answer.id}-{i}", f"sample {i + 1}", c.text) for i, c in enumerate(answer.candidates)]

    def rank(self, order: str) -> tuple[tuple[str, ...], ...]:
        """Rank the last answer's candidates, or the last arena's answers:
        ``order`` like "2 1 3" or "1=2 3" (best first). After an arena, the
        winner becomes the conversation's turn."""
        self._need_answer()
        items = self.rankable()
        count = len(items)
        if count < 2:
            raise ConfigError("the last answer has only one candidate", "draw several with the rank key first")
        tiers: list[tuple[str, ...]] = []
        seen: set[int] = set()
        for tier in order.split():
            numbers = []
            for part in tier.split("="):
                if not part.isdigit() or not 1 <= int(part) <= count or int(part) in seen:
                    raise ConfigError(f"bad ranking {order!r}",
                                      f"list candidate numbers 1-{count} best first, '=' for ties, e.g. 2 1")
                seen.add(int(part))
                numbers.append(items[int(part) - 1][0])
            tiers.append(tuple(numbers))
        if len(seen) < 2:
            raise ConfigError("a ranking needs at least two candidates", "e.g. 2 1")
        ranking = tuple(tiers)
        notices = self.engine.feedback(Feedback(kind="ranking", answer_ids=tuple(a for t in ranking for a in t),
                                                ranking=ranking))
        if notices:
            raise ConfigError("; ".join(notices))
        if self.arena_turns:
            self._promote(next(t for t in self.arena_turns if t.answer.id == ranking[0][0]))
        return ranking

    def _promote(self, winner: Turn) -> None:
        """Make the arena's winner the conversation's last turn (and in the history)."""
        if self.conversation.turns and self.conversation.turns[-1] is not winner:
            self.conversation.turns[-1] = winner
            if self.history is not None and self.conversation_id is not None:
                self.history.drop_last_turn(self.conversation_id)
                self.history.add_turn(self.conversation_id, winner.answer)

    def _need_answer(self) -> Answer:
        if self.last_answer is None:
            raise ConfigError("there is no answer yet", "ask a question first")
        return self.last_answer

    def new_conversation(self) -> None:
        self.arena_turns = []
        self.conversation.clear()
        self.conversation_id = None

    def resume(self, conversation_id: str) -> list[Turn]:
        """Continue a saved conversation; returns its turns to show."""
        if self.history is None:
            raise ConfigError("conversation history is off", "start the chat without --no-history")
        self.arena_turns = []
        self.conversation.restore(self.history.answers(conversation_id))
        self.conversation_id = conversation_id
        return list(self.conversation.turns)
