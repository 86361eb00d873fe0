"""Built-in retrieval: Markdown and text loaders, and a FAISS retriever.

Nothing heavy is imported here: faiss and sentence-transformers load only
when a collection is synced or searched.
"""

from __future__ import annotations

from assistant import hookimpl

from .loaders import load_text
from .retriever import FaissRetriever


@hookimpl
def register_retrievers(register):
    register("faiss", FaissRetriever)


@hookimpl
def register_loaders(register):
    for suffix in (".md", ".markdown", ".txt", ".text"):
        register(suffix, load_text)


@hookimpl
def register_commands(cli):
    from .commands import corpora

    cli.add_command(corpora)
