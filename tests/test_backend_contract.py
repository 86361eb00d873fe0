"""The backend contract table on every built-in backend, and what the core
does for a model that lacks a capability (one notice or a clear error)."""

from __future__ import annotations

import pytest

from assistant import Capabilities, CapabilityMissing, Decoding, Settings
from assistant.docgen import EXAMPLES
from assistant.engine import Engine
from assistant.llm import MeteredLLM
from assistant.testing import BackendContract, ScriptedLLM

TestTransformersBackend = pytest.mark.real_model(BackendContract.for_backend("transformers"))
TestLlamaCppBackend = pytest.mark.real_model(BackendContract.for_backend("llamacpp"))


class Limited(ScriptedLLM):
    """A scripted model that declares it can neither sample n at once, stream, score nor constrain words."""

    capabilities = Capabilities(samples=False, streaming=False, score=False, words=False, beam_search=False)

    def generate(self, prompts, n=1, decoding=None, label="generate"):
        assert n == 1, "the core must not ask a model without `samples` for several at once"
        return super().generate(prompts, n=n, decoding=decoding, label=label)

    def stream(self, prompt, decoding=None, label="stream"):
        raise AssertionError("the core must not ask a model without `streaming` to stream")

    def score(self, prompt, continuation):
        raise AssertionError("the core must not ask a model without `score` to score")


def test_the_core_works_around_what_a_model_cannot_do():
    llm = Limited([f"answer {i}" for i in range(6)])
    metered = MeteredLLM(llm)
    [row] = metered.generate(["q"], n=3, decoding=Decoding(temperature=0.8, seed=1))
    assert [c.text for c in row] == ["answer 0", "answer 1", "answer 2"] and len(llm.calls) == 3
    assert [c.decoding.seed for c in llm.calls] == [1, 2, 3]  # each sample its own seed: not three copies
    metered.generate(["q"], n=2, decoding=Decoding(temperature=0.8))
    assert metered.notices == ["model 'scripted' gives one sample per call: 3 samples took 3 calls",
                               "model 'scripted' gives one sample per call: 2 samples took 2 calls"]
    stream = metered.stream("q")
    assert list(stream) == ["answer 5"] and stream.candidate.text == "answer 5"
    for call, capability in ((lambda: metered.score("q", "a"), "score"),
                             (lambda: metered.generate(["q"], decoding=Decoding(exclude=("x",))), "words"),
                             (lambda: metered.generate(["q"], decoding=Decoding(num_beams=2)), "beam_search")):
        with pytest.raises(CapabilityMissing) as caught:
            call()
        assert caught.value.capability == capability and caught.value.hint
        assert "model 'scripted' cannot" in caught.value.message


def test_an_answer_carries_the_notice_and_streams_from_a_model_that_cannot_stream():
    engine = Engine(Settings(), llm=Limited("Owls hunt at night."))
    pieces: list[str] = []
    answer = engine.answer("When do owls hunt?", use_retrieval=False, on_text=pieces.append,
                           strategy="self_consistency", options={"samples": 2})
    assert answer.text and any("2 samples took 2 calls" in n for n in answer.notices), answer.notices
    # zero-shot streams its answer: from this model it arrives in one piece, with the notice saying why
    pieces.clear()
    answer = Engine(Settings(), llm=Limited("Owls hunt at night.")).answer(
        "When do owls hunt?", use_retrieval=False, on_text=pieces.append, strategy="zero_shot")
    assert pieces == ["Owls hunt at night."] == [answer.text]
    assert any("cannot stream: the answer arrives in one piece" in n for n in answer.notices), answer.notices


def test_an_unknown_backend_is_a_clear_error():
    from assistant import ConfigError

    engine = Engine(Settings(backend="no-such"))
    with pytest.raises(ConfigError) as caught:
        engine.answer("Hi?", use_retrieval=False)
    assert "unknown backend 'no-such'" in caught.value.message and "llamacpp" in caught.value.hint


#: The docs' canned backend (docs/examples/hooks/register_backends.py): the contract a third party runs.
TestDocsCannedBackend = BackendContract.for_backend(
    "canned", plugins_dir=EXAMPLES,
    settings={"model": "canned:Owls hunt at night and sleep by day in barns."})


def test_an_adapter_of_a_kind_the_backend_does_not_declare_is_refused_before_any_call(home):
    import json

    from assistant.adapters import META_FILE, AdapterError

    for name, kind in (("tone", "prompt"), ("style", "lora")):
        folder = home / "adapters" / name
        folder.mkdir(parents=True)
        (folder / "adapter_config.json").write_text("{}")
        (folder / META_FILE).write_text(json.dumps({"name": name, "kind": kind, "base_model": "m",
                                                    "base_fingerprint": "f"}))

    class LoraOnly(ScriptedLLM):
        capabilities = Capabilities(adapter_kinds=("lora",))

        def with_adapter(self, spec):
            self.applied = spec.label
            return self

    llm = LoraOnly("Hi.")
    engine = Engine(Settings(), llm=llm)
    with pytest.raises(AdapterError, match="cannot apply prompt adapters \\(adapter 'tone'\\)") as caught:
        engine.adapted_llm("tone")
    assert "it applies lora" in caught.value.hint and not hasattr(llm, "applied")
    assert engine.adapted_llm("style") is llm and llm.applied == "style"
