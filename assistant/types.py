"""Typed values that cross boundaries: between the engine, plugins and faces.

Every value here is a frozen dataclass, so a plugin cannot change what
another plugin sees by mutating it; use :func:`dataclasses.replace` to derive
a changed copy. Nothing in this module imports a heavy library.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Passage:
    """A retrieved piece of a document, with where it came from.

    ``source`` is the file path (relative to the indexed folder when known),
    ``start_line``/``end_line`` are 1-based and inclusive, ``page`` is set for
    paged formats, ``heading`` is the Markdown heading path ("Setup > Install").
    """

    id: str
    text: str
    source: str
    start_line: int | None = None
    end_line: int | None = None
    page: int | None = None
    heading: str | None = None
    score: float = 0.0
    collection: str | None = None
    retriever: str | None = None

    @property
    def location(self) -> str:
        """``path:12-30`` (or ``path p.3``), the way citations are printed."""
        loc = self.source
        if self.page is not None:
            loc += f" p.{self.page}"
        if self.start_line is not None:
            end = self.end_line if self.end_line is not None else self.start_line
            loc += f":{self.start_line}" if end == self.start_line else f":{self.start_line}-{end}"
        return loc


@dataclass(frozen=True)
class Example:
    """A few-shot demonstration: an input, its output, optionally a rationale."""

    input: str
    output: str
    rationale: str | None = None
    id: str | None = None
    tags: tuple[str, ...] = ()
    score: float = 0.0


@dataclass(frozen=True)
class Message:
    """One turn of a conversation: ``role`` is "user" or "assistant"."""

    role: str
    content: str


@dataclass(frozen=True)
class Prompt:
    """The anatomy of a prompt, rendered in one place (:mod:`assistant.prompt`).

    Order of importance when the context window is short: ``input`` is never
    cut; ``examples`` go first (lowest-ranked last in the tuple goes first),
    then ``passages`` (lowest-ranked first), then ``history``, then ``context``
    is trimmed.
    """

    input: str
    instructions: str = ""
    context: str = ""
    examples: tuple[Example, ...] = ()
    passages: tuple[Passage, ...] = ()
    history: tuple[Message, ...] = ()
    output_format: str = ""
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Decoding:
    """How to pick tokens. ``temperature == 0`` means greedy decoding.

    ``num_beams > 1`` selects beam search (deterministic). ``top_k == 0``
    disables top-k filtering. ``stop`` strings end generation and are removed
    from the returned text. ``exclude`` words never appear in the output;
    ``require`` words always do (``assistant/backends/transformers/constraints.py``).
    """

    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    num_beams: int = 1
    repetition_penalty: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    exclude: tuple[str, ...] = ()
    require: tuple[str, ...] = ()

    @property
    def sampling(self) -> bool:
        return self.temperature > 0 and self.num_beams == 1


@dataclass(frozen=True)
class Candidate:
    """One generated continuation, with its token counts and (if known) score."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str = "stop"  # "stop" (EOS or stop string) or "length"
    score: float | None = None
    index: int = 0  # which prompt of a batch it answers


@dataclass(frozen=True)
class Step:
    """One recorded step of a turn: retrieval, conditioning, a model call...

    ``kind`` is a short word ("retrieve", "generate", "budget", ...);
    ``detail`` holds what a reader of the trace wants to see (prompts,
    outputs, votes); ``notices`` are human-readable remarks, e.g. that
    passages were dropped to fit the context window.
    """

    kind: str
    name: str
    ms: float
    detail: dict[str, Any] = field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    notices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Usage:
    """Totals for a turn."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    model_calls: int = 0
    ms: float = 0.0


@dataclass(frozen=True)
class Citation:
    """A passage the answer relies on; ``marker`` is its number in the prompt."""

    marker: int
    passage: Passage
    explicit: bool  # the answer text named it as [n]


@dataclass(frozen=True)
class StrategyResult:
    """What a strategy returns: the final text, all candidates, its own steps
    (the ``notices`` of those steps are shown with the answer, each once)."""

    text: str
    candidates: tuple[Candidate, ...] = ()
    steps: tuple[Step, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Answer:
    """A finished turn: what the user sees, and everything needed to audit it."""

    id: str
    question: str
    text: str
    citations: tuple[Citation, ...]
    passages: tuple[Passage, ...]
    steps: tuple[Step, ...]
    usage: Usage
    strategy: str
    options: dict[str, Any]
    model: str
    decoding: Decoding
    candidates: tuple[Candidate, ...] = ()
    notices: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    prompt: Prompt | None = None  # the conditioned, fitted prompt the strategy was given


@dataclass(frozen=True)
class Feedback:
    """A user's judgement of one or more answers.

    ``kind`` is "rating" (``value`` +1/-1), "ranking" (``ranking`` lists
    answer ids best first; ids in one inner tuple are tied) or "pairwise".
    """

    kind: str
    answer_ids: tuple[str, ...]
    value: float | None = None
    ranking: tuple[tuple[str, ...], ...] = ()
    comment: str = ""


@dataclass(frozen=True)
class Section:
    """One self-contained record of a multi-record file, e.g. a line of a
    JSONL corpus: chunked on its own and cited by the file line it came from."""

    text: str
    title: str = ""
    line: int | None = None  # 1-based line of the record in the file
    id: str = ""


@dataclass(frozen=True)
class LoadedDocument:
    """What a loader returns: the text, and for paged formats the character
    offset where each page starts (page 1 first). A multi-record file returns
    its ``sections`` instead; ``text`` then holds them joined, for display."""

    text: str
    page_offsets: tuple[int, ...] = ()
    sections: tuple[Section, ...] = ()


@dataclass(frozen=True)
class SyncReport:
    """What ``assistant index`` did to a collection."""

    collection: str
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    skipped: tuple[tuple[str, str], ...] = ()  # (path, reason)
    chunks_embedded: int = 0
    chunks_total: int = 0
    seconds: float = 0.0
