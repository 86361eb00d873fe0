"""``assistant ask``: one question, answered with citations."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from ..cli_api import parse_options
from .app import AppContext, retriever_option_flag, root
from .output import answer_to_json, print_sources

EPILOG = """\b
Examples:
  assistant ask "How do I index a folder?"
  assistant ask "..." --strategy zero_shot -o samples=3 --temperature 0.7 --top-p 0.9
  assistant ask "..." --json | jq .citations
  assistant ask "Explain the index" --meta audience=children --exclude embedding --require folder
  echo "a long question" | assistant ask -
"""


@root.command(epilog=EPILOG)
@click.argument("question")
@click.option("--collection", "-c", help="Collection to search (default: the `collection` setting, 'default').")
@click.option("--strategy", "-s", help="Prompt strategy (see `assistant strategies`).")
@click.option("--option", "-o", "options", multiple=True, metavar="KEY=VALUE", help="A strategy option; repeatable.")
@click.option("--top-k", type=int, help="Passages to retrieve.")
@click.option("--no-retrieval", is_flag=True, help="Ask the model alone, without searching a collection.")
@retriever_option_flag
@click.option("--max-new-tokens", type=int, help="Most tokens to generate.")
@click.option("--temperature", type=float, help="0 = greedy; above 0 samples.")
@click.option("--top-p", type=float, help="Nucleus sampling mass.")
@click.option("--sample-top-k", type=int, help="Top-k sampling filter (0 = off).")
@click.option("--num-beams", type=int, help="Beam search width (1 = off).")
@click.option("--repetition-penalty", type=float, help="Above 1 discourages repetition.")
@click.option("--stop", multiple=True, help="Stop string; repeatable.")
@click.option("--exclude", multiple=True, metavar="WORD", help="A word the answer must not contain; repeatable.")
@click.option("--require", multiple=True, metavar="WORD", help="A word the answer must contain; repeatable.")
@click.option("--meta", multiple=True, metavar="KEY=VALUE",
              help="Condition the answer, e.g. --meta audience=children --meta format='a bulleted list'.")
@click.option("--seed", type=int, help="Random seed for sampling.")
@click.option("--model", help='Generator: "embedded", a folder, a .gguf file or a hub id.')
@click.option("--adapter", help='Trained adapter to apply (see `assistant adapters list`), a LoRA mix "a*0.7+b*0.3", or none.')
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "mps"]), help="Where to run the model.")
@click.option("--dtype", type=click.Choice(["auto", "float32", "bfloat16", "float16"]), help="Model weights dtype.")
@click.option("--context-window", type=int, help="Limit the tokens the model may see.")
@click.option("--online", is_flag=True, help="Allow downloading a named remote model.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole answer (citations, trace, usage) as JSON.")
@click.option("--trace", is_flag=True, help="Print each step of the turn after the answer.")
@click.pass_obj
def ask(app: AppContext, question: str, collection: str | None, strategy: str | None, options: tuple[str, ...],
        top_k: int | None, no_retrieval: bool, max_new_tokens: int | None, temperature: float | None,
        top_p: float | None, sample_top_k: int | None, num_beams: int | None, repetition_penalty: float | None,
        stop: tuple[str, ...], exclude: tuple[str, ...], require: tuple[str, ...], meta: tuple[str, ...],
        seed: int | None, model: str | None, adapter: str | None, device: str | None, dtype: str | None,
        context_window: int | None, online: bool, as_json: bool, trace: bool) -> None:
    """Answer QUESTION from your indexed documents, citing the passages used.

    QUESTION may be "-" to read it from standard input.
    """
    if question == "-":
        question = sys.stdin.read()
    overrides: dict[str, Any] = dict(model=model, device=device, dtype=dtype, context_window=context_window,
                                     offline=False if online else None)
    engine = app.engine(**overrides)
    decoding = engine.decoding(max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p,
                               top_k=sample_top_k, num_beams=num_beams, repetition_penalty=repetition_penalty,
                               stop=tuple(stop) if stop else None, seed=seed,
                               exclude=tuple(exclude) if exclude else None, require=tuple(require) if require else None)
    streamed: list[str] = []

    def on_text(piece: str) -> None:
        if not streamed:
            piece = piece.lstrip()
        streamed.append(piece)
        click.echo(piece, nl=False)

    answer = engine.answer(question, strategy=strategy, options=parse_options(options), decoding=decoding,
                           top_k=top_k, collection=collection, use_retrieval=not no_retrieval,
                           metadata=parse_options(meta, what="metadata"), adapter=adapter,
                           on_text=None if as_json else on_text)
    if as_json:
        click.echo(json.dumps(answer_to_json(answer), indent=2))
        return
    if not streamed:
        click.echo(answer.text, nl=False)
    click.echo()
    for notice in answer.notices:
        click.echo(f"note: {notice}", err=True)
    print_sources(answer)
    if trace:
        click.echo("\nTrace:")
        for step in answer.steps:
            tokens = f"  {step.prompt_tokens}+{step.completion_tokens} tok" if step.prompt_tokens else ""
            click.echo(f"  {step.kind:<9} {step.name:<20} {step.ms:8.1f} ms{tokens}")
    u = answer.usage
    click.echo(f"\n{answer.model} · {answer.strategy} · {u.prompt_tokens}+{u.completion_tokens} tokens · "
               f"{u.model_calls} model call(s) · {u.ms / 1000:.1f} s · answer {answer.id}", err=True)
    if len(answer.candidates) > 1:
        click.echo("candidates: " + " ".join(f"{answer.id}-{i}" for i in range(len(answer.candidates))), err=True)
