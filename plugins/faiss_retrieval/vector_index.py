"""The vector index of a collection: exact while small, IVF once it grows.

Two kinds, both with stable int64 ids (the docstore's chunk ids) and deletes:

* ``flat``: ``IndexIDMap2(IndexFlatIP)``, exact cosine search. Measured here
  (FIELD-NOTES): ~1 ms per query at 10k vectors, ~10 ms at 100k, ~90 ms at 1M.
* ``ivf``: ``IndexIVFFlat`` over inner product (Jégou et al., "Product
  Quantization for Nearest Neighbor Search", TPAMI 2011, for the inverted
  file). Vectors are stored uncompressed, so the scores are exact and only
  recall is approximate; ``nprobe`` trades speed for recall.

Why IVF and not HNSW: FAISS's HNSW cannot remove vectors, and incremental
sync must delete the chunks of changed and deleted files; an IVF index
removes ids in place and takes new vectors without retraining. HNSW also
took 5.5 min to build at 1M on these 2 cores (FIELD-NOTES) against well
under a minute for IVF.

A collection switches to IVF when it passes ``ann_threshold`` chunks, and
its coarse quantizer is retrained when the collection has grown eightfold
since training (the clusters would otherwise be too large to keep searches
fast).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

RETRAIN_GROWTH = 8


@dataclass(frozen=True)
class IndexInfo:
    """What the manifest records about the vector index."""

    kind: str = "flat"
    nlist: int = 0
    trained_on: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "nlist": self.nlist, "trained_on": self.trained_on}


def new_flat(dim: int) -> Any:
    import faiss

    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


def kind_of(index: Any) -> str:
    import faiss

    return "ivf" if isinstance(index, faiss.IndexIVF) else "flat"


def nlist_for(n: int) -> int:
    """Number of inverted lists: the power of two nearest 4·sqrt(n), the FAISS wiki's
    rule of thumb ("between 4*sqrt(N) and 16*sqrt(N)"), kept at the low end because
    training cost grows with it on two cores."""
    nlist = 2 ** round(math.log2(4 * math.sqrt(max(n, 1))))
    return max(1, min(nlist, n // 39))  # k-means wants ~39 training points per list


def all_vectors(index: Any) -> tuple[Any, Any]:
    """(ids, vectors) of every vector in either kind of index."""
    import faiss
    import numpy as np

    if kind_of(index) == "flat":
        ids = faiss.vector_to_array(index.id_map).astype("int64")
        return ids, index.index.reconstruct_n(0, index.ntotal)
    invlists = index.invlists
    id_parts, vec_parts = [], []
    for list_no in range(index.nlist):
        size = invlists.list_size(list_no)
        if not size:
            continue
        id_parts.append(faiss.rev_swig_ptr(invlists.get_ids(list_no), size).copy())
        codes = faiss.rev_swig_ptr(invlists.get_codes(list_no), size * invlists.code_size)
        vec_parts.append(np.frombuffer(codes.tobytes(), dtype="float32").reshape(size, index.d))
    if not id_parts:
        return np.zeros(0, dtype="int64"), np.zeros((0, index.d), dtype="float32")
    return np.concatenate(id_parts).astype("int64"), np.ascontiguousarray(np.concatenate(vec_parts))


def build_ivf(ids: Any, vectors: Any, log: Any = None) -> Any:
    """An IVF index trained on (a sample of) ``vectors``, holding all of them."""
    import faiss
    import numpy as np

    n, dim = vectors.shape
    nlist = nlist_for(n)
    sample = vectors
    if n > 40 * nlist:  # FAISS needs ~39 points per centroid; more only slows k-means down
        rows = np.random.default_rng(0).choice(n, 40 * nlist, replace=False)
        sample = vectors[np.sort(rows)]
    if log:
        log(f"training an IVF index with {nlist} lists on {len(sample):,} of {n:,} vectors")
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
    index.train(sample)
    # a hash-table direct map lets reconstruct(id) work with our own ids (MMR needs it)
    index.set_direct_map_type(faiss.DirectMap.Hashtable)
    index.add_with_ids(vectors, ids)
    return index


def fit(index: Any, info: IndexInfo, threshold: int, log: Any = None) -> tuple[Any, IndexInfo]:
    """Switch to IVF past ``threshold`` (0 disables), retrain after eightfold growth."""
    n = int(index.ntotal)
    kind = kind_of(index)
    if threshold <= 0 or n < threshold:
        if kind == "ivf" and n < threshold // 2:  # shrank well below: exact is cheaper again
            ids, vectors = all_vectors(index)
            flat = new_flat(index.d)
            if n:
                flat.add_with_ids(vectors, ids)
            return flat, IndexInfo()
        return index, info if kind == info.kind else IndexInfo(kind=kind, nlist=getattr(index, "nlist", 0),
                                                                     trained_on=info.trained_on)
    if kind == "ivf" and n <= RETRAIN_GROWTH * max(info.trained_on, 1):
        return index, info
    ids, vectors = all_vectors(index)
    ivf = build_ivf(ids, vectors, log)
    return ivf, IndexInfo(kind="ivf", nlist=ivf.nlist, trained_on=n)


def search(index: Any, queries: Any, k: int, nprobe: int, allowed: Any = None) -> tuple[Any, Any]:
    """Top-``k`` (scores, ids) per query; ``allowed``: an int64 array of ids to keep (filters)."""
    import faiss
    import numpy as np

    k = min(k, int(index.ntotal))
    if allowed is not None:
        if len(allowed) == 0 or k == 0:
            return np.zeros((len(queries), 0), dtype="float32"), np.zeros((len(queries), 0), dtype="int64")
        if len(allowed) <= 20_000:  # few enough to score exactly: every allowed vector is seen
            vectors = reconstruct(index, allowed)
            scores = queries @ vectors.T  # (queries, allowed)
            top = np.argsort(-scores, axis=1)[:, :k]
            return np.take_along_axis(scores, top, axis=1), np.asarray(allowed)[top]
        selector = faiss.IDSelectorBatch(np.asarray(allowed, dtype="int64"))
        params = (faiss.SearchParametersIVF(sel=selector, nprobe=nprobe * 4) if kind_of(index) == "ivf"
                  else faiss.SearchParameters(sel=selector))
        return index.search(queries, k, params=params)
    if kind_of(index) == "ivf":
        return index.search(queries, k, params=faiss.SearchParametersIVF(nprobe=nprobe))
    return index.search(queries, k)


def reconstruct(index: Any, ids: Any) -> Any:
    """The stored vectors of ``ids`` (rows in the same order)."""
    import numpy as np

    ids = np.asarray(ids, dtype="int64")
    if len(ids) == 0:
        return np.zeros((0, index.d), dtype="float32")
    return index.reconstruct_batch(ids)
