"""Surface forms of a word, shared by both backends' word constraints
(torch-free, so the llama.cpp backend can use it without transformers)."""

from __future__ import annotations


def variants(word: str) -> list[str]:
    """Surface forms of a word a tokenizer may produce mid-text or at a start."""
    forms = {word, word.lower(), word.capitalize()}
    return sorted({prefix + form for form in forms for prefix in ("", " ")})
