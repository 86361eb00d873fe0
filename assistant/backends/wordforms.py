"""Surface forms of a word, shared by both backends' word constraints
(torch-free, so the llama.cpp backend can use it without transformers)."""

from __future__ import annotations

from collections.abc import Callable, Sequence


def variants(word: str) -> list[str]:
    """Surface forms of a word a tokenizer may produce mid-text or at a start."""
    forms = {word, word.lower(), word.capitalize()}
    return sorted({prefix + form for form in forms for prefix in ("", " ")})


def banned_sequences(words: Sequence[str], tokenize: Callable[[str], list[int]]) -> list[list[int]]:
    """Every tokenisation of every surface form of ``words``, each once: the
    token sequences a backend must never complete."""
    banned: list[list[int]] = []
    for word in words:
        for form in variants(word.strip()):
            tokens = tokenize(form)
            if tokens and tokens not in banned:
                banned.append(tokens)
    return banned
