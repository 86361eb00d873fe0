"""What a sync must do: the folder's files against the store's records.

Files whose size and modification time are unchanged are not even read;
files whose content hash is unchanged are not split again (only their new
size and time are recorded); changed and new files are loaded with the
loader registered for their suffix and chunked; files that are gone, or that
can no longer be read, leave the collection. A file that cannot be loaded is
skipped with its reason, never a failed sync.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import CorpusError
from .chunking import chunk_document
from .store import FileRecord, NewFile

MARKDOWN_SUFFIXES = (".md", ".markdown", ".html", ".htm")  # chunked by heading


@dataclass(frozen=True)
class SyncPlan:
    folder: Path
    added: tuple[NewFile, ...]         # new and changed files, chunked
    removed: tuple[str, ...]           # paths whose chunks leave the collection
    retouched: dict[str, tuple[int, int]]  # same content, new (size, mtime_ns)
    kept: tuple[str, ...]              # unchanged
    skipped: tuple[tuple[str, str], ...]  # (path, reason)
    new_paths: frozenset[str]          # paths of ``added`` that the store did not hold

    def texts(self) -> list[str]:
        """What is embedded for each new chunk: its heading path, then its text."""
        return [f"{c.heading}\n{c.text}" if c.heading else c.text for f in self.added for c in f.chunks]

    @property
    def changes_anything(self) -> bool:
        return bool(self.added or self.removed or self.retouched)


def check_folder(folder: str | Path) -> Path:
    """``folder`` resolved, or a ``CorpusError`` saying why it cannot be indexed."""
    path = Path(folder).expanduser()
    if not path.exists():
        raise CorpusError(f"folder {path} does not exist", "check the path you gave to `assistant index`")
    if not path.is_dir():
        raise CorpusError(f"{path} is not a folder", "give `assistant index` a folder of documents")
    return path.resolve()


def scan(folder: Path, suffixes: set[str] | dict) -> tuple[dict[str, Path], list[tuple[str, str]]]:
    """The files under ``folder`` with a loader (hidden files and folders left
    out, symbolic links to folders not followed), by relative POSIX path, and
    the ones skipped with a reason."""
    found: dict[str, Path] = {}
    skipped: list[tuple[str, str]] = []

    def unreadable(error: OSError) -> None:
        where = Path(error.filename).relative_to(folder).as_posix() if error.filename else "?"
        skipped.append((where, f"folder unreadable: {error.strerror}"))

    # followlinks=False: a symbolic link to a folder (a loop, say) is not entered
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False, onerror=unreadable):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for filename in sorted(filenames):
            if filename.startswith("."):
                continue
            path = Path(dirpath) / filename
            if path.suffix.lower() not in suffixes:
                continue
            rel = path.relative_to(folder).as_posix()
            if path.is_symlink() and not path.exists():
                skipped.append((rel, "broken symbolic link"))
            elif not path.is_file():  # a FIFO or device would block or never end
                skipped.append((rel, "not a regular file"))
            else:
                found[rel] = path
    return found, skipped


def plan_sync(folder: Path, old: dict[str, FileRecord], loaders: dict[str, Callable],
              count_tokens: Callable[[str], int], chunk_tokens: int) -> SyncPlan:
    """Compare ``folder`` (already checked) with the store's records ``old``.
    Raises ``CorpusError`` when the folder holds no file a loader reads."""
    found, skipped = scan(folder, loaders)
    if not found:
        kinds = ", ".join(sorted(loaders))
        raise CorpusError(f"no indexable files in {folder} (looked for {kinds})",
                          "point `assistant index` at a folder of documents")
    retouched: dict[str, tuple[int, int]] = {}
    added: list[NewFile] = []
    for rel, path in found.items():
        try:
            stat = path.stat()
            before = old.get(rel)
            if before and before.size == stat.st_size and before.mtime_ns == stat.st_mtime_ns:
                continue  # fast path: not even read
            data = path.read_bytes()
            sha = hashlib.sha256(data).hexdigest()
            if before and before.sha256 == sha:
                retouched[rel] = (stat.st_size, stat.st_mtime_ns)
                continue
            suffix = path.suffix.lower()
            document = loaders[suffix](path)
            chunks = chunk_document(document, count_tokens, chunk_tokens, markdown=suffix in MARKDOWN_SUFFIXES)
            if not chunks:
                raise ValueError("no text")
            added.append(NewFile(FileRecord(rel, sha, stat.st_size, stat.st_mtime_ns), tuple(chunks)))
        except (OSError, ValueError) as exc:
            skipped.append((rel, str(exc) or type(exc).__name__))
    skipped_paths = {rel for rel, _ in skipped}
    changed = {f.record.path for f in added}
    removed = tuple(rel for rel in old if rel not in found or rel in skipped_paths)
    kept = tuple(rel for rel in found if rel in old and rel not in changed and rel not in skipped_paths)
    return SyncPlan(folder=folder, added=tuple(added), removed=removed, retouched=retouched, kept=kept,
                    skipped=tuple(skipped), new_paths=frozenset(changed - set(old)))
