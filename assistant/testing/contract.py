"""The contract every strategy must pass, as a table of pytest tests.

Run it against any registered strategy (built-in, entry point or plugins
folder) with one line in a test module::

    TestMine = StrategyContract.for_strategy("my_strategy", options={"n": 3})

Override :meth:`StrategyContract.reply` when your strategy needs replies of a
particular shape (e.g. a number to vote on).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import pytest

from ..config import Settings
from ..engine import Engine
from ..errors import AssistantError
from ..hookspecs import hookimpl
from ..plugins import make_plugin_host
from ..strategy import options_type
from ..types import Decoding, Passage
from .scripted import ScriptedLLM

MARKER = "ZEBRA-7"  # a token only the contract's passage contains


class _ContractFixtures:
    """Registers a retriever that always returns one passage holding MARKER."""

    class Fixed:
        def __init__(self, collection: str, settings: Settings, loaders: dict) -> None:
            pass

        def search(self, query: str, k: int) -> list[Passage]:
            return [Passage(id="contract:1", text=f"The code word is {MARKER}.", source="contract.md",
                            start_line=1, end_line=1)]

    @hookimpl
    def register_retrievers(self, register):
        register("contract_fixed", self.Fixed)


class StrategyContract:
    """Subclass (or use :meth:`for_strategy`) and set ``strategy``."""

    strategy: ClassVar[str] = ""
    options: ClassVar[dict[str, Any]] = {}
    plugins_dir: ClassVar[str | None] = None
    question: ClassVar[str] = "What is the code word?"

    @classmethod
    def for_strategy(cls, name: str, options: dict[str, Any] | None = None,
                     plugins_dir: str | None = None) -> type:
        attrs = {"strategy": name, "options": dict(options or {}), "plugins_dir": plugins_dir,
                 "__test__": True}
        return type(f"TestStrategyContract_{name}", (cls,), attrs)

    # -- helpers a subclass may override ------------------------------------------

    def reply(self, prompt: str, index: int) -> str:
        """The scripted model's reply; the default suits free-text strategies."""
        return f"The code word is {MARKER}. The answer is 7."

    def engine(self, llm: Any, **settings: Any) -> Engine:
        host = make_plugin_host(self.plugins_dir, extra=[("contract_fixtures", _ContractFixtures())])
        return Engine(Settings(strategy=self.strategy, retriever="contract_fixed", plugin_errors="fail",
                               **settings), host=host, llm=llm)

    def ask(self, llm: Any, **kwargs: Any):
        kwargs.setdefault("decoding", Decoding(max_new_tokens=32))
        return self.engine(llm).answer(self.question, options=self.options, **kwargs)

    # -- the contract ---------------------------------------------------------------

    def test_is_registered_with_docs_and_typed_options(self):
        host = make_plugin_host(self.plugins_dir)
        reg = host.registry.get("strategy", self.strategy)
        assert reg.doc, f"strategy {self.strategy!r} needs a docstring (shown by `assistant strategies`)"
        opts = options_type(reg.obj)
        for f in dataclasses.fields(opts) if opts else ():
            assert f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING, \
                f"option {f.name!r} needs a default"
            assert f.metadata.get("help"), f"option {f.name!r} needs metadata={{'help': ...}}"

    def test_answers_through_the_llm_it_is_given(self):
        llm = ScriptedLLM(self.reply)
        answer = self.ask(llm)
        assert isinstance(answer.text, str) and answer.text.strip(), "the answer must have text"
        assert llm.calls, "the strategy must call the model it is given (call.llm)"
        model_steps = [s for s in answer.steps if s.kind in ("generate", "score")]
        assert len(model_steps) == len(llm.calls), "every model call must go through call.llm"

    def test_sees_the_retrieved_passages(self):
        llm = ScriptedLLM(self.reply)
        self.ask(llm)
        assert any(MARKER in p for c in llm.calls for p in c.prompts), \
            "the passages in call.prompt must reach the model"

    def test_streams_exactly_its_final_answer(self):
        pieces: list[str] = []
        answer = self.ask(ScriptedLLM(self.reply), on_text=pieces.append)
        assert pieces, "with on_text set, the strategy must stream its final answer"
        assert "".join(pieces).strip() == answer.text.strip()

    def test_respects_the_users_max_new_tokens(self):
        llm = ScriptedLLM(self.reply)
        self.ask(llm, decoding=Decoding(max_new_tokens=20))
        for call in llm.calls:
            if call.decoding is not None:
                assert call.decoding.max_new_tokens <= 20, f"{call.label} asked for {call.decoding.max_new_tokens} tokens"

    def test_respects_a_budget_of_one_model_call(self):
        llm = ScriptedLLM(self.reply)
        try:
            answer = self.engine(llm, budget_calls=1).answer(self.question, options=self.options,
                                                             decoding=Decoding(max_new_tokens=32))
        except AssistantError as exc:  # allowed: no answer within the budget, said clearly
            assert "budget" in str(exc)
        else:
            assert isinstance(answer.text, str)
        assert len(llm.calls) <= 1, f"{len(llm.calls)} model calls with a budget of one"

    def test_survives_an_empty_model_reply(self):
        answer = self.ask(ScriptedLLM(lambda prompt, i: ""))
        assert isinstance(answer.text, str)

    def test_is_deterministic_with_a_deterministic_model(self):
        first = self.ask(ScriptedLLM(self.reply)).text
        assert self.ask(ScriptedLLM(self.reply)).text == first

    @pytest.mark.real_model
    def test_runs_on_the_real_embedded_model(self, embedded_llm):
        answer = self.ask(embedded_llm, decoding=Decoding(max_new_tokens=24))
        assert isinstance(answer.text, str) and answer.usage.model_calls >= 1
        assert answer.usage.completion_tokens > 0

    @pytest.mark.real_model
    def test_runs_on_the_llamacpp_backend(self, embedded_llamacpp_llm):
        pieces: list[str] = []
        answer = self.ask(embedded_llamacpp_llm, decoding=Decoding(max_new_tokens=24), on_text=pieces.append)
        assert isinstance(answer.text, str) and answer.usage.model_calls >= 1
        assert answer.usage.completion_tokens > 0
        assert "".join(pieces).strip() == answer.text.strip()


StrategyContract.__test__ = False  # the base class itself is not a test
