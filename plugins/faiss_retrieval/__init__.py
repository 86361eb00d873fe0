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
def register_benchmarks(register):
    register("search", search_benchmark)


def search_benchmark(ctx):
    """Search latency p50/p99 and recall@5 at 100k and 1M chunks, against exact search."""
    from .bench_search import bench_search  # numpy, faiss and the embedder load only when it runs

    return bench_search(ctx)


@hookimpl
def register_commands(cli):
    from .commands import corpora

    cli.add_command(corpora)
    for name in ("ask", "search"):
        command = cli.commands.get(name)
        if command is not None and not any(p.name == "faiss_mode" for p in command.params):
            command.params.extend(search_flags())


def search_flags():
    """``--mode``, ``--path``, ``--type``, ``--mmr`` and ``--rerank``: shorthands for
    ``-R mode=...`` and the other ``[plugins.faiss]`` options, on ``ask`` and ``search``.
    Like ``-R`` they set the retriever in use, so with another retriever one
    it lacks is refused with the options it has."""
    import click

    from assistant.cli_api import retriever_flag

    def joined(values):
        return ",".join(values)

    return [
        retriever_flag(["--mode", "faiss_mode"], "mode", type=click.Choice(["dense", "bm25", "hybrid"]),
                       help="Retrieval mode of the built-in retriever (default: hybrid, BM25 and embeddings fused)."),
        retriever_flag(["--path", "faiss_path"], "path_filter", joined, multiple=True, metavar="GLOB",
                       help="Only files whose path in the collection matches GLOB, e.g. 'notes/*'; repeatable."),
        retriever_flag(["--type", "faiss_type"], "type_filter", joined, multiple=True, metavar="EXT",
                       help="Only files of this type, e.g. pdf or md; repeatable."),
        retriever_flag(["--mmr", "faiss_mmr"], "mmr_lambda", type=click.FloatRange(0, 1), metavar="LAMBDA",
                       help="Diversify with maximal marginal relevance: 1 = relevance only, 0.5 = balanced."),
        retriever_flag(["--rerank", "faiss_rerank"], "reranker", metavar="MODEL",
                       help="Re-score the candidates with this cross-encoder (folder or cached hub id)."),
    ]
