"""Reading a data set in the BEIR layout (Thakur et al., 2021):
``corpus.jsonl`` (``_id``, ``title``, ``text``), ``queries.jsonl``
(``_id``, ``text``) and ``qrels/<split>.tsv`` (query-id, corpus-id, score,
with a header line)."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import CorpusError

__all__ = ["BeirData", "load_beir"]


@dataclass
class BeirData:
    corpus: dict[str, tuple[str, str]]  # id -> (title, text)
    queries: dict[str, str]  # only the queries judged in the split
    qrels: dict[str, dict[str, int]]


def load_beir(folder: Path, split: str = "test") -> BeirData:
    folder = Path(folder)
    files = {"corpus": folder / "corpus.jsonl", "queries": folder / "queries.jsonl",
             "qrels": folder / "qrels" / f"{split}.tsv"}
    for name, path in files.items():
        if not path.exists():
            raise CorpusError(f"{path} is missing: {folder} is not a BEIR data set with a {split!r} split",
                              "give a folder with corpus.jsonl, queries.jsonl and qrels/<split>.tsv")
    qrels: dict[str, dict[str, int]] = {}
    with open(files["qrels"], encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter="\t")
        next(reader, None)  # header
        for row in reader:
            if len(row) >= 3:
                qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    corpus = {}
    with open(files["corpus"], encoding="utf-8") as fh:
        for line in fh:
            doc = json.loads(line)
            corpus[str(doc["_id"])] = (doc.get("title", ""), doc.get("text", ""))
    queries = {}
    with open(files["queries"], encoding="utf-8") as fh:
        for line in fh:
            q = json.loads(line)
            if str(q["_id"]) in qrels:
                queries[str(q["_id"])] = q["text"]
    return BeirData(corpus, queries, qrels)
