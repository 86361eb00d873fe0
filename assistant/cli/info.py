"""``assistant plugins``, ``assistant strategies`` and ``assistant config``."""

from __future__ import annotations

import textwrap

import click

from .. import config as config_module
from ..hookspecs import HOOK_CONTRACT_VERSION
from ..strategy import describe_options
from .app import AppContext, root


@root.command()
@click.option("--verbose", "-v", is_flag=True, help="Also show what each plugin registered and its origin.")
@click.pass_obj
def plugins(app: AppContext, verbose: bool) -> None:
    """List loaded plugins, where they come from and what they registered."""
    host = app.host()
    for info in host.infos:
        version = f" {info.version}" if info.version else ""
        status = f"FAILED: {info.error}" if info.error else ", ".join(
            f"{r.kind} {r.name}" for r in host.registered_by(info.name)) or "hooks only"
        click.echo(f"{info.name}{version}  [{info.source}]  {status}")
        if verbose:
            click.echo(f"    origin: {info.origin}")
            plugin = host.pm.get_plugin(info.name)
            contract = getattr(plugin, "ASSISTANT_HOOK_CONTRACT", None) if plugin is not None else None
            if contract:
                click.echo(f"    hook contract: {contract} (this assistant: {HOOK_CONTRACT_VERSION})")
            hooks = sorted({impl.name for impl in (host.pm.get_hookcallers(host.pm.get_plugin(info.name)) or [])})
            if hooks:
                click.echo(f"    hooks: {', '.join(hooks)}")
    for problem in host.registry.problems:
        click.echo(f"warning: {problem}", err=True)


@root.command()
@click.pass_obj
def strategies(app: AppContext) -> None:
    """List registered prompt strategies with their documentation and options."""
    host = app.host()
    for name, reg in sorted(host.registry.of("strategy").items()):
        doc = reg.doc.splitlines()[0] if reg.doc else ""
        click.echo(f"{name}  (plugin {reg.plugin})\n  {doc}")
        for opt, default, help_text in describe_options(reg.obj):
            click.echo(f"    -o {opt}=...  default {default}. {help_text}")


@root.command("config")
@click.pass_obj
def show_config(app: AppContext) -> None:
    """Show every setting, its current value and what it does.

    Settings come from the config file (TOML), ASSISTANT_<NAME> environment
    variables, then command-line flags.
    """
    from .. import paths

    settings = app.settings()
    click.echo(f"# config file: {app.config_path or paths.config_file()}")
    for name, _default, help_text in config_module.describe():
        value = getattr(settings, name)
        for line in textwrap.wrap(help_text, 90):
            click.echo(f"# {line}")
        click.echo(f"{name} = {value!r}\n")
    from ..errors import ConfigError
    from ..retriever import retriever_options
    from ..strategy import describe_options

    for name, reg in sorted(app.host().registry.of("retriever").items()):
        described = describe_options(reg.obj)
        if not described:
            continue
        try:
            options = retriever_options(settings, name, reg.obj)
        except ConfigError as exc:  # the command one runs to find the mistake must show it, not fail on it
            click.echo(f"# [plugins.{name}] is invalid: {exc.message}; as written: {settings.plugin_options(name)}\n")
            continue
        in_use = " (the retriever in use)" if name == settings.retriever else ""
        click.echo(f"# options of the {name!r} retriever{in_use}; per command: --retriever-option KEY=VALUE")
        click.echo(f"[plugins.{name}]")
        for opt, _default, help_text in described:
            for line in textwrap.wrap(help_text, 90):
                click.echo(f"# {line}")
            click.echo(f"{opt} = {getattr(options, opt)!r}")
        click.echo("")
