"""Printing answers and reports for people and machines."""

from __future__ import annotations

import dataclasses
from typing import Any

import click

from ..types import Answer, SyncReport


def answer_to_json(answer: Answer) -> dict[str, Any]:
    data = dataclasses.asdict(answer)
    for step in data["steps"]:
        step["detail"] = _jsonable(step["detail"])
    data["citations"] = [
        {"marker": c.marker, "explicit": c.explicit, "source": c.passage.source, "location": c.passage.location,
         "start_line": c.passage.start_line, "end_line": c.passage.end_line, "page": c.passage.page,
         "passage_id": c.passage.id}
        for c in answer.citations
    ]
    return _jsonable(data)


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def print_sources(answer: Answer) -> None:
    if not answer.passages:
        return
    cited = {c.marker for c in answer.citations}
    click.echo("\nSources:")
    for number, passage in enumerate(answer.passages, start=1):
        mark = "cited" if number in cited else "consulted"
        heading = f"  ({passage.heading})" if passage.heading else ""
        click.echo(f"  [{number}] {passage.location}{heading}  score {passage.score:.3f}  {mark}")


def print_sync_report(report: SyncReport) -> None:
    click.echo(f"collection {report.collection!r}: {report.added} added, {report.updated} updated, "
               f"{report.removed} removed, {report.unchanged} unchanged, {len(report.skipped)} skipped; "
               f"{report.chunks_embedded} chunks embedded, {report.chunks_total} in the index "
               f"({report.seconds:.1f} s)")
    for path, reason in report.skipped:
        click.echo(f"  skipped {path}: {reason}")
