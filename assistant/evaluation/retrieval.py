"""Retrieval evaluation on a BEIR data set, through the same paths as the
FAISS retriever: its ``embed`` (the configured embedder, L2-normalised
vectors, exact inner-product search) for dense, SQLite FTS5 BM25 for
lexical, and weighted reciprocal-rank fusion for hybrid.

Configuration of the published baseline (MTEB, all-MiniLM-L6-v2 on SciFact,
nDCG@10 = 0.645): whole documents as ``title + " " + text``, truncated at the
model's 256 word pieces, exact cosine search.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from .beir import BeirData
from .metrics import evaluate


@dataclass
class RetrievalEval:
    metrics: dict[str, float]
    documents: int
    queries: int
    seconds: dict[str, float] = field(default_factory=dict)


def _cached_vectors(data_key: str, texts: list[str], retriever: Any, progress: bool) -> Any:
    """Corpus embeddings, cached as .npy (no pickle) keyed by data and embedder."""
    import hashlib

    import numpy as np

    from ..paths import cache_dir

    key = hashlib.sha256(f"{data_key}|{retriever.settings.embedder}|{len(texts)}".encode()).hexdigest()[:16]
    path = cache_dir() / "eval" / f"{key}.npy"
    if path.exists():
        return np.load(path, allow_pickle=False)
    vectors = retriever.embed(texts, progress=progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, vectors, allow_pickle=False)
    tmp.replace(path)
    return vectors


def dense_run(data: BeirData, retriever: Any, k: int = 100, progress: bool = False,
              data_key: str = "") -> tuple[dict[str, list[str]], dict]:
    import faiss

    ids = list(data.corpus)
    start = time.perf_counter()
    texts = [f"{t} {x}".strip() for t, x in (data.corpus[i] for i in ids)]
    vectors = _cached_vectors(data_key, texts, retriever, progress) if data_key else retriever.embed(texts, progress)
    encode_s = time.perf_counter() - start
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    qids = list(data.queries)
    start = time.perf_counter()
    _, hits = index.search(retriever.embed([data.queries[q] for q in qids]), min(k, len(ids)))  # (queries, k)
    search_s = time.perf_counter() - start
    run = {q: [ids[j] for j in row if j >= 0] for q, row in zip(qids, hits.tolist())}
    return run, {"dense_encode_corpus": encode_s, "dense_queries": search_s}


def bm25_run(data: BeirData, k: int = 100) -> tuple[dict[str, list[str]], dict]:
    import sqlite3

    from assistant_plugins.faiss_retrieval.lexical import bm25_search

    start = time.perf_counter()
    con = sqlite3.connect(":memory:")
    con.execute("CREATE VIRTUAL TABLE docs USING fts5(title, text, tokenize = 'porter unicode61')")
    ids = list(data.corpus)
    con.executemany("INSERT INTO docs (rowid, title, text) VALUES (?, ?, ?)",
                    [(i, *data.corpus[doc]) for i, doc in enumerate(ids)])
    index_s = time.perf_counter() - start
    start = time.perf_counter()
    run = {q: [ids[r] for r, _ in bm25_search(con, text, k, table="docs")] for q, text in data.queries.items()}
    return run, {"bm25_index": index_s, "bm25_queries": time.perf_counter() - start}


def fuse_runs(runs: list[dict[str, list[str]]], k_rrf: int, weights: list[float], k: int = 100) -> dict[str, list[str]]:
    from assistant_plugins.faiss_retrieval.lexical import rrf

    fused = {}
    for q in runs[0]:
        names = sorted({d for run in runs for d in run.get(q, [])})
        position = {d: i for i, d in enumerate(names)}
        ranked = rrf([[position[d] for d in run.get(q, [])] for run in runs], k_rrf, weights)
        fused[q] = [names[i] for i, _ in ranked[:k]]
    return fused


def evaluate_modes(data: BeirData, retriever: Any, modes: list[str], k_rrf: int = 60,
                   dense_weight: float = 1.0, progress: bool = False, data_key: str = "") -> dict[str, RetrievalEval]:
    runs: dict[str, dict[str, list[str]]] = {}
    seconds: dict[str, float] = {}
    if {"dense", "hybrid"} & set(modes):
        runs["dense"], t = dense_run(data, retriever, progress=progress, data_key=data_key)
        seconds.update(t)
    if {"bm25", "hybrid"} & set(modes):
        runs["bm25"], t = bm25_run(data)
        seconds.update(t)
    if "hybrid" in modes:
        runs["hybrid"] = fuse_runs([runs["dense"], runs["bm25"]], k_rrf, [dense_weight, 1.0])
    return {m: RetrievalEval(evaluate(runs[m], data.qrels), len(data.corpus), len(data.queries), seconds)
            for m in modes}


def evaluate_dense(data: BeirData, retriever: Any, progress: bool = False) -> RetrievalEval:
    return evaluate_modes(data, retriever, ["dense"], progress=progress)["dense"]
