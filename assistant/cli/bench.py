"""``assistant bench``: measure speed, with a baseline in the same run."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .app import AppContext, root


@root.command()
@click.option("--only", metavar="NAMES", help="Comma-separated benchmarks to run (default: all, in the order listed above).")
@click.option("--quick", is_flag=True,
              help="Tiny sizes, one repetition, no warm-up: 8 new tokens, 2,000 and 8,000 vectors instead of "
                   "100k and 1M, tens of files, one training step of 1 x 32 tokens. Checks that every "
                   "benchmark runs (what tests/test_bench.py does); its figures are not for comparison.")
@click.option("--repeat", type=click.IntRange(min=1), default=None,
              help="Repetitions per measurement, the median is kept.  [default: 3; 1 with --quick]")
@click.option("--json", "json_path", type=click.Path(path_type=Path, dir_okay=False),
              default=Path("bench-results/latest.json"), show_default=True,
              help="Where to write the results (relative to the current folder).")
@click.pass_obj
def bench(app: AppContext, only: str | None, quick: bool, repeat: int | None, json_path: Path) -> None:
    """Measure speed, each figure against a baseline taken in the same run
    (e.g. `assistant ask` against the raw model on the same prompt), so the
    ratios mean something on any machine.

    \b
    Benchmarks (--only):
      help              `assistant --help` wall time vs `python -c pass`
      model_load        loading the generator, cold and cached, in fresh processes
      ask               first token and decode speed of Engine.answer vs the raw
                        runtime on the same prompt (llama-cpp-python or model.generate)
      index             sync throughput vs raw encoding; re-syncing unchanged files
      tui               first paint of the chat; Enter-to-first-token overhead
      self_consistency  5 paths in one batch vs 5 calls and vs one greedy answer
      adapters          LoRA / soft prompt / full fine-tuning cost; adapter switching
      backends          both backends vs raw llama-cpp-python (needs llama.cpp for most rows)
      search            latency and recall@5 at 100k and 1M vectors vs exact search
                        (the FAISS plugin's; plugins add their own: assistant plugins -v)

    The generator runs on the global --backend (or the `backend` setting), e.g.
    `assistant --backend transformers bench --only ask`.

    The table goes to stdout; the JSON file holds one row per figure with a
    stable key (name, value, unit, baseline, ratio, ...): every key and the
    schema are described in docs/benchmarks.md.
    """
    from .. import bench as bench_module
    from ..errors import ConfigError

    names = bench_module.benchmark_names(app.host())
    chosen = [n.strip() for n in only.split(",") if n.strip()] if only else names
    unknown = [n for n in chosen if n not in names]
    if unknown or not chosen:
        raise ConfigError(f"unknown benchmark(s): {', '.join(unknown) or '(none given)'}",
                          f"available: {', '.join(names)}")
    choice = app.settings().backend or "auto"
    ctx = bench_module.BenchContext(repeat=repeat or (1 if quick else 3), quick=quick, backend=choice,
                                    log=lambda m: click.echo(m, err=True))
    backend = bench_module.resolved_backend(choice)
    click.echo(f"generator backend: {backend}" + (" (quick mode: figures not for comparison)" if quick else ""),
               err=True)
    result = bench_module.run(chosen, ctx, app.host())
    if result.rows:
        click.echo(bench_module.format_table(result.rows))
    for message in ctx.notes:
        click.echo(f"note: {message}")
    for name, reason in result.skipped.items():
        click.echo(f"skipped {name}: {reason}")
    bench_module.write_json(result, json_path, ctx, backend)
    click.echo(f"\nwrote {json_path}", err=True)
    if result.failed:
        for name, reason in result.failed.items():
            click.echo(f"error: benchmark {name} failed: {reason} (its traceback is above)", err=True)
        sys.exit(1)
