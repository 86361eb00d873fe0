"""The FAISS retrieval plugin: chunking, incremental sync, search, safety."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assistant import CorpusError, IndexCorruptError, Settings
from assistant.engine import Engine
from assistant.ingestion.chunking import chunk_text

from .conftest import SAMPLE

MD = """# Title

Intro paragraph
on two lines.

## Part A

Alpha text.

```
code block

with a blank line
```

## Part B

Beta text.
"""


def test_chunks_follow_headings_and_record_exact_line_spans():
    chunks = chunk_text(MD, lambda s: len(s.split()), max_tokens=50, markdown=True)
    lines = MD.split("\n")
    assert [c.heading for c in chunks] == ["Title", "Title > Part A", "Title > Part B"]
    for c in chunks:
        span = "\n".join(lines[c.start_line - 1 : c.end_line])
        assert all(part in span for part in c.text.split("\n\n")), (c, span)
    assert "with a blank line" in chunks[1].text  # fenced code is not split at its blank line


def test_oversized_paragraphs_are_split_to_fit():
    text = "\n".join(f"line {i} " + "word " * 20 for i in range(30))
    chunks = chunk_text(text, lambda s: len(s.split()), max_tokens=60)
    assert len(chunks) > 5
    assert all(len(c.text.split()) <= 60 for c in chunks)
    assert chunks[0].start_line == 1 and chunks[-1].end_line == 30


def apples(tmp_path: Path) -> Path:
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.md").write_text("# A\n\nApples are red.\n")
    return corpus


@pytest.fixture
def engine(home):
    return Engine(Settings(device="cpu"))


@pytest.mark.real_model
def test_incremental_sync_embeds_only_what_changed(engine, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(SAMPLE, corpus)
    first = engine.index(corpus)
    n_files = len(list(SAMPLE.iterdir()))
    assert (first.added, first.updated, first.removed) == (n_files, 0, 0)
    assert first.chunks_embedded == first.chunks_total > n_files

    again = engine.index(corpus)
    assert (again.added, again.updated, again.removed, again.unchanged) == (0, 0, 0, n_files)
    assert again.chunks_embedded == 0

    (corpus / "privacy.txt").write_text((corpus / "privacy.txt").read_text() + "\nA new closing line.\n")
    (corpus / "glossary.md").unlink()
    (corpus / "extra.md").write_text("# Extra\n\nThe secret word is marmalade.\n")
    (corpus / "models.md").touch()  # new mtime, same content: not re-embedded
    changed = engine.index(corpus)
    assert (changed.added, changed.updated, changed.removed, changed.unchanged) == (1, 1, 1, n_files - 2)
    assert changed.chunks_embedded < 6

    hits = engine.retriever().search("What is the secret word?", 3)
    assert hits[0].source == "extra.md" and hits[0].start_line == 1
    assert not any(p.source == "glossary.md" for p in engine.retriever().search("glossary FAISS embedding", 10))


@pytest.mark.real_model
def test_search_returns_cited_locations(engine):
    engine.index(SAMPLE)
    hits = engine.retriever().search("Which environment variable is an allow-list of plugins?", 4)
    top = hits[0]
    assert top.source == "plugins.md" and "ASSISTANT_PLUGINS" in top.text
    lines = (SAMPLE / "plugins.md").read_text().split("\n")[top.start_line - 1 : top.end_line]
    assert "ASSISTANT_PLUGINS" in "\n".join(lines)
    assert top.heading == "Writing a plugin > Controlling what loads"
    assert hits[0].score >= hits[-1].score


def test_missing_and_empty_folders_are_clear_errors(engine, tmp_path):
    with pytest.raises(CorpusError, match="does not exist"):
        engine.index(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="no indexable files"):
        engine.index(tmp_path / "empty")


@pytest.mark.real_model
def test_unreadable_files_are_skipped_with_reasons(engine, tmp_path):
    corpus = tmp_path / "mixed"
    corpus.mkdir()
    (corpus / "good.md").write_text("# Good\n\nReal text about owls.\n")
    (corpus / "empty.txt").write_text("   \n")
    (corpus / "binary.txt").write_bytes(b"\x00\x01\x02binary")
    (corpus / "dangling.md").symlink_to(corpus / "missing-target.md")
    report = engine.index(corpus)
    reasons = dict(report.skipped)
    assert report.added == 1
    assert reasons["empty.txt"] == "empty file"
    assert "binary" in reasons["binary.txt"]
    assert "broken symbolic link" in reasons["dangling.md"]


def test_only_unreadable_files_is_an_error_listing_reasons(engine, tmp_path):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "empty.md").write_text("")
    with pytest.raises(CorpusError, match="empty.md: empty file"):
        engine.index(tmp_path / "bad")


def test_asking_before_indexing_says_what_to_do(engine):
    with pytest.raises(CorpusError, match="has not been indexed yet") as err:
        engine.retriever().search("anything", 3)
    assert "assistant index PATH" in err.value.hint


@pytest.mark.real_model
def test_crash_during_save_keeps_the_previous_index(engine, tmp_path, monkeypatch):
    corpus = apples(tmp_path)
    engine.index(corpus)
    (corpus / "b.md").write_text("# B\n\nBananas are yellow.\n")
    from assistant_plugins.faiss_retrieval import store

    def crash(*args, **kwargs):
        raise OSError("disk full (simulated)")

    with monkeypatch.context() as patch:
        patch.setattr(store, "write_json", crash)  # dies just before the commit point
        with pytest.raises(OSError, match="simulated"):
            engine.index(corpus)
    fresh = Engine(Settings(device="cpu"))
    hits = fresh.retriever().search("bananas", 5)
    assert {h.source for h in hits} == {"a.md"}  # the old generation, intact
    assert fresh.index(corpus).added == 1  # and the next sync recovers


@pytest.mark.real_model
def test_corrupt_index_and_embedder_mismatch_are_clear_errors(engine, tmp_path, home):
    corpus = apples(tmp_path)
    engine.index(corpus)
    folder = Path(home) / "collections" / "default"
    files = sorted(p.name for p in folder.iterdir())
    assert files == ["docstore-1.sqlite", "index-1.faiss", "manifest.json"]  # no pickle, nothing else
    (folder / "index-1.faiss").write_bytes(b"garbage")
    with pytest.raises(IndexCorruptError, match="missing or corrupt") as err:
        Engine(Settings(device="cpu")).retriever().search("apples", 1)
    assert "--rebuild" in err.value.hint
    assert Engine(Settings(device="cpu")).index(corpus, rebuild=True).added == 1
    other = Engine(Settings(device="cpu", embedder=str(tmp_path)))
    with pytest.raises(IndexCorruptError, match="was built with embedder"):
        other.retriever().search("apples", 1)


@pytest.mark.real_model
def test_hostile_corpus_finishes_and_reports_each_skipped_file(engine, tmp_path):
    import os

    corpus = tmp_path / "hostile"
    (corpus / "sub").mkdir(parents=True)
    (corpus / "good.md").write_text("# Good\n\nKingfishers dive for fish.\n")
    (corpus / "latin1.txt").write_bytes("Café crème brûlée, à la française, s'il vous plaît.\n".encode("cp1252"))
    (corpus / "binary.txt").write_bytes(bytes(range(256)) * 4)
    (corpus / "empty.md").write_text("")
    with open(corpus / "huge.txt", "wb") as fh:  # 50 MB, sparse
        fh.truncate(50 * 2**20)
    (corpus / "sub" / "loop").symlink_to(corpus, target_is_directory=True)  # a symlink loop
    (corpus / "dangling.md").symlink_to(corpus / "nowhere.md")
    os.mkfifo(corpus / "pipe.txt")  # would block forever if opened
    report = engine.index(corpus)
    reasons = dict(report.skipped)
    assert report.added == 2  # good.md and the cp1252 file
    assert reasons == {
        "binary.txt": "looks binary (contains NUL bytes)",
        "empty.md": "empty file",
        "huge.txt": "too large (50 MB; the limit is 20 MB)",
        "dangling.md": "broken symbolic link",
        "pipe.txt": "not a regular file",
    }
    hit = engine.retriever().search("French dessert", 1)[0]
    assert hit.source == "latin1.txt" and "brûlée" in hit.text  # decoded, not mojibake


@pytest.mark.real_model
def test_modes_bm25_and_hybrid_follow_incremental_sync(engine, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(SAMPLE, corpus)
    engine.index(corpus)
    retriever = engine.retriever()
    exact = retriever.search("ASSISTANT_TRACE_HOOKS", 3, mode="bm25")
    assert exact[0].source == "plugins.md" and exact[0].retriever == "faiss/bm25" and exact[0].score > 0
    hybrid = retriever.search("Which variable prints every hook call?", 3)
    assert hybrid[0].source == "plugins.md" and hybrid[0].retriever == "faiss/hybrid"
    assert [p.score for p in hybrid] == sorted((p.score for p in hybrid), reverse=True)
    (corpus / "plugins.md").unlink()
    (corpus / "zebra.md").write_text("# Zebras\n\nA zebra's stripes are unique, like fingerprints.\n")
    engine.index(corpus)
    assert not [p for p in retriever.search("ASSISTANT_TRACE_HOOKS", 5, mode="bm25") if p.source == "plugins.md"]
    assert retriever.search("stripes fingerprints", 1, mode="bm25")[0].source == "zebra.md"
    with pytest.raises(CorpusError, match="unknown retrieval mode"):
        retriever.search("x", 1, mode="fuzzy")


def test_collection_of_an_older_format_asks_for_a_rebuild(engine, home):
    import json as json_module

    folder = Path(home) / "collections" / "old"
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json_module.dumps({"format_version": 1, "name": "old"}))
    with pytest.raises(IndexCorruptError, match="written in format 1") as err:
        engine.retriever("old").search("x", 1)
    assert "--rebuild" in err.value.hint


@pytest.mark.real_model
def test_pdf_html_rst_and_code_are_indexed_with_pages_and_headings(engine, tmp_path):
    from .pdf_fixture import write_pdf

    docs = tmp_path / "docs"
    docs.mkdir()
    write_pdf(docs / "manual.pdf", [["Owls hunt at night.", "They fly silently."],
                                    ["The secret code is marmalade.", "Keep it safe."]])
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 8)
    (docs / "page.html").write_text(
        "<html><head><title>T</title><script>var tracking = 1;</script></head><body>"
        "<nav>Home | About | Contact</nav><main><h1>Lighthouses</h1><h2>Keepers</h2>"
        "<p>Lighthouse keepers trimmed the <b>wicks</b> every evening.</p></main>"
        "<footer>Copyright cookie banner</footer></body></html>")
    (docs / "notes.rst").write_text("Tides\n=====\n\nSpring tides happen near full and new moons.\n")
    (docs / "tool.py").write_text('def frobnicate(x):\n    """Frobnicate the widget counter."""\n    return x + 1\n')
    report = engine.index(docs)
    reasons = dict(report.skipped)
    assert report.added == 4
    assert reasons["broken.pdf"].startswith("corrupt or unreadable PDF")
    retriever = engine.retriever()
    code = retriever.search("secret code marmalade", 1)[0]
    assert (code.source, code.page) == ("manual.pdf", 2) and "manual.pdf p.2" in code.location
    assert retriever.search("owls at night", 1)[0].page == 1
    html = retriever.search("lighthouse keepers wicks", 1)[0]
    assert html.source == "page.html" and html.heading == "Lighthouses > Keepers"
    assert "tracking" not in html.text and "cookie" not in html.text and "Contact" not in html.text
    assert retriever.search("spring tides moon", 1)[0].source == "notes.rst"
    assert retriever.search("frobnicate widget counter", 1)[0].source == "tool.py"
