"""``assistant eval summaries``: ROUGE of summarising strategies (chain-of-density vs a plain summary)."""

from __future__ import annotations

from pathlib import Path

import click

from .app import AppContext
from .evaluate import eval_group

EPILOG = """\b
Example:
  assistant eval summaries --dataset ../shared/data/qa/pubmedqa_sample200.jsonl --limit 30
"""


@eval_group.command("summaries", epilog=EPILOG)
@click.option("--dataset", type=click.Path(path_type=Path), required=True,
              help="JSONL with passage and answer (PubMedQA) or text and summary.")
@click.option("--strategies", default="zero_shot,chain_of_density", show_default=True,
              help="Comma-separated strategies; chain_of_density also gets a row per round.")
@click.option("--limit", type=click.IntRange(min=1), default=30, show_default=True, help="Documents (the first N).")
@click.option("--words", type=click.IntRange(min=10), default=60, show_default=True, help="Target summary length.")
@click.option("--max-new-tokens", type=int, default=128, show_default=True, help="Tokens per model call.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "mps"]), help="Where to run the model.")
@click.option("--model", help='Generator: "embedded", a folder, a .gguf file or a hub id.')
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write the scores (per document too) here.")
@click.pass_obj
def eval_summaries(app: AppContext, dataset: Path, strategies: str, limit: int, words: int, max_new_tokens: int,
                   device: str | None, model: str | None, json_path: Path | None) -> None:
    """ROUGE-1/2/L F1 (mean ± standard error) of each strategy's summaries against the references."""
    from ..atomic import write_json
    from ..evaluation import summaries as ev

    names = [s.strip() for s in strategies.split(",") if s.strip()]
    docs = ev.load_documents(dataset)[:limit]
    engine = app.engine(device=device, model=model, instructions=ev.INSTRUCTIONS)
    for name in names:
        engine.strategy(name)  # unknown names fail before any work
    decoding = engine.decoding(max_new_tokens=max_new_tokens)
    with click.progressbar(length=len(docs) * len(names), label="summarising",
                           file=click.get_text_stream("stderr")) as bar:
        results = ev.evaluate(engine, names, docs, decoding, words=words, on_done=lambda: bar.update(1))
    click.echo(f"{dataset.name}: {len(docs)} documents, model {engine.settings.model}, F1 x 100")
    click.echo(ev.table(results))
    if json_path:
        write_json(json_path, ev.to_json(results))
        click.echo(f"wrote {json_path}")
