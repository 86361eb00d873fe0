"""The contract every retriever must pass, as a table of pytest tests.

Run it against any registered retriever (built-in, entry point or plugins
folder) with one line in a test module::

    TestMine = RetrieverContract.for_retriever("my_retriever")

Each test gets its own data folder (``ASSISTANT_HOME`` under pytest's
``tmp_path``) and a small corpus of its own: three files in two folders, each
paragraph holding one rare word, so that any retriever (keywords,
embeddings, both) can find it. The table checks the required methods of
:class:`assistant.Retriever` (sync adds, updates and deletes; an unchanged
re-sync does no work; search returns passages with locations; the state
survives a new process; bad input gets a clear error) and, for each optional
capability the retriever declares, that it does what its protocol says.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest

from ..config import Settings
from ..engine import Engine
from ..errors import AssistantError
from ..plugins import make_plugin_host
from ..retriever import Deletes, Describes, ListsCollections, Retriever, ShowsSources, WarmsUp

COLLECTION = "contract"

#: The contract's corpus: file -> text. Each rare word lives in one paragraph.
CORPUS = {
    "animals/quokka.md": ("# Quokkas\n\nThe quokka is a small wallaby that lives on Rottnest Island\n"
                          "and smiles in many photographs.\n\n"
                          "A quokka eats grasses and leaves at night.\n"),
    "animals/axolotl.txt": "The axolotl is a salamander that keeps its gills as an adult and lives in lakes near Mexico City.\n",
    "tools/theodolite.md": "A theodolite measures angles between points for surveyors building roads.\n",
}


def write_contract_corpus(folder: Path) -> Path:
    """Write :data:`CORPUS` under ``folder`` and return it."""
    for rel, text in CORPUS.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


class RetrieverContract:
    """Subclass (or use :meth:`for_retriever`) and set ``retriever``."""

    retriever: ClassVar[str] = ""
    plugins_dir: ClassVar[str | None] = None
    settings: ClassVar[dict[str, Any]] = {}

    @classmethod
    def for_retriever(cls, name: str, plugins_dir: str | Path | None = None,
                      settings: dict[str, Any] | None = None) -> type:
        """A test class for the retriever registered as ``name``; ``settings``
        are extra :class:`assistant.Settings` fields (JSON values)."""
        attrs = {"retriever": name, "plugins_dir": None if plugins_dir is None else str(plugins_dir),
                 "settings": dict(settings or {}), "__test__": True}
        return type(f"TestRetrieverContract_{name}", (cls,), attrs)

    # -- fixtures and helpers ---------------------------------------------------------

    @pytest.fixture(autouse=True)
    def _home(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("ASSISTANT_HOME", str(tmp_path / "home"))
        self.corpus = write_contract_corpus(tmp_path / "corpus")

    def make(self, collection: str = COLLECTION) -> Any:
        """A fresh retriever object, built as the engine builds it."""
        settings = Settings(**{"device": "cpu", **self.settings, "retriever": self.retriever})
        return Engine(settings, host=make_plugin_host(self.plugins_dir)).retriever(collection)

    def synced(self) -> Any:
        retriever = self.make()
        retriever.sync(self.corpus)
        return retriever

    def sources(self, retriever: Any, query: str, k: int = 3) -> list[str]:
        return [p.source for p in retriever.search(query, k)]

    # -- the required methods ---------------------------------------------------------

    def test_is_registered_with_a_docstring_and_the_required_methods(self):
        reg = make_plugin_host(self.plugins_dir).registry.get("retriever", self.retriever)
        assert reg.doc, f"retriever {self.retriever!r} needs a docstring (shown by `assistant plugins`)"
        retriever = self.make()
        assert isinstance(retriever, Retriever), "a retriever needs exists(), sync(folder, ...) and search(query, k)"
        assert retriever.exists() is False, "exists() must be False before the first sync"

    def test_sync_indexes_every_file_and_search_cites_where_each_passage_is(self):
        retriever = self.make()
        report = retriever.sync(self.corpus)
        assert report.collection == COLLECTION
        assert (report.added, report.updated, report.removed) == (len(CORPUS), 0, 0), report
        assert report.chunks_total >= len(CORPUS) and retriever.exists()
        for word, source in (("quokka", "animals/quokka.md"), ("axolotl", "animals/axolotl.txt"),
                             ("theodolite", "tools/theodolite.md")):
            passages = retriever.search(word, 3)
            assert passages and passages[0].source == source, (word, [p.source for p in passages])
            lines = CORPUS[source].splitlines()
            for p in passages:
                assert p.source in CORPUS, f"Passage.source must be the file's path relative to the folder: {p.source!r}"
                assert p.text.strip() and p.id, "a passage needs its text and an id"
                if p.start_line is not None:
                    assert 1 <= p.start_line <= (p.end_line or p.start_line) <= len(CORPUS[p.source].splitlines())
            top = passages[0]
            assert top.start_line is not None, "search must say on which lines a passage starts and ends"
            assert word in " ".join(lines[top.start_line - 1:top.end_line or top.start_line]).lower()

    def test_search_returns_at_most_k_best_first(self):
        retriever = self.synced()
        assert len(retriever.search("quokka axolotl theodolite", 1)) == 1
        passages = retriever.search("quokka axolotl theodolite", 10)
        assert 1 <= len(passages) <= 10
        assert len({p.id for p in passages}) == len(passages), "passage ids must be unique"

    def test_an_unchanged_resync_does_no_work(self):
        retriever = self.synced()
        again = self.make().sync(self.corpus)
        assert (again.added, again.updated, again.removed, again.chunks_embedded) == (0, 0, 0, 0), again
        assert again.unchanged == len(CORPUS)
        assert self.sources(retriever, "theodolite")[:1] == ["tools/theodolite.md"]

    def test_sync_follows_added_changed_and_deleted_files(self):
        retriever = self.synced()
        (self.corpus / "tools" / "theodolite.md").unlink()
        (self.corpus / "animals" / "axolotl.txt").write_text(
            "The axolotl regrows lost limbs and a pangolin has scales.\n", encoding="utf-8")
        (self.corpus / "notes.txt").write_text("A zeppelin is an airship with a rigid frame.\n", encoding="utf-8")
        report = self.make().sync(self.corpus)
        assert (report.added, report.updated, report.removed, report.unchanged) == (1, 1, 1, 1), report
        fresh = self.make()
        assert self.sources(fresh, "pangolin")[:1] == ["animals/axolotl.txt"]
        assert self.sources(fresh, "zeppelin airship")[:1] == ["notes.txt"]
        assert "tools/theodolite.md" not in self.sources(fresh, "theodolite surveyors", k=10)
        assert all("salamander" not in p.text for p in fresh.search("salamander gills", 10)), \
            "the old text of a changed file must leave the collection"

    def test_rebuild_starts_from_nothing(self):
        self.synced()
        report = self.make().sync(self.corpus, rebuild=True)
        assert report.added == len(CORPUS) and report.unchanged == 0, report

    def test_the_collection_survives_a_new_process(self):
        retriever = self.synced()
        here = [p.id for p in retriever.search("quokka", 3)]
        script = ("import json, sys\n"
                  "from assistant import Settings\nfrom assistant.engine import Engine\n"
                  "from assistant.plugins import make_plugin_host\n"
                  "name, plugins, settings = json.loads(sys.argv[1])\n"
                  "engine = Engine(Settings(**settings, retriever=name), host=make_plugin_host(plugins))\n"
                  "print(json.dumps([p.id for p in engine.retriever(%r).search('quokka', 3)]))\n" % COLLECTION)
        arg = json.dumps([self.retriever, self.plugins_dir, {"device": "cpu", **self.settings}])
        done = subprocess.run([sys.executable, "-c", script, arg], capture_output=True, text=True, timeout=300,
                              env=dict(os.environ))
        assert done.returncode == 0, done.stderr[-2000:]
        assert json.loads(done.stdout.strip().splitlines()[-1]) == here

    def test_bad_input_gets_a_clear_error(self, tmp_path):
        retriever = self.make()
        (tmp_path / "a-file.txt").write_text("not a folder\n")
        for bad in (tmp_path / "no-such-folder", tmp_path / "a-file.txt"):
            with pytest.raises(AssistantError) as caught:
                retriever.sync(bad)
            assert caught.value.hint, "the error must say what to do (AssistantError's hint)"
        assert not retriever.exists(), "a failed first sync must not leave a collection behind"

    # -- optional capabilities, checked when declared ---------------------------------

    def capable(self, retriever: Any, capability: type) -> None:
        if not isinstance(retriever, capability):
            pytest.skip(f"{self.retriever!r} does not declare {capability.__name__}")

    def test_warm_up_when_declared(self):
        retriever = self.synced()
        self.capable(retriever, WarmsUp)
        retriever.warm_up()
        assert self.sources(retriever, "axolotl")[:1] == ["animals/axolotl.txt"]

    def test_source_root_when_declared(self):
        retriever = self.synced()
        self.capable(retriever, ShowsSources)
        root = retriever.source_root()
        assert root is not None and Path(root).resolve() == self.corpus.resolve()
        top = retriever.search("theodolite", 1)[0]
        assert (Path(root) / top.source).is_file(), "Passage.source must be relative to source_root()"

    def test_collections_when_declared(self):
        retriever = self.synced()
        self.capable(retriever, ListsCollections)
        other = self.make("second")
        other.sync(self.corpus)
        assert retriever.collections() == sorted(retriever.collections()) == [COLLECTION, "second"]

    def test_describe_when_declared(self):
        retriever = self.synced()
        self.capable(retriever, Describes)
        facts = retriever.describe()
        assert isinstance(facts, dict), facts
        assert facts.get("files", len(CORPUS)) == len(CORPUS)
        assert facts.get("chunks", len(CORPUS)) >= len(CORPUS)
        if "root" in facts:
            assert Path(facts["root"]).resolve() == self.corpus.resolve()

    def test_delete_when_declared(self):
        retriever = self.synced()
        self.capable(retriever, Deletes)
        retriever.search("quokka", 1)  # an open index must not keep it alive
        retriever.delete()
        assert not retriever.exists() and not self.make().exists()
        if isinstance(retriever, ListsCollections):
            assert COLLECTION not in retriever.collections()
        assert (self.corpus / "animals" / "quokka.md").is_file(), "delete() must never touch the user's files"


RetrieverContract.__test__ = False  # the base class itself is not a test
