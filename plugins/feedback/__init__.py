"""Built-in feedback plugin: stores every answer with its provenance and
every rating, ranking and pairwise choice in ``<data>/feedback.sqlite``, and
adds ``assistant feedback`` (rate, rank, choose, list, show, stats, export).

Settings (config file)::

    [plugins.feedback]
    enabled = true            # false: store nothing
    path = "/elsewhere/feedback.sqlite"
"""

from __future__ import annotations

from pathlib import Path

from assistant import hookimpl
from assistant.paths import data_dir


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
def register_commands(cli):
    from .cli import feedback_group

    cli.add_command(feedback_group)
