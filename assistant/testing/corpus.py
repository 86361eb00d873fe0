"""A tiny corpus for retrieval tests: three short documents, one fact each."""

from __future__ import annotations

from pathlib import Path

TINY_CORPUS = {
    "owls.md": "# Owls\n\nBarn owls hunt at night and swallow their prey whole.\n",
    "tea.txt": "Green tea is steeped at about 80 degrees Celsius for two minutes.\n",
    "bridges/golden-gate.md": "# The Golden Gate Bridge\n\n## Colour\n\nIts colour is called International Orange.\n",
}


def write_tiny_corpus(folder: Path) -> Path:
    """Write :data:`TINY_CORPUS` under ``folder`` and return it."""
    folder = Path(folder)
    for rel, text in TINY_CORPUS.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder
