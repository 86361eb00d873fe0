"""The FAISS retriever's options: the ``[plugins.faiss]`` table of the config
file, ``--retriever-option KEY=VALUE`` (``-R``) on the command line, and the
shorthand flags this plugin adds to ``ask`` and ``search`` (``--mode``,
``--path``, ``--type``, ``--mmr``, ``--rerank``).

The fusion constants were tuned on SciFact *train* and reported on *test*
(docs/architecture.md): hybrid nDCG@10 0.726 against 0.645 dense and 0.687
BM25.
"""

from __future__ import annotations

from dataclasses import dataclass, field


def _o(default, help):  # noqa: A002 - the dataclass metadata key is "help"
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class FaissOptions:
    mode: str = _o("hybrid", "dense (embeddings), bm25 (words) or hybrid (both, fused by reciprocal rank).")
    rrf_k: int = _o(10, "Reciprocal-rank fusion constant for hybrid search (tuned on SciFact train).")
    dense_weight: float = _o(0.75, "Weight of the dense ranking against BM25's 1.0 in hybrid search (tuned on SciFact train).")
    ann_threshold: int = _o(20000, "Chunks above which a collection switches from exact search to an IVF index (0: always exact).")
    ann_nprobe: int = _o(32, "Inverted lists an IVF search visits: more is slower and finds more (see `assistant bench --only search`).")
    path_filter: str = _o("", "Search only files whose path (relative to the indexed folder) matches one of these comma-separated globs, e.g. 'notes/*,*.md'.")
    type_filter: str = _o("", "Search only these comma-separated file types, e.g. 'pdf,md'.")
    mmr_lambda: float = _o(1.0, "Maximal marginal relevance: 1 ranks by relevance only, lower values prefer passages unlike those already chosen.")
    reranker: str = _o("", "Cross-encoder that re-scores the retrieved passages (a folder or a Hugging Face id); empty for none.")
    chunk_tokens: int = _o(200, "Target chunk size in embedder tokens when indexing (a change needs --rebuild).")

    def __post_init__(self) -> None:
        if self.mode not in ("dense", "bm25", "hybrid"):
            raise ValueError(f"mode must be dense, bm25 or hybrid, got {self.mode!r}")
        if not 0 <= self.mmr_lambda <= 1:
            raise ValueError(f"mmr_lambda must be between 0 and 1, got {self.mmr_lambda} "
                             "(1 for relevance only, 0.5 to balance relevance and diversity)")
        if self.rrf_k < 1 or self.chunk_tokens < 16 or self.ann_nprobe < 1 or self.ann_threshold < 0:
            raise ValueError("rrf_k and ann_nprobe must be at least 1, chunk_tokens at least 16, "
                             "ann_threshold at least 0")
