"""assistant: a plugin-based retrieval-augmented assistant that runs locally.

This module is the public API: what plugins import. It imports no heavy
library (torch, transformers, faiss, textual load only when used).

Besides the types, errors and contracts, plugins may use:

* where files live: :func:`data_dir` (collections, feedback, history),
  :func:`cache_dir` (converted weights, evaluation caches),
  :func:`collections_dir` (the built-in retriever's collections);
* atomic saves: :func:`write_json` and the :func:`atomic_path` context
  manager (write to the path it yields; it replaces the target only when the
  block ends without an exception, so a crash never leaves half a file).
"""

from __future__ import annotations

from .atomic import atomic_path, write_json
from .config import Settings
from .conversation import Conversation, Source
from .errors import (
    AssistantError,
    ConfigError,
    CorpusError,
    IndexCorruptError,
    ModelError,
    PluginError,
    PromptTooLongError,
    UnknownNameError,
)
from .hookspecs import HOOK_CONTRACT_VERSION, hookimpl
from .llm import LLM, Budget, BudgetExhausted, TextStream
from .models import load_embedder
from .paths import cache_dir, collections_dir, data_dir
from .retriever import Deletes, Describes, ListsCollections, Retriever, ShowsSources, WarmsUp
from .strategy import StrategyCall
from .types import (
    Answer,
    Candidate,
    Citation,
    Decoding,
    Example,
    Feedback,
    LoadedDocument,
    Message,
    Passage,
    Prompt,
    Section,
    Step,
    StrategyResult,
    SyncReport,
    Usage,
)

__version__ = "0.1.0"

__all__ = [
    "HOOK_CONTRACT_VERSION", "LLM", "Answer", "Deletes", "Describes", "ListsCollections", "AssistantError", "Budget", "BudgetExhausted", "Candidate", "Citation", "ConfigError", "Conversation",
    "CorpusError", "Decoding", "Example", "Feedback", "IndexCorruptError", "LoadedDocument", "Message",
    "ModelError", "Passage", "PluginError", "Prompt", "PromptTooLongError", "Retriever", "Section", "Settings",
    "ShowsSources", "Source", "Step",
    "StrategyCall", "StrategyResult", "SyncReport", "TextStream", "UnknownNameError", "Usage", "WarmsUp",
    "atomic_path", "cache_dir", "collections_dir", "data_dir", "hookimpl", "load_embedder", "write_json",
]
