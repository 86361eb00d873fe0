"""What happens to a ranking after the first stage: metadata filters, an
optional cross-encoder reranker, and maximal marginal relevance.

* Filters restrict every stage to chunks whose file matches a path glob
  (SQLite GLOB syntax: ``*``, ``?``, ``[abc]``; ``*`` also crosses ``/``) or a
  file type (suffix). They are exact: dense search scores every allowed
  vector or passes FAISS an ``IDSelector``, BM25 adds the condition to its
  SQL query.
* A cross-encoder reads query and passage together and scores their
  relevance (Nogueira & Cho, "Passage Re-ranking with BERT", 2019); it is
  slower than the bi-encoder, so it re-scores only the first stage's
  candidates. Used only when the user names one (option ``reranker``).
* MMR (Carbonell & Goldstein, "The Use of MMR, Diversity-Based Reranking for
  Reordering Documents and Producing Summaries", SIGIR 1998) picks, one at a
  time, the candidate maximising ``λ·relevance − (1−λ)·max similarity to the
  passages already picked``, so near-duplicate chunks do not fill the context.
  It is :func:`assistant.mmr`, shared with the semantic example selector.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from assistant import ModelError


@dataclass(frozen=True)
class Filters:
    """Keep only chunks of files matching any ``paths`` glob and any ``types`` suffix."""

    paths: tuple[str, ...] = ()
    types: tuple[str, ...] = ()

    @classmethod
    def parse(cls, paths: str | Sequence[str] = (), types: str | Sequence[str] = ()) -> "Filters":
        """From settings or flags: comma-separated strings or sequences; types with or without the dot."""
        def split(value: str | Sequence[str]) -> tuple[str, ...]:
            items = value.split(",") if isinstance(value, str) else list(value)
            return tuple(item.strip() for item in items if item and item.strip())

        kinds = tuple("." + t.lower().lstrip(".") for t in split(types))
        return cls(paths=split(paths), types=kinds)

    def __bool__(self) -> bool:
        return bool(self.paths or self.types)

    def sql(self) -> tuple[str, list[str]]:
        """A condition on the ``chunks`` table (``path`` column) and its parameters."""
        clauses, params = [], []
        if self.paths:
            clauses.append("(" + " OR ".join("path GLOB ?" for _ in self.paths) + ")")
            params.extend(self.paths)
        if self.types:
            clauses.append("(" + " OR ".join("lower(path) LIKE ?" for _ in self.types) + ")")
            params.extend(f"%{t}" for t in self.types)
        return " AND ".join(clauses) or "1", params

    def allowed_ids(self, con: Any) -> Any:
        import numpy as np

        where, params = self.sql()
        rows = con.execute(f"SELECT id FROM chunks WHERE {where}", params).fetchall()
        return np.fromiter((r[0] for r in rows), dtype="int64", count=len(rows))


class Reranker:
    """A sentence-transformers ``CrossEncoder`` that re-scores (query, passage) pairs."""

    def __init__(self, spec: str, device: str = "cpu", offline: bool = True) -> None:
        from pathlib import Path

        from assistant import hub_snapshot, quiet_transformers

        folder = spec
        if not Path(spec).expanduser().exists():
            try:
                folder = hub_snapshot(spec, offline)
            except ModelError as exc:
                raise ModelError(f"the reranker {exc.message}", f"{exc.hint}, or unset the faiss option `reranker`") from None
        quiet_transformers()
        from sentence_transformers import CrossEncoder

        try:
            self.model = CrossEncoder(str(Path(folder).expanduser()), device=device, num_labels=1)
        except (OSError, ValueError) as exc:
            raise ModelError(f"could not load the reranker {spec!r}: {exc}",
                              "name a cross-encoder folder or Hugging Face id, or unset the faiss option `reranker`") from None
        self.name = spec

    def scores(self, query: str, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        values = self.model.predict([(query, text) for text in texts], batch_size=16, show_progress_bar=False)
        return [float(v) for v in values]
