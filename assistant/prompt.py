"""Rendering the prompt anatomy (:class:`assistant.types.Prompt`) into chat
messages, in one place, so every strategy and backend sees the same layout:

* system: instructions, context, output format;
* few-shot examples as earlier user/assistant turns (rationale before output);
* the conversation so far;
* user: the numbered passages, then the question.

Passages are numbered from 1 in the order given; citations refer to those
numbers (``[1]``).
"""

from __future__ import annotations

from .types import Example, Message, Passage, Prompt


def render_passage(number: int, passage: Passage) -> str:
    where = passage.location
    if passage.heading:
        where += f" ({passage.heading})"
    return f"[{number}] {where}\n{passage.text.strip()}"


def render_example_output(example: Example) -> str:
    if example.rationale:
        return f"{example.rationale.strip()}\n{example.output.strip()}"
    return example.output.strip()


def user_message(prompt: Prompt) -> str:
    if not prompt.passages:
        return prompt.input
    blocks = [render_passage(i, p) for i, p in enumerate(prompt.passages, start=1)]
    return "Passages:\n\n" + "\n\n".join(blocks) + f"\n\nQuestion: {prompt.input}"


def to_messages(prompt: Prompt) -> list[Message]:
    system_parts = [part.strip() for part in (prompt.instructions, prompt.context, prompt.output_format) if part.strip()]
    if prompt.metadata:
        system_parts.append("\n".join(f"{k.capitalize()}: {v}" for k, v in prompt.metadata.items()))
    messages: list[Message] = []
    if system_parts:
        messages.append(Message("system", "\n\n".join(system_parts)))
    for example in prompt.examples:
        messages.append(Message("user", example.input.strip()))
        messages.append(Message("assistant", render_example_output(example)))
    messages.extend(prompt.history)
    messages.append(Message("user", user_message(prompt)))
    return messages


def as_prompt(value: "Prompt | str") -> Prompt:
    """Strategies may pass plain strings; they become a bare user turn."""
    return value if isinstance(value, Prompt) else Prompt(input=str(value))
