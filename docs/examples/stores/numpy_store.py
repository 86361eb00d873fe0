"""A vector store in two files: the vectors in NumPy's own format, the rest
in JSON (never pickle), behind ``assistant.StoreRetriever``.

``StoreRetriever`` reads, chunks and embeds the files and works out what a
sync changes; this store keeps what it is given and finds the nearest
vectors by exact inner product. Load it with ``--plugins-dir`` and choose
it with ``retriever = "numpy"`` (or ``ASSISTANT_RETRIEVER=numpy``); it
passes ``assistant.testing.RetrieverContract``.

Layout of ``<data>/numpy/<collection>/``: ``vectors-<N>.npz`` (ids and
vectors of generation N) and ``state.json`` (files, chunks, the collection's
facts, and which generation is in force). A sync writes the next
``vectors-<N>.npz`` beside the current one, then replaces ``state.json``
atomically: that replacement is the commit.
"""

import copy
import json
import re
import shutil
from pathlib import Path

from assistant import (FileRecord, IndexCorruptError, StoredChunk, StoreMeta, StoreRetriever, data_dir, hookimpl,
                       write_json)


class NumpyStore:
    """An ``assistant.VectorStore`` for collections of a few hundred thousand chunks at most."""

    KEYS = ("vectors", "embedder", "chunker", "root", "next_id", "files", "chunks")
    GENERATION = re.compile(r"^vectors-(\d+)\.npz$")

    def __init__(self, folder: Path):
        self.folder = folder
        self.state_path = folder / "state.json"
        self._cache = (None, None, None, None)  # (state.json's (mtime, size), state, ids, vectors)

    def _state(self):
        """state.json, parsed once per version of the file (a search reads it three times)."""
        try:
            stat = self.state_path.stat()
            if self._cache[0] != (stat.st_mtime_ns, stat.st_size):
                state = json.loads(self.state_path.read_text(encoding="utf-8"))
                missing = [k for k in self.KEYS if k not in state]
                if missing:
                    raise ValueError(f"no {', '.join(missing)}")
                self._cache = ((stat.st_mtime_ns, stat.st_size), state, None, None)
            return self._cache[1]
        except (OSError, ValueError, TypeError) as exc:
            raise IndexCorruptError(f"{self.state_path} is unreadable ({exc})",
                                    "rebuild it: assistant index PATH --rebuild") from None

    def _arrays(self):
        """The ids and vectors of the generation in force (cached with its state)."""
        import numpy as np

        state = self._state()
        if self._cache[2] is None:
            with np.load(self.folder / state["vectors"], allow_pickle=False) as data:
                self._cache = (self._cache[0], state, data["ids"], data["vectors"])
        return self._cache[2], self._cache[3]

    def exists(self):
        return self.state_path.exists()

    def meta(self):
        state = self._state()
        return StoreMeta(embedder=state["embedder"], chunker=state["chunker"], root=state["root"],
                         chunks=len(state["chunks"]), files=len(state["files"]), extra={"index": "numpy"})

    def files(self):
        return {path: FileRecord(path, f["sha256"], f["size"], f["mtime_ns"], tuple(f["chunk_ids"]))
                for path, f in self._state()["files"].items()}

    def apply(self, changes):
        import numpy as np

        dim = changes.vectors.shape[1]
        if changes.fresh or not self.exists():
            state = {"next_id": 1, "files": {}, "chunks": {}}
            ids, vectors = np.zeros(0, dtype="int64"), np.zeros((0, dim), dtype="float32")
        else:
            state = copy.deepcopy(self._state())  # changed here, never in the cache
            ids, vectors = self._arrays()
        keep = ~np.isin(ids, np.asarray(changes.stale_ids, dtype="int64"))
        ids, vectors = ids[keep], vectors[keep]
        for chunk_id in changes.stale_ids:
            state["chunks"].pop(str(chunk_id), None)
        for path in changes.removed:
            state["files"].pop(path, None)
        new_ids = []
        for new in changes.added:
            first = state["next_id"]
            file_ids = list(range(first, first + len(new.chunks)))
            state["next_id"] = first + len(new.chunks)
            new_ids += file_ids
            for chunk_id, chunk in zip(file_ids, new.chunks):
                state["chunks"][str(chunk_id)] = {"path": new.record.path, "text": chunk.text, "page": chunk.page,
                                                  "start_line": chunk.start_line, "end_line": chunk.end_line,
                                                  "heading": chunk.heading}
            record = new.record
            state["files"][record.path] = {"sha256": record.sha256, "size": record.size,
                                           "mtime_ns": record.mtime_ns, "chunk_ids": file_ids}
        for path, (size, mtime_ns) in changes.retouched.items():
            state["files"][path].update(size=size, mtime_ns=mtime_ns)
        ids = np.concatenate([ids, np.asarray(new_ids, dtype="int64")])
        vectors = np.concatenate([vectors, changes.vectors]).astype("float32")

        # write the next generation aside, then commit by replacing state.json
        self.folder.mkdir(parents=True, exist_ok=True)
        numbers = [self.GENERATION.match(p.name) for p in self.folder.iterdir()]
        generation = 1 + max((int(m.group(1)) for m in numbers if m), default=0)
        name = f"vectors-{generation}.npz"
        np.savez(self.folder / name, ids=ids, vectors=vectors)
        meta = changes.meta
        state.update(vectors=name, embedder=meta.embedder, chunker=meta.chunker, root=meta.root)
        write_json(self.state_path, state)
        for old in self.folder.glob("vectors-*.npz"):
            if old.name != name:
                old.unlink()
        return self.meta()

    def search(self, vector, k):
        import numpy as np

        ids, vectors = self._arrays()
        scores = vectors @ vector
        best = np.argsort(-scores, kind="stable")[:k]
        return [(int(ids[i]), float(scores[i])) for i in best]

    def chunks(self, ids):
        chunks = self._state()["chunks"]
        found = []
        for chunk_id in ids:
            if str(chunk_id) not in chunks:
                raise IndexCorruptError(f"chunk {chunk_id} has a vector but no text in {self.state_path}",
                                        "rebuild it: assistant index PATH --rebuild")
            c = chunks[str(chunk_id)]
            found.append(StoredChunk(chunk_id, c["path"], c["text"], c["start_line"], c["end_line"], c["page"],
                                     c["heading"] or None))
        return found

    def delete(self):
        self._cache = (None, None, None, None)
        shutil.rmtree(self.folder, ignore_errors=True)


class NumpyRetriever(StoreRetriever):
    """Exact cosine search over embeddings kept in a NumPy file."""

    name = "numpy"

    def open_store(self):
        return NumpyStore(data_dir() / "numpy" / self.collection)

    def collections(self):
        folder = data_dir() / "numpy"
        return sorted(p.name for p in folder.iterdir() if (p / "state.json").exists()) if folder.exists() else []


@hookimpl
def register_retrievers(register):
    register("numpy", NumpyRetriever)
