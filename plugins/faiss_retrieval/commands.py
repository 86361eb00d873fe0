"""``assistant corpora list|show|rm``: the collections this plugin keeps."""

from __future__ import annotations

import json

import click

from assistant import CorpusError, collections_dir

from assistant import check_collection_name
from .store import CollectionStore, stored_collections


def _store(name: str) -> CollectionStore:
    store = CollectionStore(collections_dir() / check_collection_name(name))
    if not store.exists():
        raise CorpusError(f"no collection named {name!r}", "see `assistant corpora list`")
    return store


@click.group("corpora")
def corpora() -> None:
    """List, inspect and remove indexed collections."""


@corpora.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_collections(as_json: bool) -> None:
    """Every collection with its size and source folder."""
    folder = collections_dir()
    rows = [CollectionStore(folder / name).read_manifest().to_json() for name in stored_collections(folder)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no collections yet: index a folder with `assistant index PATH`", err=True)
    for m in rows:
        click.echo(f"{m['name']:<16} {m['files']:>6} files {m['chunks']:>8} chunks  {m['root']}")


@corpora.command()
@click.argument("name")
def show(name: str) -> None:
    """Details of one collection: manifest, files and chunk counts."""
    store = _store(name)
    manifest = store.read_manifest()
    for key, value in manifest.to_json().items():
        click.echo(f"{key:<15} {value}")
    con = store.connect(manifest)
    try:
        for path, count in con.execute("SELECT path, count(*) FROM chunks GROUP BY path ORDER BY path"):
            click.echo(f"  {path}  ({count} chunks)")
    finally:
        con.close()


@corpora.command()
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def rm(name: str, yes: bool) -> None:
    """Delete a collection's index (your documents are not touched)."""
    store = _store(name)
    if not yes:
        click.confirm(f"delete the index of collection {name!r} ({store.folder})?", abort=True)
    store.remove()
    click.echo(f"removed collection {name!r}")
