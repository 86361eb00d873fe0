"""Meta-tests of the hook contract: every hook is documented for plugin
authors, and every hook is exercised by a real call in a test."""

from __future__ import annotations

import inspect
from dataclasses import replace

import click

from assistant import Candidate, Feedback, Passage, Settings, StrategyResult, hookimpl
from assistant import hookspecs
from assistant.engine import Engine
from assistant.plugins import REGISTRATION_HOOKS, make_plugin_host
from assistant.testing import ScriptedLLM


def all_hookspecs() -> dict[str, object]:
    return {name: fn for name, fn in vars(hookspecs).items()
            if callable(fn) and hasattr(fn, f"{hookspecs.PROJECT}_spec")}


def test_there_are_hooks_of_both_kinds():
    names = set(all_hookspecs())
    assert set(REGISTRATION_HOOKS) <= names
    assert {"retrieve", "select_examples", "condition_prompt", "score_candidates", "on_answer",
            "on_feedback", "register_commands"} <= names


def test_every_hook_documents_each_argument_and_its_return():
    for name, fn in all_hookspecs().items():
        doc = inspect.getdoc(fn) or ""
        assert len(doc.splitlines()[0]) > 10, f"{name}: needs a one-line summary"
        assert "Args:" in doc and "Returns:" in doc, f"{name}: docstring needs Args: and Returns:"
        args_section = doc.split("Args:")[1].split("Returns:")[0]
        for param in inspect.signature(fn).parameters:
            assert f"{param}:" in args_section, f"{name}: argument {param!r} is not documented"
        for param, annotation in inspect.signature(fn).parameters.items():
            assert annotation.annotation is not inspect.Parameter.empty, f"{name}: {param} has no type"


class EveryHook:
    """A plugin implementing every hook, recording which were called."""

    replies: Any = iter(())  # the scripted model's replies, set by the test

    def __init__(self) -> None:
        self.called: set[str] = set()

    @hookimpl
    def register_strategies(self, register):
        self.called.add("register_strategies")

        class Pick:
            """Ask for two candidates and keep the one the verifiers like."""

            def run(self, call):
                cands = call.llm.generate([call.prompt], n=2, decoding=call.decoding)[0]
                scores = call.score_candidates(cands)
                best = max(range(2), key=lambda i: scores["every_hook"][i])
                return StrategyResult(text=cands[best].text, candidates=tuple(cands))

        register("pick", Pick)

    @hookimpl
    def register_retrievers(self, register):
        self.called.add("register_retrievers")

        class Fixed:
            def __init__(self, collection, settings, loaders):
                self.loaders = loaders

            def search(self, query, k):
                return [Passage(id="f:1", text="Fixed passage.", source="fixed.txt", start_line=1, end_line=1)]

        register("fixed", Fixed)

    @hookimpl
    def register_example_selectors(self, register):
        self.called.add("register_example_selectors")

        class NoExamples:
            def __init__(self, settings):
                pass

            def select(self, query, k):
                return []

        register("no_examples", NoExamples)

    @hookimpl
    def register_loaders(self, register):
        self.called.add("register_loaders")
        register(".every", lambda path: None)

    @hookimpl
    def register_benchmarks(self, register):
        self.called.add("register_benchmarks")
        register("every", lambda ctx: [])

    @hookimpl
    def register_adapter_kinds(self, register):
        self.called.add("register_adapter_kinds")
        register("noop", object)

    @hookimpl
    def register_backends(self, register):
        self.called.add("register_backends")

        class Scripted:
            """The scripted model, through the backend contract."""

            priority, label, capabilities = 99, "scripted", None

            def claims(self, settings):
                return settings.model == "scripted"

            def problem(self, settings):
                return None

            def load(self, settings, progress=None):
                return ScriptedLLM(lambda prompt, i: next(EveryHook.replies))

        register("scripted", Scripted)

    @hookimpl
    def register_commands(self, cli):
        self.called.add("register_commands")

        @cli.command("every-hook")
        def every_hook_command():
            """A command added by a plugin."""

    @hookimpl
    def retrieve(self, query, k, settings):
        self.called.add("retrieve")
        return [Passage(id="h:1", text="Hook passage.", source="hook.txt")]

    @hookimpl
    def select_examples(self, query, k, settings):
        self.called.add("select_examples")
        return []

    @hookimpl
    def condition_prompt(self, prompt, query, settings):
        self.called.add("condition_prompt")
        return replace(prompt, metadata={**prompt.metadata, "audience": "testers"})

    @hookimpl
    def score_candidates(self, query, candidates, prompt):
        self.called.add("score_candidates")
        return [float(len(c.text)) for c in candidates]

    @hookimpl
    def on_answer(self, answer, settings):
        self.called.add("on_answer")
        self.last_answer = answer

    @hookimpl
    def on_feedback(self, feedback, settings):
        self.called.add("on_feedback")
        self.last_feedback = feedback


def test_every_hook_is_exercised():
    plugin = EveryHook()
    host = make_plugin_host(extra=[("every_hook", plugin)])
    assert not host.registry.problems
    assert "every" in host.registry.of("benchmark")
    cli = click.Group()
    host.register_commands(cli)
    assert "every-hook" in cli.commands

    EveryHook.replies = iter(["short", "a longer answer"])
    engine = Engine(Settings(retriever="fixed", example_selector="no_examples", examples_k=1, strategy="pick",
                             model="scripted"), host=host)  # the model comes from register_backends
    answer = engine.answer("Which is longer?")
    assert answer.text == "a longer answer"  # the verifier's choice
    assert {p.id for p in answer.passages} == {"f:1", "h:1"}  # retriever + hook, fused
    assert "Audience: testers" in engine.llm.calls[0].prompts[0]  # conditioned prompt reached the model
    assert plugin.last_answer is answer
    engine.feedback(Feedback(kind="rating", answer_ids=(answer.id,), value=1))
    assert plugin.last_feedback.answer_ids == (answer.id,)
    assert plugin.called == set(all_hookspecs()), f"not exercised: {set(all_hookspecs()) - plugin.called}"
    assert isinstance(answer.candidates[0], Candidate)
