"""``assistant eval``: measure quality on public data sets."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import click

from .app import AppContext, root

PUBLISHED = {"scifact": {"nDCG@10": 0.645}}  # MTEB paper, all-MiniLM-L6-v2


@root.group("eval")
def eval_group() -> None:
    """Measure retrieval (and, later, strategy) quality on public data sets."""


@eval_group.command("retrieval")
@click.option("--beir", "folder", type=click.Path(path_type=Path), required=True,
              help="A BEIR data set folder, e.g. ../shared/data/scifact.")
@click.option("--split", default="test", show_default=True, help="Which qrels split to evaluate on.")
@click.option("--modes", default="dense,bm25,hybrid", show_default=True, help="Comma-separated retrieval modes.")
@click.option("--rrf-k", type=int, help="Fusion constant for hybrid (default: the rrf_k setting).")
@click.option("--dense-weight", type=float, help="Dense weight for hybrid (default: the hybrid_dense_weight setting).")
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Also write the results here.")
@click.pass_obj
def eval_retrieval(app: AppContext, folder: Path, split: str, modes: str, rrf_k: int | None,
                   dense_weight: float | None, json_path: Path | None) -> None:
    """nDCG@10, recall@10, recall@100 and MRR@10 on a BEIR data set.

    Whole documents (title + text) are embedded with the configured embedder
    and searched exactly (dense), matched with BM25 (SQLite FTS5), or both
    fused (hybrid), as the FAISS retriever does. Corpus embeddings are cached,
    so a second run takes seconds. Tune on --split train, report on test.
    """
    from ..atomic import write_json
    from ..errors import ConfigError
    from ..evaluation.beir import load_beir
    from ..evaluation.retrieval import evaluate_modes

    chosen = [m.strip() for m in modes.split(",") if m.strip()]
    if not chosen or set(chosen) - {"dense", "bm25", "hybrid"}:
        raise ConfigError(f"unknown retrieval mode(s) in {modes!r}", "use dense, bm25 and/or hybrid")
    data = load_beir(folder, split)
    engine = app.engine()
    settings = engine.settings
    rrf_k = rrf_k or settings.rrf_k
    dense_weight = settings.hybrid_dense_weight if dense_weight is None else dense_weight
    click.echo(f"{len(data.corpus)} documents, {len(data.queries)} queries ({split})", err=True)
    corpus_file = folder / "corpus.jsonl"
    key = f"{corpus_file.resolve()}|{corpus_file.stat().st_size}|{corpus_file.stat().st_mtime_ns}"
    results = evaluate_modes(data, engine.retriever(), chosen, rrf_k, dense_weight, progress=True, data_key=key)
    published = PUBLISHED.get(folder.name.lower(), {})
    names = list(next(iter(results.values())).metrics)
    click.echo(f"{'mode':<8} " + " ".join(f"{n:>10}" for n in names))
    for mode, result in results.items():
        click.echo(f"{mode:<8} " + " ".join(f"{result.metrics[n]:>10.4f}" for n in names))
    if published:
        click.echo("published (all-MiniLM-L6-v2 dense, MTEB): " + ", ".join(f"{k} {v}" for k, v in published.items()))
    seconds = next(iter(results.values())).seconds
    click.echo(", ".join(f"{k} {v:.1f} s" for k, v in seconds.items()), err=True)
    if json_path:
        write_json(json_path, {"dataset": str(folder), "split": split, "embedder": settings.embedder,
                               "rrf_k": rrf_k, "dense_weight": dense_weight, "published": published,
                               "results": {m: dataclasses.asdict(r) for m, r in results.items()}})
