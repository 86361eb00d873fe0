"""Command groups that several plugins add commands to (``tune``, ``eval``).

Plugins reach :func:`subgroup` through the public :mod:`assistant.cli_api`."""

from __future__ import annotations

import click

HELP = {
    "tune": "Train adapters and reward models that load back into the chat (sft, reward, dpo, kto, rl).",
    "eval": "Measure retrieval, strategies, adapters and reward models on evaluation sets.",
}


def subgroup(cli: click.Group, name: str) -> click.Group:
    """The group ``name`` under ``cli``, created on first use, so plugins
    registering in any order share one ``assistant tune`` / ``assistant eval``."""
    existing = cli.commands.get(name) if hasattr(cli, "commands") else None
    if isinstance(existing, click.Group):
        return existing
    group = click.Group(name, help=HELP.get(name))
    cli.add_command(group)
    return group
