"""``assistant eval strategies``: accuracy and cost of prompt strategies on math word problems."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import click

from ..cores import usable_cores
from .app import AppContext
from .evaluate import eval_group

EPILOG = """\b
Examples:
  assistant eval strategies --dataset ../shared/data/svamp/SVAMP.json --limit 50
  assistant eval strategies --dataset ../shared/data/gsm8k/test.jsonl \\
      --strategies zero_shot,chain_of_thought,self_consistency --limit 300 --workers 8 --device cuda
"""


@eval_group.command("strategies", epilog=EPILOG)
@click.option("--dataset", type=click.Path(path_type=Path), required=True,
              help="SVAMP.json or a GSM8K .jsonl file.")
@click.option("--strategies", default="zero_shot,chain_of_thought,self_consistency,least_to_most",
              show_default=True, help="Comma-separated strategies (see `assistant strategies`).")
@click.option("--limit", type=click.IntRange(min=1), default=300, show_default=True, help="Questions (the first N).")
@click.option("--max-new-tokens", type=int, default=192, show_default=True, help="Tokens per model call.")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Processes sharing the questions, one model each (useful on a GPU); each gets "
                   "cores/N threads unless the threads setting says otherwise.")
@click.option("--seed", type=int, help="Seed each question's sampling (this seed and the question's id), so a rerun "
              "on the same backend and machine repeats its samples exactly; unset: fresh samples every run.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "mps"]), help="Where to run the model.")
@click.option("--model", help='Generator: "embedded", a folder, a .gguf file or a hub id.')
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write every prediction and the table here.")
@click.option("--png", "png_path", type=click.Path(path_type=Path), help="Write an accuracy chart here (needs matplotlib).")
@click.option("--shard", hidden=True, help="K/N: evaluate only every N-th question from K (used by --workers).")
@click.option("--shard-out", type=click.Path(path_type=Path), hidden=True)
@click.option("--from-shards", type=click.Path(path_type=Path, file_okay=False), hidden=True,
              help="Merge the shard files in this folder (written after every question) instead of running.")
@click.pass_obj
def eval_strategies(app: AppContext, dataset: Path, strategies: str, limit: int, max_new_tokens: int, workers: int,
                    seed: int | None, device: str | None, model: str | None, json_path: Path | None,
                    png_path: Path | None,
                    shard: str | None, shard_out: Path | None, from_shards: Path | None) -> None:
    """Accuracy (95 % interval), model calls, tokens and seconds per question, for each strategy.

    Every strategy answers the same questions with the same model, without
    retrieval; a prediction counts when its number equals the gold answer.
    """
    from ..atomic import write_json
    from ..errors import ConfigError
    from ..evaluation import strategies as ev

    names = [s.strip() for s in strategies.split(",") if s.strip()]
    problems = ev.load_problems(dataset)[:limit]
    engine = app.engine(device=device, model=model, instructions=ev.INSTRUCTIONS)
    for name in names:
        engine.strategy(name)  # unknown names fail before any work
    decoding = engine.decoding(max_new_tokens=max_new_tokens)
    if shard:
        k, n = (int(x) for x in shard.split("/"))
        # written after every question, so an interrupted run still leaves what it did
        name = engine.llm.name  # says which backend ran it, e.g. "SmolLM2-135M-Instruct (embedded) [llama.cpp]"
        ev.evaluate(engine, names, problems[k::n], decoding,
                    on_done=lambda scores: write_json(shard_out, _shard(name, scores)), seed=seed)
        return
    if from_shards:
        scores, model_name = _merge_shards(sorted(from_shards.glob("*.json")))
    elif workers > 1:
        scores, model_name = _run_workers(app, dataset, names, limit, max_new_tokens, workers, device, model,
                                          worker_env(engine.settings.threads, workers), seed)
    else:
        total = len(problems) * len(names)
        with click.progressbar(length=total, label="answering", file=click.get_text_stream("stderr")) as bar:
            scores = ev.evaluate(engine, names, problems, decoding, on_done=lambda _scores: bar.update(1), seed=seed)
        model_name = engine.llm.name
    if not scores:
        raise ConfigError("nothing was evaluated")
    asked = max(s.questions for s in scores.values())
    seeded = f", seed {seed}" if seed is not None else ""
    click.echo(f"{dataset.name}: {asked} questions, model {model_name}, max_new_tokens {max_new_tokens}{seeded}")
    click.echo(f"{'strategy':<18} {'questions':>9} {'accuracy':>9} {'95% CI':>15} {'calls/q':>8} {'tokens/q':>9} "
               f"{'s/q':>7} {'errors':>6}")
    for s in scores.values():
        low, high = s.interval()
        summary = s.summary()
        click.echo(f"{s.strategy:<18} {s.questions:>9} {s.accuracy * 100:>8.1f}% {f'{low * 100:.1f}-{high * 100:.1f}%':>15} "
                   f"{summary['calls_per_question']:>8.2f} {summary['tokens_per_question']:>9.0f} "
                   f"{summary['seconds_per_question']:>7.2f} {s.errors:>6}")
    if json_path:
        write_json(json_path, {"dataset": str(dataset), "questions": asked, "model": model_name,
                               "max_new_tokens": max_new_tokens, "seed": seed,
                               "summary": [s.summary() for s in scores.values()],
                               "scores": ev.scores_to_json(scores)})
        click.echo(f"wrote {json_path}", err=True)
    if png_path:
        if ev.chart(scores, png_path, f"{dataset.name}, {asked} questions\n{model_name}"):
            click.echo(f"wrote {png_path}", err=True)
        else:
            click.echo("note: no chart, matplotlib is not installed (pip install matplotlib)", err=True)


def _run_workers(app: AppContext, dataset: Path, names: list[str], limit: int, max_new_tokens: int, workers: int,
                 device: str | None, model: str | None, env: dict[str, str],
                 seed: int | None = None) -> tuple[dict, str]:
    from ..errors import AssistantError

    with tempfile.TemporaryDirectory() as tmp:
        procs = []
        for k in range(workers):
            args = [sys.executable, "-m", "assistant"]
            if app.config_path:
                args += ["--config", str(app.config_path)]
            if app.plugins_dir:  # a strategy or backend from a plugins folder exists in the workers too
                args += ["--plugins-dir", str(Path(app.plugins_dir).resolve())]
            if app.overrides.get("backend"):  # the workers run on the backend this run was asked for
                args += ["--backend", str(app.overrides["backend"])]
            args += ["eval", "strategies", "--dataset", str(dataset), "--strategies", ",".join(names),
                     "--limit", str(limit), "--max-new-tokens", str(max_new_tokens),
                     "--shard", f"{k}/{workers}", "--shard-out", str(Path(tmp) / f"{k}.json")]
            if device:
                args += ["--device", device]
            if model:
                args += ["--model", model]
            if seed is not None:
                args += ["--seed", str(seed)]
            procs.append(subprocess.Popen(args, env=env, stderr=subprocess.PIPE, text=True))
        click.echo(f"{workers} workers started", err=True)
        for k, proc in enumerate(procs):
            _, err = proc.communicate()
            if proc.returncode != 0:
                raise AssistantError(f"worker {k} failed: {err.strip().splitlines()[-1] if err.strip() else proc.returncode}")
        return _merge_shards([Path(tmp) / f"{k}.json" for k in range(workers)])


def worker_env(threads: int, workers: int) -> dict[str, str]:
    """The environment of each worker: unless ``threads`` is set, a share of
    the cores. Workers that each use every core wait on each other's threads
    (measured here: a llama.cpp run slowed ~6x beside a second one)."""
    env = os.environ.copy()
    if threads <= 0:
        env["ASSISTANT_THREADS"] = str(max(1, usable_cores() // workers))
    return env


def _shard(model_name: str, scores: dict) -> dict:
    from ..evaluation import strategies as ev

    return {"model": model_name, "scores": ev.scores_to_json(scores)}


def _merge_shards(paths: list[Path]) -> tuple[dict, str]:
    """The shards' scores merged, and the model that produced them (their names, if they differ)."""
    from ..evaluation import strategies as ev

    parts, models = [], []
    for path in paths:
        data = json.loads(path.read_text())
        parts.append(ev.scores_from_json(data["scores"]))
        models.append(data["model"])
    return ev.merge(parts), ", ".join(dict.fromkeys(models))
