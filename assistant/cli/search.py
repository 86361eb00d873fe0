"""``assistant search``: retrieval alone, with scores and citations."""

from __future__ import annotations

import dataclasses
import json

import click

from .app import AppContext, root
from .retrieval_flags import retrieval_flags, retrieval_overrides


@root.command()
@click.argument("query")
@click.option("-k", "--top-k", "k", type=int, default=5, show_default=True, help="Passages to return.")
@click.option("--collection", "-c", help="Collection to search (default: the `collection` setting).")
@click.option("--json", "as_json", is_flag=True, help="Print the passages as JSON.")
@click.option("--full", is_flag=True, help="Print each passage's whole text.")
@retrieval_flags
@click.pass_obj
def search(app: AppContext, query: str, k: int, collection: str | None, as_json: bool, full: bool,
           **flags: object) -> None:
    """Show the passages a question would retrieve, best first, without asking the model.

    \b
    Examples:
      assistant search "vacation policy" -k 5
      assistant search "install" --mode bm25 --type md --path 'docs/*'
      assistant search "summary" --mmr 0.5 --json
    """
    engine = app.engine(**retrieval_overrides(flags))
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
        settings = engine.settings
        if settings.path_filter or settings.type_filter:
            click.echo(f"no passages match the filters (path {settings.path_filter or 'any'}, "
                       f"type {settings.type_filter or 'any'}); check them against `assistant corpora show`",
                       err=True)
        else:
            click.echo("no passages found", err=True)
    for notice in notices:
        click.echo(f"note: {notice}", err=True)
