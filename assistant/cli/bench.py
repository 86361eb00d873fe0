"""``assistant bench``: measure speed, with a baseline in the same run."""

from __future__ import annotations

from pathlib import Path

import click

from .app import AppContext, root


@root.command()
@click.option("--only", help="Comma-separated benchmarks to run (default: all). Names: help, model_load, ask, index, search, tui, self_consistency, adapters, backends.")
@click.option("--repeat", type=int, default=3, show_default=True, help="Repetitions per measurement (median).")
@click.option("--json", "json_path", type=click.Path(path_type=Path), default=Path("bench-results/latest.json"),
              show_default=True, help="Where to write the results.")
@click.pass_obj
def bench(app: AppContext, only: str | None, repeat: int, json_path: Path) -> None:
    """Measure start-up, model loading and generation overhead.

    Each measurement is printed next to a baseline taken in the same run
    (e.g. `assistant ask` against a raw model.generate on the same prompt),
    so the ratio is meaningful on any machine.
    """
    from .. import bench as bench_module
    from ..errors import ConfigError

    names = bench_module.benchmark_names()
    chosen = [n.strip() for n in only.split(",")] if only else names
    unknown = [n for n in chosen if n not in names]
    if unknown:
        raise ConfigError(f"unknown benchmark(s): {', '.join(unknown)}", f"available: {', '.join(names)}")
    ctx = bench_module.BenchContext(repeat=repeat, log=lambda m: click.echo(m, err=True))
    rows = bench_module.run(chosen, ctx)
    click.echo(bench_module.format_table(rows))
    bench_module.write_json(rows, json_path)
    click.echo(f"\nwrote {json_path}", err=True)
