"""``assistant history``: saved chat conversations."""

from __future__ import annotations

import time
from pathlib import Path

import click

from .app import AppContext, root


def _store():
    from ..history import HistoryStore

    return HistoryStore()


@root.group("history")
def history_group() -> None:
    """Saved chat conversations: list, show, export, rename, delete.

    Every `assistant chat` conversation is saved (unless --no-history);
    resume one with `assistant chat --resume ID` or F3 in the chat.
    """


@history_group.command("list")
@click.pass_obj
def list_(app: AppContext) -> None:
    """Saved conversations, most recent first."""
    store = _store()
    try:
        rows = store.list()
    finally:
        store.close()
    if not rows:
        click.echo("no saved conversations yet: start one with `assistant chat`")
    for c in rows:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(c.updated))
        click.echo(f"{c.id}  {when}  {c.turns:>3} turns  {c.title}")


@history_group.command()
@click.argument("conversation")
@click.pass_obj
def show(app: AppContext, conversation: str) -> None:
    """Print CONVERSATION (an id or its first characters) as Markdown."""
    store = _store()
    try:
        click.echo(store.markdown(store.resolve(conversation)))
    finally:
        store.close()


@history_group.command()
@click.argument("conversation")
@click.option("--out", "-o", type=click.Path(path_type=Path), required=True, help="Markdown file to write.")
@click.pass_obj
def export(app: AppContext, conversation: str, out: Path) -> None:
    """Write CONVERSATION as a Markdown file (written atomically)."""
    from ..atomic import atomic_path

    store = _store()
    try:
        text = store.markdown(store.resolve(conversation))
    finally:
        store.close()
    with atomic_path(out) as tmp:
        tmp.write_text(text, encoding="utf-8")
    click.echo(f"wrote {out}")


@history_group.command()
@click.argument("conversation")
@click.argument("title")
@click.pass_obj
def rename(app: AppContext, conversation: str, title: str) -> None:
    """Give CONVERSATION a new TITLE."""
    store = _store()
    try:
        store.rename(store.resolve(conversation), title)
    finally:
        store.close()
    click.echo("renamed")


@history_group.command("rm")
@click.argument("conversation")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def rm(app: AppContext, conversation: str, yes: bool) -> None:
    """Delete CONVERSATION."""
    store = _store()
    try:
        cid = store.resolve(conversation)
        title = store.get(cid).title
        if not yes:
            click.confirm(f"delete {title!r}?", abort=True)
        store.delete(cid)
    finally:
        store.close()
    click.echo(f"deleted {title!r}")
