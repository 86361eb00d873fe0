"""The root command group and the per-invocation context it carries."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from ..config import Settings


@dataclass
class AppContext:
    """Global options, and the settings/plugins/engine built from them on demand."""

    config_path: Path | None = None
    plugins_dir: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    #: --retriever-option KEY=VALUE: options of whichever retriever the settings choose
    retriever_options: dict[str, str] = field(default_factory=dict)
    _host: Any = None
    _engine: Any = None

    @classmethod
    def from_argv(cls, argv: list[str]) -> "AppContext":
        """Read the global options early, so plugin commands can be registered before parsing."""
        ctx = cls()
        for i, arg in enumerate(argv):
            if arg == "--plugins-dir" and i + 1 < len(argv):
                ctx.plugins_dir = argv[i + 1]
            elif arg.startswith("--plugins-dir="):
                ctx.plugins_dir = arg.split("=", 1)[1]
            elif arg == "--config" and i + 1 < len(argv):
                ctx.config_path = Path(argv[i + 1])
            elif arg.startswith("--config="):
                ctx.config_path = Path(arg.split("=", 1)[1])
        return ctx

    def settings(self, **overrides: Any) -> Settings:
        merged = {**self.overrides, **{k: v for k, v in overrides.items() if v is not None}}
        if "plugins" in self.overrides and "plugins" in overrides:  # tables merge key by key
            tables = {name: dict(table) for name, table in self.overrides["plugins"].items()}
            for name, table in overrides["plugins"].items():
                tables.setdefault(name, {}).update(table)
            merged["plugins"] = tables
        if self.plugins_dir:
            merged["plugins_dir"] = self.plugins_dir
        settings = Settings.load(self.config_path, merged)
        if self.retriever_options:
            settings = settings.merged({"plugins": {settings.retriever: dict(self.retriever_options)}}, "flags")
        if settings.offline:
            # Belt and braces: the hub client must not reach the network.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
        return settings

    def set_plugin_option(self, table: str, key: str, value: Any) -> None:
        """Set ``[plugins.TABLE] KEY = value`` for this command (a plugin's own flag)."""
        self.overrides.setdefault("plugins", {}).setdefault(table, {})[key] = value

    def host(self) -> Any:
        if self._host is None:
            from ..plugins import make_plugin_host

            self._host = make_plugin_host(self.plugins_dir or self.settings().plugins_dir or None)
        return self._host

    def engine(self, **overrides: Any) -> Any:
        from ..engine import Engine

        def progress(message: str) -> None:
            click.echo(message, err=True)

        return Engine(self.settings(**overrides), host=self.host(), progress=progress)


HELP = """A retrieval-augmented assistant that runs on your own machine.

\b
Index a folder, then chat with it or ask questions about it:
  assistant index ~/notes                 # build or refresh the index
  assistant chat                          # the terminal UI (also: plain `assistant`)
  assistant ask "How do I ...?"           # answer + the passages it cites
  assistant ask "..." --strategy zero_shot --top-k 4 --json
\b
Learn what is installed:
  assistant plugins        assistant strategies        assistant config

Everything runs offline on the embedded models (SmolLM2-135M-Instruct and
all-MiniLM-L6-v2) unless you name another model.
"""


@click.group(help=HELP, invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="Config file (TOML) to use.")
@click.option("--plugins-dir", type=click.Path(), help="Folder of loose plugin .py files to load.")
@click.option("--backend", metavar="NAME",
              help="What runs the generator: llamacpp (fast on CPU, needs llama-cpp-python), "
                   "transformers (the reference; trains), auto (llamacpp for a GGUF model on the CPU when installed), "
                   "or a backend a plugin registered (assistant plugins lists them).")
@click.version_option(package_name="assistant", prog_name="assistant")
@click.pass_context
def root(ctx: click.Context, config_path: Path | None, plugins_dir: str | None, backend: str | None) -> None:
    obj = ctx.ensure_object(AppContext)
    obj.config_path = config_path or obj.config_path
    obj.plugins_dir = plugins_dir or obj.plugins_dir
    if backend:
        obj.overrides["backend"] = backend
    if ctx.invoked_subcommand is None:
        import sys

        if sys.stdin.isatty() and sys.stdout.isatty():
            from .chat import chat

            ctx.invoke(chat)
        else:
            click.echo(ctx.get_help())


def _store_retriever_options(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> None:
    from ..cli_api import parse_options

    if values:
        ctx.ensure_object(AppContext).retriever_options.update(parse_options(values, "retriever option"))


def retriever_option_flag(fn: Any) -> Any:
    """``--retriever-option KEY=VALUE`` (``-R``, repeatable): an option of the
    retriever in use, over its ``[plugins.NAME]`` table."""
    return click.option("--retriever-option", "-R", "retriever_options", multiple=True, metavar="KEY=VALUE",
                        expose_value=False, callback=_store_retriever_options,
                        help="An option of the retriever in use, e.g. -R mode=bm25 (see `assistant config`); "
                             "repeatable.")(fn)
