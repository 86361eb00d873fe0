"""A collection on disk: a FAISS index, a SQLite docstore and a manifest.

Layout of ``<collections>/<name>/``::

    manifest.json          format version, embedder, dimension, chunker settings,
                           root folder, and the generation now in use
    index-<gen>.faiss      FAISS's own format: IndexIDMap2 over inner product, or
                           IndexIVFFlat once the collection is large (vector_index.py)
    docstore-<gen>.sqlite  files (path, hash, size, mtime, chunk ids), chunks, and
                           their FTS5 full-text index for BM25

A sync writes the next generation beside the current one and then replaces
``manifest.json`` atomically: that rename is the commit. A crash at any
moment leaves the previous generation in force; leftovers of an unfinished
generation are cleaned on the next sync. No pickle anywhere.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant import IndexCorruptError, write_json

from .lexical import FTS_SCHEMA

FORMAT_VERSION = 2  # 2: FTS5 table for BM25

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, sha256 TEXT NOT NULL, size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL, chunk_ids TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY, path TEXT NOT NULL, start_line INTEGER, end_line INTEGER,
    page INTEGER, heading TEXT, text TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Manifest:
    name: str
    embedder: str
    dim: int
    chunker: dict[str, Any]
    root: str
    generation: int
    chunks: int
    files: int
    format_version: int = FORMAT_VERSION
    index: dict[str, Any] = field(default_factory=dict)  # vector_index.IndexInfo: kind, nlist, trained_on

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


class CollectionStore:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.manifest_path = self.folder / "manifest.json"

    def exists(self) -> bool:
        return self.manifest_path.exists()

    def index_path(self, generation: int) -> Path:
        return self.folder / f"index-{generation}.faiss"

    def docstore_path(self, generation: int) -> Path:
        return self.folder / f"docstore-{generation}.sqlite"

    def read_manifest(self) -> Manifest:
        try:
            data = json.loads(self.manifest_path.read_text(encoding="utf-8"))
            if data.get("format_version") != FORMAT_VERSION:
                raise IndexCorruptError(
                    f"collection {self.folder.name!r} was written in format {data.get('format_version')}, "
                    f"this version reads {FORMAT_VERSION}",
                    f"rebuild it: assistant index PATH --collection {self.folder.name} --rebuild")
            return Manifest(**data)
        except (OSError, ValueError, TypeError) as exc:
            raise IndexCorruptError(
                f"the manifest of collection {self.folder.name!r} is unreadable ({exc})",
                f"rebuild it: assistant index PATH --collection {self.folder.name} --rebuild") from None

    # ------------------------------------------------------------------ reading

    def load_index(self, manifest: Manifest) -> Any:
        import faiss

        path = self.index_path(manifest.generation)
        try:
            index = faiss.read_index(str(path))
        except RuntimeError as exc:
            raise IndexCorruptError(
                f"the index file {path} of collection {manifest.name!r} is missing or corrupt "
                f"({str(exc).strip().splitlines()[-1]})",
                f"rebuild it: assistant index {manifest.root} --collection {manifest.name} --rebuild") from None
        if index.d != manifest.dim:
            raise IndexCorruptError(f"index dimension {index.d} does not match the manifest's {manifest.dim}",
                                    f"rebuild it: assistant index {manifest.root} --rebuild")
        return index

    def connect(self, manifest: Manifest, readonly: bool = True) -> sqlite3.Connection:
        path = self.docstore_path(manifest.generation)
        if not path.exists():
            raise IndexCorruptError(f"the docstore {path} of collection {manifest.name!r} is missing",
                                    f"rebuild it: assistant index {manifest.root} --rebuild")
        uri = f"file:{path}?mode=ro" if readonly else f"file:{path}"
        try:
            con = sqlite3.connect(uri, uri=True, check_same_thread=False)
            con.execute("SELECT count(*) FROM chunks").fetchone()
        except sqlite3.DatabaseError as exc:
            raise IndexCorruptError(f"the docstore {path} is corrupt ({exc})",
                                    f"rebuild it: assistant index {manifest.root} --rebuild") from None
        return con

    # ------------------------------------------------------------------ writing

    def next_generation(self) -> int:
        """One past every generation with a file in the folder (so a rebuild
        never writes over the files still in force, even when the manifest
        is unreadable)."""
        numbers = [0]
        for path in self.folder.iterdir() if self.folder.exists() else ():
            stem = path.name.split(".")[0]
            if "-" in stem and stem.rsplit("-", 1)[1].isdigit():
                numbers.append(int(stem.rsplit("-", 1)[1]))
        return max(numbers) + 1

    def new_generation(self, previous: Manifest | None) -> tuple[int, sqlite3.Connection]:
        """Start writing the next generation: a copy of ``previous``'s docstore
        to modify, or an empty one when ``previous`` is None (a first sync or
        a rebuild)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        generation = self.next_generation()
        target = self.docstore_path(generation)
        target.unlink(missing_ok=True)
        con = sqlite3.connect(target, check_same_thread=False)
        if previous is not None:
            source = self.connect(previous)
            try:
                source.backup(con)
            finally:
                source.close()
        con.executescript(SCHEMA)
        con.execute(FTS_SCHEMA)
        return generation, con

    def commit(self, manifest: Manifest, index: Any, con: sqlite3.Connection) -> None:
        """Write the index, then the manifest (the commit point)."""
        import faiss

        con.commit()
        con.close()
        tmp = self.index_path(manifest.generation).with_suffix(".faiss.tmp")
        faiss.write_index(index, str(tmp))
        tmp.replace(self.index_path(manifest.generation))
        write_json(self.manifest_path, manifest.to_json())  # the commit; the caller cleans up after it

    def clean(self, keep: int) -> None:
        for path in self.folder.iterdir():
            if path.name == "manifest.json" or path.name.startswith("."):
                continue
            stem = path.name.split(".")[0]
            if "-" in stem and stem.rsplit("-", 1)[1] != str(keep):
                path.unlink(missing_ok=True)
            elif path.name.endswith(".tmp"):
                path.unlink(missing_ok=True)

    def remove(self) -> None:
        shutil.rmtree(self.folder)


def stored_collections(folder: Path) -> list[str]:
    """The names of the collections under ``folder`` (those with a manifest), sorted."""
    return [p.name for p in sorted(folder.iterdir()) if CollectionStore(p).exists()] if folder.exists() else []
