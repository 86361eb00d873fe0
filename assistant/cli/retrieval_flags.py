"""Retrieval flags shared by `assistant search` and `assistant ask`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

FLAGS = ("mode", "path", "file_type", "mmr", "rerank")


def retrieval_flags(fn: Callable) -> Callable:
    """Add --mode, --path, --type, --mmr and --rerank; read them back with :func:`retrieval_overrides`."""
    options = [
        click.option("--mode", type=click.Choice(["dense", "bm25", "hybrid"]),
                     help="Retrieval mode (default: hybrid, BM25 and embeddings fused)."),
        click.option("--path", "path", multiple=True, metavar="GLOB",
                     help="Only files whose path in the collection matches GLOB, e.g. 'notes/*'; repeatable."),
        click.option("--type", "file_type", multiple=True, metavar="EXT",
                     help="Only files of this type, e.g. pdf or md; repeatable."),
        click.option("--mmr", type=click.FloatRange(0, 1), metavar="LAMBDA",
                     help="Diversify with maximal marginal relevance: 1 = relevance only, 0.5 = balanced."),
        click.option("--rerank", metavar="MODEL",
                     help="Re-score the candidates with this cross-encoder (folder or cached hub id)."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def retrieval_overrides(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Pop the retrieval flags from a command's kwargs as setting overrides."""
    mode, paths, types, lambda_, rerank = (kwargs.pop(name, None) for name in FLAGS)
    return dict(retrieval_mode=mode, path_filter=",".join(paths) if paths else None,
                type_filter=",".join(types) if types else None, mmr_lambda=lambda_, reranker=rerank)
