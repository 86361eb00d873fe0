"""assistant: a plugin-based retrieval-augmented assistant that runs locally.

This module is the public API: what plugins import. It imports no heavy
library (torch, transformers, faiss, textual load only when used).

Besides the types, errors and contracts, plugins may use:

* where files live: :func:`data_dir` (collections, feedback, history),
  :func:`cache_dir` (converted weights, evaluation caches),
  :func:`collections_dir` (the built-in retriever's collections);
* prompts as messages: :func:`as_prompt` (a plain string becomes a bare
  user turn) and :func:`to_messages` (the system, history and user messages a
  chat model is given, for a backend that renders its own template);
  :func:`user_message` (the last of them alone: numbered passages, then the
  question); ``DEFAULT_INSTRUCTIONS`` (the system text of the ``instructions``
  setting's default), so training data looks like what the chat sends;
* models: :func:`load_embedder` and :func:`embedder_lock` (hold it while
  encoding: the embedder is shared between threads); for plugins that train,
  :func:`load_generator` (model and tokenizer on a device), :func:`generator_folder`
  (the plain Hugging Face folder the generator's weights are read from),
  :func:`resolve_device`, :func:`quiet_transformers` (no progress bars or
  advisory warnings) and :func:`hub_snapshot` (a hub model's local folder,
  downloading only when not offline); :func:`plot_curves` (PNG training curves);
* ranking: :func:`mmr` (maximal marginal relevance over unit vectors);
* a vector store of one's own: :class:`StoreRetriever` (loaders, chunking,
  embedding and incremental sync in front of any :class:`VectorStore`; its
  records :class:`FileRecord`, :class:`StoreMeta`, :class:`Changes`,
  :class:`NewFile`, :class:`StoredChunk`), with :class:`Embedder`,
  :class:`Chunk` and :func:`check_collection_name` for a retriever that syncs
  its own way;
* few-shot example banks: :func:`read_bank`, :func:`add_example` and
  :func:`user_bank_dir` (JSONL files of :class:`Example`); active prompting:
  :func:`rank_questions` (questions ranked by how much sampled answers disagree);
* atomic saves: :func:`write_json` and the :func:`atomic_path` context
  manager (write to the path it yields; it replaces the target only when the
  block ends without an exception, so a crash never leaves half a file).
"""

from __future__ import annotations

from .atomic import atomic_path, write_json
from .backend import Backend, Capabilities, CapabilityMissing
from .config import DEFAULT_INSTRUCTIONS, Settings
from .contracts import AdapterKind, ExampleSelector, Strategy
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
from .example_banks import add_example, read_bank, user_bank_dir
from .hookspecs import HOOK_CONTRACT_VERSION, hookimpl
from .ingestion import (
    Changes,
    Chunk,
    Embedder,
    FileRecord,
    NewFile,
    StoredChunk,
    StoreMeta,
    StoreRetriever,
    VectorStore,
    check_collection_name,
)
from .llm import LLM, Budget, BudgetExhausted, TextStream
from .models import (
    embedder_lock,
    generator_folder,
    hub_snapshot,
    load_embedder,
    load_generator,
    quiet_transformers,
    resolve_device,
)
from .paths import cache_dir, collections_dir, data_dir
from .plots import plot_curves
from .prompt import as_prompt, to_messages, user_message
from .ranking import mmr
from .retriever import Deletes, Describes, ListsCollections, Retriever, ShowsSources, WarmsUp, retriever_options
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
from .uncertainty import rank_questions

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_INSTRUCTIONS", "HOOK_CONTRACT_VERSION", "LLM", "AdapterKind", "Answer", "Backend", "Capabilities", "CapabilityMissing", "Changes", "Chunk", "Embedder", "FileRecord", "NewFile", "StoreMeta", "StoreRetriever", "StoredChunk", "VectorStore", "Deletes", "Describes", "ExampleSelector", "ListsCollections", "AssistantError", "Budget", "BudgetExhausted", "Candidate", "Citation", "ConfigError", "Conversation",
    "CorpusError", "Decoding", "Example", "Feedback", "IndexCorruptError", "LoadedDocument", "Message",
    "ModelError", "Passage", "PluginError", "Prompt", "PromptTooLongError", "Retriever", "Section", "Settings",
    "ShowsSources", "Source", "Step",
    "Strategy", "StrategyCall", "StrategyResult", "SyncReport", "TextStream", "UnknownNameError", "Usage", "WarmsUp",
    "add_example", "as_prompt", "atomic_path", "cache_dir", "check_collection_name", "collections_dir", "data_dir", "embedder_lock",
    "generator_folder", "hookimpl", "hub_snapshot", "load_embedder", "load_generator", "mmr", "plot_curves",
    "quiet_transformers", "rank_questions", "read_bank", "resolve_device", "retriever_options", "to_messages", "user_bank_dir",
    "user_message", "write_json",
]
