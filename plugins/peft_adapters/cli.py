"""``assistant tune sft``, ``assistant adapters ...`` and ``assistant dataset qa``."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from assistant import ConfigError
from assistant.adapters import AdapterRegistry

TUNE_EPILOG = """\b
Examples:
  assistant dataset qa --corpus default --out qa.jsonl      # data from your documents
  assistant tune sft --name notes-qa --data qa.jsonl --template qa --kind lora
  assistant tune sft --name tone --data tone.jsonl --template instruction --kind prompt --virtual-tokens 20
  assistant ask "..." --adapter notes-qa
\b
Templates: qa (question, context, answer), summarize (text, summary),
classify (text, labels, label), extract (instruction, text, output),
instruction (input, output), or a JSON file: {"prompt": "...{field}...", "response": "{field}"}.
On several GPUs: accelerate launch -m assistant tune sft ...
"""


@click.group("tune")
def tune_group() -> None:
    """Train adapters (LoRA, soft prompts, prefixes) that load back into chat."""


@tune_group.command("sft", epilog=TUNE_EPILOG)
@click.option("--name", required=True, help="Name to save the adapter under (see `assistant adapters list`).")
@click.option("--data", type=click.Path(path_type=Path), required=True, help="JSONL records for the template.")
@click.option("--template", default="instruction", show_default=True,
              help="qa, summarize, classify, extract, instruction, a saved name, or a JSON file.")
@click.option("--kind", default="lora", show_default=True, help="Adapter kind: lora, prompt, prefix (or a plugin's).")
@click.option("--rank", type=int, help="LoRA rank (4-32 typical; default 8).")
@click.option("--alpha", type=int, help="LoRA alpha (the update is scaled by alpha/rank; default 16).")
@click.option("--dropout", type=float, help="LoRA dropout (default 0.05).")
@click.option("--targets", help="LoRA target modules: attention (default), all-linear, or names like q_proj,v_proj.")
@click.option("--virtual-tokens", type=int, help="Soft prompt / prefix length (default 20).")
@click.option("--init", "init", type=click.Choice(["text", "vocab", "random"]), help="Soft prompt initialisation.")
@click.option("--init-text", help="Text whose embeddings start the soft prompt (with --init text).")
@click.option("--option", "-o", "options", multiple=True, metavar="KEY=VALUE", help="Any other kind option; repeatable.")
@click.option("--epochs", type=float, default=3.0, show_default=True)
@click.option("--max-steps", type=int, default=0, show_default=True, help="Stop after this many steps (0: run the epochs).")
@click.option("--lr", "learning_rate", type=float, default=0.0, help="Learning rate (default: 2e-4 LoRA, 3e-2 prompt, 1e-2 prefix).")
@click.option("--batch-size", type=int, default=4, show_default=True)
@click.option("--grad-accum", type=int, default=1, show_default=True, help="Gradient accumulation steps.")
@click.option("--max-length", type=int, default=256, show_default=True, help="Tokens per example (prompt cut from the front).")
@click.option("--val-fraction", type=float, default=0.1, show_default=True, help="Share of records held out for validation.")
@click.option("--eval-every", type=int, default=20, show_default=True, help="Steps between validation (and checkpoints).")
@click.option("--patience", type=int, default=3, show_default=True, help="Evaluations without improvement before stopping (0: never).")
@click.option("--gradient-checkpointing", is_flag=True, help="Recompute activations: less memory, ~60 % slower.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--resume", is_flag=True, help="Continue from the last checkpoint of a run with this name.")
@click.option("--overwrite", is_flag=True, help="Replace an existing adapter with this name.")
@click.option("--model", help='Base model: "embedded", a folder, a .gguf file or a hub id.')
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "mps"]), help="Where to train (auto: cuda when available).")
@click.pass_obj
def tune_sft(app, name, data, template, kind, rank, alpha, dropout, targets, virtual_tokens, init, init_text, options,
             epochs, max_steps, learning_rate, batch_size, grad_accum, max_length, val_fraction, eval_every, patience,
             gradient_checkpointing, seed, resume, overwrite, model, device) -> None:
    """Fine-tune an adapter on instruction data (supervised, response tokens only).

    Holds out a validation split, reports validation loss before and after,
    evaluates and checkpoints every --eval-every steps, stops early when the
    validation loss stops improving and keeps the best checkpoint. Saves the
    adapter with its metadata, loss history and loss.png to the registry.
    """
    from assistant.cli_api import build_options, parse_options

    from .templates import load_template
    from .training import TrainConfig, train_sft

    settings = app.settings(model=model, device=device)
    reg = app.host().registry.get("adapter_kind", kind)
    values = {"rank": rank, "alpha": alpha, "dropout": dropout, "targets": targets, "virtual_tokens": virtual_tokens,
              "init": init, "init_text": init_text}
    known = {f for f in getattr(reg.obj.Options, "__dataclass_fields__", {})}
    given = {k: v for k, v in values.items() if v is not None}
    misplaced = sorted(set(given) - known)
    if misplaced:
        raise ConfigError(f"--{misplaced[0].replace('_', '-')} does not apply to adapter kind {kind!r}",
                          f"its options: {', '.join(sorted(known)) or 'none'}")
    opts = build_options(kind, reg.obj, {**given, **parse_options(options, what="kind option")}, what="adapter kind")
    config = TrainConfig(epochs=epochs, max_steps=max_steps, learning_rate=learning_rate, batch_size=batch_size,
                         grad_accum=grad_accum, max_length=max_length, val_fraction=val_fraction,
                         eval_every=eval_every, patience=patience, gradient_checkpointing=gradient_checkpointing,
                         seed=seed)
    result = train_sft(name=name, kind=reg.obj(), options=opts, data=data, template=load_template(template),
                       config=config, model_spec=settings.model, device=settings.device, resume=resume,
                       overwrite=overwrite, offline=settings.offline, progress=lambda m: click.echo(m, err=True))
    for notice in result.notices:
        click.echo(f"note: {notice}", err=True)
    m = result.info.metrics
    click.echo(f"saved adapter {name!r} ({result.info.kind}) to {result.folder}")
    click.echo(f"validation loss {m['eval_loss_before']:.4f} -> {m['eval_loss_after']:.4f} after {m['steps']} steps "
               f"({m['epochs']} epochs, {result.seconds:.0f} s{', stopped early' if m['stopped_early'] else ''})")
    click.echo(f'try it: assistant ask "..." --adapter {name}')


# ------------------------------------------------------------------ adapters


@click.group("adapters")
def adapters_group() -> None:
    """List, inspect and remove trained adapters (in <data>/adapters).

    \b
    Use one in a turn:   assistant ask "..." --adapter NAME
    Mix LoRA adapters:   assistant ask "..." --adapter "qa*0.7+tone*0.3"
    In the chat:         the adapter picker (Ctrl+A), or `adapter = "NAME"` in the config
    """


@adapters_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the metadata as JSON.")
def adapters_list(as_json: bool) -> None:
    """Every saved adapter with its kind, base model and validation loss."""
    registry = AdapterRegistry()
    infos = registry.list()
    if as_json:
        click.echo(json.dumps([i.to_json() for i in infos], indent=2))
        return
    if not infos:
        click.echo(f"no adapters in {registry.root} yet; train one with `assistant tune sft --help`")
        return
    click.echo(f"{'name':<20} {'kind':<7} {'method':<7} {'base model':<34} {'validation':>20}  {'size':>8}  created")
    for info in infos:
        m = info.metrics
        if "eval_accuracy_after" in m:  # a reward model: pairwise accuracy
            score = f"acc {m.get('eval_accuracy_before', float('nan')):.3f}->{m['eval_accuracy_after']:.3f}"
        elif "eval_reward_after" in m:  # RL: mean reward
            score = f"reward {m.get('eval_reward_before', float('nan')):.2f}->{m['eval_reward_after']:.2f}"
        else:
            score = f"loss {m.get('eval_loss_before', float('nan')):.3f}->{m.get('eval_loss_after', float('nan')):.3f}"
        size = sum(registry.files(info.name).values())
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(info.created)) if info.created else "?"
        method = str(info.config.get("method", "sft"))
        click.echo(f"{info.name:<20} {info.kind:<7} {method:<7} {info.base_model[:34]:<34} {score:>20}  "
                   f"{_size(size):>8}  {when}")


@adapters_group.command("show")
@click.argument("name")
def adapters_show(name: str) -> None:
    """Metadata, training config, metrics and files of one adapter."""
    registry = AdapterRegistry()
    info = registry.get(name)
    click.echo(f"{info.name}: {info.kind} adapter, {info.trainable_parameters:,} trainable parameters")
    click.echo(f"base model: {info.base_model} (weights {info.base_fingerprint})")
    click.echo(f"data: {info.config.get('data', '?')} (sha256 {info.data_fingerprint}), template {info.config.get('template', '?')}")
    click.echo("options: " + json.dumps(info.config.get("options", {})))
    click.echo("training: " + json.dumps(info.config.get("training", {})))
    click.echo("metrics: " + json.dumps(info.metrics))
    click.echo(f"folder: {registry.path(name)}")
    for file, size in registry.files(name).items():
        click.echo(f"  {file:<32} {_size(size):>8}")


@adapters_group.command("rm")
@click.argument("names", nargs=-1, required=True)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def adapters_rm(names: tuple[str, ...], yes: bool) -> None:
    """Delete adapters (their folders) from the registry."""
    registry = AdapterRegistry()
    for name in names:
        registry.get(name)
    if not yes:
        click.confirm(f"delete {', '.join(names)}?", abort=True)
    for name in names:
        registry.remove(name)
        click.echo(f"removed adapter {name!r}")


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


# ------------------------------------------------------------------- dataset


@click.group("dataset")
def dataset_group() -> None:
    """Build training data from your documents."""


@dataset_group.command("qa")
@click.option("--corpus", "-c", "collection", default="default", show_default=True, help="Indexed collection to read.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="JSONL file to write (atomically).")
@click.option("--limit", type=click.IntRange(min=0), default=0, help="Use only the first N passages (0: all).")
@click.option("--questions", type=click.IntRange(1, 10), default=3, show_default=True, help="Questions per passage.")
@click.option("--min-grounding", type=float, default=0.5, show_default=True,
              help="Share of an answer's content words that must occur in its passage.")
@click.option("--model", help='Generator: "embedded", a folder, a .gguf file or a hub id.')
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "mps"]))
@click.pass_obj
def dataset_qa(app, collection: str, out: Path, limit: int, questions: int, min_grounding: float,
               model: str | None, device: str | None) -> None:
    """Question/context/answer records generated from an indexed collection.

    \b
    For each passage the model summarises it, asks questions about it and
    answers them from the passage; filters drop degenerate pairs (reported).
    The output feeds: assistant tune sft --data OUT --template qa
    """
    from assistant import atomic_path

    from .qa_data import generate_qa

    engine = app.engine(model=model, device=device)
    retriever = engine.retriever(collection)
    list_passages = getattr(retriever, "passages", None)
    if list_passages is None:
        raise ConfigError(f"retriever {engine.settings.retriever!r} cannot list its passages",
                          "use the built-in faiss retriever")
    passages = list_passages(limit)
    if not passages:
        raise ConfigError(f"collection {collection!r} has no passages", "index a folder first: assistant index PATH")
    with click.progressbar(length=len(passages), label="passages", file=click.get_text_stream("stderr"),
                           show_pos=True) as bar:
        model = engine.metered()
        report = generate_qa(model, passages, questions, instructions=engine.settings.instructions,
                             min_grounding=min_grounding, on_passage=lambda _r: bar.update(1))
    for notice in model.notices:  # e.g. a backend that gives one sample per call
        click.echo(f"note: {notice}", err=True)
    if not report.records:
        raise ConfigError(f"no usable question-answer pairs from {report.passages} passages "
                          f"({', '.join(f'{n} {why}' for why, n in report.dropped.most_common(3))})",
                          "try a larger --model, more --questions, or a lower --min-grounding")
    with atomic_path(out) as tmp:
        tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in report.records), encoding="utf-8")
    click.echo(f"wrote {len(report.records)} records from {report.passages} passages to {out} "
               f"({report.model_calls} model calls)")
    for why, n in report.dropped.most_common():
        click.echo(f"  dropped {n:>3}: {why}")
    click.echo(f"next: assistant tune sft --name {collection}-qa --data {out} --template qa")


EVAL_EPILOG = """\b
Example (base model and two adapters, each adapter's own validation data,
a held-out QA set and 50 SVAMP problems):
  assistant eval adapters --adapters notes-qa,tone \\
      --tasks own,qa=../shared/data/qa/squad_train_sample500.jsonl,svamp=../shared/data/svamp/SVAMP.json
"""


@click.command("adapters", epilog=EVAL_EPILOG)
@click.option("--adapters", "names", required=True, help="Comma-separated adapter names (the base model is always included).")
@click.option("--tasks", default="own", show_default=True,
              help="own (each adapter's validation records), qa=FILE, svamp=FILE or gsm8k=FILE; comma-separated.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True, help="Examples per loss task.")
@click.option("--math-limit", type=click.IntRange(min=1), default=50, show_default=True, help="Problems per math task.")
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write the table as JSON here.")
@click.option("--model", help='Base model: "embedded", a folder, a .gguf file or a hub id.')
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "mps"]))
@click.pass_obj
def eval_adapters(app, names: str, tasks: str, limit: int, math_limit: int, json_path: Path | None,
                  model: str | None, device: str | None) -> None:
    """Forgetting check: base model and adapters on their own and held-out tasks, in one table."""
    from assistant import write_json

    from .evaluate import evaluate, parse_tasks, render

    adapters = [n.strip() for n in names.split(",") if n.strip()]
    registry = AdapterRegistry()
    for name in adapters:
        registry.get(name)
    task_list = parse_tasks(tasks, adapters, registry, limit, math_limit)
    engine = app.engine(model=model, device=device)
    llm = engine.llm
    if not hasattr(llm, "with_adapter"):
        raise ConfigError("this model backend cannot apply adapters", "use the transformers backend")
    for name in adapters:
        engine.adapted_llm(name)  # load and check every adapter (kind, base model) before the long part
    total = (1 + len(adapters)) * len(task_list)
    with click.progressbar(length=total, label="evaluating", file=click.get_text_stream("stderr")) as bar:
        table = evaluate(llm, adapters, task_list, on_cell=lambda *_: bar.update(1))
    for note in table.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(render(table))
    if json_path:
        write_json(json_path, {"tasks": [{"name": t.name, "kind": t.kind, "items": len(t.items)} for t in task_list],
                               "rows": table.rows})
        click.echo(f"wrote {json_path}")
