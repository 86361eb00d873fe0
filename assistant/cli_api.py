"""What a plugin's ``register_commands`` may use beyond click itself.

``register_commands(cli)`` receives the root ``click.Group``. A command that
needs the assistant takes the context object with ``@click.pass_obj``: it has
``settings(**overrides)`` (the typed :class:`assistant.Settings`, with the
``--config`` file and flags applied), ``engine(**overrides)`` (an
``Engine`` loaded with those settings) and ``host()`` (the plugin host and
its registry). Raise :class:`assistant.AssistantError` (or a subclass) for a
user's mistake: the CLI prints its message and hint, without a traceback.

* :func:`subgroup`: the shared ``assistant tune`` and ``assistant eval``
  groups (or any other), so plugins loaded in any order add to one group;
* :func:`parse_options`: repeated ``-o KEY=VALUE`` flags into a dict, with the
  same error as ``assistant ask -o``;
* :func:`build_options`: such a dict (strings or typed values) into a class's
  ``Options`` dataclass, as the engine builds a strategy's options;
* :func:`plugin_flag`: a flag that sets one option of a ``[plugins.TABLE]``
  table for the command it is added to:
  ``cli.commands["ask"].params.append(plugin_flag(...))``;
* :func:`retriever_flag`: a flag that is a shorthand for ``-R KEY=VALUE``,
  an option of the retriever in use (how the FAISS plugin gives ``ask`` and
  ``search`` their ``--mode``, ``--path``, ``--type``, ``--mmr`` and
  ``--rerank``).

Importing this module imports click and nothing heavy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .cli.groups import subgroup
from .errors import ConfigError
from .strategy import build_options

__all__ = ["build_options", "parse_options", "plugin_flag", "retriever_flag", "subgroup"]


def parse_options(pairs: tuple[str, ...], what: str = "strategy option") -> dict[str, str]:
    """``("samples=3", "mode=fast")`` -> ``{"samples": "3", "mode": "fast"}``;
    ``what`` names the flag in the error a pair without ``=`` gets."""
    options: dict[str, str] = {}
    for pair in pairs:
        if "=" not in pair:
            example = {"strategy option": "-o samples=3", "retriever option": "-R mode=bm25"}.get(
                what, "--meta audience=children")
            raise ConfigError(f"{what} {pair!r} is not KEY=VALUE", f"write e.g. {example}")
        key, value = pair.split("=", 1)
        options[key.strip()] = value
    return options


def plugin_flag(decls: list[str], table: str, key: str, convert: Callable[[Any], Any] | None = None,
                **click_options: Any) -> Any:
    """A ``click.Option`` that sets ``[plugins.TABLE] KEY`` for the command it
    is added to: the value passes through ``convert`` (e.g. joining a
    repeated flag) and is skipped when not given. ``click_options`` are
    ``click.Option``'s own (``type``, ``multiple``, ``metavar``, ``help``)."""
    return _flag(decls, convert, lambda app, value: app.set_plugin_option(table, key, value), **click_options)


def retriever_flag(decls: list[str], key: str, convert: Callable[[Any], Any] | None = None,
                   **click_options: Any) -> Any:
    """A ``click.Option`` that is a shorthand for ``-R KEY=VALUE``: it sets
    option ``KEY`` of the retriever in use (the ``retriever`` setting), so a
    retriever without that option refuses it with the options it has, rather
    than the flag setting another retriever's table and doing nothing.
    ``convert`` and ``click_options`` are as for :func:`plugin_flag`."""
    return _flag(decls, convert, lambda app, value: app.retriever_options.__setitem__(key, value), **click_options)


def _flag(decls: list[str], convert: Callable[[Any], Any] | None, assign: Callable[[Any, Any], None],
          **click_options: Any) -> Any:
    """A ``click.Option`` that, when given, hands its (converted) value to
    ``assign(app_context, value)`` instead of to the command."""
    import click

    def store(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value is None or value == ():
            return
        from .cli.app import AppContext

        assign(ctx.ensure_object(AppContext), convert(value) if convert else value)

    return click.Option(decls, expose_value=False, callback=store, **click_options)
