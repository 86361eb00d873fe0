"""``assistant eval``: measure quality on public data sets."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import click

from .app import AppContext, retriever_option_flag, root

PUBLISHED = {"scifact": {"nDCG@10": 0.645}}  # MTEB paper, all-MiniLM-L6-v2


@root.group("eval")
def eval_group() -> None:
    """Measure retrieval, citation and strategy quality on public data sets."""


@eval_group.command("retrieval")
@click.option("--beir", "folder", type=click.Path(path_type=Path), required=True,
              help="A BEIR data set folder, e.g. ../shared/data/scifact.")
@click.option("--split", default="test", show_default=True, help="Which qrels split to evaluate on.")
@click.option("--compare", metavar="KEY=V1,V2,...",
              help="One row per value of this retriever option, e.g. --compare mode=dense,bm25,hybrid "
                   "(default: one row, the options as they are).")
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Also write the results here.")
@retriever_option_flag
@click.pass_obj
def eval_retrieval(app: AppContext, folder: Path, split: str, compare: str | None, json_path: Path | None) -> None:
    """nDCG@10, recall@10, recall@100 and MRR@10 on a BEIR data set.

    Each document (title + text) becomes a file that the configured retriever
    (the `retriever` setting, any registered plugin) indexes into a collection
    kept in the cache, then every query is searched through it; a document
    ranks where its first passage does. The first run embeds the corpus; later
    runs re-embed nothing. Tune on --split train, report on test.

    \b
    Examples:
      assistant eval retrieval --beir ../shared/data/scifact --compare mode=dense,bm25,hybrid
      assistant eval retrieval --beir ../shared/data/scifact -R chunk_tokens=100000 -R rrf_k=20
    (-R chunk_tokens=100000 keeps each abstract in one chunk, MTEB's whole-document setup)
    """
    from ..atomic import write_json
    from ..errors import ConfigError
    from ..evaluation.beir import load_beir
    from ..evaluation.retrieval import evaluate_retriever

    key_values = (None, [None])
    if compare is not None:
        key, _, values = compare.partition("=")
        chosen = [v.strip() for v in values.split(",") if v.strip()]
        if not key.strip() or not chosen:
            raise ConfigError(f"--compare {compare!r} is not KEY=V1,V2,...", "write e.g. --compare mode=dense,bm25,hybrid")
        key_values = (key.strip(), chosen)
        if key.strip() in app.retriever_options:
            raise ConfigError(f"--compare {key.strip()} and -R {key.strip()}=... both set {key.strip()!r}",
                              "give the values to compare in --compare only")
    data = load_beir(folder, split)
    settings = app.settings()
    name = settings.retriever
    option, values = key_values
    variants: dict[str, str | None] = {v: v for v in values} if option else {name: None}
    click.echo(f"{len(data.corpus)} documents, {len(data.queries)} queries ({split}), retriever {name!r}", err=True)
    corpus_file = folder / "corpus.jsonl"
    key = f"{corpus_file.resolve()}|{corpus_file.stat().st_size}|{corpus_file.stat().st_mtime_ns}"

    def make(value: str | None, collection: str):
        extra = {"plugins": {name: {option: value}}} if option and value is not None else {}
        return app.engine(**extra).retriever(collection)

    results = evaluate_retriever(data, key, name, make, variants, progress=True,
                                 log=lambda message: click.echo(message, err=True))
    published = PUBLISHED.get(folder.name.lower(), {})
    names = list(next(iter(results.values())).metrics)
    width = max(8, *(len(label) for label in results))
    click.echo(f"{'':<{width}} " + " ".join(f"{n:>10}" for n in names))
    for label, result in results.items():
        click.echo(f"{label:<{width}} " + " ".join(f"{result.metrics[n]:>10.4f}" for n in names))
    if published:
        click.echo("published (all-MiniLM-L6-v2 dense, MTEB): " + ", ".join(f"{k} {v}" for k, v in published.items()))
    seconds = {k: v for result in results.values() for k, v in result.seconds.items()}
    click.echo(", ".join(f"{k} {v:.1f} s" for k, v in seconds.items()), err=True)
    if json_path:
        write_json(json_path, {"dataset": str(folder), "split": split, "retriever": name,
                               "embedder": settings.embedder, "options": settings.plugin_options(name),
                               "compare": option, "published": published,
                               "results": {m: dataclasses.asdict(r) for m, r in results.items()}})


@eval_group.command("citations")
@click.option("--qa", "qa_file", type=click.Path(path_type=Path), required=True,
              help="JSONL of {query, passage, answer}, e.g. ../shared/data/qa/squad_train_sample500.jsonl.")
@click.option("--top-k", "k", type=int, default=3, show_default=True, help="Passages retrieved per question.")
@click.option("--generate", type=int, default=0, show_default=True,
              help="Also answer the first N questions with the model and check the answer's first citation.")
@click.option("--limit", type=click.IntRange(min=1), help="Use only the first N questions (and their passages).")
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Also write the results here.")
@retriever_option_flag
@click.pass_obj
def eval_citations(app: AppContext, qa_file: Path, k: int, generate: int,
                   limit: int | None, json_path: Path | None) -> None:
    """How often the gold passage is cited first, on a QA set.

    The passages are indexed into a throwaway collection (your collections
    are not touched) by the retriever in use, with its options (-R mode=bm25).
    """
    from ..atomic import write_json
    from ..evaluation.citations import evaluate_citations, load_qa

    rows = load_qa(qa_file)[:limit]
    with click.progressbar(length=min(generate, len(rows)), label="answering", file=click.get_text_stream("stderr")) \
            if generate else _no_bar() as bar:
        result = evaluate_citations(lambda: app.engine(), rows, k, generate,
                                    progress=(lambda n: bar.update(1)) if generate else None)
    click.echo(f"{result.questions} questions over {result.passages} passages")
    click.echo(f"gold passage ranked first (would be cited [1]): {result.first_is_gold:.3f}")
    click.echo(f"gold passage among the top {k}: {result.gold_in_top_k:.3f}")
    if result.generated:
        click.echo(f"answers citing the gold passage first: {result.answer_cites_gold_first:.3f} of {result.generated}"
                   f" ({result.answers_without_citation} answers cited nothing)")
    click.echo(", ".join(f"{name} {s:.1f} s" for name, s in result.seconds.items()), err=True)
    if json_path:
        write_json(json_path, {"qa": str(qa_file), "top_k": k, **dataclasses.asdict(result)})


class _no_bar:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
