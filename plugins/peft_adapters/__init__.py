"""Built-in adapters plugin: LoRA, prompt tuning and prefix tuning (on peft).

It registers the three adapter kinds and adds the commands that use them:
``assistant tune sft`` (train an adapter from instruction data),
``assistant adapters list|show|rm`` (the registry in ``<data>/adapters``),
``assistant dataset qa`` (question-answer pairs generated from an indexed
collection) and ``assistant eval adapters`` (a forgetting check). Loading and
switching adapters in chat and ``assistant ask --adapter`` is core
(``assistant.adapter_runtime``), so third-party kinds work there too.
"""

from __future__ import annotations

from assistant import hookimpl

from .kinds import KINDS


@hookimpl
def register_adapter_kinds(register):
    for kind in KINDS:
        register(kind.name, kind)


@hookimpl
def register_commands(cli):
    from .cli import adapters_group, dataset_group, eval_adapters, tune_group

    from assistant.cli_api import subgroup

    tune = subgroup(cli, "tune")
    for command in tune_group.commands.values():
        tune.add_command(command)
    cli.add_command(adapters_group)
    cli.add_command(dataset_group)
    subgroup(cli, "eval").add_command(eval_adapters)
