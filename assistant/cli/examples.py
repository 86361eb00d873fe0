"""``assistant examples``: the few-shot example banks of the semantic selector."""

from __future__ import annotations

import click


@click.group("examples")
def examples() -> None:
    """Few-shot example banks: list them, search them, add to them.

    Turn the selector on with `--config` or the environment:
    ASSISTANT_EXAMPLE_SELECTOR=semantic ASSISTANT_EXAMPLES_K=3 assistant ask "..."
    """


@examples.command("list")
def list_banks() -> None:
    """The bank files in use and how many examples each holds."""
    from assistant_plugins.semantic_examples import bank_files, read_bank

    for path in bank_files():
        click.echo(f"{len(read_bank(path)):>5}  {path}")


@examples.command()
@click.argument("query")
@click.option("-k", type=int, default=3, show_default=True, help="Examples to select.")
@click.pass_obj
def search(app, query: str, k: int) -> None:
    """Show the examples the selector would put in the prompt for QUERY."""
    from assistant_plugins.semantic_examples import SemanticSelector

    for example in SemanticSelector(app.settings()).select(query, k):
        click.echo(f"[{example.id}] {example.score:.3f}  {example.input}")
        if example.rationale:
            click.echo(f"    {example.rationale}")
        click.echo(f"    -> {example.output}")


@examples.command()
@click.option("--input", "input_", required=True, help="The question or task.")
@click.option("--output", required=True, help="The answer to show.")
@click.option("--rationale", help="The reasoning to show before the answer (for chain-of-thought).")
@click.option("--tag", "tags", multiple=True, help="A tag; repeatable.")
@click.option("--bank", default="added", show_default=True, help="User bank file name (without .jsonl).")
def add(input_: str, output: str, rationale: str | None, tags: tuple[str, ...], bank: str) -> None:
    """Add an example to a user bank; the selector uses it from the next question on."""
    from assistant import Example
    from assistant_plugins.semantic_examples import add_example

    path = add_example(Example(input=input_, output=output, rationale=rationale, tags=tags), bank=bank)
    click.echo(f"added to {path}")


@examples.command()
@click.option("--dataset", type=click.Path(exists=True, dir_okay=False), required=True,
              help="Questions: SVAMP.json, a GSM8K .jsonl, or a text file with one question per line.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="Questions to try.")
@click.option("--samples", type=click.IntRange(min=2), default=5, show_default=True,
              help="Answers sampled per question (one batched call).")
@click.option("--top", type=click.IntRange(min=1), default=5, show_default=True, help="Most uncertain questions shown.")
@click.option("--max-new-tokens", type=int, default=128, show_default=True, help="Tokens per sampled answer.")
@click.option("--out", type=click.Path(), help="Also write them as JSONL, ready to annotate.")
@click.pass_obj
def uncertain(app, dataset: str, limit: int, samples: int, top: int, max_new_tokens: int, out: str | None) -> None:
    """Active prompting: the questions the model disagrees with itself on most.

    Write an exemplar (with --rationale) for those with `assistant examples add`;
    the semantic selector then shows it for similar questions.
    """
    import json
    from pathlib import Path

    from assistant.atomic import atomic_path
    from assistant.uncertainty import rank_questions

    path = Path(dataset)
    if path.suffix in (".json", ".jsonl"):
        from assistant.evaluation.strategies import load_problems

        questions = [p.question for p in load_problems(path)][:limit]
    else:
        questions = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()][:limit]
    engine = app.engine()
    decoding = engine.decoding(max_new_tokens=max_new_tokens, temperature=0.7, top_p=0.95, top_k=40)
    with click.progressbar(length=len(questions), label="sampling", file=click.get_text_stream("stderr")) as bar:
        ranked = rank_questions(engine.llm, questions, samples, decoding, on_done=lambda i: bar.update(1))
    for u in ranked[:top]:
        click.echo(f"disagreement {u.disagreement:.2f}  entropy {u.entropy:.2f}  {u.question}")
        click.echo(f"    answers: {', '.join(a or '(none)' for a in u.answers)}")
    if out:
        with atomic_path(Path(out)) as tmp:
            tmp.write_text("".join(json.dumps(u.to_json()) + "\n" for u in ranked[:top]), encoding="utf-8")
        click.echo(f"wrote {out}", err=True)
