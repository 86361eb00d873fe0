"""Loaders for formats beyond plain text, each using a kept library:

* PDF with pypdf, one page after another; ``page_offsets`` records where each
  page starts, so chunks cite their page;
* HTML with BeautifulSoup: the main text, without scripts, styles,
  navigation, headers, footers and forms;
* JSONL corpora in the BEIR layout (``_id``, ``title``, ``text`` per line;
  ``id`` is accepted for ``_id``): each record is chunked on its own, titled
  by its title and cited by its line in the file;
* reStructuredText and source code as text (they are text; chunking by
  blank lines keeps paragraphs and functions together).

A file that cannot be read raises ``ValueError`` with the reason.
"""

from __future__ import annotations

import json
from pathlib import Path

from assistant import LoadedDocument, Section

from .loaders import check_file, decode_text, load_text

CODE_SUFFIXES = (".py", ".js", ".ts", ".tsx", ".jsx", ".go", ".rs", ".java", ".kt", ".c", ".h", ".cc",
                 ".cpp", ".hpp", ".cs", ".rb", ".php", ".swift", ".scala", ".sh", ".sql", ".toml", ".yaml", ".yml")
NOISE_TAGS = ("script", "style", "noscript", "nav", "header", "footer", "aside", "form", "svg", "template")


def load_pdf(path: Path) -> LoadedDocument:
    check_file(path)
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            raise ValueError("encrypted PDF")
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, OSError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"corrupt or unreadable PDF ({type(exc).__name__}: {exc})") from None
    offsets, parts, position = [], [], 0
    for text in pages:
        offsets.append(position)
        text = text.strip() + "\n\n"
        parts.append(text)
        position += len(text)
    full = "".join(parts)
    if not full.strip():
        raise ValueError("no text layer (a scanned PDF needs OCR first)")
    return LoadedDocument(text=full, page_offsets=tuple(offsets))


def load_html(path: Path) -> LoadedDocument:
    check_file(path)
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(decode_text(path.read_bytes()), "html.parser")
    for tag in soup(NOISE_TAGS):
        tag.decompose()
    root = soup.find("main") or soup.find("article") or soup.body or soup
    blocks = []
    for element in root.find_all(["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "pre", "td", "blockquote"]):
        if element.find_parent(["p", "li", "pre", "td", "blockquote"]) is not None:
            continue  # nested: its text is already in its parent's block
        text = " ".join(element.get_text(" ").split())
        if text:
            level = element.name[1] if element.name.startswith("h") and len(element.name) == 2 else ""
            blocks.append(f"{'#' * int(level)} {text}" if level else text)
    text = "\n\n".join(blocks) if blocks else " ".join(root.get_text(" ").split())
    if not text.strip():
        raise ValueError("no text in the page")
    return LoadedDocument(text=text + "\n")


def load_code(path: Path) -> LoadedDocument:
    return load_text(path)


def load_jsonl(path: Path) -> LoadedDocument:
    check_file(path)
    sections = []
    for number, line in enumerate(decode_text(path.read_bytes()).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise ValueError(f"line {number} is not JSON ({exc})") from None
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            raise ValueError(f"line {number} has no \"text\" field (a JSONL corpus has _id, title, text per line)")
        text = record["text"].strip()
        if text:
            sections.append(Section(text=text, title=str(record.get("title") or "").strip(), line=number,
                                    id=str(record.get("_id", record.get("id", "")))))
    if not sections:
        raise ValueError("no records with text")
    return LoadedDocument(text="\n\n".join(s.text for s in sections), sections=tuple(sections))
