"""The contract every model backend must pass, as a table of pytest tests.

Run it against any registered backend (built-in, entry point or plugins
folder) with one line in a test module::

    TestMine = BackendContract.for_backend("my_backend", settings={"model": "my-model"})

The model is loaded once per test class, through the same selection as the
engine (``backend`` set to the name), and must be the named backend's: a
fallback to another backend is a failure, or a skip when the backend says it
cannot run here (``problem()``), unless ``ASSISTANT_REQUIRE_BACKENDS`` lists
its name (CI's way of saying "this must work here"). The table checks ``n``
samples, that a greedy stream equals the greedy generation, stop strings,
``max_new_tokens``, that ``score`` ranks a likely continuation above an
unlikely one, token counts, and that every capability the model says it
lacks is handled by the core (one notice, or ``CapabilityMissing``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

import pytest

from ..backend import Capabilities, CapabilityMissing, capabilities_of
from ..config import Settings
from ..engine import Engine
from ..llm import LLM, MeteredLLM
from ..plugins import make_plugin_host
from ..types import Decoding

QUESTION = "What is the capital of France?"
REQUIRE_ENV = "ASSISTANT_REQUIRE_BACKENDS"


class BackendContract:
    """Subclass (or use :meth:`for_backend`) and set ``backend``."""

    backend: ClassVar[str] = ""
    plugins_dir: ClassVar[str | None] = None
    settings: ClassVar[dict[str, Any]] = {}

    @classmethod
    def for_backend(cls, name: str, plugins_dir: str | Path | None = None,
                    settings: dict[str, Any] | None = None) -> type:
        """A test class for the backend registered as ``name``; ``settings``
        are :class:`assistant.Settings` fields (default: the embedded model
        on the CPU in float32)."""
        attrs = {"backend": name, "plugins_dir": None if plugins_dir is None else str(plugins_dir),
                 "settings": dict(settings or {}), "__test__": True}
        return type(f"TestBackendContract_{name}", (cls,), attrs)

    # -- fixtures -----------------------------------------------------------------

    def make_settings(self) -> Settings:
        return Settings(**{"model": "embedded", "device": "cpu", "dtype": "float32", **self.settings,
                           "backend": self.backend})

    def engine(self) -> Engine:
        return Engine(self.make_settings(), host=make_plugin_host(self.plugins_dir))

    @pytest.fixture(scope="class")
    def llm(self) -> Any:
        engine = self.engine()
        backend = engine.backends()[self.backend]()
        settings = self.make_settings()
        problem = backend.problem(settings)
        if problem is not None:
            required = {n.strip() for n in os.environ.get(REQUIRE_ENV, "").split(",")}
            if self.backend in required or (self.backend == "llamacpp"
                                            and os.environ.get("ASSISTANT_REQUIRE_LLAMACPP") == "1"):
                pytest.fail(f"{REQUIRE_ENV} requires backend {self.backend!r}, which cannot run here: {problem}")
            pytest.skip(f"backend {self.backend!r} cannot run here: {problem}")
        model = engine.llm
        assert engine.notices == [], f"the {self.backend!r} backend did not run the model: {engine.notices}"
        yield model
        close = getattr(getattr(model, "runtime", None), "close", None)
        if close is not None:
            close()

    @staticmethod
    def greedy(max_new_tokens: int = 12, **kwargs: Any) -> Decoding:
        return Decoding(max_new_tokens=max_new_tokens, **kwargs)

    # -- the contract -------------------------------------------------------------

    def test_is_registered_with_docs_priority_label_and_capabilities(self):
        backends = self.engine().backends()
        assert self.backend in backends, f"no backend {self.backend!r} is registered: {sorted(backends)}"
        cls = backends[self.backend]
        assert (cls.__doc__ or "").strip(), f"backend {self.backend!r} needs a docstring (shown by `assistant plugins`)"
        assert isinstance(cls.priority, int) and isinstance(cls.label, str) and cls.label
        assert isinstance(cls.capabilities, Capabilities)
        assert cls().claims(self.make_settings()) in (True, False)

    def test_the_loaded_model_is_an_llm_with_capabilities(self, llm):
        assert isinstance(llm, LLM), "the loaded model must offer assistant.LLM"
        declared = getattr(llm, "capabilities", None)
        assert declared is None or isinstance(declared, Capabilities), "capabilities must be assistant.Capabilities"
        assert llm.name and llm.context_window > 0

    def test_generates_one_list_per_prompt_within_max_new_tokens(self, llm):
        rows = llm.generate([QUESTION, "Name one colour."], decoding=self.greedy(8))
        assert len(rows) == 2 and all(len(row) == 1 for row in rows), "one list of n candidates per prompt"
        for row in rows:
            c = row[0]
            assert c.text.strip() and c.prompt_tokens > 0 and 0 < c.completion_tokens <= 8, c

    def test_max_new_tokens_ends_with_length(self, llm):
        [[c]] = llm.generate(["Write a long story about the sea."], decoding=self.greedy(3))
        assert c.completion_tokens <= 3 and c.finish_reason == "length", c

    def test_n_samples(self, llm):
        metered = MeteredLLM(llm)  # where the model cannot sample n at once, the core makes n calls
        [row] = metered.generate([QUESTION], n=3, decoding=Decoding(max_new_tokens=8, temperature=0.9, seed=7))
        assert len(row) == 3 and all(c.text.strip() for c in row)
        [greedy] = metered.generate([QUESTION], n=2, decoding=self.greedy(8))
        assert len(greedy) == 2 and greedy[0].text == greedy[1].text, "greedy samples are equal"

    def test_stream_equals_generate_when_greedy(self, llm):
        [[whole]] = llm.generate([QUESTION], decoding=self.greedy(16))
        stream = MeteredLLM(llm).stream(QUESTION, decoding=self.greedy(16))
        pieces = list(stream)
        assert "".join(pieces).strip() == whole.text.strip()
        assert stream.candidate is not None and stream.candidate.text.strip() == whole.text.strip()

    def test_stop_strings_end_the_text_and_are_removed(self, llm):
        [[free]] = llm.generate([QUESTION], decoding=self.greedy(24))
        words = free.text.split()
        if len(words) < 3:
            pytest.skip(f"the greedy answer is too short to cut: {free.text!r}")
        stop = " " + words[1]
        [[cut]] = llm.generate([QUESTION], decoding=self.greedy(24, stop=(stop,)))
        assert stop not in cut.text and cut.finish_reason == "stop", cut
        assert free.text.startswith(cut.text.strip()), (cut.text, free.text)

    def test_score_ranks_a_likely_continuation_above_an_unlikely_one(self, llm):
        if not capabilities_of(llm).score:
            with pytest.raises(CapabilityMissing):
                MeteredLLM(llm).score(QUESTION, " Paris")
            return
        likely = llm.score("The capital of France is", " Paris.")
        unlikely = llm.score("The capital of France is", " a purple refrigerator.")
        assert likely > unlikely, (likely, unlikely)
        assert likely <= 0.0, "score is a log-likelihood (natural log, summed over tokens)"

    def test_counts_tokens(self, llm):
        short, long = llm.count_tokens("Hi."), llm.count_tokens("Hi. " + "The quick brown fox jumps. " * 20)
        assert 0 < short < long
        [[c]] = llm.generate([QUESTION], decoding=self.greedy(2))
        if capabilities_of(llm).count_tokens:
            assert llm.count_tokens(QUESTION) == c.prompt_tokens, "count_tokens must count what generate sends"

    def test_renders_what_the_model_sees(self, llm):
        text = llm.render(QUESTION)
        assert isinstance(text, str) and QUESTION in text

    def test_a_missing_capability_is_handled_by_the_core(self, llm):
        caps = capabilities_of(llm)
        metered = MeteredLLM(llm)
        if not caps.words:
            with pytest.raises(CapabilityMissing):
                metered.generate([QUESTION], decoding=self.greedy(4, exclude=("Paris",)))
        if not caps.beam_search:
            with pytest.raises(CapabilityMissing):
                metered.generate([QUESTION], decoding=self.greedy(4, num_beams=2))
        if caps.words:
            [[c]] = metered.generate([QUESTION], decoding=self.greedy(12, exclude=("Paris",)))
            assert "paris" not in c.text.lower(), c.text
        assert len(metered.notices) == len(set(metered.notices)), "each notice is said once"


BackendContract.__test__ = False  # the base class itself is not a test
