"""A keyword retriever: no embeddings, persisted as JSON (never pickle)."""

import json
from pathlib import Path

from assistant import Passage, SyncReport, hookimpl
from assistant.paths import collections_dir


class KeywordRetriever:
    """Rank .txt/.md paragraphs by how many query words they contain."""

    def __init__(self, collection, settings, loaders):
        self.collection = collection
        self.file = collections_dir() / collection / "keyword.json"

    def exists(self):
        return self.file.exists()

    def sync(self, folder, progress=False, rebuild=False):
        paragraphs = [{"source": p.name, "text": para}
                      for p in sorted(Path(folder).rglob("*")) if p.suffix in (".txt", ".md")
                      for para in p.read_text(encoding="utf-8").split("\n\n") if para.strip()]
        self.file.parent.mkdir(parents=True, exist_ok=True)
        self.file.write_text(json.dumps(paragraphs))
        return SyncReport(collection=self.collection, added=len(paragraphs), chunks_total=len(paragraphs))

    def search(self, query, k):
        words = set(query.lower().split())
        paragraphs = json.loads(self.file.read_text()) if self.exists() else []
        scored = sorted(((len(words & set(p["text"].lower().split())), i) for i, p in enumerate(paragraphs)),
                        reverse=True)
        return [Passage(id=f"{self.collection}:kw{i}", text=paragraphs[i]["text"], source=paragraphs[i]["source"],
                        score=float(score), retriever="keyword") for score, i in scored[:k] if score > 0]


@hookimpl
def register_retrievers(register):
    register("keyword", KeywordRetriever)
