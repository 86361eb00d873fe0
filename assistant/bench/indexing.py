"""Benchmarks of indexing: end-to-end sync against raw encoding of the same
chunks, and re-syncing a large unchanged folder."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from . import BenchContext, Row, median, ratio, temporary_home

SCIFACT = Path(__file__).resolve().parents[3] / "shared" / "data" / "scifact" / "corpus.jsonl"
SAMPLE = Path(__file__).resolve().parents[2] / "corpora" / "sample"


def _write_abstracts(folder: Path, count: int) -> None:
    """Real text of real length: SciFact abstracts when present, else the sample corpus repeated."""
    folder.mkdir(parents=True)
    if SCIFACT.exists():
        with open(SCIFACT, encoding="utf-8") as fh:
            for i, line in zip(range(count), fh):
                doc = json.loads(line)
                (folder / f"{doc['_id']}.txt").write_text(f"{doc['title']}\n\n{doc['text']}\n", encoding="utf-8")
    else:
        texts = [p.read_text() for p in sorted(SAMPLE.iterdir())]
        for i in range(count):
            (folder / f"doc{i}.md").write_text(texts[i % len(texts)], encoding="utf-8")


def bench_index(ctx: BenchContext) -> list[Row]:
    """Indexing throughput (chunks/s) against raw SentenceTransformer.encode of the same chunks,
    and the time to re-sync an unchanged 1,000-file folder."""
    from ..engine import Engine

    abstracts, files = ctx.size(300, 20), ctx.size(1000, 50)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp, temporary_home(Path(tmp) / "home"):
        engine = Engine(ctx.settings(device="cpu"))
        retriever = engine.retriever("bench")
        retriever.warm_up()  # load the embedder outside the timing
        corpus = Path(tmp) / "abstracts"
        _write_abstracts(corpus, abstracts)
        start = time.perf_counter()
        report = engine.index(corpus, collection="bench")
        ours = time.perf_counter() - start
        texts = [f"{p.heading}\n{p.text}" if p.heading else p.text for p in retriever.passages()]
        start = time.perf_counter()
        retriever.embedder.model.encode(texts, batch_size=32, normalize_embeddings=True)
        raw = time.perf_counter() - start
        n = report.chunks_embedded
        speed = ratio(raw, ours)
        rows.append(Row("index.sync_chunks_per_s", n / ours, "chunks/s", f"sync {n} chunks, chunks/s (vs raw encode)",
                        baseline=n / raw, baseline_name="SentenceTransformer.encode", ratio=speed,
                        goal=">= 0.9x", met=speed >= 0.9 if speed is not None else None))

        many = Path(tmp) / "many"
        many.mkdir()
        texts_small = [p.read_text() for p in sorted(SAMPLE.iterdir())]
        for i in range(files):
            (many / f"note{i:04d}.md").write_text(f"# Note {i}\n\n{texts_small[i % len(texts_small)][:300]}\n")
        engine.index(many, collection="many")
        times = []
        for _ in range(ctx.repeat):
            start = time.perf_counter()
            again = engine.index(many, collection="many")
            times.append(time.perf_counter() - start)
            if again.chunks_embedded:  # the figure would be wrong: unchanged files must not be embedded
                raise RuntimeError(f"re-syncing unchanged files embedded {again.chunks_embedded} chunks")
        best = median(times)
        rows.append(Row("index.resync_unchanged_s", best, "s", f"re-sync {files:,} unchanged files",
                        goal="<= 2 s, 0 embedded", met=best <= 2.0))
    return rows
