"""Benchmark of vector search at 100k and 1M chunks: the collection's own
index (IVF past ``ann_threshold``, built by the same code as ``assistant
index``) against exact search in the same run, with recall@5 against exact.

The vectors behave like real embeddings: they are built from the real
all-MiniLM-L6-v2 embeddings of the SciFact abstracts, each synthetic chunk
a random real abstract plus a smaller share of another plus a little noise,
renormalised; the queries are the real embeddings of SciFact's questions.
Uniform random vectors would be the worst case for any approximate index
and say nothing about real use (FIELD-NOTES).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from . import BenchContext, Row

SCIFACT = Path(__file__).resolve().parents[3] / "shared" / "data" / "scifact"
SIZES = (100_000, 1_000_000)
GOALS_MS = {100_000: 5.0, 1_000_000: 2.0}


def real_vectors(log: Any) -> tuple[Any, Any]:
    """(chunk-like vectors, query vectors): SciFact abstracts and questions embedded (cached)."""
    from ..config import Settings
    from ..engine import Engine
    from ..evaluation.beir import load_beir
    from ..evaluation.retrieval import _cached_vectors

    retriever = Engine(Settings(device="cpu")).retriever("bench")
    if not (SCIFACT / "corpus.jsonl").exists():
        raise FileNotFoundError(f"{SCIFACT} is missing; the search benchmark needs SciFact's texts")
    data = load_beir(SCIFACT, "train")
    test = load_beir(SCIFACT, "test")
    corpus_file = SCIFACT / "corpus.jsonl"
    key = f"{corpus_file.resolve()}|{corpus_file.stat().st_size}|{corpus_file.stat().st_mtime_ns}"
    texts = [f"{t} {x}".strip() for t, x in data.corpus.values()]
    log(f"embedding {len(texts):,} SciFact abstracts (cached after the first run)")
    docs = _cached_vectors(key, texts, retriever, progress=True)
    questions = list(data.queries.values()) + list(test.queries.values())
    queries = _cached_vectors(key + "|queries", questions, retriever, progress=False)
    return docs, queries


def synthesize(docs: Any, n: int, seed: int = 0) -> Any:
    """``n`` unit vectors: doc[a] + w·doc[b] + noise, w ~ U(0, 0.5), noise of norm ~0.25."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out = np.empty((n, docs.shape[1]), dtype="float32")
    step = 100_000
    for start in range(0, n, step):
        m = min(step, n - start)
        a = docs[rng.integers(0, len(docs), m)]
        b = docs[rng.integers(0, len(docs), m)]
        w = rng.uniform(0, 0.5, (m, 1)).astype("float32")
        noise = rng.standard_normal((m, docs.shape[1])).astype("float32") * (0.25 / np.sqrt(docs.shape[1]))
        block = a + w * b + noise
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start:start + m] = block
    return out


def latencies(search: Any, queries: Any) -> list[float]:
    """Milliseconds per single-query search (what one user question costs)."""
    times = []
    for q in queries:
        start = time.perf_counter()
        search(q[None, :])
        times.append((time.perf_counter() - start) * 1000)
    return times


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def bench_search(ctx: BenchContext) -> list[Row]:
    """Search latency p50/p99 and recall@5 at 100k and 1M chunks, against exact search."""
    import faiss
    import numpy as np

    from ..config import Settings
    from assistant_plugins.faiss_retrieval import vector_index
    settings = Settings()
    docs, queries = real_vectors(ctx.log)
    rows: list[Row] = []
    for n in SIZES:
        vectors = synthesize(docs, n)
        ids = np.arange(1, n + 1, dtype="int64")
        start = time.perf_counter()
        flat = vector_index.new_flat(vectors.shape[1])
        flat.add_with_ids(vectors, ids)
        index, info = vector_index.fit(flat, vector_index.IndexInfo(), settings.ann_threshold, log=ctx.log)
        build_s = time.perf_counter() - start
        ctx.log(f"{n:,} vectors: {info.kind} index with {info.nlist} lists built in {build_s:.1f} s")
        _, truth = faiss.knn(queries, vectors, 5, metric=faiss.METRIC_INNER_PRODUCT)  # exact top-5 (rows 0-based)
        _, found = vector_index.search(index, queries, 5, settings.ann_nprobe)
        recall = float(np.mean([len(set(f.tolist()) & set((t + 1).tolist())) / 5 for f, t in zip(found, truth)]))
        ours = latencies(lambda q: vector_index.search(index, q, 5, settings.ann_nprobe), queries)
        exact_queries = queries[: 300 if n <= 100_000 else 60]
        exact = latencies(lambda q: flat_search(vectors, q), exact_queries)
        p50, p99, base = percentile(ours, 50), percentile(ours, 99), percentile(exact, 50)
        goal = GOALS_MS[n]
        label = f"{n // 1000:,}k" if n < 1_000_000 else f"{n // 1_000_000}M"
        rows.append(Row("search", f"search p50 at {label} chunks, ms ({info.kind}, nprobe {settings.ann_nprobe})",
                        p50, "ms", baseline=base, baseline_name="exact search", ratio=base / p50,
                        goal=f"<= {goal:g} ms", met=p50 <= goal))
        rows.append(Row("search", f"search p99 at {label} chunks, ms", p99, "ms", goal=f"<= {goal:g} ms",
                        met=p99 <= goal))
        rows.append(Row("search", f"recall@5 vs exact at {label} chunks", recall, "", goal=">= 0.95",
                        met=recall >= 0.95))
        rows.append(Row("search", f"build the {label} index, s", build_s, "s"))
        del index, flat, vectors
    return rows


def flat_search(vectors: Any, query: Any) -> Any:
    import faiss

    return faiss.knn(query, vectors, 5, metric=faiss.METRIC_INNER_PRODUCT)
