"""``assistant index``: build or refresh a collection from a folder."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import click

from .app import AppContext, retriever_option_flag, root
from .output import print_sync_report


@root.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--collection", "-c", help="Collection name (default: the `collection` setting, 'default').")
@click.option("--rebuild", is_flag=True, help="Ignore the existing index and build it again.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@retriever_option_flag
@click.pass_obj
def index(app: AppContext, folder: Path, collection: str | None, rebuild: bool, as_json: bool) -> None:
    """Index the documents in FOLDER, or refresh the index.

    Reads Markdown, text, reStructuredText, HTML, PDF (with page numbers) and
    source code, and any format a plugin adds (`assistant plugins` lists the
    loaders). Only new or changed files are embedded; deleted files leave the
    index; files that cannot be read are listed with the reason. Run it again
    whenever the folder changes.
    """
    engine = app.engine()
    report = engine.index(folder, collection=collection, progress=not as_json, rebuild=rebuild)
    if as_json:
        click.echo(json.dumps(dataclasses.asdict(report), indent=2))
    else:
        print_sync_report(report)
