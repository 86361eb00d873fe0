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
