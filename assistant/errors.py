"""The project's error hierarchy.

Every error carries a message that says what went wrong *and* what to do
about it. The CLI prints ``error: <message>`` on one line and exits with a
non-zero status; the terminal UI shows it as a notification. Tracebacks are
for bugs, never for user mistakes.
"""

from __future__ import annotations


class AssistantError(Exception):
    """Base class: a problem the user can fix. ``hint`` says how."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(AssistantError):
    """A setting, flag or config file is invalid."""

    exit_code = 2


class ModelError(AssistantError):
    """A model cannot be found, downloaded or loaded."""


class CorpusError(AssistantError):
    """A folder to index is missing, empty or unreadable; a collection is unknown."""


class IndexCorruptError(AssistantError):
    """An index on disk is damaged or was built with another embedder."""


class PromptTooLongError(AssistantError):
    """The question alone does not fit in the model's context window."""


class UnknownNameError(AssistantError):
    """A strategy, retriever or other registered component does not exist."""

    exit_code = 2


class PluginError(AssistantError):
    """A plugin failed: it could not be imported, or it raised during a turn.

    ``plugin`` names the plugin so the user knows whom to blame.
    """

    def __init__(self, message: str, plugin: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.plugin = plugin
