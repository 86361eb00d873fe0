"""``assistant feedback ...``: rate, rank and export answers from the command line."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from assistant import AssistantError, Feedback


def _store(app):
    from . import open_store

    return open_store(app.settings())


def _send(app, feedback: Feedback) -> None:
    """Through the engine, so every on_feedback observer sees it; our store is one of them."""
    notices = app.engine().feedback(feedback)
    if notices:
        raise AssistantError(notices[0])


@click.group("feedback")
def feedback_group() -> None:
    """Rate and rank answers, and export them as training data.

    \b
    Every `assistant ask` stores its answer (id shown after the answer):
      assistant feedback rate 3f2a up --comment "precise"
      assistant feedback rank 3f2a 9c1e=77b0 12dd     # best first; = ties
      assistant feedback choose 3f2a 9c1e             # winner, then loser
      assistant feedback export --format pairs --out pairs.jsonl
    """


@feedback_group.command("list")
@click.option("--limit", default=20, show_default=True, help="How many recent answers.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@click.pass_obj
def list_answers(app, limit: int, as_json: bool) -> None:
    """List recent answers and candidates with their ids."""
    store = _store(app)
    for a in store.answers(limit=limit):
        if as_json:
            click.echo(json.dumps({"id": a.id, "group": a.group_id, "question": a.question, "text": a.text,
                                   "strategy": a.strategy, "created": a.created}))
        else:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(a.created))
            text = " ".join(a.text.split())[:60]
            click.echo(f"{a.id[:12]:<14} {when}  {a.strategy:<12} {a.question[:40]!r} -> {text!r}")


@feedback_group.command()
@click.argument("answer_id")
@click.pass_obj
def show(app, answer_id: str) -> None:
    """Show one answer with its provenance, siblings and feedback."""
    store = _store(app)
    a = store.answers([store.resolve(answer_id)])[0]
    click.echo(f"id: {a.id}\nquestion: {a.question}\nanswer: {a.text}\nstrategy: {a.strategy}  model: {a.model}"
               f"  adapter: {a.adapter or 'none'}\ndecoding: {a.decoding}\nusage: {a.usage}")
    for p in a.passages:
        click.echo(f"  passage {p['id']}  {p['location']}  score {p['score']:.3f}")
    for s in store.siblings(a.id):
        if s.id != a.id:
            click.echo(f"  sibling {s.id}: {' '.join(s.text.split())[:60]!r}")
    for e in store.events():
        if a.id in e.answer_ids:
            click.echo(f"  {e.kind}: value={e.value} ranking={e.ranking} {e.comment!r}")


@feedback_group.command()
@click.argument("answer_id")
@click.argument("verdict", type=click.Choice(["up", "down"]))
@click.option("--comment", default="", help="Why.")
@click.pass_obj
def rate(app, answer_id: str, verdict: str, comment: str) -> None:
    """Give ANSWER_ID a thumbs up or down."""
    full = _store(app).resolve(answer_id)
    _send(app, Feedback(kind="rating", answer_ids=(full,), value=1.0 if verdict == "up" else -1.0, comment=comment))
    click.echo(f"rated {full[:12]} {verdict}")


@feedback_group.command()
@click.argument("tiers", nargs=-1, required=True)
@click.option("--comment", default="", help="Why.")
@click.pass_obj
def rank(app, tiers: tuple[str, ...], comment: str) -> None:
    """Rank answers best first; join tied answers with '=' (e.g. A B=C D)."""
    store = _store(app)
    ranking = tuple(tuple(store.resolve(part) for part in tier.split("=") if part) for tier in tiers)
    if sum(len(t) for t in ranking) < 2:
        raise AssistantError("a ranking needs at least two answers", "e.g. assistant feedback rank A B")
    _send(app, Feedback(kind="ranking", answer_ids=tuple(a for t in ranking for a in t), ranking=ranking,
                        comment=comment))
    click.echo("ranked " + " > ".join("=".join(a[:12] for a in t) for t in ranking))


@feedback_group.command()
@click.argument("winner")
@click.argument("loser")
@click.option("--comment", default="", help="Why.")
@click.pass_obj
def choose(app, winner: str, loser: str, comment: str) -> None:
    """Record that WINNER is better than LOSER."""
    store = _store(app)
    pair = (store.resolve(winner), store.resolve(loser))
    _send(app, Feedback(kind="pairwise", answer_ids=pair, comment=comment))
    click.echo(f"chose {pair[0][:12]} over {pair[1][:12]}")


@feedback_group.command()
@click.pass_obj
def stats(app) -> None:
    """Count stored answers and feedback."""
    for key, value in _store(app).stats().items():
        click.echo(f"{key:<13} {value}")


@feedback_group.command("export")
@click.option("--format", "fmt", type=click.Choice(["pairs", "kto", "sft"]), required=True,
              help="pairs: prompt/chosen/rejected (reward model, DPO); kto: prompt/completion/label; sft.")
@click.option("--out", type=click.Path(path_type=Path), help="JSONL file to write (default: standard output).")
@click.pass_obj
def export_command(app, fmt: str, out: Path | None) -> None:
    """Export feedback as training data in TRL's conversational schemas."""
    from assistant import atomic_path

    from .export import export

    store = _store(app)
    answers = {a.id: a for a in store.answers()}
    result = export(fmt, answers, store.events())
    if not result.rows:
        raise AssistantError(f"no feedback to export as {fmt} (store: {store.path})",
                             "rate or rank some answers first: assistant feedback --help")
    lines = "".join(json.dumps(row) + "\n" for row in result.rows)
    if out is None:
        click.echo(lines, nl=False)
    else:
        with atomic_path(out) as tmp:
            tmp.write_text(lines, encoding="utf-8")
    dropped = ", ".join(f"{k}: {v}" for k, v in result.dropped.items() if v)
    click.echo(f"exported {len(result.rows)} {fmt} rows" + (f" (dropped {dropped})" if dropped else ""), err=True)


@feedback_group.command("promote")
@click.option("--bank", default="feedback", show_default=True, help="User example bank to add them to.")
@click.option("--dry-run", is_flag=True, help="Show what would be added, add nothing.")
@click.pass_obj
def promote(app, bank: str, dry_run: bool) -> None:
    """Add the top-rated answers to a few-shot example bank.

    Top answers are those `export --format sft` would write: rated up, sole
    best of a ranking, or winner of a choice (never one whose latest rating
    is down). Answers already in the bank are skipped. With the semantic
    selector on, they are shown as examples for similar questions.
    """
    from assistant import Example, add_example, read_bank, user_bank_dir

    from .export import export

    store = _store(app)
    answers = {a.id: a for a in store.answers()}
    rows = export("sft", answers, store.events()).rows
    if not rows:
        raise AssistantError(f"no top-rated answers in {store.path}",
                             "rate answers up or rank them first: assistant feedback --help")
    path = user_bank_dir() / f"{bank}.jsonl"
    present = {(e.input, e.output) for e in read_bank(path)} if path.exists() else set()
    added = 0
    for row in rows:
        answer = answers[row["metadata"]["answer_id"]]
        key = (answer.question, answer.text.strip())
        if key in present or not all(key):
            continue
        present.add(key)
        added += 1
        if dry_run:
            click.echo(f"would add [{answer.id}] {answer.question} -> {answer.text.strip()[:80]}")
        else:
            add_example(Example(input=answer.question, output=answer.text.strip(), id=answer.id, tags=("feedback",)),
                        bank=bank)
    verb = "would add" if dry_run else "added"
    click.echo(f"{verb} {added} answers to {path} ({len(rows) - added} already there or empty)")
