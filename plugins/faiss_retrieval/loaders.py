"""Loaders for plain text and Markdown: read bytes, detect the encoding,
refuse what is not text with a reason (a ``ValueError`` the indexer reports
next to the file's name)."""

from __future__ import annotations

from pathlib import Path

from assistant import LoadedDocument

MAX_BYTES = 20 * 1024 * 1024


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM) first; otherwise let charset-normalizer
    detect the encoding, refusing bytes that look like no text at all."""
    if b"\x00" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ValueError("looks binary (contains NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data))
    if not matches:
        raise ValueError("not valid UTF-8 and no text encoding fits")
    best = matches[0]
    # Short Western texts fit several 8-bit code pages equally well; the
    # detector then picks among ties arbitrarily (cp1250 for French, say).
    # Prefer cp1252, the common legacy encoding, when it scores as well.
    for match in matches:
        if ("cp1252" in match.could_be_from_charset and match.chaos <= best.chaos
                and match.coherence >= best.coherence - 0.05):
            return str(match)
    return str(best)


def check_file(path: Path) -> None:
    """Refuse what no loader should open: special files and files over the size limit."""
    if not path.is_file():
        raise ValueError("not a regular file")
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise ValueError(f"too large ({size / 2**20:.0f} MB; the limit is {MAX_BYTES // 2**20} MB)")


def load_text(path: Path) -> LoadedDocument:
    check_file(path)
    text = decode_text(path.read_bytes())
    if not text.strip():
        raise ValueError("empty file")
    return LoadedDocument(text=text.replace("\r\n", "\n").replace("\r", "\n"))
