"""Where the assistant keeps its files.

* data (collections, feedback, history): ``$ASSISTANT_HOME`` or
  ``$XDG_DATA_HOME/assistant`` (default ``~/.local/share/assistant``);
* cache (converted model weights): ``$ASSISTANT_CACHE_DIR`` or
  ``$XDG_CACHE_HOME/assistant`` (default ``~/.cache/assistant``);
* config: ``$ASSISTANT_CONFIG`` or ``$XDG_CONFIG_HOME/assistant/config.toml``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var)
    return Path(value) if value else Path.home() / fallback


def data_dir() -> Path:
    home = os.environ.get("ASSISTANT_HOME")
    return Path(home) if home else _xdg("XDG_DATA_HOME", ".local/share") / "assistant"


def cache_dir() -> Path:
    cache = os.environ.get("ASSISTANT_CACHE_DIR")
    return Path(cache) if cache else _xdg("XDG_CACHE_HOME", ".cache") / "assistant"


def config_file() -> Path:
    cfg = os.environ.get("ASSISTANT_CONFIG")
    return Path(cfg) if cfg else _xdg("XDG_CONFIG_HOME", ".config") / "assistant" / "config.toml"


def collections_dir() -> Path:
    return data_dir() / "collections"


@contextmanager
def temporary_home(path: str | Path) -> Iterator[None]:
    """ASSISTANT_HOME pointed at ``path``, and put back as it was after (for a
    throwaway collection inside a process that goes on: the bench, an evaluation)."""
    old = os.environ.get("ASSISTANT_HOME")
    os.environ["ASSISTANT_HOME"] = str(path)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("ASSISTANT_HOME", None)
        else:
            os.environ["ASSISTANT_HOME"] = old
