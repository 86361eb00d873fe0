"""Few-shot example banks: JSONL files of :class:`assistant.Example`.

One example a line: ``input`` and ``output`` (required), ``rationale`` (the
reasoning shown before the output, for chain-of-thought), ``id`` and
``tags``. The user's banks live in :func:`user_bank_dir` (``<data>/examples/``):
``assistant examples add`` and ``assistant feedback promote`` write there
with :func:`add_example`, and an example selector reads them with
:func:`read_bank`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .atomic import atomic_path
from .errors import CorpusError
from .paths import data_dir
from .types import Example


def user_bank_dir() -> Path:
    """Where the user's banks live: ``<data>/examples/`` (it may not exist yet)."""
    return data_dir() / "examples"


def read_bank(path: Path) -> list[Example]:
    """The examples of one bank file, in order; a line without an id gets ``<file stem>-<line>``.
    A malformed line raises :class:`assistant.CorpusError` naming the file and line."""
    examples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            examples.append(Example(input=str(row["input"]), output=str(row["output"]),
                                    rationale=row.get("rationale") or None,
                                    id=str(row.get("id") or f"{path.stem}-{number}"),
                                    tags=tuple(row.get("tags") or ())))
        except (ValueError, KeyError, TypeError) as exc:
            raise CorpusError(f"example bank {path}, line {number}: {exc}",
                              'each line needs {"input": ..., "output": ...}') from None
    return examples


def add_example(example: Example, bank: str = "added") -> Path:
    """Append an example to the user bank ``bank`` (rewritten atomically) and return its file;
    selectors see it from the next question on. An example without an id gets one from its input."""
    if not example.input.strip() or not example.output.strip():
        raise CorpusError("an example needs an input and an output", "give both --input and --output")
    path = user_bank_dir() / f"{bank}.jsonl"
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    if old and not old.endswith("\n"):
        old += "\n"
    row = {"id": example.id or hashlib.sha256(example.input.encode()).hexdigest()[:10], "input": example.input,
           "output": example.output, "rationale": example.rationale, "tags": list(example.tags)}
    with atomic_path(path) as tmp:
        tmp.write_text(old + json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
