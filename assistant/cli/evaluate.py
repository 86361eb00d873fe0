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
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Also write the results here.")
@click.pass_obj
def eval_retrieval(app: AppContext, folder: Path, split: str, json_path: Path | None) -> None:
    """nDCG@10, recall@10, recall@100 and MRR@10 of dense retrieval on a BEIR data set.

    Whole documents (title + text) are embedded with the configured embedder
    and searched exactly, the configuration of the published baselines.
    """
    from ..atomic import write_json
    from ..evaluation.beir import load_beir
    from ..evaluation.retrieval import evaluate_dense

    data = load_beir(folder, split)
    engine = app.engine()
    click.echo(f"embedding {len(data.corpus)} documents and {len(data.queries)} queries...", err=True)
    result = evaluate_dense(data, engine.retriever(), progress=True)
    published = PUBLISHED.get(folder.name.lower(), {})
    click.echo(f"{'metric':<12} {'value':>7}  published")
    for name, value in result.metrics.items():
        ref = published.get(name)
        click.echo(f"{name:<12} {value:7.4f}  {f'{ref:.3f} (diff {value - ref:+.4f})' if ref else ''}")
    click.echo(f"{result.documents} documents, {result.queries} queries; "
               + ", ".join(f"{k} {v:.1f} s" for k, v in result.seconds.items()), err=True)
    if json_path:
        write_json(json_path, {"dataset": str(folder), "split": split, "embedder": engine.settings.embedder,
                               "published": published, **dataclasses.asdict(result)})
