"""Ranking metrics, as defined by trec_eval (the implementation BEIR uses):

* nDCG@k: DCG = sum over ranks i=1..k of rel_i / log2(i + 1), divided by the
  DCG of the ideal ordering of the judged documents (Järvelin & Kekäläinen,
  2002);
* recall@k: relevant documents in the top k / all relevant documents;
* MRR@k: 1 / rank of the first relevant document within the top k, else 0.

Each is averaged over the queries that have judgements.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

Run = Mapping[str, Sequence[str]]  # query id -> document ids, best first
Qrels = Mapping[str, Mapping[str, int]]  # query id -> {document id: relevance}


def ndcg_at_k(ranked: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    dcg = sum(judged.get(doc, 0) / math.log2(i + 2) for i, doc in enumerate(ranked[:k]))
    ideal = sorted((r for r in judged.values() if r > 0), reverse=True)[:k]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at_k(ranked: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    relevant = {doc for doc, r in judged.items() if r > 0}
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


def mrr_at_k(ranked: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    for i, doc in enumerate(ranked[:k]):
        if judged.get(doc, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def evaluate(run: Run, qrels: Qrels) -> dict[str, float]:
    queries = [q for q in qrels if any(r > 0 for r in qrels[q].values())]
    if not queries:
        return {}
    table = {"nDCG@10": (ndcg_at_k, 10), "recall@10": (recall_at_k, 10), "recall@100": (recall_at_k, 100),
             "MRR@10": (mrr_at_k, 10)}
    return {name: sum(fn(run.get(q, []), qrels[q], k) for q in queries) / len(queries)
            for name, (fn, k) in table.items()}
