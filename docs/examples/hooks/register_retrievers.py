"""A keyword retriever: no embeddings, persisted as JSON (never pickle).

It implements the three required methods of ``assistant.Retriever`` and all
the optional capabilities (``source_root``, ``collections``, ``describe``,
``delete``), and passes ``assistant.testing.RetrieverContract``.
"""

import hashlib
import json
import re
from pathlib import Path

from assistant import CorpusError, Passage, SyncReport, data_dir, hookimpl, write_json


WORD = re.compile(r"\w+")


class KeywordRetriever:
    """Rank .txt/.md paragraphs by how many query words they contain."""

    SUFFIXES = (".txt", ".md")

    def __init__(self, collection, settings, loaders):
        if not collection.replace("-", "").replace("_", "").isalnum():
            raise CorpusError(f"invalid collection name {collection!r}", "use letters, digits, '-' and '_'")
        self.collection = collection
        self.file = data_dir() / "keyword" / f"{collection}.json"

    def _state(self):
        return json.loads(self.file.read_text(encoding="utf-8")) if self.exists() else {"root": None, "files": {}}

    # -- required: exists, sync, search

    def exists(self):
        return self.file.exists()

    def sync(self, folder, progress=False, rebuild=False):
        folder = Path(folder).expanduser()
        if not folder.is_dir():
            raise CorpusError(f"{folder} is not a folder", "give `assistant index` a folder of .txt or .md files")
        folder = folder.resolve()
        old = {} if rebuild else self._state()["files"]
        files, counts = {}, {"added": 0, "updated": 0, "unchanged": 0}
        for path in sorted(p for p in folder.rglob("*") if p.suffix in self.SUFFIXES and p.is_file()):
            source, data = path.relative_to(folder).as_posix(), path.read_bytes()
            sha = hashlib.sha256(data).hexdigest()
            if source in old and old[source]["sha256"] == sha:
                files[source] = old[source]  # unchanged: not split again
                counts["unchanged"] += 1
                continue
            files[source] = {"sha256": sha, "paragraphs": paragraphs(data.decode("utf-8", errors="replace"))}
            counts["updated" if source in old else "added"] += 1
        removed = len(set(old) - set(files))
        total = sum(len(f["paragraphs"]) for f in files.values())
        if counts["added"] or counts["updated"] or removed or not self.exists():
            write_json(self.file, {"root": str(folder), "files": files})  # atomic: a crash keeps the old file
        return SyncReport(collection=self.collection, removed=removed, chunks_total=total, **counts)

    def search(self, query, k):
        words = set(WORD.findall(query.lower()))
        hits = [(len(words & set(WORD.findall(p["text"].lower()))), source, p)
                for source, f in self._state()["files"].items() for p in f["paragraphs"]]
        hits = sorted((h for h in hits if h[0] > 0), key=lambda h: (-h[0], h[1], h[2]["start_line"]))
        return [Passage(id=f"{self.collection}:{source}:{p['start_line']}", text=p["text"], source=source,
                        start_line=p["start_line"], end_line=p["end_line"], score=float(score),
                        collection=self.collection, retriever="keyword")
                for score, source, p in hits[:k]]

    # -- optional capabilities

    def source_root(self):
        return self._state()["root"]

    def collections(self):
        return sorted(p.stem for p in self.file.parent.glob("*.json"))

    def describe(self):
        files = self._state()["files"]
        return {"root": self.source_root(), "files": len(files), "index": "keywords",
                "chunks": sum(len(f["paragraphs"]) for f in files.values())}

    def delete(self):
        self.file.unlink(missing_ok=True)


def paragraphs(text):
    """Blank-line separated paragraphs with their first and last line (1-based)."""
    found, lines, start = [], text.splitlines(), None
    for number, line in enumerate(lines + [""], start=1):
        if line.strip() and start is None:
            start = number
        elif not line.strip() and start is not None:
            found.append({"text": "\n".join(lines[start - 1:number - 1]), "start_line": start, "end_line": number - 1})
            start = None
    return found


@hookimpl
def register_retrievers(register):
    register("keyword", KeywordRetriever)
