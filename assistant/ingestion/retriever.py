"""A retriever over any :class:`VectorStore`: the ingestion layer (loaders,
chunking, embedding, the incremental plan) in front, the store behind.

Subclass it with a ``name`` and an ``open_store()``; override ``search`` to
add what the store can do beyond nearest vectors (the built-in FAISS store
adds BM25, fusion, filters, reranking and MMR). It offers the required
``Retriever`` methods and the ``WarmsUp``, ``ShowsSources``, ``Describes``
and ``Deletes`` capabilities; a store that can list its collections adds
``collections()`` in the subclass.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import CorpusError, IndexCorruptError
from ..types import Passage, SyncReport
from .embedding import Embedder
from .plan import check_folder, plan_sync
from .store import Changes, StoreMeta, StoredChunk, VectorStore

if TYPE_CHECKING:
    from ..config import Settings

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
CHUNKER_VERSION = 1  # bump when the chunker cuts the same text differently
DEFAULT_CHUNK_TOKENS = 200  # all-MiniLM-L6-v2 truncates at 256 word pieces (its model card)


def check_collection_name(name: str) -> str:
    """``name``, or a ``CorpusError`` when it cannot name a collection (it becomes a folder or file name)."""
    if not NAME_RE.match(name):
        raise CorpusError(f"invalid collection name {name!r}",
                          "use letters, digits, '.', '_' or '-' (at most 64 characters)")
    return name


class StoreRetriever:
    """Sync a folder into a :class:`VectorStore` and search it by embedding.

    Set ``name`` (the registered name: it labels each ``Passage.retriever``
    as ``NAME/dense`` and names the ``[plugins.NAME]`` table) and define
    ``open_store()``; optionally ``Options``, a dataclass of the retriever's
    options (a field ``chunk_tokens`` sets the chunk size, 200 word pieces
    otherwise). ``self.embedder`` (an :class:`Embedder`), ``self.store`` and
    ``self.options`` are there for an overriding ``search``.
    """

    name = "store"  # the registered name: Passage.retriever and the [plugins.NAME] table
    Options: Any = None  # a dataclass of the retriever's options; a field ``chunk_tokens`` sets the chunk size

    def __init__(self, collection: str, settings: Settings, loaders: dict[str, Callable]) -> None:
        from ..retriever import retriever_options

        self.collection = check_collection_name(collection)
        self.settings = settings
        self.loaders = loaders
        self.options = retriever_options(settings, self.name, type(self))
        self.embedder = Embedder(settings)
        self.store: VectorStore = self.open_store()
        self.log: Callable[[str], None] = lambda message: print(message, file=sys.stderr)

    def open_store(self) -> VectorStore:
        """The store holding ``self.collection`` (called once, by ``__init__``)."""
        raise NotImplementedError(f"{type(self).__name__} must define open_store()")

    @property
    def chunk_tokens(self) -> int:
        return int(getattr(self.options, "chunk_tokens", DEFAULT_CHUNK_TOKENS))

    def chunker_settings(self) -> dict[str, Any]:
        """What the store records about how chunks were cut; a sync with other settings asks for a rebuild."""
        return {"max_tokens": self.chunk_tokens, "version": CHUNKER_VERSION}

    def rebuild_hint(self, root: str | None = None) -> str:
        """The command that rebuilds this collection, for an error's hint."""
        return (f"rebuild it: assistant index {root or 'PATH'}"
                + ("" if self.collection == "default" else f" --collection {self.collection}") + " --rebuild")

    # -------------------------------------------------------------- required

    def exists(self) -> bool:
        """True once the collection has been synced."""
        return self.store.exists()

    def sync(self, folder: str | Path, progress: bool = False, rebuild: bool = False,
             on_progress: Callable[[int, int], None] | None = None) -> SyncReport:
        """Bring the store in line with ``folder``: embed what is new or
        changed, drop what is gone, then apply it all at once (``rebuild``:
        start from nothing). ``progress`` shows a terminal bar;
        ``on_progress(done, total)`` reports embedded chunks to a UI instead.
        Refuses, with a hint to rebuild, a collection built with another
        embedder or chunker."""
        start = time.perf_counter()
        folder = check_folder(folder)
        previous = self.store.meta() if self.store.exists() and not rebuild else None
        if previous and (previous.embedder != self.embedder.label or previous.chunker != self.chunker_settings()):
            raise IndexCorruptError(
                f"collection {self.collection!r} was built with embedder {previous.embedder!r} and chunker "
                f"{previous.chunker}, but the current settings use {self.embedder.label!r} and "
                f"{self.chunker_settings()}", self.rebuild_hint(str(folder)))
        old = self.store.files() if previous else {}
        plan = plan_sync(folder, old, self.loaders, self.embedder.count_tokens, self.chunk_tokens)
        if previous is None and not plan.added:
            reasons = "; ".join(f"{p}: {r}" for p, r in plan.skipped[:3])
            raise CorpusError(f"nothing could be indexed in {folder} ({reasons})", "check the files listed")
        base = dict(collection=self.collection, skipped=plan.skipped, unchanged=len(plan.kept),
                    removed=len(plan.removed))
        if previous and not plan.changes_anything:
            return SyncReport(**base, chunks_total=previous.chunks, seconds=time.perf_counter() - start)
        texts = plan.texts()
        vectors = self.embedder.embed(texts, progress=progress, on_progress=on_progress)
        stale = tuple(i for rel in (*plan.removed, *(f.record.path for f in plan.added)) if rel in old
                      for i in old[rel].chunk_ids)
        meta = StoreMeta(embedder=self.embedder.label, chunker=self.chunker_settings(), root=str(folder))
        changes = Changes(fresh=previous is None, removed=plan.removed, stale_ids=stale, added=plan.added,
                          vectors=vectors, retouched=plan.retouched, meta=meta)
        after = self.store.apply(changes)
        return SyncReport(**base, added=len(plan.new_paths), updated=len(plan.added) - len(plan.new_paths),
                          chunks_embedded=len(texts), chunks_total=after.chunks,
                          seconds=time.perf_counter() - start)

    def search(self, query: str, k: int) -> list[Passage]:
        """The ``k`` chunks nearest to the query's embedding (cosine)."""
        self.check_searchable()
        if k <= 0:
            return []
        hits = self.store.search(self.embedder.embed([query])[0], k)
        return self.passages_for(hits, "dense")

    # ---------------------------------------------------------------- helpers

    def check_indexed(self) -> StoreMeta:
        """The store's meta, or a ``CorpusError`` saying to index a folder first."""
        if not self.store.exists():
            raise CorpusError(f"collection {self.collection!r} has not been indexed yet",
                              "index a folder first: assistant index PATH"
                              + ("" if self.collection == "default" else f" --collection {self.collection}"))
        return self.store.meta()

    def check_searchable(self) -> StoreMeta:
        """The store's meta, or a ``CorpusError``/``IndexCorruptError`` saying what to do first
        (index a folder; rebuild a collection built with another embedder)."""
        meta = self.check_indexed()
        if meta.embedder != self.embedder.label:
            raise IndexCorruptError(
                f"collection {self.collection!r} was built with embedder {meta.embedder!r}, "
                f"not the current {self.embedder.label!r}", self.rebuild_hint(meta.root))
        return meta

    def passages_for(self, hits: list[tuple[int, float]], how: str) -> list[Passage]:
        """Passages for ``(id, score)`` hits, labelled ``NAME/how``."""
        chunks = self.store.chunks([i for i, _ in hits]) if hits else []
        return [self.passage(c, score, how) for c, (_, score) in zip(chunks, hits)]

    def passage(self, chunk: StoredChunk, score: float, how: str) -> Passage:
        """A stored chunk as the ``Passage`` a search returns (id ``COLLECTION:ID``)."""
        return Passage(id=f"{self.collection}:{chunk.id}", text=chunk.text, source=chunk.path,
                       start_line=chunk.start_line, end_line=chunk.end_line, page=chunk.page,
                       heading=chunk.heading or None, score=float(score), collection=self.collection,
                       retriever=f"{self.name}/{how}")

    # ----------------------------------------------------- optional capabilities

    def warm_up(self) -> None:
        """Load the embedding model (``assistant.WarmsUp``)."""
        self.embedder.embed(["warm-up"])

    def source_root(self) -> str | None:
        """The synced folder (``assistant.ShowsSources``); None before the first sync."""
        return self.store.meta().root if self.store.exists() else None

    def describe(self) -> dict[str, Any]:
        """The store's facts (``assistant.Describes``)."""
        meta = self.store.meta()
        return {"root": meta.root, "files": meta.files, "chunks": meta.chunks, **meta.extra}

    def delete(self) -> None:
        """Remove the collection from the store (``assistant.Deletes``); the files stay."""
        if self.store.exists():
            self.store.delete()
