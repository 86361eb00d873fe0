"""The backend contract: what a class registered with ``register_backends``
must offer, and the capabilities a loaded model declares.

A *backend* turns a model spec (the ``model`` setting: a local folder, a GGUF
file, a hub id, later a server URL) into a loaded :class:`assistant.LLM`. The
built-in ones are ``transformers`` (the reference; it trains) and
``llamacpp`` (GGUF on the CPU, about five times faster there). The
``backend`` setting picks one by name; ``auto`` (the default) asks every
registered backend, highest ``priority`` first, and takes the first that can
run the model. A backend that was named but cannot run the model is skipped
with one notice, and ``auto``'s choice among the others runs instead.

A loaded model says what it can do in :class:`Capabilities` (its
``capabilities`` attribute; a model without one is taken to have them all).
The core and the built-in strategies check before they ask: where a
capability is missing they fall back and say so in one notice (``n``
samples become ``n`` calls, each with its own seed; a stream arrives in one
piece; best-of-n ranks without likelihoods), and what cannot be replaced (a
score, beam search, excluded or required words) raises
:class:`CapabilityMissing`, which names the model and the capability.
``assistant.testing.BackendContract`` is the table a backend passes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from .errors import AssistantError

if TYPE_CHECKING:
    from .config import Settings
    from .llm import LLM


def _cap(help: str) -> Any:
    return field(default=True, metadata={"help": help})


@dataclass(frozen=True)
class Capabilities:
    """What a loaded model can do. Every field defaults to what the built-in
    backends offer, so a backend states only what it lacks."""

    samples: bool = _cap("generate(..., n=N) returns N candidates in one call (else the core makes N calls)")
    streaming: bool = _cap("stream yields text as it is generated (else the core streams the whole answer at once)")
    score: bool = _cap("score(prompt, continuation) gives a log-likelihood (else it raises CapabilityMissing)")
    count_tokens: bool = _cap("count_tokens is exact (else an estimate, good enough for the context budget)")
    render: bool = _cap("render is the exact text the model sees (else a readable approximation)")
    words: bool = _cap("Decoding.exclude and Decoding.require are enforced")
    beam_search: bool = _cap("Decoding.num_beams > 1 runs beam search")
    adapter_kinds: tuple[str, ...] = field(default=("lora", "prompt", "prefix"), metadata={
        "help": "the adapter kinds (assistant adapters) it can apply"})

    def missing(self) -> list[str]:
        """The names of the yes/no capabilities this model lacks."""
        return [f.name for f in fields(self) if f.type in ("bool", bool) and not getattr(self, f.name)]


ALL = Capabilities()


def capabilities_of(llm: Any) -> Capabilities:
    """``llm.capabilities`` when it declares them, else :data:`ALL`."""
    declared = getattr(llm, "capabilities", None)
    return declared if isinstance(declared, Capabilities) else ALL


class CapabilityMissing(AssistantError):
    """A model was asked for something its backend cannot do."""

    def __init__(self, model: str, capability: str, hint: str | None = None) -> None:
        self.capability = capability
        super().__init__(f"model {model!r} cannot {DESCRIPTIONS.get(capability, capability)}",
                         hint or "choose a model or backend that can (assistant plugins lists the backends)")


DESCRIPTIONS = {
    "samples": "return several samples in one call", "streaming": "stream its answer",
    "score": "score a continuation (no log-probabilities)", "count_tokens": "count tokens exactly",
    "render": "show the exact text it sees", "words": "exclude or require words",
    "beam_search": "decode with beam search",
}


@runtime_checkable
class Backend(Protocol):
    """A registered backend class, constructed with no arguments.

    ``priority`` orders ``auto``'s choice (higher first; the built-ins use
    20 for llamacpp and 10 for transformers, so a backend for server URLs
    that only claims its own specs can use any value). ``label`` names it in
    notices ("llama.cpp backend not used: ..."). ``capabilities`` describes
    what its models can usually do; each loaded model may say more precisely
    in its own ``capabilities`` attribute (a server that gives no
    log-probabilities, say).
    """

    priority: ClassVar[int]
    label: ClassVar[str]
    capabilities: ClassVar[Capabilities]

    def claims(self, settings: Settings) -> bool:
        """True when ``settings.model`` is a spec this backend is meant for
        (llamacpp: a GGUF file on the CPU; transformers: any local model or
        hub id). ``auto`` skips a backend that does not claim the model
        without a word, and says why when one that claims it cannot run it."""
        ...

    def problem(self, settings: Settings) -> str | None:
        """None when this backend can run ``settings.model`` on
        ``settings.device``; otherwise why not, as a short clause that
        completes "the llamacpp backend cannot run it: ..." (e.g. "the model
        is not a GGUF file", "llama-cpp-python is not installed (pip install
        ...)"). Must be cheap: no model is loaded, nothing is downloaded.
        Raise ``ModelError`` only when the spec is wrong for every backend
        (a local path that does not exist)."""
        ...

    def load(self, settings: Settings, progress: Callable[[str], None] | None = None) -> LLM:
        """Load the model and return an :class:`assistant.LLM`. ``progress``
        takes one-line messages for a long load (a conversion, a download the
        user asked for). Raise ``ModelError`` with a hint when it fails."""
        ...
