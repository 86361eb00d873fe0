"""Fitting a prompt into the model's context window.

When instructions + examples + passages + history + question exceed the
window (minus the tokens reserved for the answer), material is removed in
this order, least important first: the lowest-ranked example, then the
lowest-ranked passage, then the oldest history turn, then the free-text
context is trimmed. The question itself is never cut: if it alone does not
fit, :class:`PromptTooLongError` says by how much. Every removal is reported
as a notice that ends up in the answer's trace.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from .errors import PromptTooLongError
from .types import Prompt


def fit_prompt(prompt: Prompt, count_tokens: Callable[[Prompt], int], limit: int) -> tuple[Prompt, list[str]]:
    """Return a prompt of at most ``limit`` tokens and notices of what was cut."""
    notices: list[str] = []
    size = count_tokens(prompt)
    if size <= limit:
        return prompt, notices
    original = size

    while size > limit and prompt.examples:
        dropped = prompt.examples[-1]
        prompt = dataclasses.replace(prompt, examples=prompt.examples[:-1])
        size = count_tokens(prompt)
        notices.append(f"dropped example {dropped.id or dropped.input[:30]!r} to fit the context window")
    while size > limit and prompt.passages:
        dropped_p = prompt.passages[-1]
        prompt = dataclasses.replace(prompt, passages=prompt.passages[:-1])
        size = count_tokens(prompt)
        notices.append(f"dropped passage {dropped_p.location} to fit the context window")
    while size > limit and prompt.history:
        prompt = dataclasses.replace(prompt, history=prompt.history[1:])
        size = count_tokens(prompt)
        notices.append("dropped the oldest conversation turn to fit the context window")
    if size > limit and prompt.context:
        words = prompt.context.split()
        while size > limit and words:
            words = words[: len(words) // 2]
            prompt = dataclasses.replace(prompt, context=" ".join(words))
            size = count_tokens(prompt)
        notices.append(f"trimmed the context to {len(words)} words to fit the context window")
    if size > limit:
        raise PromptTooLongError(
            f"the question is too long for the model: the prompt needs {size} tokens but only {limit} fit "
            f"(context window minus the answer's max_new_tokens)",
            "shorten the question, lower --max-new-tokens, or use a model with a longer context",
        )
    if notices:
        notices.append(f"prompt cut from {original} to {size} tokens (limit {limit})")
    return prompt, notices
