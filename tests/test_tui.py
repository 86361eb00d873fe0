"""The terminal UI, driven by Textual's Pilot: a real app, a real index, the
real feedback store; the scripted model for control flow and the embedded
model for one end-to-end run."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from assistant import Settings
from assistant.engine import Engine
from assistant.llm import TextStream
from assistant.testing import ScriptedLLM, write_tiny_corpus
from assistant.tui.app import ChatApp
from assistant.tui.forms import FormScreen
from assistant.tui.screens import HelpScreen, PickerScreen, PromptScreen, RankScreen, SourceScreen
from assistant.tui.session import ChatSession
from assistant.tui.widgets import AnswerMessage, SourcesPanel, TracePanel
from assistant_plugins.feedback import open_store

from .conftest import run_cli

pytestmark = pytest.mark.asyncio
SIZE = (120, 40)


class SlowLLM(ScriptedLLM):
    """Streams one word every ``delay`` seconds, like a slow model."""

    delay: float = 0.05

    def stream(self, prompt, decoding=None, label="stream") -> TextStream:
        inner = super().stream(prompt, decoding, label)
        delay = self.delay

        def pieces(stream: TextStream) -> Iterator[str]:
            for piece in inner:
                time.sleep(delay)
                yield piece
            stream.candidate = inner.candidate

        return TextStream(pieces)


@pytest.fixture
def indexed(home, tmp_path):
    corpus = write_tiny_corpus(tmp_path / "tiny")
    Engine(Settings(device="cpu")).index(corpus)
    return corpus


def make_app(llm, **settings) -> ChatApp:
    engine = Engine(Settings(device="cpu", **settings), llm=llm)
    return ChatApp(ChatSession(engine))


async def ask(pilot, question: str) -> None:
    await pilot.click("#question")
    for key in question:
        await pilot.press(key if key != " " else "space")
    await pilot.press("enter")


async def until(pilot, condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the UI did not get there in time")
        await pilot.pause(0.05)


def ready(app, screen_type) -> bool:
    """``screen_type`` is up and something on it has the focus, so typed keys reach it."""
    return isinstance(app.screen, screen_type) and app.focused is not None and app.focused.screen is app.screen


def rank_screen_ready(app) -> bool:
    """The rank screen is up and its input has the focus (keys pressed earlier would go elsewhere)."""
    return isinstance(app.screen, RankScreen) and app.focused is app.screen.query_one("#order")


def answers(app) -> list[AnswerMessage]:
    return list(app.query(AnswerMessage))


@pytest.mark.real_model
async def test_ask_streams_the_answer_then_shows_sources_and_trace(indexed):
    llm = ScriptedLLM(lambda prompt, i: "Barn owls hunt at **night** [1].")
    app = make_app(llm, top_k=2)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session.loaded)
        assert "ready" in app.sub_title and "zero_shot" in app.sub_title
        await ask(pilot, "When do owls hunt?")
        await until(pilot, lambda: not app.busy and app.session.last_answer is not None)
        view = answers(app)[0]
        assert view.text == "Barn owls hunt at **night** [1]."
        assert "sources [1]" in str(view.status.render())
        items = list(app.query_one(SourcesPanel).children)
        assert len(items) == 2 and "owls.md" in str(items[0].source.passage.location)
        assert "zero_shot" in str(app.query_one(TracePanel).root.label)
        # a follow-up sees the first turn; the conversation keeps growing
        await ask(pilot, "Why?")
        await until(pilot, lambda: not app.busy and len(app.session.conversation.turns) == 2)
        assert "When do owls hunt?" in llm.calls[-1].prompts[0]


@pytest.mark.real_model
async def test_keys_work_while_an_answer_is_generated_and_esc_stops_it(indexed):
    llm = SlowLLM(lambda prompt, i: " ".join(["word"] * 200))
    app = make_app(llm)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "Tell me everything")
        await until(pilot, lambda: len(answers(app)) == 1 and answers(app)[0].text)
        # the UI is responsive mid-answer: a dialog opens and closes
        await pilot.press("f2")
        await until(pilot, lambda: ready(app, FormScreen))
        assert app.busy
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, FormScreen))
        words_before = len(answers(app)[0].text.split())
        await pilot.press("escape")  # stop the answer
        await until(pilot, lambda: not app.busy)
        view = answers(app)[0]
        assert "stopped" in str(view.status.render())
        assert words_before < len(view.text.split()) + 1 < 200
        assert app.session.conversation.turns == []  # a stopped answer is not kept


@pytest.mark.real_model
async def test_rank_two_candidates_into_the_feedback_store(indexed):
    replies = iter(["First answer.", "Owls hunt at night.", "Owls sleep by day."])
    app = make_app(ScriptedLLM(lambda prompt, i: next(replies)))
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "When do owls hunt?")
        await until(pilot, lambda: not app.busy and app.session.last_answer is not None)
        await pilot.press("ctrl+f")
        await until(pilot, lambda: rank_screen_ready(app))
        answer = app.session.last_answer
        assert [c.text for c in answer.candidates] == ["Owls hunt at night.", "Owls sleep by day."]
        for key in "2 1":
            await pilot.press(key if key != " " else "space")
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, RankScreen))
        await until(pilot, lambda: any("ranking saved" in n.message for n in app._notifications))
        app.ranked("1 1")  # a malformed ranking is refused with the reason, nothing stored
        await until(pilot, lambda: any("bad ranking" in n.message for n in app._notifications))
    store = open_store(app.session.engine.settings)
    try:
        ranking = [e for e in store.events() if e.kind == "ranking"][-1]
        assert ranking.ranking == ((f"{answer.id}-1",), (f"{answer.id}-0",))
        assert {a.id for a in store.siblings(f"{answer.id}-0")} >= {f"{answer.id}-0", f"{answer.id}-1"}
    finally:
        store.close()


@pytest.mark.real_model
async def test_rate_copy_and_bad_rankings_give_notifications(indexed):
    app = make_app(ScriptedLLM("Owls hunt at night."))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+g")  # nothing to rate yet: a warning, not a crash
        await until(pilot, lambda: any("no answer" in n.message for n in app._notifications))
        await ask(pilot, "When do owls hunt?")
        await until(pilot, lambda: not app.busy and app.session.last_answer is not None)
        await pilot.press("ctrl+g")
        await pilot.press("ctrl+b")
        await until(pilot, lambda: ready(app, PromptScreen))
        for key in "vague":
            await pilot.press(key)
        await pilot.press("enter")
        await pilot.press("ctrl+y")
        await until(pilot, lambda: any("copied" in n.message for n in app._notifications))
        app.ranked("1 2")  # one answer has nothing to rank against: refused with the reason
        await until(pilot, lambda: any("only one candidate" in n.message for n in app._notifications))
    store = open_store(app.session.engine.settings)
    try:
        ratings = [(e.value, e.comment) for e in store.events() if e.kind == "rating"]
        assert ratings == [(1.0, ""), (-1.0, "vague")]
    finally:
        store.close()


@pytest.mark.real_model
async def test_open_a_source_in_its_file(indexed):
    app = make_app(ScriptedLLM("International Orange [1]."), top_k=1)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "What colour is the Golden Gate Bridge?")
        await until(pilot, lambda: not app.busy and app.session.last_answer is not None)
        await pilot.press("ctrl+s")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, SourceScreen))
        text = app.screen.context()
        assert "▌ Its colour is called International Orange." in text and "5" in text
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, SourceScreen))


@pytest.mark.real_model
async def test_pickers_help_and_new_conversation(indexed):
    app = make_app(ScriptedLLM("An answer."))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape")
        await pilot.press("ctrl+o")
        await until(pilot, lambda: ready(app, PickerScreen))
        await pilot.press("enter")
        await until(pilot, lambda: ready(app, FormScreen))  # the strategy's options follow its choice
        assert app.session.strategy == "zero_shot"
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, FormScreen))
        await pilot.press("ctrl+l")
        await until(pilot, lambda: ready(app, PickerScreen))
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, PickerScreen))
        assert app.session.collection == "default" and "default" in app.sub_title
        await pilot.press("f2")
        await until(pilot, lambda: ready(app, FormScreen))
        await pilot.press("ctrl+a", "ctrl+k")  # clear the temperature field (Input's own keys)
        for key in "0.7":
            await pilot.press(key)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.session.temperature == 0.7)
        assert "T=0.7" in app.sub_title
        await ask(pilot, "Hello there")
        await until(pilot, lambda: not app.busy and app.session.last_answer is not None)
        await pilot.press("ctrl+n")
        await until(pilot, lambda: not answers(app))
        assert app.session.conversation.turns == []


@pytest.mark.real_model
async def test_adapter_picker_lists_saved_adapters_and_sets_the_turns_adapter(indexed, home):
    import json

    from assistant.adapters import META_FILE

    folder = home / "adapters" / "notes-qa"
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text("{}")
    (folder / META_FILE).write_text(json.dumps({"name": "notes-qa", "kind": "lora", "base_model": "m",
                                                "base_fingerprint": "f", "metrics": {"eval_loss_after": 1.25}}))
    app = make_app(ScriptedLLM("An answer."))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f5")
        await until(pilot, lambda: ready(app, PickerScreen))
        labels = [str(o.prompt) for o in app.screen.query_one("OptionList").options]
        assert labels[0].strip().startswith("● none") and "notes-qa  lora, sft, validation loss 1.250" in labels[1]
        await pilot.press("down", "enter")
        await until(pilot, lambda: app.session.adapter == "notes-qa")
        assert "adapter notes-qa" in app.sub_title
        # the scripted model cannot apply adapters: the turn says so instead of answering without it
        await ask(pilot, "Hello there")
        await until(pilot, lambda: not app.busy)
        assert app.session.last_answer is None
        assert any("cannot apply adapters" in str(w.render()) for w in app.query("Static"))


@pytest.mark.real_model
async def test_key_bindings_come_from_the_config(indexed):
    app = make_app(ScriptedLLM("x"), plugins={"tui": {"keys": {"help": "f9"}}})
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f9")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        assert ("f9", "All keys") in app.screen.rows


async def test_errors_become_notifications(home):
    app = make_app(ScriptedLLM("x"), collection="missing")
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "Anything?")
        await until(pilot, lambda: not app.busy and answers(app) and "error" in str(answers(app)[0].status.render()))
        assert any("has not been indexed" in n.message for n in app._notifications)
        assert app.is_running


@pytest.mark.real_model
async def test_end_to_end_on_the_embedded_model(sample_engine):
    from assistant.paths import data_dir  # noqa: F401  (sample_engine set up its own data folder)

    app = ChatApp(ChatSession(sample_engine))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session.loaded, timeout=120)
        await ask(pilot, "Where are the converted model weights kept?")
        await until(pilot, lambda: len(answers(app)) == 1 and not app.busy, timeout=180)
        assert answers(app)[0].pieces > 3  # it was streamed piece by piece, not shown at the end
        answer = app.session.last_answer
        assert answer is not None and answer.text.strip()
        assert answers(app)[0].text.strip() == answer.text.strip()
        assert [item.source.passage.source for item in app.query_one(SourcesPanel).children][0] == "models.md"
        await pilot.press("ctrl+f")
        await until(pilot, lambda: rank_screen_ready(app), timeout=240)
        await pilot.press("1", "space", "2", "enter")
        await until(pilot, lambda: not isinstance(app.screen, RankScreen))
        ranked_id = app.session.last_answer.id
    store = open_store(sample_engine.settings)
    try:
        ranking = [e for e in store.events() if e.kind == "ranking"][-1]
        assert ranking.ranking == ((f"{ranked_id}-0",), (f"{ranked_id}-1",))
    finally:
        store.close()
    await asyncio.sleep(0)


@pytest.mark.real_model
async def test_conversations_are_saved_resumed_renamed_exported_and_deleted(indexed, tmp_path):
    from assistant.history import HistoryStore

    llm = ScriptedLLM(lambda prompt, i: "Barn owls hunt at night [1].")
    engine = Engine(Settings(device="cpu", top_k=1), llm=llm)
    app = ChatApp(ChatSession(engine, history=HistoryStore()))
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "When do owls hunt?")
        await until(pilot, lambda: not app.busy and app.session.last_answer is not None)
        await ask(pilot, "And what do they eat?")
        await until(pilot, lambda: not app.busy and len(app.session.conversation.turns) == 2)
        await pilot.press("ctrl+r")  # a regenerated answer replaces the saved one
        await until(pilot, lambda: not app.busy and len(app.session.conversation.turns) == 2)
        await pilot.press("ctrl+n")
        await until(pilot, lambda: not answers(app))
        await pilot.press("f3")
        await until(pilot, lambda: type(app.screen).__name__ == "HistoryScreen" and ready(app, type(app.screen)))
        await pilot.press("enter")  # resume the newest
        await until(pilot, lambda: len(answers(app)) == 2)
        assert answers(app)[0].text == "Barn owls hunt at night [1]." and "sources [1]" in str(
            answers(app)[0].status.render())
        await ask(pilot, "Where do they live?")  # the resumed turns are the model's history
        await until(pilot, lambda: not app.busy and len(app.session.conversation.turns) == 3)
        assert "<user> And what do they eat?" in llm.calls[-1].prompts[0]
        cid = app.session.conversation_id
        await pilot.press("f3")
        await until(pilot, lambda: type(app.screen).__name__ == "HistoryScreen" and ready(app, type(app.screen)))
        await pilot.press("r")
        await until(pilot, lambda: ready(app, PromptScreen))
        await pilot.press("ctrl+u")
        for key in "Owls":
            await pilot.press(key)
        await pilot.press("enter")
        await pilot.press("f3")
        await until(pilot, lambda: type(app.screen).__name__ == "HistoryScreen" and ready(app, type(app.screen)))
        await pilot.press("e")
        await until(pilot, lambda: ready(app, PromptScreen))
        app.screen.query_one("Input").value = str(tmp_path / "owls.md")
        await pilot.press("enter")
        await until(pilot, lambda: (tmp_path / "owls.md").exists())
    store = HistoryStore()
    try:
        [saved] = store.list()
        assert (saved.id, saved.title, saved.turns) == (cid, "Owls", 3)
        exported = (tmp_path / "owls.md").read_text()
        assert exported.startswith("# Owls") and "**You:** And what do they eat?" in exported
        assert "[1] `owls.md:1-3`" in exported
    finally:
        store.close()
    result = run_cli("history", "rm", cid[:6], "--yes")
    assert result.returncode == 0 and "deleted 'Owls'" in result.stdout
    assert "no saved conversations" in run_cli("history", "list").stdout
    bad = run_cli("history", "show", "zzz")
    assert bad.returncode != 0 and "no saved conversation" in bad.stderr


@pytest.mark.real_model
async def test_collections_screen_adds_syncs_chooses_and_deletes(home, tmp_path):
    from assistant.paths import collections_dir

    docs = write_tiny_corpus(tmp_path / "notes")
    (docs / "blob.md").write_bytes(b"\x00\x01binary")
    app = make_app(ScriptedLLM("x"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f4")
        await until(pilot, lambda: type(app.screen).__name__ == "CollectionsScreen" and ready(app, type(app.screen)))
        screen = app.screen
        assert "No collections yet" in str(screen.query_one("#report").render())
        await pilot.press("a")
        await until(pilot, lambda: ready(app, PromptScreen))
        app.screen.query_one("Input").value = f"{docs} = notes"
        await pilot.press("enter")
        await until(pilot, lambda: app.screen is screen and screen.last_report is not None, timeout=120)
        report = str(screen.query_one("#report").render())
        assert "notes: 3 added" in report and "skipped blob.md: looks binary" in report
        assert screen.query_one("DataTable").row_count == 1
        (docs / "tea.txt").unlink()
        await pilot.press("s")  # re-sync: the deleted file leaves the index
        await until(pilot, lambda: not screen.syncing and "1 removed" in str(screen.query_one("#report").render()))
        await pilot.press("enter")  # use it in the chat
        await until(pilot, lambda: app.session.collection == "notes")
        assert "notes ·" in app.sub_title
        await pilot.press("f4")
        await until(pilot, lambda: type(app.screen).__name__ == "CollectionsScreen" and ready(app, type(app.screen)))
        await pilot.press("d")
        await until(pilot, lambda: ready(app, PromptScreen))
        app.screen.query_one("Input").value = "notes"
        await pilot.press("enter")
        await until(pilot, lambda: not (collections_dir() / "notes").exists())


@pytest.mark.real_model
async def test_the_chat_on_the_docs_keyword_retriever(real_llm, home, tmp_path):
    """docs/plugins.md's KeywordRetriever (no embeddings, no FAISS): the chat
    loads, answers from it on the real model with its sources listed, opens
    one in the file around its lines, and the collections screen lists the
    collection with the retriever's own facts and deletes it."""
    import shutil

    from assistant import Deletes, Describes, ListsCollections, Retriever, ShowsSources, WarmsUp
    from assistant.docgen import EXAMPLES
    from assistant.plugins import make_plugin_host

    plugins = tmp_path / "plugins"
    plugins.mkdir()
    shutil.copy(EXAMPLES / "register_retrievers.py", plugins)
    engine = Engine(Settings(device="cpu", retriever="keyword", top_k=1, max_new_tokens=12),
                    host=make_plugin_host(plugins), llm=real_llm)
    engine.index(write_tiny_corpus(tmp_path / "tiny"))
    retriever = engine.retriever()
    assert isinstance(retriever, Retriever) and not isinstance(retriever, WarmsUp)
    assert all(isinstance(retriever, c) for c in (ShowsSources, ListsCollections, Describes, Deletes))
    app = ChatApp(ChatSession(engine))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session.loaded, timeout=120)
        assert app.session.status == "ready"
        await ask(pilot, "What colour is the Golden Gate Bridge?")
        await until(pilot, lambda: not app.busy and app.session.last_answer is not None, timeout=120)
        answer = app.session.last_answer
        assert answer.text.strip() and [p.retriever for p in answer.passages] == ["keyword"]
        listed = [item.source.passage for item in app.query_one(SourcesPanel).children]
        assert [p.source for p in listed] == [answer.passages[0].source] == ["bridges/golden-gate.md"]
        await pilot.press("ctrl+s")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, SourceScreen))
        shown = app.screen.context()  # the file around the passage's lines, from source_root()
        assert "    1 ▌ # The Golden Gate Bridge" in shown and "Its colour is called International Orange." in shown
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, SourceScreen))
        await pilot.press("f4")
        await until(pilot, lambda: type(app.screen).__name__ == "CollectionsScreen" and ready(app, type(app.screen)))
        table = app.screen.query_one("DataTable")
        assert table.row_count == 1 and table.get_row_at(0)[:3] == ["default", "3", "6"]
        await pilot.press("d")
        await until(pilot, lambda: ready(app, PromptScreen))
        app.screen.query_one("Input").value = "default"
        await pilot.press("enter")
        await until(pilot, lambda: not retriever.exists())
        assert retriever.collections() == []


async def test_the_chat_on_a_retriever_with_only_the_required_methods(home, tmp_path):
    """A retriever with sync, search and exists and no capability: the chat
    loads without a warm-up, its source viewer shows the passage alone, and
    the collections screen lists the collection in use and refuses to delete."""
    from assistant import ListsCollections, Passage, ShowsSources, SyncReport, WarmsUp, hookimpl
    from assistant.plugins import make_plugin_host

    class Minimal:
        """One fixed passage."""

        def __init__(self, collection, settings, loaders):
            self.collection, self.synced = collection, False

        def exists(self):
            return self.synced

        def sync(self, folder, progress=False, rebuild=False):
            self.synced = True
            return SyncReport(collection=self.collection, added=1, chunks_total=1)

        def search(self, query, k):
            return [Passage(id="m:1", text="Owls hunt at night.", source="owls.md", start_line=3, end_line=3,
                            retriever="minimal")][:k]

    class Plugin:
        @hookimpl
        def register_retrievers(self, register):
            register("minimal", Minimal)

    engine = Engine(Settings(device="cpu", retriever="minimal"), llm=ScriptedLLM("They hunt at night [1]."),
                    host=make_plugin_host(extra=[("minimal", Plugin())]))
    engine.index(write_tiny_corpus(tmp_path / "tiny"))
    retriever = engine.retriever()
    assert not isinstance(retriever, (WarmsUp, ShowsSources, ListsCollections))
    app = ChatApp(ChatSession(engine))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session.loaded, timeout=60)
        assert app.session.status == "ready"
        await ask(pilot, "When do owls hunt?")
        await until(pilot, lambda: not app.busy and app.session.last_answer is not None, timeout=60)
        await pilot.press("ctrl+s")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, SourceScreen))
        assert app.screen.context() == "Owls hunt at night."  # no source_root(): the passage alone
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, SourceScreen))
        await pilot.press("f4")
        await until(pilot, lambda: type(app.screen).__name__ == "CollectionsScreen" and ready(app, type(app.screen)))
        table = app.screen.query_one("DataTable")
        assert table.row_count == 1 and table.get_row_at(0)[:3] == ["default", "?", "?"]
        await pilot.press("d")
        await until(pilot, lambda: ready(app, PromptScreen))
        app.screen.query_one("Input").value = "default"
        await pilot.press("enter")
        await until(pilot, lambda: any("cannot delete collections" in n.message for n in app._notifications))
        assert retriever.exists()  # nothing was removed
    # a UI's progress callback is passed only to a sync that takes it
    assert engine.index(tmp_path / "tiny", on_progress=lambda done, total: None).added == 1


async def test_the_built_in_retriever_offers_both_capabilities(indexed):
    from assistant import Retriever, ShowsSources, WarmsUp

    from assistant import Deletes, Describes, ListsCollections

    retriever = Engine(Settings(device="cpu")).retriever()
    assert all(isinstance(retriever, c) for c in (Retriever, WarmsUp, ShowsSources, ListsCollections, Describes,
                                                    Deletes))
    assert retriever.source_root() == str(indexed.resolve())
    assert retriever.collections() == ["default"]
    assert retriever.describe() == {"root": str(indexed.resolve()), "files": 3, "chunks": retriever.store.meta().chunks,
                                    "index": "flat"}
    retriever.search("orange", 1)  # opens the index: delete() closes it first
    retriever.delete()
    assert not retriever.exists() and retriever.collections() == []
