"""assistant: a plugin-based retrieval-augmented assistant that runs locally.

This module is the public API: what plugins import. It imports no heavy
library (torch, transformers, faiss, textual load only when used).
"""

from __future__ import annotations

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
    "hookimpl", "load_embedder",
]
