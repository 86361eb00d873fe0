"""Splitting a document into chunks that fit the embedder.

Blocks are paragraphs (separated by blank lines), Markdown headings and
fenced code blocks; consecutive blocks under the same heading are packed
into a chunk until it reaches ``max_tokens`` embedder tokens. A block that is
too large on its own is split by lines, then by words. Every chunk records
its 1-based inclusive line span and its heading path ("Guide > Install").

all-MiniLM-L6-v2 truncates at 256 word pieces (its model card), so the
default target of 200 leaves room for the heading prefix that is embedded
with each chunk.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


@dataclass(frozen=True)
class Chunk:
    text: str
    start_line: int
    end_line: int
    heading: str
    page: int | None = None  # 1-based, for paged formats


@dataclass(frozen=True)
class _Block:
    lines: tuple[str, ...]
    start_line: int
    heading: str

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def _blocks(text: str, markdown: bool) -> list[_Block]:
    blocks: list[_Block] = []
    path: list[tuple[int, str]] = []
    current: list[str] = []
    start = 0
    in_fence = False

    def heading() -> str:
        return " > ".join(title for _, title in path)

    def flush() -> None:
        nonlocal current
        if current:
            blocks.append(_Block(tuple(current), start, heading()))
        current = []

    for number, line in enumerate(text.split("\n"), start=1):
        stripped = line.strip()
        if markdown and stripped.startswith(("```", "~~~")):
            if not in_fence:
                flush()
            in_fence = not in_fence
        if not in_fence and markdown and (match := HEADING.match(stripped)):
            flush()
            level = len(match.group(1))
            path[:] = [(lvl, t) for lvl, t in path if lvl < level] + [(level, match.group(2))]
            blocks.append(_Block((line,), number, heading()))
            continue
        if not in_fence and not stripped:
            flush()
            continue
        if not current:
            start = number
        current.append(line)
    flush()
    return blocks


def _split_large(block: _Block, count: Callable[[str], int], max_tokens: int) -> list[_Block]:
    pieces: list[_Block] = []
    lines: list[str] = []
    start = block.start_line
    for offset, line in enumerate(block.lines):
        if count(line) > max_tokens:  # one enormous line: split by words
            if lines:
                pieces.append(_Block(tuple(lines), start, block.heading))
                lines = []
            words = line.split()
            step = max(1, len(words) * max_tokens // max(count(line), 1))
            for i in range(0, len(words), step):
                pieces.append(_Block((" ".join(words[i:i + step]),), block.start_line + offset, block.heading))
            start = block.start_line + offset + 1
            continue
        if lines and count("\n".join(lines + [line])) > max_tokens:
            pieces.append(_Block(tuple(lines), start, block.heading))
            lines, start = [], block.start_line + offset
        lines.append(line)
    if lines:
        pieces.append(_Block(tuple(lines), start, block.heading))
    return pieces


def _is_heading(block: _Block, markdown: bool) -> bool:
    return markdown and len(block.lines) == 1 and bool(HEADING.match(block.lines[0].strip()))


def chunk_text(text: str, count_tokens: Callable[[str], int], max_tokens: int = 200,
               markdown: bool = False) -> list[Chunk]:
    """Chunks of at most ``max_tokens`` (as counted by ``count_tokens``)."""
    chunks: list[Chunk] = []
    group: list[_Block] = []
    size = 0

    def emit() -> None:
        nonlocal group, size
        if group:
            last = group[-1]
            chunks.append(Chunk("\n\n".join(b.text for b in group), group[0].start_line,
                                last.start_line + len(last.lines) - 1, last.heading))
        group, size = [], 0

    for block in _blocks(text, markdown):
        tokens = count_tokens(block.text)
        parts = [block] if tokens <= max_tokens else _split_large(block, count_tokens, max_tokens)
        for part in parts:
            part_tokens = tokens if part is block else count_tokens(part.text)
            only_headings = all(_is_heading(b, markdown) for b in group)
            new_section = _is_heading(part, markdown) or part.heading != group[-1].heading if group else False
            if group and not only_headings and (new_section or size + part_tokens > max_tokens):
                # a heading starts a new chunk and stays with the text under it
                emit()
            group.append(part)
            size += part_tokens
    emit()
    return chunks


def chunk_document(document: Any, count_tokens: Callable[[str], int], max_tokens: int = 200,
                   markdown: bool = False) -> list[Chunk]:
    """Chunk a loaded document; paged documents are chunked page by page, so
    no chunk spans two pages and each records its page (1-based) and its
    line span within the whole extracted text."""
    sections = getattr(document, "sections", ()) or ()
    if sections:  # records: each chunked alone, cited by its line in the file, titled by its title
        chunks = []
        for section in sections:
            for c in chunk_text(section.text, count_tokens, max_tokens, markdown):
                heading = " > ".join(h for h in (section.title, c.heading) if h)
                line = section.line if section.line is not None else c.start_line
                chunks.append(dataclasses.replace(c, heading=heading, start_line=line,
                                                  end_line=line if section.line is not None else c.end_line))
        return chunks
    offsets = list(getattr(document, "page_offsets", ()) or ())
    if not offsets:
        return chunk_text(document.text, count_tokens, max_tokens, markdown)
    text = document.text
    chunks: list[Chunk] = []
    for page, start in enumerate(offsets, start=1):
        end = offsets[page] if page < len(offsets) else len(text)
        first_line = text.count("\n", 0, start)  # lines before this page
        for c in chunk_text(text[start:end], count_tokens, max_tokens, markdown):
            chunks.append(dataclasses.replace(c, start_line=c.start_line + first_line,
                                              end_line=c.end_line + first_line, page=page))
    return chunks
