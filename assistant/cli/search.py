"""``assistant search``: retrieval alone, with scores and citations."""

from __future__ import annotations

import dataclasses
import json

import click

from .app import AppContext, retriever_option_flag, root


@root.command()
@click.argument("query")
@click.option("-k", "--top-k", "k", type=int, default=5, show_default=True, help="Passages to return.")
@click.option("--collection", "-c", help="Collection to search (default: the `collection` setting).")
@click.option("--json", "as_json", is_flag=True, help="Print the passages as JSON.")
@click.option("--full", is_flag=True, help="Print each passage's whole text.")
@retriever_option_flag
@click.pass_obj
def search(app: AppContext, query: str, k: int, collection: str | None, as_json: bool, full: bool) -> None:
    """Show the passages a question would retrieve, best first, without asking the model.

    \b
    Examples:
      assistant search "vacation policy" -k 5
      assistant search "install" --mode bm25 --type md --path 'docs/*'
      assistant search "summary" --mmr 0.5 --json
      assistant search "install" -R mode=dense -R rrf_k=20

    --mode, --path, --type, --mmr and --rerank come from the built-in
    retriever (the FAISS plugin); -R sets any option of the retriever in use
    (`assistant config` lists them).
    """
    engine = app.engine()
    notices: list[str] = []
    passages = engine.retrieve(query, k, collection, notices)
    if as_json:
        click.echo(json.dumps([dict(dataclasses.asdict(p), location=p.location) for p in passages], indent=2))
        return
    for number, p in enumerate(passages, start=1):
        heading = f"  ({p.heading})" if p.heading else ""
        click.echo(f"[{number}] {p.location}{heading}  score {p.score:.3f}")
        text = p.text.strip() if full else " ".join(p.text.split())[:200]
        click.echo(f"    {text}\n")
    if not passages:
        options = engine.settings.plugin_options(engine.settings.retriever)
        paths, types = options.get("path_filter"), options.get("type_filter")
        if paths or types:
            click.echo(f"no passages match the filters (path {paths or 'any'}, type {types or 'any'}); "
                       "check them against `assistant corpora show`", err=True)
        else:
            click.echo("no passages found", err=True)
    for notice in notices:
        click.echo(f"note: {notice}", err=True)
