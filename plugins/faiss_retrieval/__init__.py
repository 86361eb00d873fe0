"""Built-in retrieval: loaders (text, Markdown, reStructuredText, HTML, PDF,
source code, JSONL corpora), the hybrid FAISS + BM25 retriever, and `assistant corpora`.

Nothing heavy is imported here: faiss and sentence-transformers load only
when a collection is synced or searched.
"""

from __future__ import annotations

from assistant import hookimpl

from .documents import CODE_SUFFIXES, load_code, load_html, load_jsonl, load_pdf
from .loaders import load_text
from .retriever import FaissRetriever


@hookimpl
def register_retrievers(register):
    register("faiss", FaissRetriever)


@hookimpl
def register_loaders(register):
    for suffix in (".md", ".markdown", ".txt", ".text", ".rst"):
        register(suffix, load_text)
    register(".pdf", load_pdf)
    register(".jsonl", load_jsonl)
    for suffix in (".html", ".htm"):
        register(suffix, load_html)
    for suffix in CODE_SUFFIXES:
        register(suffix, load_code)


@hookimpl
def register_commands(cli):
    from .commands import corpora

    cli.add_command(corpora)
