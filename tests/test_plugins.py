"""Plugin loading paths, the allow-list, failing plugins and hook calling."""

from __future__ import annotations

import textwrap
import threading
from pathlib import Path

import pytest

from assistant import Passage, PluginError, Settings, hookimpl
from assistant.engine import Engine
from assistant.plugins import make_plugin_host
from assistant.testing import ScriptedLLM

from .conftest import run_cli

ECHO_STRATEGY = '''
from assistant import StrategyResult, hookimpl

class Echo:
    """Repeat the question back."""
    def run(self, call):
        return StrategyResult(text="echo: " + call.question)

@hookimpl
def register_strategies(register):
    register("{name}", Echo)
'''


class EmptyRetriever:
    """Registers a retriever with no documents, so hook passages stand alone."""

    class Empty:
        def __init__(self, collection, settings, loaders):
            pass

        def search(self, query, k):
            return []

    @hookimpl
    def register_retrievers(self, register):
        register("empty", self.Empty)


def hook_engine(plugins: Path, llm=None, **settings) -> Engine:
    host = make_plugin_host(plugins, extra=[("empty_retriever", EmptyRetriever())])
    return Engine(Settings(retriever="empty", **settings), host=host, llm=llm or ScriptedLLM())


def write_plugin(folder: Path, name: str, source: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    return path


def install_entry_point(site: Path, dist: str, module: str, source: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A minimal installed distribution with an `assistant` entry point, found by importlib.metadata."""
    write_plugin(site, module, source)
    info = site / f"{dist}-1.2.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text(f"[assistant]\n{dist} = {module}\n")
    monkeypatch.syspath_prepend(str(site))


def test_builtins_register_strategy_retriever_and_loaders():
    host = make_plugin_host()
    assert {i.name for i in host.infos} >= {"zero_shot", "faiss_retrieval"}
    assert all(not i.error and i.source == "built-in" for i in host.infos)
    assert "zero_shot" in host.registry.of("strategy")
    assert host.registry.get("retriever", "faiss").plugin == "faiss_retrieval"
    assert {".md", ".txt"} <= set(host.registry.of("loader"))


def test_entry_point_plugin_loads_with_its_version(tmp_path, monkeypatch):
    install_entry_point(tmp_path / "site", "ep_echo", "ep_echo_mod", ECHO_STRATEGY.format(name="ep_echo"), monkeypatch)
    host = make_plugin_host()
    info = next(i for i in host.infos if i.name == "ep_echo")
    assert (info.source, info.version, info.error) == ("entry point", "1.2.3", "")
    assert host.registry.get("strategy", "ep_echo").plugin == "ep_echo"


def test_plugins_dir_plugin_loads_and_runs(tmp_path):
    write_plugin(tmp_path / "plugs", "dir_echo", ECHO_STRATEGY.format(name="dir_echo"))
    host = make_plugin_host(tmp_path / "plugs")
    assert next(i for i in host.infos if i.name == "dir_echo").source == "plugins-dir"
    engine = Engine(Settings(strategy="dir_echo"), host=host, llm=ScriptedLLM())
    answer = engine.answer("hello?", use_retrieval=False)
    assert answer.text == "echo: hello?"
    assert answer.strategy == "dir_echo"


def test_allow_list_limits_third_party_plugins(tmp_path, monkeypatch):
    write_plugin(tmp_path / "plugs", "one", ECHO_STRATEGY.format(name="one"))
    write_plugin(tmp_path / "plugs", "two", ECHO_STRATEGY.format(name="two"))
    monkeypatch.setenv("ASSISTANT_PLUGINS", "two")
    host = make_plugin_host(tmp_path / "plugs")
    names = {i.name for i in host.infos}
    assert "two" in names and "one" not in names
    assert "zero_shot" in names  # built-ins always load
    monkeypatch.setenv("ASSISTANT_PLUGINS", "")
    assert not {"one", "two"} & {i.name for i in make_plugin_host(tmp_path / "plugs").infos}


def test_plugin_that_fails_to_import_is_reported_and_skipped(tmp_path):
    write_plugin(tmp_path / "plugs", "broken", "import no_such_module_anywhere\n")
    write_plugin(tmp_path / "plugs", "fine", ECHO_STRATEGY.format(name="fine"))
    host = make_plugin_host(tmp_path / "plugs")
    broken = next(i for i in host.infos if i.name == "broken")
    assert "no_such_module_anywhere" in broken.error
    assert "fine" in host.registry.of("strategy")


def test_misspelled_hook_is_refused_loudly(tmp_path):
    write_plugin(tmp_path / "plugs", "typo", '''
        from assistant import hookimpl
        @hookimpl
        def retreive(query, k):
            return []
    ''')
    host = make_plugin_host(tmp_path / "plugs")
    typo = next(i for i in host.infos if i.name == "typo")
    assert "retreive" in typo.error
    assert host.pm.get_plugin("typo") is None


def test_hook_wrappers_are_refused(tmp_path):
    write_plugin(tmp_path / "plugs", "wrap", '''
        from assistant import hookimpl
        @hookimpl(wrapper=True)
        def on_answer(answer):
            return (yield)
    ''')
    info = next(i for i in make_plugin_host(tmp_path / "plugs").infos if i.name == "wrap")
    assert "wrappers are not supported" in info.error


EXPLODING = '''
    from assistant import hookimpl
    @hookimpl
    def retrieve(query, k):
        raise RuntimeError("database unreachable")
'''
HELPFUL = '''
    from assistant import Passage, hookimpl
    @hookimpl
    def retrieve(query, k):
        return [Passage(id="helpful:1", text="Helpful text.", source="helpful.txt")]
'''


def test_plugin_raising_during_a_turn_fails_the_turn_naming_it_in_strict_mode(tmp_path):
    write_plugin(tmp_path / "plugs", "exploding", EXPLODING)
    engine = Engine(Settings(plugin_errors="fail"), host=make_plugin_host(tmp_path / "plugs"), llm=ScriptedLLM())
    with pytest.raises(PluginError) as err:
        engine.answer("anything?", top_k=0)
    assert err.value.plugin == "exploding"
    assert "exploding" in str(err.value) and "database unreachable" in str(err.value)


def test_by_default_a_raising_plugin_loses_only_its_contribution(tmp_path):
    write_plugin(tmp_path / "plugs", "exploding", EXPLODING)
    write_plugin(tmp_path / "plugs", "helpful", HELPFUL)
    engine = hook_engine(tmp_path / "plugs", ScriptedLLM("fine"))
    answer = engine.answer("anything?", top_k=3)
    assert answer.text == "fine"
    assert [p.id for p in answer.passages] == ["helpful:1"]  # the other plugin still contributed
    [notice] = answer.notices
    assert "plugin 'exploding' failed in hook retrieve" in notice and "database unreachable" in notice
    assert "contribution was skipped" in notice


def test_wrong_return_type_is_blamed_on_the_plugin(tmp_path):
    write_plugin(tmp_path / "plugs", "sloppy", '''
        from assistant import hookimpl
        @hookimpl
        def retrieve(query, k):
            return "not a list"
        @hookimpl
        def condition_prompt(prompt):
            return {"input": "a dict is not a Prompt"}
    ''')
    strict = hook_engine(tmp_path / "plugs", plugin_errors="fail")
    with pytest.raises(PluginError, match="sloppy.*returned str from retrieve, expected a list of Passage"):
        strict.answer("anything?")
    answer = hook_engine(tmp_path / "plugs").answer("anything?")
    assert len(answer.notices) == 2
    assert "returned dict from condition_prompt, expected a Prompt or None" in answer.notices[1]


class Blocking:
    """A retrieve plugin that blocks until released: over any budget whatever the machine's speed.
    It gives up after a minute, so an engine that does not enforce the budget fails this
    test (the late passage shows up) rather than hanging it."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()

    @hookimpl
    def retrieve(self, query, k):
        self.started.set()
        self.release.wait(timeout=60)
        return [Passage(id="slow:1", text="late", source="slow.txt")]


def test_plugin_over_its_time_budget_loses_its_contribution(tmp_path):
    write_plugin(tmp_path / "plugs", "helpful", HELPFUL)
    slow = Blocking()
    host = make_plugin_host(tmp_path / "plugs", extra=[("empty_retriever", EmptyRetriever()), ("slow", slow)])
    # a budget far above what the helpful plugin needs (a constant list), so only the blocked one can miss it
    engine = Engine(Settings(retriever="empty", plugin_timeout_s=1.0), host=host, llm=ScriptedLLM())
    try:
        answer = engine.answer("anything?")
    finally:
        slow.release.set()  # let the abandoned worker thread finish
    assert slow.started.is_set()  # it was called, and abandoned at the budget
    assert [p.id for p in answer.passages] == ["helpful:1"]
    assert any("'slow' exceeded its time budget of 1 s" in n for n in answer.notices), answer.notices


def test_condition_prompt_implementations_are_chained(tmp_path):
    for name, word in (("first", "alpha"), ("second", "beta")):
        write_plugin(tmp_path / "plugs", name, f'''
            from dataclasses import replace
            from assistant import hookimpl
            @hookimpl
            def condition_prompt(prompt):
                return replace(prompt, context=(prompt.context + " {word}").strip())
        ''')
    llm = ScriptedLLM()
    Engine(Settings(), host=make_plugin_host(tmp_path / "plugs"), llm=llm).answer("q", top_k=0)
    assert "beta alpha" in llm.calls[0].prompts[0]  # LIFO: the later plugin ran first, the earlier saw its output


def test_failing_observer_is_isolated_and_reported(tmp_path):
    write_plugin(tmp_path / "plugs", "bad_logger", '''
        from assistant import hookimpl
        @hookimpl
        def on_answer(answer):
            raise OSError("log disk full")
        @hookimpl
        def on_feedback(feedback):
            raise OSError("log disk full")
    ''')
    from assistant import Feedback

    engine = Engine(Settings(), host=make_plugin_host(tmp_path / "plugs"), llm=ScriptedLLM("ok"))
    answer = engine.answer("q", top_k=0)
    assert answer.text == "ok" and "bad_logger" in answer.notices[-1]
    notices = engine.feedback(Feedback(kind="rating", answer_ids=(answer.id,), value=1))
    assert "bad_logger" in notices[0] and "on_feedback" in notices[0]


def test_name_collision_is_reported_with_both_plugins(tmp_path):
    write_plugin(tmp_path / "plugs", "copycat", ECHO_STRATEGY.format(name="zero_shot"))
    host = make_plugin_host(tmp_path / "plugs")
    assert host.registry.get("strategy", "zero_shot").plugin == "zero_shot"
    assert any("zero_shot" in p and "copycat" in p for p in host.registry.problems)


def test_plugin_written_against_fewer_arguments_still_works(tmp_path):
    write_plugin(tmp_path / "plugs", "old_style", '''
        from assistant import Passage, hookimpl

        class Nothing:
            def __init__(self, collection, settings, loaders):
                pass
            def search(self, query, k):
                return []

        @hookimpl
        def register_retrievers(register):
            register("nothing", Nothing)

        @hookimpl
        def retrieve(query):  # written before `k` and `settings` existed
            return [Passage(id="old:1", text="Old plugins keep working.", source="old.txt")]
    ''')
    engine = Engine(Settings(retriever="nothing"), host=make_plugin_host(tmp_path / "plugs"), llm=ScriptedLLM())
    passages = engine.retrieve("q", k=3)
    assert [p.id for p in passages] == ["old:1"]


def test_retrieve_hook_results_are_fused_with_rrf():
    from assistant.engine import fuse

    a = [Passage(id=i, text=i, source="a") for i in ("x", "y", "z")]
    b = [Passage(id=i, text=i, source="b") for i in ("y", "w")]
    fused = fuse([a, b], k=3)
    assert [p.id for p in fused] == ["y", "x", "w"]  # y is ranked in both lists
    assert fused[0].score == pytest.approx(1 / 62 + 1 / 61)


def test_tracing_env_prints_each_hook_call(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ASSISTANT_TRACE_HOOKS", "1")
    write_plugin(tmp_path / "plugs", "observer", '''
        from assistant import hookimpl
        @hookimpl
        def on_answer(answer):
            return None
    ''')
    engine = Engine(Settings(), host=make_plugin_host(tmp_path / "plugs"), llm=ScriptedLLM())
    engine.answer("trace me", use_retrieval=False)
    err = capsys.readouterr().err
    assert "[hook] on_answer <- observer(answer=" in err
    assert " ms -> None" in err


def test_cli_plugins_lists_sources_and_failures(tmp_path):
    write_plugin(tmp_path / "plugs", "dir_echo", ECHO_STRATEGY.format(name="dir_echo"))
    write_plugin(tmp_path / "plugs", "broken", "raise ImportError('missing dependency foo')\n")
    result = run_cli("--plugins-dir", str(tmp_path / "plugs"), "plugins", "--verbose")
    assert result.returncode == 0, result.stderr
    assert "dir_echo  [plugins-dir]  strategy dir_echo" in result.stdout
    assert "broken  [plugins-dir]  FAILED: ImportError: missing dependency foo" in result.stdout
    assert "zero_shot 0.1.0  [built-in]  strategy zero_shot" in result.stdout


@pytest.mark.parametrize("declared, loads", [(">=1,<2", True), ("==1", True), (">=2", False), ("<1", False)])
def test_plugins_declaring_an_incompatible_contract_are_refused(tmp_path, declared, loads):
    write_plugin(tmp_path / "plugs", "versioned", f"ASSISTANT_HOOK_CONTRACT = {declared!r}\n"
                 + ECHO_STRATEGY.format(name="versioned"))
    host = make_plugin_host(tmp_path / "plugs")
    info = next(i for i in host.infos if i.name == "versioned")
    assert ("versioned" in host.registry.of("strategy")) is loads
    if not loads:
        assert f"supports hook contract {declared} but this assistant provides version 1" in info.error


def test_invalid_contract_declaration_is_reported(tmp_path):
    write_plugin(tmp_path / "plugs", "garbled", "ASSISTANT_HOOK_CONTRACT = 'one or two'\n")
    info = next(i for i in make_plugin_host(tmp_path / "plugs").infos if i.name == "garbled")
    assert "invalid ASSISTANT_HOOK_CONTRACT" in info.error


def test_a_crashing_retriever_is_named(tmp_path):
    write_plugin(tmp_path / "plugs", "flaky_index", '''
        from assistant import hookimpl
        class Flaky:
            def __init__(self, collection, settings, loaders):
                pass
            def search(self, query, k):
                return 1 / 0
        @hookimpl
        def register_retrievers(register):
            register("flaky", Flaky)
    ''')
    engine = Engine(Settings(retriever="flaky"), host=make_plugin_host(tmp_path / "plugs"), llm=ScriptedLLM())
    with pytest.raises(PluginError, match="retriever 'flaky' \\(plugin 'flaky_index'\\) failed in search: ZeroDivisionError"):
        engine.answer("q")
