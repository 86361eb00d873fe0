"""Ingestion apart from storage: what every vector store shares.

A folder becomes a collection in the same steps whatever keeps it: the
registered loaders read the files (:mod:`.plan` decides which need reading),
:mod:`.chunking` cuts them into passages of at most ``chunk_tokens`` word
pieces along headings and paragraphs, :mod:`.embedding` turns each passage
into a unit vector, and a :class:`~.store.VectorStore` keeps the result.
:class:`~.retriever.StoreRetriever` runs these steps, so a new store is the
seven methods of ``VectorStore`` and a two-line retriever class.
"""

from .chunking import Chunk, chunk_document, chunk_text
from .embedding import Embedder
from .plan import SyncPlan, check_folder, plan_sync
from .retriever import StoreRetriever, check_collection_name
from .store import Changes, FileRecord, NewFile, StoredChunk, StoreMeta, VectorStore

__all__ = ["Changes", "Chunk", "Embedder", "FileRecord", "NewFile", "StoreMeta", "StoreRetriever", "StoredChunk",
           "SyncPlan", "VectorStore", "check_collection_name", "check_folder", "chunk_document", "chunk_text",
           "plan_sync"]
