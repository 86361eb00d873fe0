"""Every plugin contract in one place: what a class registered through a
``register_*`` hook must offer. Each is a typed ``Protocol``; the doc
generator renders this module into docs/plugins.md ("Contracts"), and
``assistant.testing`` has the contract tables that check an implementation.

* ``register_strategies``: :class:`Strategy`, checked by ``StrategyContract``;
* ``register_retrievers``: :class:`Retriever` and its optional capabilities
  (:class:`WarmsUp`, :class:`ShowsSources`, :class:`ListsCollections`,
  :class:`Describes`, :class:`Deletes`), checked by ``RetrieverContract``;
  or a :class:`VectorStore` behind :class:`StoreRetriever`, which brings the
  loading, chunking, embedding and incremental sync;
* ``register_backends``: :class:`Backend`, whose models are :class:`LLM`
  with :class:`Capabilities`, checked by ``BackendContract``;
* ``register_example_selectors``: :class:`ExampleSelector`;
* ``register_adapter_kinds``: :class:`AdapterKind`.

The retriever and backend contracts live in :mod:`assistant.retriever` and
:mod:`assistant.backend` (with their capability protocols), the model
interface in :mod:`assistant.llm`, adapter kinds in :mod:`assistant.adapters`,
vector stores in :mod:`assistant.ingestion`;
this module gathers them and defines the two that had only prose.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Protocol, runtime_checkable

from .adapters import AdapterKind
from .backend import Backend, Capabilities, CapabilityMissing
from .ingestion import StoreRetriever, VectorStore
from .llm import LLM
from .retriever import Deletes, Describes, ListsCollections, Retriever, ShowsSources, WarmsUp

if TYPE_CHECKING:
    from .strategy import StrategyCall
    from .types import Example, StrategyResult

__all__ = ["AdapterKind", "Backend", "Capabilities", "CapabilityMissing", "Deletes", "Describes", "ExampleSelector",
           "LLM", "ListsCollections", "Retriever", "ShowsSources", "StoreRetriever", "Strategy",
           "VectorStore", "WarmsUp"]


@runtime_checkable
class Strategy(Protocol):
    """A prompt strategy, registered with ``register(name, strategy_class)``
    and constructed as ``strategy_class(options)``.

    ``Options`` is a dataclass whose fields (each with a default and
    ``metadata={"help": ...}``) are what the user sets with ``-o KEY=VALUE``;
    the class docstring's first line is shown by ``assistant strategies``.
    ``run`` talks to the model only through ``call.llm`` (metered, budgeted,
    traced) and to verifiers only through ``call.score_candidates``, and
    writes its final answer with ``call.final(prompt)`` (streamed when the
    face asks for streaming). ``StrategyContract`` checks all of it.
    """

    Options: ClassVar[type]

    def run(self, call: StrategyCall) -> StrategyResult:
        """Answer ``call.question`` from ``call.prompt`` (the passages and
        examples already in it); return the text, every candidate it made,
        and any steps of its own (their ``notices`` reach the answer)."""
        ...


@runtime_checkable
class ExampleSelector(Protocol):
    """A few-shot example selector, registered with ``register(name,
    selector_class)`` and constructed as ``selector_class(settings)``; the
    user picks one with the ``example_selector`` setting and how many with
    ``examples_k``."""

    def select(self, query: str, k: int) -> list[Example]:
        """The ``k`` examples most useful for ``query``, best first (fewer
        when the bank is smaller). Raise ``AssistantError`` with a hint when
        the bank cannot be read."""
        ...
