"""Lexical search with BM25 (Robertson & Zaragoza, 2009), through SQLite's
FTS5 full-text index, whose ``bm25()`` ranking function implements Okapi
BM25 (k1 = 1.2, b = 0.75). The index lives in the docstore beside the chunks,
so it is updated in the same transaction as they are, and needs no extra
file format. Words are stemmed with the Porter stemmer (English)."""

from __future__ import annotations

import re
import sqlite3

FTS_SCHEMA = ("CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(heading, text, "
              "tokenize = 'porter unicode61')")
WORD = re.compile(r"[^\W_]+", re.UNICODE)
STOPWORDS = frozenset("""a an and are as at be by for from has have how i in is it its of on or that the this to
was were what when where which who why will with""".split())


def fts_query(text: str) -> str | None:
    """An FTS5 query matching any of the text's words (quoted: no query syntax leaks in)."""
    words = dict.fromkeys(w.lower() for w in WORD.findall(text) if w.lower() not in STOPWORDS)
    return " OR ".join(f'"{w}"' for w in words) or None


def bm25_search(con: sqlite3.Connection, query: str, k: int, table: str = "chunks_fts",
                where: tuple[str, list[str]] | None = None) -> list[tuple[int, float]]:
    """(rowid, score) best first; the score is BM25 (higher is better).

    ``where``: an optional (condition, parameters) on the ``chunks`` table
    that the rows must meet (metadata filters)."""
    match = fts_query(query)
    if match is None or k <= 0:
        return []
    condition, params = where or ("", [])
    restrict = f" AND rowid IN (SELECT id FROM chunks WHERE {condition})" if condition else ""
    rows = con.execute(f"SELECT rowid, -bm25({table}) FROM {table} WHERE {table} MATCH ?{restrict} "
                       f"ORDER BY bm25({table}) LIMIT ?", (match, *params, k)).fetchall()
    return [(int(r), float(s)) for r, s in rows]


def rrf(rankings: list[list[int]], k: int = 60, weights: list[float] | None = None) -> list[tuple[int, float]]:
    """Reciprocal-rank fusion (Cormack et al., 2009): sum of w / (k + rank)."""
    weights = weights or [1.0] * len(rankings)
    scores: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights):
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda pair: -pair[1])
