"""Does the assistant cite the right passage? On a QA set of
``{query, passage, answer}`` rows (e.g. the SQuAD sample in shared/data),
every distinct passage is written as a file and indexed through the normal
pipeline into a throwaway collection; then, for each query, the first
citation is compared with the gold passage's file.

* retrieval (default): the first citation is the passage ranked first, the
  one the prompt numbers [1];
* ``generate=N``: the first N queries are answered by the model, and the
  answer's own first citation is checked (see assistant/citations.py).
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CorpusError
from ..paths import temporary_home


@dataclass
class CitationEval:
    questions: int
    passages: int
    first_is_gold: float  # retrieval: gold ranked first
    gold_in_top_k: float
    generated: int = 0
    answer_cites_gold_first: float | None = None
    answers_without_citation: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def load_qa(path: Path) -> list[dict[str, str]]:
    try:
        rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, ValueError) as exc:
        raise CorpusError(f"cannot read QA file {path}: {exc}", "give a JSONL file of {query, passage, answer}") from None
    if not rows or not all({"query", "passage"} <= set(r) for r in rows):
        raise CorpusError(f"{path} has no rows with 'query' and 'passage'", "give a JSONL file of {query, passage, answer}")
    return rows


def evaluate_citations(engine_factory: Any, rows: list[dict[str, str]], k: int = 3, generate: int = 0,
                       progress: Any = None) -> CitationEval:
    texts = list(dict.fromkeys(r["passage"] for r in rows))
    file_of = {text: f"passage-{i:05d}.txt" for i, text in enumerate(texts)}
    with tempfile.TemporaryDirectory(prefix="assistant-citations-") as tmp:
        folder = Path(tmp) / "passages"
        folder.mkdir()
        for text, name in file_of.items():
            (folder / name).write_text(text + "\n", encoding="utf-8")
        with temporary_home(Path(tmp) / "home"):  # a throwaway collection
            engine = engine_factory()
            start = time.perf_counter()
            engine.index(folder, collection="citation-eval")
            index_s = time.perf_counter() - start
            start = time.perf_counter()
            first = top = 0
            for row in rows:
                hits = engine.retrieve(row["query"], k, "citation-eval")
                first += bool(hits) and hits[0].source == file_of[row["passage"]]
                top += any(h.source == file_of[row["passage"]] for h in hits)
            retrieve_s = time.perf_counter() - start
            result = CitationEval(len(rows), len(texts), first / len(rows), top / len(rows),
                                  seconds={"index": index_s, "retrieve": retrieve_s})
            if generate:
                start = time.perf_counter()
                cited = missing = 0
                for n, row in enumerate(rows[:generate], start=1):
                    answer = engine.answer(row["query"], collection="citation-eval", top_k=k)
                    if not answer.citations:
                        missing += 1
                    elif answer.citations[0].passage.source == file_of[row["passage"]]:
                        cited += 1
                    if progress:
                        progress(n)
                result.generated = min(generate, len(rows))
                result.answer_cites_gold_first = cited / result.generated
                result.answers_without_citation = missing
                result.seconds["generate"] = time.perf_counter() - start
    return result
