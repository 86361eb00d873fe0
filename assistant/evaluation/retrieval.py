"""Dense retrieval evaluation on a BEIR data set, through the same embedding
path as indexing (the FAISS retriever's ``embed``: the configured embedder,
L2-normalised vectors, exact inner-product search).

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


def dense_run(data: BeirData, retriever: Any, k: int = 100, progress: bool = False) -> tuple[dict[str, list[str]], dict]:
    import faiss

    ids = list(data.corpus)
    start = time.perf_counter()
    vectors = retriever.embed([f"{t} {x}".strip() for t, x in (data.corpus[i] for i in ids)], progress=progress)
    encode_s = time.perf_counter() - start
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    qids = list(data.queries)
    start = time.perf_counter()
    _, hits = index.search(retriever.embed([data.queries[q] for q in qids]), min(k, len(ids)))  # (queries, k)
    search_s = time.perf_counter() - start
    run = {q: [ids[j] for j in row if j >= 0] for q, row in zip(qids, hits.tolist())}
    return run, {"encode_corpus": encode_s, "encode_and_search_queries": search_s}


def evaluate_dense(data: BeirData, retriever: Any, progress: bool = False) -> RetrievalEval:
    run, seconds = dense_run(data, retriever, progress=progress)
    return RetrievalEval(evaluate(run, data.qrels), len(data.corpus), len(data.queries), seconds)
