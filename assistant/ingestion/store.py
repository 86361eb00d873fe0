"""The vector store contract: what a store behind :class:`StoreRetriever`
must offer.

The ingestion layer (loaders, chunking, embedding, and the incremental
plan of what changed in a folder) is the same for every store; a store only
keeps what it is given and finds the nearest vectors. To add a store, write
a class with :class:`VectorStore`'s seven methods and a retriever class of two
lines::

    class MyRetriever(StoreRetriever):
        \"\"\"One line for `assistant plugins`.\"\"\"
        name = "mine"                         # the name it is registered under
        def open_store(self):
            return MyStore(data_dir() / "mine" / self.collection)

and register it with ``register_retrievers``. The retriever then syncs,
searches, cites lines, warms up, describes and deletes like the built-in
one, and ``assistant.testing.RetrieverContract`` checks it.

Chunk ids are the store's: it gives each new chunk an integer id that is
not reused while the collection lives (a rebuild, ``Changes.fresh``, starts
from nothing and may number from 1 again); a search returns them, and a
``Passage.id`` is ``"COLLECTION:ID"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from .chunking import Chunk


@dataclass(frozen=True)
class FileRecord:
    """A file as a store holds it: its path relative to the synced folder, the
    hash, size and modification time it had when it was read, and the ids of
    its chunks."""

    path: str
    sha256: str
    size: int
    mtime_ns: int
    chunk_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class StoreMeta:
    """What a store records about its collection as a whole. ``embedder`` and
    ``chunker`` are checked on every sync and search (vectors of another
    embedder, or chunks cut differently, cannot be mixed); ``extra`` is the
    store's own (the kind of index, say) and shows in ``describe()``."""

    embedder: str
    chunker: dict[str, Any]
    root: str
    chunks: int = 0
    files: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NewFile:
    """A file to add or replace: its record (without ids: the store gives
    them) and its chunks, in order."""

    record: FileRecord
    chunks: tuple[Chunk, ...]


@dataclass(frozen=True)
class Changes:
    """One sync's changes, applied by :meth:`VectorStore.apply` all at once.

    * ``fresh``: start from an empty collection (a first sync or a rebuild);
    * ``removed``: paths whose chunks go (deleted files, changed files, files
      that can no longer be read); their chunk ids are ``stale_ids``;
    * ``added``: new and changed files with their chunks; ``vectors`` holds one
      unit vector per chunk, float32 (rows in the order of ``added`` and then
      of each file's chunks);
    * ``retouched``: files whose content is unchanged but whose size or
      modification time moved: ``{path: (size, mtime_ns)}``, to record;
    * ``meta``: the collection's facts after the sync (counts are the store's
      to fill in).
    """

    fresh: bool
    removed: tuple[str, ...]
    stale_ids: tuple[int, ...]
    added: tuple[NewFile, ...]
    vectors: Any
    retouched: dict[str, tuple[int, int]]
    meta: StoreMeta


@dataclass(frozen=True)
class StoredChunk:
    """A chunk as a store returns it."""

    id: int
    path: str
    text: str
    start_line: int | None = None
    end_line: int | None = None
    page: int | None = None
    heading: str | None = None


@runtime_checkable
class VectorStore(Protocol):
    """Where a collection's chunks and vectors live."""

    def exists(self) -> bool:
        """True once a sync has been applied (and not deleted)."""
        ...

    def meta(self) -> StoreMeta:
        """The collection's facts. Raise ``IndexCorruptError`` with what to do
        when they cannot be read; only called when ``exists()``."""
        ...

    def files(self) -> dict[str, FileRecord]:
        """Every file the collection holds, by path (what the next sync compares against)."""
        ...

    def apply(self, changes: Changes) -> StoreMeta:
        """Apply a sync all at once: remove ``stale_ids`` and the ``removed``
        files, add each new file's chunks with their vectors under new ids,
        record the ``retouched`` files and the ``meta``, and return the meta
        with its counts. Atomic: a crash or an exception at any point leaves
        the collection as it was before (write aside, then switch)."""
        ...

    def search(self, vector: Any, k: int) -> list[tuple[int, float]]:
        """The ``k`` nearest chunks to ``vector`` (a unit vector, float32 of
        shape (dimension,)) by inner product: ``(id, score)``, best first."""
        ...

    def chunks(self, ids: list[int]) -> list[StoredChunk]:
        """The chunks with these ids, in the same order. Raise
        ``IndexCorruptError`` for an id the store does not hold."""
        ...

    def delete(self) -> None:
        """Remove the collection's vectors and chunks (never the user's files);
        afterwards ``exists()`` is False."""
        ...
