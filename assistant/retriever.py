"""The retriever contract: what a class registered with ``register_retrievers``
must offer, and the optional capabilities the core uses when it is there.

A retriever is constructed as ``retriever_class(collection, settings, loaders)``
(the collection's name, the :class:`assistant.Settings` in force, and the
registered document loaders by suffix) and then offers :class:`Retriever`'s
three methods. Everything else is optional: a capability is a separate
protocol, a retriever has it by defining the method, and the core checks with
``isinstance(retriever, WarmsUp)`` and does without when it is missing (the
chat then skips the warm-up, and its source viewer shows the passage's own
text instead of the file around it).

Options: a retriever may declare a class attribute ``Options``, a dataclass
whose fields (with defaults and ``metadata={"help": ...}``) are its settings.
The user sets them in the config file's ``[plugins.NAME]`` table (NAME: the
name the retriever is registered under) or per command with
``--retriever-option KEY=VALUE`` (``-R``); ``assistant config`` lists them.
The engine checks them when it builds the retriever (an unknown key or a
wrong type is a ``ConfigError`` naming the valid ones), and the retriever
reads them with :func:`retriever_options`.

Capabilities:

* :class:`WarmsUp`: ``warm_up()`` loads what the first search needs (an
  embedding model, an index in memory); the chat calls it while it loads the
  generator, so the first question does not wait for it.
* :class:`ShowsSources`: ``source_root()`` is the folder that
  ``Passage.source`` is relative to, so the chat can open the file around a
  cited passage's lines.
* :class:`ListsCollections`: ``collections()`` names every collection the
  retriever holds; without it the chat's collections screen shows only the
  collection in use.
* :class:`Describes`: ``describe()`` gives the facts the collections screen
  shows (the synced folder, file and chunk counts).
* :class:`Deletes`: ``delete()`` removes the collection's index; without it
  the collections screen says the retriever cannot delete.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .types import Passage, SyncReport

if TYPE_CHECKING:
    from .config import Settings


@runtime_checkable
class Retriever(Protocol):
    """What every retriever offers (required)."""

    def exists(self) -> bool:
        """True when the collection has been built (``sync`` ran) and can be searched."""
        ...

    def sync(self, folder: str | Path, progress: bool = False, rebuild: bool = False) -> SyncReport:
        """Bring the collection up to date with ``folder``: add new files,
        update changed ones, drop deleted ones, and say what was done in the
        :class:`SyncReport`. ``progress`` asks for progress output on the
        terminal; ``rebuild`` asks to start from nothing instead of updating.
        A folder that cannot be indexed raises ``CorpusError`` with what to do.
        A retriever may also take ``on_progress(done, total)`` for a UI's
        progress bar: the core passes it only when the signature has it."""
        ...

    def search(self, query: str, k: int) -> list[Passage]:
        """The ``k`` best passages for ``query``, best first, each with its
        ``source`` (and ``start_line``/``end_line`` or ``page`` when known)
        so that answers can cite it. A retriever may accept more keyword
        arguments of its own; the core passes only these two."""
        ...


@runtime_checkable
class WarmsUp(Protocol):
    """Optional: load what the first search needs ahead of time."""

    def warm_up(self) -> None:
        """Load models or indexes now (called once, from a worker thread, while
        the chat loads its generator). Raise ``AssistantError`` with a hint
        when something the retriever needs is missing."""
        ...


@runtime_checkable
class ShowsSources(Protocol):
    """Optional: where the files of ``Passage.source`` live, for the source viewer."""

    def source_root(self) -> str | None:
        """The folder ``Passage.source`` is relative to (``None`` when
        unknown, or when sources are not files)."""
        ...


@runtime_checkable
class ListsCollections(Protocol):
    """Optional: every collection this retriever holds."""

    def collections(self) -> list[str]:
        """The names of all collections this retriever has (not only its own),
        sorted; each can be opened as ``retriever_class(name, settings, loaders)``."""
        ...


@runtime_checkable
class Describes(Protocol):
    """Optional: what the collections screen shows of a collection."""

    def describe(self) -> dict[str, Any]:
        """Facts about this collection: ``root`` (the folder it was synced
        from), ``files`` and ``chunks`` (counts), ``index`` (a short word for
        the kind of index); any key may be missing. Raise ``AssistantError``
        when the collection cannot be read."""
        ...


@runtime_checkable
class Deletes(Protocol):
    """Optional: remove a collection."""

    def delete(self) -> None:
        """Remove this collection's index and state (never the user's files);
        afterwards ``exists()`` is False."""
        ...


def retriever_options(settings: Settings, name: str, retriever_class: type) -> Any:
    """``retriever_class.Options`` built from ``settings.plugins[name]`` (the
    ``[plugins.NAME]`` table and ``--retriever-option``), strings coerced to
    the fields' types; ``None`` for a retriever without ``Options``. Raises
    ``ConfigError`` naming the valid options for an unknown key, a value of
    the wrong type, or one the dataclass's own checks refuse."""
    from .strategy import build_options

    return build_options(name, retriever_class, settings.plugin_options(name), what="retriever")
