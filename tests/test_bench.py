"""`assistant bench --quick`: every benchmark runs for real (the embedded
models, llama.cpp where installed) at tiny sizes, and the JSON holds one row
per figure under a stable key that docs/benchmarks.md documents.

The bench runs in-process through click's CliRunner (its own subprocesses
still run: `--help` timing, fresh-process loads, the training worker).
Speed is never asserted here: it lives in the printed ratios.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from assistant.bench import benchmark_names

pytestmark = pytest.mark.real_model

REPO = Path(__file__).resolve().parents[1]
KEY = re.compile(r"[a-z0-9_]+(?:\.[a-z0-9_]+)+")
#: The benchmarks whose code path depends on the backend that runs the generator.
BACKEND_DEPENDENT = ("model_load", "ask", "self_consistency")


def documented_keys() -> set[str]:
    """Every `<benchmark>.<figure>` key written in docs/benchmarks.md."""
    names = set(benchmark_names())
    found = re.findall(r"`([a-z0-9_]+(?:\.[a-z0-9_]+)+)`", (REPO / "docs" / "benchmarks.md").read_text())
    return {key for key in found if key.split(".")[0] in names}


def llamacpp_or_skip() -> None:
    from assistant.backends import llamacpp_problem

    problem = llamacpp_problem()
    if problem:
        if os.environ.get("ASSISTANT_REQUIRE_LLAMACPP") == "1":
            pytest.fail(f"ASSISTANT_REQUIRE_LLAMACPP=1 but {problem}")
        pytest.skip(problem)


def quick_bench(tmp_path: Path, *options: str, backend: str | None = None) -> tuple[dict[str, Any], str]:
    """Run `assistant [--backend B] bench --quick OPTIONS` in-process; (the JSON, stdout)."""
    from assistant.cli import build_cli
    from assistant.cli.app import AppContext

    out = tmp_path / "bench.json"
    args = (["--backend", backend] if backend else []) + ["bench", "--quick", *options, "--json", str(out)]
    result = CliRunner().invoke(build_cli(), args, obj=AppContext(), catch_exceptions=False)
    assert result.exit_code == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return json.loads(out.read_text()), result.stdout


def check_rows(data: dict[str, Any], stdout: str) -> dict[str, dict[str, Any]]:
    """Every row well formed, finite, documented and printed; the rows by name."""
    rows = data["rows"]
    names = [row["name"] for row in rows]
    assert len(names) == len(set(names)), "a key appears twice"
    undocumented = set(names) - documented_keys()
    assert not undocumented, f"keys missing from docs/benchmarks.md: {sorted(undocumented)}"
    for row in rows:
        assert KEY.fullmatch(row["name"]) and row["name"].startswith(row["bench"] + "."), row
        assert isinstance(row["value"], (int, float)) and math.isfinite(row["value"]), row
        for field in ("baseline", "ratio"):
            assert row[field] is None or math.isfinite(row[field]), row
        assert (row["ratio"] is None) == (row["baseline"] is None), row  # a ratio needs its baseline
        assert isinstance(row["unit"], str) and row["met"] in (True, False, None), row
        assert row["metric"] in stdout, row
    assert data["quick"] is True and data["repeat"] == 1 and data["schema"] == 2
    assert data["failed"] == {} and data["skipped"] == {}
    return {row["name"]: row for row in rows}


def test_quick_bench_runs_every_benchmark_on_the_default_backend(tmp_path):
    data, stdout = quick_bench(tmp_path)
    rows = check_rows(data, stdout)
    assert sorted({row["bench"] for row in rows.values()}) == sorted(benchmark_names())
    from assistant.backends import llamacpp_problem

    if llamacpp_problem() is None:
        # the default is llama.cpp, and ask's baseline is raw llama-cpp-python on the same prompt
        assert data["backend"] == "llamacpp"
        assert rows["ask.decode_tokens_per_s"]["baseline_name"] == "raw llama-cpp-python"
        assert set(rows) == documented_keys()  # every documented figure was measured
    else:
        if os.environ.get("ASSISTANT_REQUIRE_LLAMACPP") == "1":
            pytest.fail(f"ASSISTANT_REQUIRE_LLAMACPP=1 but {llamacpp_problem()}")
        assert data["backend"] == "transformers"
        assert rows["ask.decode_tokens_per_s"]["baseline_name"] == "raw model.generate"
        assert not [key for key in rows if key.startswith("backends.llamacpp.")]
        assert any("llama.cpp rows were not run" in note for note in data["notes"])


def test_quick_bench_on_the_other_backend(tmp_path):
    """With llama.cpp the default, the benchmarks whose path differs run again on transformers."""
    llamacpp_or_skip()
    data, stdout = quick_bench(tmp_path, "--only", ",".join(BACKEND_DEPENDENT), backend="transformers")
    rows = check_rows(data, stdout)
    assert data["backend"] == "transformers"
    assert sorted({row["bench"] for row in rows.values()}) == sorted(BACKEND_DEPENDENT)
    assert rows["ask.decode_tokens_per_s"]["baseline_name"] == "raw model.generate"
    load = rows.get("model_load.cached_s") or rows["model_load.cold_s"]
    assert "(transformers)" in load["metric"]


def test_bench_help_teaches_quick_the_names_and_the_json():
    from assistant.cli import build_cli

    result = CliRunner().invoke(build_cli(), ["bench", "--help"])
    assert result.exit_code == 0
    text = result.stdout
    assert "--quick" in text and "not for comparison" in text
    assert all(re.search(rf"^\s+{name}\s", text, re.M) for name in benchmark_names()), text
    assert "bench-results/latest.json" in text and "docs/benchmarks.md" in text


def test_bench_rejects_unknown_names_and_bad_repeats(tmp_path):
    from assistant.cli import build_cli
    from assistant.cli.app import AppContext
    from assistant.errors import ConfigError

    runner = CliRunner()
    result = runner.invoke(build_cli(), ["bench", "--only", "ask,nonsense"], obj=AppContext())
    assert isinstance(result.exception, ConfigError) and "nonsense" in result.exception.message
    assert "available: help, model_load" in result.exception.hint
    result = runner.invoke(build_cli(), ["bench", "--repeat", "0"], obj=AppContext())
    assert result.exit_code == 2 and "--repeat" in result.stderr
