"""The forgetting check: ``assistant eval adapters``.

Fine-tuning on one task can cost ability elsewhere ("catastrophic
forgetting", McCloskey and Cohen 1989; measured for LLM fine-tuning by Luo
et al. 2023, arXiv:2308.08747). The table puts the base model and each
adapter (rows) against tasks (columns):

* ``own``: one column per adapter, its own held-out validation records
  (recorded at training time), scored by the mean cross-entropy per
  response token (lower is better): the diagonal shows what training bought,
  the rest of each row what it did to the other adapters' tasks;
* ``qa=FILE``: a held-out question-answering set (``query``/``passage``/
  ``answer`` or ``question``/``context``/``answer`` JSONL, e.g.
  ../shared/data/qa/squad_train_sample500.jsonl), same loss;
* ``svamp=FILE`` (or ``gsm8k=FILE``): zero-shot accuracy on the first
  ``--limit`` math word problems, greedy.

Every number comes from the same loaded base model with adapters switched
in and out (``assistant.adapter_runtime``), so the rows differ only by adapter.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant import ConfigError, Prompt
from assistant.adapters import AdapterRegistry, data_fingerprint

from .templates import BUILTIN, load_template
from .training import read_jsonl


@dataclass(frozen=True)
class Task:
    name: str  # column title
    kind: str  # loss | accuracy
    items: tuple[Any, ...]  # (Prompt, response) pairs, or strategy problems
    note: str = ""


@dataclass
class Table:
    tasks: list[Task]
    rows: dict[str, dict[str, float]] = field(default_factory=dict)  # model -> task -> value
    notes: list[str] = field(default_factory=list)


def own_task(registry: AdapterRegistry, name: str, limit: int) -> Task:
    info = registry.get(name)
    data = info.config.get("data")
    held_out = info.config.get("validation_records")
    if not data or held_out is None or not Path(data).is_file():
        raise ConfigError(f"adapter {name!r} does not record its validation data (or {data} is gone)",
                          "use qa=FILE or svamp=FILE tasks for it, or train it again")
    note = "" if data_fingerprint(data) == info.data_fingerprint else f"{data} changed since {name} was trained"
    template = load_template(info.config.get("template", "instruction"))
    records = read_jsonl(data)
    items = []
    for index in held_out[:limit]:
        try:
            items.append(template.apply(records[index]))
        except (KeyError, IndexError):
            continue
    return Task(f"{name} data", "loss", tuple(items), note)


def qa_task(path: Path, limit: int) -> Task:
    records = read_jsonl(path)
    template = BUILTIN["qa"]
    items = []
    for record in records[:limit]:
        row = {"question": record.get("question", record.get("query")),
               "context": record.get("context", record.get("passage")), "answer": record.get("answer")}
        if all(isinstance(v, str) and v.strip() for v in row.values()):
            items.append(template.apply(row))
    if not items:
        raise ConfigError(f"{path} has no question/context/answer (or query/passage/answer) records",
                          "give a QA JSONL file, e.g. ../shared/data/qa/squad_train_sample500.jsonl")
    return Task(f"qa:{Path(path).stem}", "loss", tuple(items))


def math_task(path: Path, limit: int) -> Task:
    from assistant.evaluation.strategies import load_problems

    return Task(f"{Path(path).stem} acc", "accuracy", tuple(load_problems(path)[:limit]))


def parse_tasks(spec: str, adapters: list[str], registry: AdapterRegistry, limit: int, math_limit: int) -> list[Task]:
    tasks: list[Task] = []
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        key, _, value = part.partition("=")
        if key == "own":
            tasks += [own_task(registry, a, limit) for a in adapters]
        elif key == "qa" and value:
            tasks.append(qa_task(Path(value), limit))
        elif key in ("svamp", "gsm8k", "math") and value:
            tasks.append(math_task(Path(value), math_limit))
        else:
            raise ConfigError(f"unknown task {part!r}",
                              "use own, qa=FILE (question answering) or svamp=FILE / gsm8k=FILE (math)")
    if not tasks:
        raise ConfigError("no tasks given", "e.g. --tasks own,qa=../shared/data/qa/squad_train_sample500.jsonl")
    return tasks


def response_loss(llm: Any, items: tuple[tuple[Prompt, str], ...]) -> float:
    """Mean cross-entropy per response token (nats) under ``llm`` (an adapter view)."""
    total, tokens = 0.0, 0
    for prompt, response in items:
        total -= llm.score(prompt, response)
        tokens += len(llm.tokenizer(response, add_special_tokens=False)["input_ids"])
    return total / max(tokens, 1)


def math_accuracy(llm: Any, problems: tuple[Any, ...], max_new_tokens: int) -> float:
    from assistant import Decoding
    from assistant.answers import extract
    from assistant.evaluation.strategies import INSTRUCTIONS, is_correct

    decoding = Decoding(max_new_tokens=max_new_tokens)
    correct = 0
    for start in range(0, len(problems), 8):  # batched: 8 problems per generate
        batch = problems[start:start + 8]
        prompts = [Prompt(input=p.question, instructions=INSTRUCTIONS) for p in batch]
        for problem, group in zip(batch, llm.generate(prompts, decoding=decoding, label="math")):
            correct += is_correct(extract(group[0].text, "number"), problem.answer)
    return correct / max(len(problems), 1)


def evaluate(llm: Any, adapters: list[str], tasks: list[Task], max_new_tokens: int = 128,
             on_cell: Callable[[str, str, float], None] | None = None) -> Table:
    """Every model (base first, then each adapter) on every task."""
    table = Table(tasks, notes=[t.note for t in tasks if t.note])
    for model in ["base", *adapters]:
        view = llm.with_adapter("" if model == "base" else model)
        row = table.rows.setdefault(model, {})
        for task in tasks:
            if task.kind == "loss":
                value = response_loss(view, task.items)
            else:
                value = math_accuracy(view, task.items, max_new_tokens)
            row[task.name] = value
            if on_cell:
                on_cell(model, task.name, value)
    return table


def render(table: Table) -> str:
    names = [t.name for t in table.tasks]
    width = max(12, *(len(n) for n in names))
    lines = [f"{'model':<16}" + "".join(f"{n:>{width + 2}}" for n in names)]
    kinds = {t.name: t.kind for t in table.tasks}
    lines.append(f"{'':<16}" + "".join(f"{'loss, lower better' if kinds[n] == 'loss' else 'accuracy':>{width + 2}}"
                                       for n in names))
    base = table.rows.get("base", {})
    for model, row in table.rows.items():
        cells = []
        for n in names:
            value = row[n]
            text = f"{value:.3f}" if kinds[n] == "loss" else f"{100 * value:.1f} %"
            if model != "base" and n in base and not math.isnan(value):
                delta = value - base[n]
                text += f" ({delta:+.3f})" if kinds[n] == "loss" else f" ({100 * delta:+.1f})"
            cells.append(f"{text:>{width + 2}}")
        lines.append(f"{model:<16}" + "".join(cells))
    return "\n".join(lines)
