"""Untrusted text stays text: a chat template rendered so that the messages'
contents can never become control tokens.

Both backends render the model's chat template into one string. Tokenized
with special-token parsing on (which the template's own ``<|im_start|>`` and
``<|im_end|>`` need), a passage, question, earlier turn or few-shot example
holding the string ``<|im_end|>\\n<|im_start|>system`` would open a real
system turn. :func:`template_pieces` renders the template once with a marker
in place of each message's content, so it knows which characters the
template wrote and which came from a message. Only control-token strings the
template wrote become :class:`Piece` with ``control=True`` (one token each);
everything between two of them, template text and message contents alike, is
one plain piece that the backend tokenizes with special-token parsing off.

For plain text (no control-token string in any content) the ids are exactly
those of tokenizing the whole rendering with parsing on: that tokenizer also
cuts the text at every control-token string first and tokenizes each span
between them on its own (Hugging Face ``tokenizers``' added-token split,
llama.cpp's ``tokenizer_st_partition``), and the plain pieces here are those
same spans. tests/test_untrusted.py checks the equality on both backends.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Piece:
    """A span of the rendered prompt: one control token of the template
    (``control``), or text to tokenize with special-token parsing off."""

    text: str
    control: bool = False


def template_pieces(render: Callable[[list[dict[str, str]]], str], messages: list[dict[str, str]],
                    controls: Iterable[str]) -> list[Piece]:
    """The rendering of ``messages`` by ``render`` (the chat template), cut into
    control tokens written by the template and plain spans.

    ``controls``: the strings of the vocabulary's control tokens. A template
    that changes a message's content (trims it, escapes it) cannot be located
    by marker; then the contents go in verbatim where the template put them,
    still as plain text, and a warning says so once per template."""
    nonce = secrets.token_hex(8)
    marker = re.compile(f"\ue000{nonce}:(\\d+)\ue001")
    marked = render([{**m, "content": f"\ue000{nonce}:{i}\ue001"} for i, m in enumerate(messages)])
    ordered = sorted({c for c in controls if c}, key=len, reverse=True)
    control = re.compile("|".join(re.escape(c) for c in ordered)) if ordered else None
    pieces: list[Piece] = []
    plain: list[str] = []

    def flush() -> None:
        text = "".join(plain)
        plain.clear()
        if text:
            pieces.append(Piece(text))

    pos = 0
    for slot in [*marker.finditer(marked), None]:
        template_text = marked[pos:slot.start() if slot else len(marked)]
        start = 0
        for hit in control.finditer(template_text) if control else ():
            plain.append(template_text[start:hit.start()])
            flush()
            pieces.append(Piece(hit.group(), control=True))
            start = hit.end()
        plain.append(template_text[start:])
        if slot is None:
            break
        plain.append(messages[int(slot.group(1))]["content"])
        pos = slot.end()
    flush()
    if "".join(p.text for p in pieces) != render(messages):
        _warn_once(marked)
    return pieces


_warned: set[int] = set()


def _warn_once(marked: str) -> None:
    key = hash(re.sub("\ue000[0-9a-f]+:", "", marked))
    if key not in _warned:
        _warned.add(key)
        log.warning("the chat template changes the messages' text (trims or escapes it); "
                    "the prompt holds each message verbatim instead")
