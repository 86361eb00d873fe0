"""``assistant bench --only search``: vector search at 100k and 1M chunks: the collection's own
index (IVF past ``ann_threshold``, built by the same code as ``assistant
index``) against exact search in the same run, with recall@5 against exact.

The vectors behave like real embeddings: they are built from the real
all-MiniLM-L6-v2 embeddings of the SciFact abstracts, each synthetic chunk
a random real abstract plus a smaller share of another plus a little noise,
renormalised; the queries are the real embeddings of SciFact's questions.
Uniform random vectors would be the worst case for any approximate index
and say nothing about real use (FIELD-NOTES).

Under --quick the two tiers hold 2,000 and 8,000 vectors built from a few
dozen abstracts; the keys stay ``search.100k.*`` and ``search.1m.*`` (the
JSON's ``quick`` field says the figures are a smoke test).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from assistant.bench import BenchContext, Row, Skip, ratio

from . import vector_index

# in a checkout: <repo>/plugins/faiss_retrieval/ here, <repo>/../shared/data beside the repository
SCIFACT = Path(__file__).resolve().parents[3] / "shared" / "data" / "scifact"
SAMPLE = Path(__file__).resolve().parents[2] / "corpora" / "sample"
TIERS = ("100k", "1m")  # the keys' names for the two sizes (docs/benchmarks.md)
SIZES = (100_000, 1_000_000)
QUICK_SIZES = (2_000, 8_000)  # --quick's stand-ins for the two tiers: the same code, a smoke test
QUICK_DOCS, QUICK_QUERIES = 32, 24
GOALS_MS = {"100k": 5.0, "1m": 2.0}


def cached_vectors(data_key: str, texts: list[str], embed: Any, embedder: str, progress: bool) -> Any:
    """Unit vectors of ``texts``, cached as .npy (no pickle) keyed by data and embedder."""
    import hashlib

    import numpy as np

    from assistant import atomic_path, cache_dir

    key = hashlib.sha256(f"{data_key}|{embedder}|{len(texts)}".encode()).hexdigest()[:16]
    path = cache_dir() / "eval" / f"{key}.npy"
    if path.exists():
        return np.load(path, allow_pickle=False)
    vectors = embed(texts, progress)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, vectors, allow_pickle=False)
    return vectors


def real_vectors(ctx: BenchContext) -> tuple[Any, Any]:
    """(chunk-like vectors, query vectors): SciFact abstracts and questions
    embedded with the configured embedder (cached). Under --quick, a few
    dozen of them, or the sample corpus's paragraphs where SciFact is missing."""
    from assistant import Embedder
    from assistant.evaluation.beir import load_beir

    settings = ctx.settings(device="cpu")
    embedder = Embedder(settings)

    def embed(texts: list[str], progress: bool = False) -> Any:
        return embedder.embed(texts, progress=progress)  # unit vectors, (n, dim) float32

    if not (SCIFACT / "corpus.jsonl").exists():
        if not ctx.quick:
            raise Skip(f"{SCIFACT} is missing: the search benchmark needs SciFact's texts "
                       "(--quick runs on the sample corpus instead)")
        ctx.note(f"search: {SCIFACT} is missing; the sample corpus's paragraphs stand in for SciFact")
        paragraphs = [p.strip() for f in sorted(SAMPLE.iterdir()) for p in f.read_text().split("\n\n") if p.strip()]
        return embed(paragraphs), embed(paragraphs[:QUICK_QUERIES])
    data = load_beir(SCIFACT, "train")
    test = load_beir(SCIFACT, "test")
    corpus_file = SCIFACT / "corpus.jsonl"
    key = f"{corpus_file.resolve()}|{corpus_file.stat().st_size}|{corpus_file.stat().st_mtime_ns}"
    texts = [f"{t} {x}".strip() for t, x in data.corpus.values()]
    questions = list(data.queries.values()) + list(test.queries.values())
    if ctx.quick:
        texts, questions = texts[:QUICK_DOCS], questions[:QUICK_QUERIES]
    ctx.log(f"embedding {len(texts):,} SciFact abstracts (cached after the first run)")
    docs = cached_vectors(key, texts, embed, settings.embedder, progress=not ctx.quick)
    queries = cached_vectors(key + "|queries", questions, embed, settings.embedder, progress=False)
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

    from assistant import retriever_options

    from .retriever import FaissRetriever

    settings = ctx.settings()
    options = retriever_options(settings, "faiss", FaissRetriever)
    sizes = ctx.size(SIZES, QUICK_SIZES)
    # both full sizes are past ann_threshold (IVF); the quick stand-ins must be too, to run the same code
    threshold = ctx.size(options.ann_threshold, QUICK_SIZES[0] // 2)
    docs, queries = real_vectors(ctx)
    rows: list[Row] = []
    for tier, n in zip(TIERS, sizes):
        vectors = synthesize(docs, n)
        ids = np.arange(1, n + 1, dtype="int64")
        start = time.perf_counter()
        flat = vector_index.new_flat(vectors.shape[1])
        flat.add_with_ids(vectors, ids)
        index, info = vector_index.fit(flat, vector_index.IndexInfo(), threshold, log=ctx.log)
        build_s = time.perf_counter() - start
        ctx.log(f"{n:,} vectors: {info.kind} index with {info.nlist} lists built in {build_s:.1f} s")
        _, truth = faiss.knn(queries, vectors, 5, metric=faiss.METRIC_INNER_PRODUCT)  # exact top-5 (rows 0-based)
        _, found = vector_index.search(index, queries, 5, options.ann_nprobe)
        recall = float(np.mean([len(set(f.tolist()) & set((t + 1).tolist())) / 5 for f, t in zip(found, truth)]))
        ours = latencies(lambda q: vector_index.search(index, q, 5, options.ann_nprobe), queries)
        exact_queries = queries[: 300 if n <= 100_000 else 60]
        exact = latencies(lambda q: flat_search(vectors, q), exact_queries)
        p50, p99, base = percentile(ours, 50), percentile(ours, 99), percentile(exact, 50)
        goal = GOALS_MS[tier]
        label = f"{n // 1000:,}k" if n < 1_000_000 else f"{n // 1_000_000}M"
        rows.append(Row(f"search.{tier}.p50_ms", p50, "ms",
                        f"search p50 at {label} chunks, ms ({info.kind}, nprobe {options.ann_nprobe})",
                        baseline=base, baseline_name="exact search", ratio=ratio(base, p50),
                        goal=f"<= {goal:g} ms", met=p50 <= goal))
        rows.append(Row(f"search.{tier}.p99_ms", p99, "ms", f"search p99 at {label} chunks, ms",
                        goal=f"<= {goal:g} ms", met=p99 <= goal))
        rows.append(Row(f"search.{tier}.recall_at_5", recall, "", f"recall@5 vs exact at {label} chunks",
                        goal=">= 0.95", met=recall >= 0.95))
        rows.append(Row(f"search.{tier}.build_s", build_s, "s", f"build the {label} index, s"))
        del index, flat, vectors
    return rows


def flat_search(vectors: Any, query: Any) -> Any:
    import faiss

    return faiss.knn(query, vectors, 5, metric=faiss.METRIC_INNER_PRODUCT)
