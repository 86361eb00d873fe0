"""The FAISS collection as an ``assistant.VectorStore``: vectors in a FAISS
index, chunks and files in a SQLite docstore with its FTS5 table for BM25,
written a generation at a time (store.py has the layout and the commit).

Beyond the contract it offers what the FAISS retriever's hybrid search
needs: the open index and docstore of the generation in force
(:meth:`FaissStore.reader`), kept open until a sync or a delete replaces them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assistant import Changes, FileRecord, IndexCorruptError, StoredChunk, StoreMeta

from . import vector_index
from .store import CollectionStore, Manifest


class FaissStore:
    """One collection's folder: ``IndexIDMap2`` over inner product (an IVF
    index once it holds ``ann_threshold`` vectors) plus the SQLite docstore."""

    def __init__(self, folder: Path, ann_threshold: int, ann_nprobe: int) -> None:
        self.disk = CollectionStore(folder)
        self.ann_threshold = ann_threshold
        self.ann_nprobe = ann_nprobe
        self.log: Callable[[str], None] | None = None  # told when an IVF index is trained
        self._lock = threading.Lock()
        self._reader: tuple[Manifest, Any, Any] | None = None  # (manifest, index, connection)

    @property
    def name(self) -> str:
        return self.disk.folder.name

    # ----------------------------------------------------------------- reading

    def exists(self) -> bool:
        return self.disk.exists()

    def manifest(self) -> Manifest:
        return self.disk.read_manifest()

    def meta(self) -> StoreMeta:
        manifest = self.manifest()
        return StoreMeta(embedder=manifest.embedder, chunker=manifest.chunker, root=manifest.root,
                         chunks=manifest.chunks, files=manifest.files,
                         extra={"index": (manifest.index or {}).get("kind", "flat")})

    def reader(self) -> tuple[Manifest, Any, Any]:
        """The manifest, FAISS index and read-only docstore connection of the
        generation in force, opened once per generation. A search takes one
        and uses it throughout (pass it as ``snapshot``), so a sync that
        commits meanwhile cannot mix two generations into one answer."""
        with self._lock:
            manifest = self.manifest()
            if self._reader is None or self._reader[0].generation != manifest.generation:
                # the old generation's connection is left to be collected: a search
                # in another thread may still be reading it
                index = self.disk.load_index(manifest)
                self._reader = (manifest, index, self.disk.connect(manifest))
            return self._reader

    def files(self) -> dict[str, FileRecord]:
        con = self.disk.connect(self.manifest())
        try:
            return {path: FileRecord(path, sha, size, mtime, tuple(json.loads(ids)))
                    for path, sha, size, mtime, ids in
                    con.execute("SELECT path, sha256, size, mtime_ns, chunk_ids FROM files")}
        finally:
            con.close()

    def search(self, vector: Any, k: int, allowed: Any = None,
               snapshot: tuple[Manifest, Any, Any] | None = None) -> list[tuple[int, float]]:
        """Nearest ``k`` by inner product; ``allowed`` (an id selector) restricts them."""
        _manifest, index, _con = snapshot or self.reader()
        if k <= 0 or index.ntotal == 0:
            return []
        scores, ids = vector_index.search(index, vector.reshape(1, -1), k, self.ann_nprobe, allowed)
        return [(i, s) for i, s in zip(ids[0].tolist(), scores[0].tolist()) if i >= 0]

    def vectors(self, ids: list[int], snapshot: tuple[Manifest, Any, Any] | None = None) -> Any:
        """The stored vectors of these ids, (len(ids), dim)."""
        return vector_index.reconstruct((snapshot or self.reader())[1], ids)

    def chunks(self, ids: list[int], snapshot: tuple[Manifest, Any, Any] | None = None) -> list[StoredChunk]:
        manifest, _index, con = snapshot or self.reader()
        found = []
        for chunk_id in ids:
            row = con.execute("SELECT path, start_line, end_line, page, heading, text FROM chunks WHERE id = ?",
                              (chunk_id,)).fetchone()
            if row is None:
                raise IndexCorruptError(f"chunk {chunk_id} is in the index but not in the docstore",
                                        f"rebuild it: assistant index {manifest.root} --collection {self.name} "
                                        "--rebuild")
            path, start, end, page, heading, text = row
            found.append(StoredChunk(chunk_id, path, text, start, end, page, heading or None))
        return found

    def ordered_ids(self, limit: int = 0) -> list[int]:
        """Every chunk id in file and line order (the first ``limit`` when above 0)."""
        _manifest, _index, con = self.reader()
        sql = "SELECT id FROM chunks ORDER BY path, start_line, id" + (f" LIMIT {int(limit)}" if limit > 0 else "")
        return [row[0] for row in con.execute(sql)]

    # ----------------------------------------------------------------- writing

    def apply(self, changes: Changes) -> StoreMeta:
        import numpy as np

        previous = None if changes.fresh or not self.exists() else self.manifest()
        generation, con = self.disk.new_generation(previous)
        try:
            index = (self.disk.load_index(previous) if previous
                     else vector_index.new_flat(int(changes.vectors.shape[1])))
            stale = list(changes.stale_ids)
            if stale:
                index.remove_ids(np.asarray(stale, dtype="int64"))
                con.executemany("DELETE FROM chunks WHERE id = ?", [(i,) for i in stale])
                con.executemany("DELETE FROM chunks_fts WHERE rowid = ?", [(i,) for i in stale])
            con.executemany("DELETE FROM files WHERE path = ?", [(rel,) for rel in changes.removed])
            row = con.execute("SELECT value FROM meta WHERE key = 'next_id'").fetchone()
            next_id = int(row[0]) if row else 1
            ids: list[int] = []
            for new in changes.added:
                rel, chunks = new.record.path, new.chunks
                file_ids = list(range(next_id, next_id + len(chunks)))
                next_id += len(chunks)
                ids.extend(file_ids)
                con.executemany(
                    "INSERT INTO chunks (id, path, start_line, end_line, page, heading, text) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(i, rel, c.start_line, c.end_line, c.page, c.heading, c.text) for i, c in zip(file_ids, chunks)])
                con.executemany("INSERT INTO chunks_fts (rowid, heading, text) VALUES (?, ?, ?)",
                                [(i, c.heading, c.text) for i, c in zip(file_ids, chunks)])
                con.execute("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?)",
                            (rel, new.record.sha256, new.record.size, new.record.mtime_ns, json.dumps(file_ids)))
            for rel, (size, mtime) in changes.retouched.items():
                con.execute("UPDATE files SET size = ?, mtime_ns = ? WHERE path = ?", (size, mtime, rel))
            con.execute("INSERT OR REPLACE INTO meta VALUES ('next_id', ?)", (str(next_id),))
            if ids:
                index.add_with_ids(changes.vectors, np.asarray(ids, dtype="int64"))
            info = (vector_index.IndexInfo(**previous.index) if previous and previous.index
                    else vector_index.IndexInfo())
            index, info = vector_index.fit(index, info, self.ann_threshold, log=self.log)
            files = con.execute("SELECT count(*) FROM files").fetchone()[0]
            meta = changes.meta
            manifest = Manifest(name=self.name, embedder=meta.embedder, dim=index.d, chunker=meta.chunker,
                                root=meta.root, generation=generation, chunks=int(index.ntotal),
                                files=int(files), index=info.to_json())
            self.disk.commit(manifest, index, con)
        except BaseException:
            con.close()
            self.disk.docstore_path(generation).unlink(missing_ok=True)
            raise
        try:
            self.disk.clean(keep=generation)  # after the commit, so a failure here cannot undo it
        except OSError:
            pass  # only leftovers of older generations; the next sync removes them
        with self._lock:
            self._reader = None  # the next search opens the new generation
        return self.meta()

    def delete(self) -> None:
        with self._lock:
            self._close_reader()
        if self.exists() or self.disk.folder.exists():
            self.disk.remove()

    def _close_reader(self) -> None:
        if self._reader is not None:
            self._reader[2].close()
            self._reader = None
