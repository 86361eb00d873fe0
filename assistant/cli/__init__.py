"""The ``assistant`` command. One module per command group; each imports
heavy libraries only inside its command function, so ``assistant --help``
starts fast (no torch, transformers, faiss or textual)."""

from __future__ import annotations

import sys

import click

from ..errors import AssistantError
from .app import AppContext, root


def _install_commands() -> None:
    from . import ask, bench, chat, eval_strategies, eval_summaries, evaluate, history, index, info, search  # noqa: F401  (they attach themselves to root)


def build_cli() -> click.Group:
    _install_commands()
    return root


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    cli = build_cli()
    try:
        ctx_obj = AppContext.from_argv(argv)
        ctx_obj.host().register_commands(cli)
        cli.main(args=argv, prog_name="assistant", standalone_mode=False, obj=ctx_obj)
    except AssistantError as exc:
        click.echo(f"error: {exc.message}", err=True)
        if exc.hint:
            click.echo(f"  hint: {exc.hint}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
