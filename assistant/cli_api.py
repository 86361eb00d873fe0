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
  ``Options`` dataclass, as the engine builds a strategy's options.

Importing this module imports click and nothing heavy.
"""

from __future__ import annotations

from .cli.groups import subgroup
from .errors import ConfigError
from .strategy import build_options

__all__ = ["build_options", "parse_options", "subgroup"]


def parse_options(pairs: tuple[str, ...], what: str = "strategy option") -> dict[str, str]:
    """``("samples=3", "mode=fast")`` -> ``{"samples": "3", "mode": "fast"}``;
    ``what`` names the flag in the error a pair without ``=`` gets."""
    options: dict[str, str] = {}
    for pair in pairs:
        if "=" not in pair:
            example = "-o samples=3" if what == "strategy option" else "--meta audience=children"
            raise ConfigError(f"{what} {pair!r} is not KEY=VALUE", f"write e.g. {example}")
        key, value = pair.split("=", 1)
        options[key.strip()] = value
    return options
