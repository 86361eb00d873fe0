"""Benchmarks of indexing: end-to-end sync against raw encoding of the same
chunks, and re-syncing a large unchanged folder."""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from . import BenchContext, Row

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
    from ..config import Settings
    from ..engine import Engine

    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["ASSISTANT_HOME"] = str(Path(tmp) / "home")
        try:
            engine = Engine(Settings(device="cpu"))
            retriever = engine.retriever("bench")
            retriever.embed(["warm-up"])  # load the embedder outside the timing
            corpus = Path(tmp) / "abstracts"
            _write_abstracts(corpus, 300)
            start = time.perf_counter()
            report = engine.index(corpus, collection="bench")
            ours = time.perf_counter() - start
            manifest = retriever.info()
            con = retriever.store.connect(manifest)
            texts = [f"{h}\n{t}" if h else t for h, t in con.execute("SELECT heading, text FROM chunks ORDER BY id")]
            con.close()
            start = time.perf_counter()
            retriever.embedder.encode(texts, batch_size=32, normalize_embeddings=True)
            raw = time.perf_counter() - start
            n = report.chunks_embedded
            rows.append(Row("index", f"sync {n} chunks, chunks/s (vs raw encode)", n / ours, "/s",
                            baseline=n / raw, baseline_name="SentenceTransformer.encode", ratio=raw / ours,
                            goal=">= 0.9x", met=raw / ours >= 0.9))

            many = Path(tmp) / "many"
            many.mkdir()
            texts_small = [p.read_text() for p in sorted(SAMPLE.iterdir())]
            for i in range(1000):
                (many / f"note{i:04d}.md").write_text(f"# Note {i}\n\n{texts_small[i % len(texts_small)][:300]}\n")
            engine.index(many, collection="many")
            times = []
            for _ in range(ctx.repeat):
                start = time.perf_counter()
                again = engine.index(many, collection="many")
                times.append(time.perf_counter() - start)
                assert again.chunks_embedded == 0
            best = sorted(times)[len(times) // 2]
            rows.append(Row("index", "re-sync 1,000 unchanged files", best, "s", goal="<= 2 s, 0 embedded",
                            met=best <= 2.0))
        finally:
            os.environ.pop("ASSISTANT_HOME", None)
    return rows
