"""Loaders for plain text and Markdown: read bytes, detect the encoding,
refuse binary files with a reason (a ``ValueError`` the indexer reports)."""

from __future__ import annotations

from pathlib import Path

from assistant import LoadedDocument

MAX_BYTES = 20 * 1024 * 1024


def decode_text(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise ValueError("looks binary (contains NUL bytes)")
    for encoding in ("utf-8-sig", "utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ("utf-8-sig",):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            pass
    try:
        # Legacy 8-bit files: cp1252 covers Western text; it fails on a few bytes.
        return data.decode("cp1252")
    except UnicodeDecodeError:
        raise ValueError("not valid UTF-8 and not a known 8-bit encoding") from None


def load_text(path: Path) -> LoadedDocument:
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise ValueError(f"too large ({size // (1024 * 1024)} MB > {MAX_BYTES // (1024 * 1024)} MB)")
    text = decode_text(path.read_bytes())
    if not text.strip():
        raise ValueError("empty file")
    return LoadedDocument(text=text.replace("\r\n", "\n").replace("\r", "\n"))
