"""Retrieval evaluation on a BEIR data set, through the retriever contract.

Every document of the corpus becomes a text file (``title + " " + text``,
the form MTEB embeds), the configured retriever syncs the folder into a
collection of its own and answers every query with ``search``; a document's
rank is that of its first passage. So what is measured is the retriever a
user gets (its chunking, its index, its fusion), whichever plugin it is, and
nothing here knows how it works inside.

The folder and the collection are kept in the cache (keyed by the corpus
file and the retriever's name), and syncs are incremental, so a second run
re-embeds nothing. A collection built with other settings (another embedder,
another chunk size) is rebuilt.

Configuration of the published baseline (MTEB, all-MiniLM-L6-v2 on SciFact,
nDCG@10 = 0.645): whole documents, truncated at the model's 256 word pieces,
exact cosine search. The built-in retriever chunks at its ``chunk_tokens``
option (200) instead; ``-R chunk_tokens=100000`` keeps each abstract whole.
Measured on SciFact test (docs/architecture.md): whole abstracts dense 0.6451,
BM25 0.6865, hybrid 0.7255; chunks of 200 tokens dense 0.6542, BM25 0.6877,
hybrid 0.7213.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..atomic import write_json
from ..errors import IndexCorruptError
from ..paths import cache_dir, temporary_home
from .beir import BeirData
from .metrics import evaluate

COLLECTION = "beir"
DEPTH = 100  # documents ranked per query (recall@100 needs them all)


@dataclass
class RetrievalEval:
    metrics: dict[str, float]
    documents: int
    queries: int
    seconds: dict[str, float] = field(default_factory=dict)


def corpus_folder(data: BeirData, where: Path) -> tuple[Path, dict[str, str]]:
    """The corpus as one file per document under ``where/docs`` (written once;
    ``files.json`` marks it complete) and the map from file name to document id."""
    folder, index = where / "docs", where / "files.json"
    if index.exists():
        return folder, json.loads(index.read_text(encoding="utf-8"))
    folder.mkdir(parents=True, exist_ok=True)
    names = {}
    for i, (doc_id, (title, text)) in enumerate(data.corpus.items()):
        name = f"doc-{i:06d}.txt"
        (folder / name).write_text(f"{title} {text}".strip() + "\n", encoding="utf-8")
        names[name] = doc_id
    write_json(index, names)
    return folder, names


def ranked_documents(passages: list[Any], doc_of: dict[str, str], k: int) -> list[str]:
    """Document ids in the order of their first passage, at most ``k``."""
    seen: dict[str, None] = {}
    for p in passages:
        doc = doc_of.get(p.source)
        if doc is not None and doc not in seen:
            seen[doc] = None
            if len(seen) == k:
                break
    return list(seen)


def evaluate_retriever(data: BeirData, data_key: str, retriever_name: str,
                       make_retriever: Callable[[str | None, str], Any],
                       variants: dict[str, str | None], progress: bool = False,
                       log: Callable[[str], None] = lambda message: None) -> dict[str, RetrievalEval]:
    """One :class:`RetrievalEval` per variant (``log`` hears what each sync did).
    ``make_retriever(value, collection)`` builds the retriever for
    ``collection`` with the compared option set to ``value`` (None: the
    options as they are); ``variants`` maps each result's label to its value.

    Every variant syncs before it searches, so an option that changes how
    documents are indexed (``chunk_tokens``) is measured on an index built
    with it: a variant whose settings the shared collection refuses (the
    retriever raises ``IndexCorruptError``, as the built-in one does for
    another chunker) gets a collection of its own, kept for the next run.
    For one that only changes the search, the sync finds nothing to do; one
    that changes the index without the retriever recording it (the built-in
    ``ann_threshold``) is measured on the shared collection as it was built."""
    key = hashlib.sha256(f"{data_key}|{retriever_name}".encode()).hexdigest()[:16]
    where = cache_dir() / "eval" / "retrieval" / key
    folder, names = corpus_folder(data, where)
    results: dict[str, RetrievalEval] = {}
    qids = list(data.queries)
    with temporary_home(where / "home"):
        for number, (label, value) in enumerate(variants.items()):
            start = time.perf_counter()
            retriever, report = _synced(make_retriever, value, number, folder, progress)
            sync_s = time.perf_counter() - start
            log(f"{label}: collection {report.collection!r} synced in {sync_s:.1f} s: {report.added} added, "
                f"{report.updated} updated, {report.removed} removed, {report.unchanged} unchanged, "
                f"{report.chunks_embedded} chunks embedded, {report.chunks_total} in all")
            per_doc = max(1, math.ceil(report.chunks_total / max(1, len(names))))
            start = time.perf_counter()
            run = {q: ranked_documents(retriever.search(data.queries[q], DEPTH * per_doc), names, DEPTH)
                   for q in qids}
            seconds = {f"{label}_sync": sync_s, f"{label}_queries": time.perf_counter() - start}
            results[label] = RetrievalEval(evaluate(run, data.qrels), len(data.corpus), len(qids), seconds)
    return results


def _synced(make_retriever: Callable[[str | None, str], Any], value: str | None, number: int, folder: Path,
            progress: bool) -> tuple[Any, Any]:
    """The variant's retriever and its sync report: the shared collection when
    it accepts the variant's settings, else the variant's own (rebuilt when
    that one was built with other settings too)."""
    def sync(retriever: Any, rebuild_when_refused: bool) -> tuple[Any, Any] | None:
        try:
            return retriever, retriever.sync(folder, progress=progress)
        except IndexCorruptError:
            if not rebuild_when_refused:
                return None
            return retriever, retriever.sync(folder, progress=progress, rebuild=True)

    # the first variant owns the shared collection: a refusal rebuilds it with its settings
    return (sync(make_retriever(value, COLLECTION), number == 0)
            or sync(make_retriever(value, f"{COLLECTION}-{number}"), True))
