"""``assistant bench``: every speed measurement of the project, each one
compared with a baseline measured in the same run.

A benchmark is a function ``(BenchContext) -> list[Row]``, registered in
:data:`BENCHMARKS`. Rows print as a table and are written as JSON.
"""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Row:
    """One measurement: ``value`` in ``unit``, against ``baseline`` if any."""

    bench: str
    metric: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    ratio: float | None = None  # value / baseline, or baseline / value for times (so higher is better)
    goal: str = ""
    met: bool | None = None


@dataclass
class BenchContext:
    repeat: int = 3
    workdir: Path = field(default_factory=lambda: Path("bench-results"))
    log: Callable[[str], None] = print


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def _registry() -> dict[str, Callable[[BenchContext], list[Row]]]:
    from . import adapters, backends, indexing, search, spine, strategies, tui

    return {"help": spine.bench_help, "model_load": spine.bench_model_load, "ask": spine.bench_ask,
            "index": indexing.bench_index,
            "search": search.bench_search, "tui": tui.bench_tui,
            "self_consistency": strategies.bench_self_consistency, "adapters": adapters.bench_adapters,
            "backends": backends.bench_backends}


def benchmark_names() -> list[str]:
    return list(_registry())


def run(names: list[str], ctx: BenchContext) -> list[Row]:
    registry = _registry()
    rows: list[Row] = []
    for name in names:
        ctx.log(f"running {name}...")
        rows.extend(registry[name](ctx))
    return rows


def format_table(rows: list[Row]) -> str:
    width = max([34] + [len(r.metric) for r in rows])
    header = f"{'bench':<11} {'metric':<{width}} {'value':>12} {'baseline':>12}  {'ratio':>7}  goal"
    lines = [header, "-" * len(header)]
    for r in rows:
        base = f"{r.baseline:.3f}" if r.baseline is not None else ""
        ratio = f"{r.ratio:.2f}x" if r.ratio is not None else ""
        goal = f"{r.goal} {'met' if r.met else 'NOT met'}" if r.goal and r.met is not None else r.goal
        lines.append(f"{r.bench:<11} {r.metric:<{width}} {r.value:>9.3f} {r.unit:<2} {base:>12}  {ratio:>7}  {goal}")
    return "\n".join(lines)


def write_json(rows: list[Row], path: Path) -> None:
    from ..atomic import write_json as atomic_write

    atomic_write(path, {"machine": {"python": platform.python_version(), "platform": platform.platform(),
                                    "processor": platform.processor()},
                        "time": time.strftime("%Y-%m-%dT%H:%M:%S"), "rows": [asdict(r) for r in rows]})
