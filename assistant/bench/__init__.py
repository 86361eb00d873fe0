"""``assistant bench``: every speed measurement of the project, each one
compared with a baseline measured in the same run.

A benchmark is a function ``(BenchContext) -> list[Row]``, listed in
:func:`_registry` or registered by a plugin (``register_benchmarks``: this
module's ``BenchContext``, ``Row``, ``Skip``, ``ratio``, ``median`` and
``timed`` are public for that). Rows print as a table and are written as JSON; each row's
``name`` is a stable key (``ask.decode_tokens_per_s``) documented in
docs/benchmarks.md, which is also where the JSON schema is described.

A benchmark whose precondition is missing (a data set, llama-cpp-python)
raises :class:`Skip` or calls :meth:`BenchContext.note`; one that fails is
reported and the others still run, so a long run never ends in a traceback
that throws away what was measured.
"""

from __future__ import annotations

import math
import os
import platform
import statistics
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..paths import temporary_home  # noqa: F401  (the benchmarks' throwaway data folders)

__all__ = ["BenchContext", "Row", "RunResult", "Skip", "benchmark_names", "median", "ratio", "run", "timed"]

#: Version of the JSON layout (docs/benchmarks.md); bumped when a field changes meaning.
SCHEMA = 2


@dataclass(frozen=True)
class Row:
    """One figure: ``value`` in ``unit``, against ``baseline`` if any.

    ``name`` is the stable key (``<benchmark>.<figure>``); ``metric`` is the
    human label of the table and may carry run details (sizes, token counts).
    ``ratio`` is oriented so that higher is better: value / baseline for
    rates, baseline / value for times."""

    name: str
    value: float
    unit: str
    metric: str = ""
    baseline: float | None = None
    baseline_name: str = ""
    ratio: float | None = None
    goal: str = ""
    met: bool | None = None

    @property
    def bench(self) -> str:
        return self.name.split(".", 1)[0]


class Skip(Exception):
    """A benchmark cannot run here (a missing data set or library); the message says why."""


@dataclass
class BenchContext:
    """What every benchmark gets: repetitions, quick mode, the backend that
    runs the generator, and where to log progress and notes."""

    repeat: int = 3
    quick: bool = False
    backend: str = "auto"  # the user's `backend` setting: auto | llamacpp | transformers
    log: Callable[[str], None] = print
    notes: list[str] = field(default_factory=list)

    def size(self, full: Any, quick: Any) -> Any:
        """``full`` normally, ``quick`` under --quick."""
        return quick if self.quick else full

    def settings(self, **overrides: Any) -> Any:
        """Default settings with the run's backend: benchmarks measure the
        embedded models on defaults, whatever the user's config says."""
        from ..config import Settings

        return Settings(backend=self.backend, **overrides)

    def note(self, message: str) -> None:
        """Something the reader of the table must know (a part skipped, a fallback)."""
        self.notes.append(message)
        self.log(f"note: {message}")


def resolved_backend(choice: str) -> str:
    """What runs the embedded generator on the CPU for ``choice``: the same
    rule as :func:`assistant.backends.load_llm` (the embedded model is GGUF)."""
    if choice == "transformers":
        return "transformers"
    from ..backends import llamacpp_problem

    return "transformers" if llamacpp_problem() else "llamacpp"


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ratio(top: float, bottom: float | None) -> float | None:
    """top / bottom, or None where it means nothing (a zero or missing bottom)."""
    if bottom is None or not math.isfinite(bottom) or bottom == 0 or not math.isfinite(top):
        return None
    return top / bottom


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def _registry(host: Any = None) -> dict[str, Callable[[BenchContext], list[Row]]]:
    """The core's benchmarks, then those plugins registered (``register_benchmarks``;
    the built-in FAISS plugin's ``search`` among them)."""
    from . import adapters, backends, indexing, spine, strategies, tui

    if host is None:
        from ..plugins import make_plugin_host

        host = make_plugin_host()
    core = {"help": spine.bench_help, "model_load": spine.bench_model_load, "ask": spine.bench_ask,
            "index": indexing.bench_index, "tui": tui.bench_tui,
            "self_consistency": strategies.bench_self_consistency, "adapters": adapters.bench_adapters,
            "backends": backends.bench_backends}
    plugged = {name: reg.obj for name, reg in host.registry.of("benchmark").items() if name not in core}
    return {**core, **plugged}


def benchmark_names(host: Any = None) -> list[str]:
    """Every benchmark ``--only`` accepts, in the order a full run takes them."""
    return list(_registry(host))


@dataclass
class RunResult:
    rows: list[Row]
    failed: dict[str, str]  # benchmark -> "ExceptionType: message"
    skipped: dict[str, str]  # benchmark -> reason


def run(names: list[str], ctx: BenchContext, host: Any = None) -> RunResult:
    """Run ``names`` in order. A benchmark that fails is logged with its
    traceback (a failure here is a bug) and the next one still runs."""
    registry = _registry(host)
    result = RunResult([], {}, {})
    for name in names:
        ctx.log(f"running {name}...")
        start = time.perf_counter()
        try:
            rows = registry[name](ctx)
        except Skip as exc:
            result.skipped[name] = str(exc)
            ctx.log(f"{name} skipped: {exc}")
            continue
        except Exception as exc:  # noqa: BLE001 -- report it, keep what the other benchmarks measure
            result.failed[name] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            ctx.log(f"{name} FAILED:\n{traceback.format_exc()}")
            continue
        wrong = [r.name for r in rows if r.bench != name]
        if wrong:  # a bug in the benchmark: its keys must start with its own name
            result.failed[name] = f"rows named outside the benchmark: {', '.join(wrong)}"
            ctx.log(f"{name} FAILED: {result.failed[name]}")
            continue
        result.rows.extend(rows)
        ctx.log(f"{name}: {len(rows)} figures in {time.perf_counter() - start:.1f} s")
    return result


def format_table(rows: list[Row]) -> str:
    width = max([34] + [len(r.metric or r.name) for r in rows])
    header = f"{'bench':<16} {'metric':<{width}} {'value':>12} {'baseline':>12}  {'ratio':>7}  goal"
    lines = [header, "-" * len(header)]
    for r in rows:
        base = f"{r.baseline:.3f}" if r.baseline is not None else ""
        ratio = f"{r.ratio:.2f}x" if r.ratio is not None else ""
        goal = f"{r.goal} {'met' if r.met else 'NOT met'}" if r.goal and r.met is not None else r.goal
        lines.append(f"{r.bench:<16} {r.metric or r.name:<{width}} {r.value:>9.3f} {r.unit:<2} {base:>12}  "
                     f"{ratio:>7}  {goal}")
    return "\n".join(lines)


def _number(value: float | None) -> float | None:
    """JSON has no NaN or infinity: a figure that could not be computed is null."""
    return value if value is not None and math.isfinite(value) else None


def row_json(row: Row) -> dict[str, Any]:
    return {"name": row.name, "value": _number(row.value), "unit": row.unit, "baseline": _number(row.baseline),
            "ratio": _number(row.ratio), "bench": row.bench, "metric": row.metric,
            "baseline_name": row.baseline_name, "goal": row.goal, "met": row.met}


def write_json(result: RunResult, path: Path, ctx: BenchContext, backend: str) -> None:
    from ..atomic import write_json as atomic_write

    atomic_write(path, {"schema": SCHEMA, "quick": ctx.quick, "repeat": ctx.repeat, "backend": backend,
                        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                                    "processor": platform.processor(), "cpus": os.cpu_count()},
                        "time": time.strftime("%Y-%m-%dT%H:%M:%S"), "rows": [row_json(r) for r in result.rows],
                        "notes": ctx.notes, "skipped": result.skipped, "failed": result.failed})
