"""Instruction templates: how a JSONL record becomes a (prompt, response) pair.

Built in: ``qa`` (question answering with a context), ``summarize``,
``classify``, ``extract``, and ``instruction`` (the example-bank shape:
``input``/``output``). Your own: a JSON file with ``prompt`` and
``response`` format strings (and optional ``system``) naming record fields
in braces, passed as ``--template path/to/file.json`` or saved as
``<data>/templates/NAME.json`` and used as ``--template NAME``::

    {"prompt": "Rewrite politely:\\n{text}", "response": "{polite}"}
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant import DEFAULT_INSTRUCTIONS, ConfigError, Passage, Prompt, data_dir


@dataclass(frozen=True)
class Template:
    name: str
    prompt: str
    response: str
    system: str = ""
    description: str = ""
    engine_prompt: bool = False  # render like a chat turn (instructions, numbered passage, question)

    @property
    def fields(self) -> list[str]:
        names = []
        for text in (self.prompt, self.response, self.system):
            names += [f for _, f, _, _ in string.Formatter().parse(text) if f]
        return sorted(set(names))

    def apply(self, record: dict[str, Any]) -> tuple[Prompt, str]:
        """The prompt and the response for one record; ``KeyError`` names a missing field.

        The ``qa`` template renders exactly as the engine renders a turn
        (default instructions, the context as passage [1], the question),
        so an adapter trained on it fits ``assistant ask`` and the chat."""
        values = {k: _text(v) for k, v in record.items()}
        response = self.response.format(**values)
        if self.engine_prompt:
            passage = Passage(id="context", text=values["context"], source=values.get("source", "context"))
            return Prompt(input=values["question"], instructions=DEFAULT_INSTRUCTIONS, passages=(passage,)), response
        return Prompt(input=self.prompt.format(**values), instructions=self.system.format(**values)), response


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


BUILTIN = {
    t.name: t for t in (
        Template("qa", "Answer the question using the context.\n\nContext:\n{context}\n\nQuestion: {question}",
                 "{answer}", description="question answering with a context (question, context, answer)",
                 engine_prompt=True),
        Template("summarize", "Summarize the following text in a few sentences.\n\n{text}", "{summary}",
                 description="summarisation (text, summary)"),
        Template("classify", "Classify the text as one of: {labels}.\n\nText: {text}\n\nLabel:", "{label}",
                 description="classification (text, labels, label)"),
        Template("extract", "{instruction}\n\nText:\n{text}", "{output}",
                 description="extraction (instruction, text, output)"),
        Template("instruction", "{input}", "{output}",
                 description="plain instructions, the example-bank shape (input, output)"),
    )
}


def user_templates_dir() -> Path:
    return data_dir() / "templates"


def load_template(spec: str) -> Template:
    """A built-in name, a name under ``<data>/templates``, or a JSON file path."""
    if spec in BUILTIN:
        return BUILTIN[spec]
    path = Path(spec).expanduser()
    if path.suffix != ".json":
        path = user_templates_dir() / f"{spec}.json"
    if not path.is_file():
        raise ConfigError(f"unknown template {spec!r}",
                          f"use one of {', '.join(BUILTIN)}, a JSON file, or save one as {user_templates_dir()}/NAME.json")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        template = Template(path.stem, data["prompt"], data["response"], data.get("system", ""),
                            data.get("description", str(path)))
        template.fields  # noqa: B018 - parse now so a bad brace fails here
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"template file {path} is not valid: {exc}",
                          'write {"prompt": "...{field}...", "response": "{field}"}') from None
    return template


def all_templates() -> list[Template]:
    found = list(BUILTIN.values())
    folder = user_templates_dir()
    if folder.is_dir():
        for path in sorted(folder.glob("*.json")):
            try:
                found.append(load_template(str(path)))
            except ConfigError:
                continue
    return found
