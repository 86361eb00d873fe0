"""Maximal marginal relevance: a ranking that is relevant and diverse.

Carbonell & Goldstein, "The Use of MMR, Diversity-Based Reranking for
Reordering Documents and Producing Summaries" (SIGIR 1998): pick, one at a
time, the candidate maximising ``λ·relevance − (1−λ)·max similarity to those
already picked``, so near-duplicates do not fill the context. The FAISS
retriever uses it on passages (``--mmr``), the semantic example selector on
examples. numpy loads only when it is called.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def mmr(relevance: Sequence[float], vectors: Any, k: int, lambda_: float) -> list[int]:
    """Positions of the ``k`` candidates chosen by maximal marginal relevance.

    ``vectors`` are the candidates' unit embeddings, one row each, so a dot
    product is a cosine; ``lambda_`` is 1 for relevance only, lower to prefer
    candidates unlike those already chosen. ``relevance`` is divided by the
    best candidate's so that it lies in [0, 1] like a cosine similarity,
    whatever the first stage's scale (BM25 and fused scores are not cosines);
    negative scores count as 0.
    """
    import numpy as np

    n = len(relevance)
    if n == 0 or k <= 0:
        return []
    rel = np.clip(np.asarray(relevance, dtype="float64"), 0, None)
    rel = rel / rel.max() if rel.max() > 0 else np.ones(n)
    sims = np.asarray(vectors, dtype="float64") @ np.asarray(vectors, dtype="float64").T  # (n, n) cosine
    chosen: list[int] = []
    redundancy = np.full(n, -np.inf)
    for _ in range(min(k, n)):
        penalty = np.where(np.isfinite(redundancy), redundancy, 0.0)
        value = lambda_ * rel - (1 - lambda_) * penalty
        value[chosen] = -np.inf
        best = int(np.argmax(value))
        chosen.append(best)
        redundancy = np.maximum(redundancy, sims[best])
    return chosen
