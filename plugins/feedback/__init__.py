"""Built-in feedback plugin: stores every answer with its provenance and
every rating, ranking and pairwise choice in ``<data>/feedback.sqlite``, and
adds ``assistant feedback`` (rate, rank, choose, list, show, stats, export).

It also acts as a verifier: when the ``reward_model`` setting names a
reward model (``assistant tune reward``), ``score_candidates`` returns its
scores, so best-of-N and tree-of-thought pick what the model learned people
prefer. The training commands (``assistant tune reward|dpo|kto|rl``) and
``assistant eval reward|winrate`` come from here too.

Settings (config file)::

    reward_model = "my-rm"    # top level: the verifier; empty for none

    [plugins.feedback]
    enabled = true            # false: store nothing
    path = "/elsewhere/feedback.sqlite"
"""

from __future__ import annotations

from pathlib import Path

from assistant import data_dir, hookimpl


def store_path(settings) -> Path:
    options = settings.plugin_options("feedback") if settings is not None else {}
    return Path(options.get("path") or data_dir() / "feedback.sqlite")


def enabled(settings) -> bool:
    return settings is None or bool(settings.plugin_options("feedback").get("enabled", True))


def open_store(settings):
    from .store import FeedbackStore

    return FeedbackStore(store_path(settings))


@hookimpl
def on_answer(answer, settings):
    if not enabled(settings):
        return
    store = open_store(settings)
    try:
        store.add_answer(answer)
    finally:
        store.close()


@hookimpl
def on_feedback(feedback, settings):
    if not enabled(settings):
        return
    store = open_store(settings)
    try:
        store.add_feedback(feedback)
    finally:
        store.close()


@hookimpl
def score_candidates(query, candidates, prompt, settings):
    if settings is None or not settings.reward_model or len(candidates) < 1:
        return None
    from assistant import to_messages

    from .reward_model import cached

    judge = cached(settings.reward_model, settings.model, settings.device, settings.offline)
    messages = [{"role": m.role, "content": m.content} for m in to_messages(prompt)]
    return judge.score(messages, [c.text for c in candidates])


@hookimpl
def register_commands(cli):
    from assistant.cli_api import subgroup

    from .cli import feedback_group
    from .tune_cli import eval_reward, eval_winrate, tune_dpo, tune_kto, tune_reward, tune_rl

    cli.add_command(feedback_group)
    tune = subgroup(cli, "tune")
    for command in (tune_reward, tune_dpo, tune_kto, tune_rl):
        tune.add_command(command)
    evaluate = subgroup(cli, "eval")
    for command in (eval_reward, eval_winrate):
        evaluate.add_command(command)
