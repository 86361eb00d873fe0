"""The transformers backend's own decode loop (assistant/backends/transformers/decode.py), on the
real embedded model.

* float32: the loop writes what ``model.generate()`` writes (up to a
  near-tie, tests/near_ties.py: the two take other kernel paths), for a
  batch of prompts of different lengths (left padding) whose rows finish at
  different steps (finished rows leave the batch);
* the bfloat16 decode twin: its quality against float32 is measured on the
  float32 greedy tokens (teacher forcing). Tolerance: mean |log-prob diff|
  < 0.1 nat and max < 0.5, and the same top token wherever float32's top-2
  gap is >= 0.5 nat. Why not identical tokens everywhere: bfloat16 keeps 8
  bits of mantissa, so near-ties (gap ~0.01 nat) may flip; measured mean
  0.02, max 0.15 nat;
* samples: seeded calls repeat, samples differ; streaming stops at a stop
  string and closing a stream leaves the model usable.
"""

from __future__ import annotations

import pytest

from assistant.types import Decoding

from .near_ties import assert_same_up_to_near_tie

pytestmark = pytest.mark.real_model

PROMPTS = ["What is the capital of France?",
           "Write a short paragraph about the history of the bicycle, with dates.",
           "Name a fruit."]


@pytest.fixture(scope="module")
def fresh_loaded():
    """A model of our own: the twin copies weights that no other test touched."""
    from assistant.models import load_generator

    return load_generator("embedded", device="cpu", dtype="float32")


@pytest.fixture(scope="module")
def mixed_llm(fresh_loaded):
    from assistant.backends.transformers.llm import TransformersLLM

    return TransformersLLM(fresh_loaded, decode_dtype="bfloat16")


def _generate_reference(llm, prompts, decoding):
    """What transformers' own generate() writes for the same batch."""
    import torch

    enc = llm._encode(prompts)
    with torch.inference_mode():
        out = llm.model.generate(**enc, **llm._generate_kwargs(decoding, 1))
    return [llm._candidate(out[i, enc["input_ids"].shape[1]:], 0, decoding, i) for i in range(len(prompts))]


def test_loop_writes_what_generate_writes(real_llm):
    d = Decoding(max_new_tokens=48)
    ours = [group[0] for group in real_llm.generate(PROMPTS, decoding=d)]
    reference = _generate_reference(real_llm, PROMPTS, d)
    for prompt, mine, theirs in zip(PROMPTS, ours, reference):
        assert_same_up_to_near_tie(real_llm, prompt, mine.text, theirs.text)
        if mine.text == theirs.text:
            assert mine.completion_tokens == theirs.completion_tokens
    # rows finished at different steps: the short answers left the batch early
    assert ours[0].finish_reason == "stop" and ours[1].finish_reason == "length"
    assert ours[0].completion_tokens < ours[1].completion_tokens
    # and a row that ran beside others reads as when it ran alone
    [[alone]] = real_llm.generate([PROMPTS[1]], decoding=d)
    assert_same_up_to_near_tie(real_llm, PROMPTS[1], ours[1].text, alone.text)


def test_bfloat16_twin_keeps_quality(fresh_loaded, mixed_llm):
    import torch
    from transformers import DynamicCache

    from assistant.backends.transformers.decode import cast_cache

    model = fresh_loaded.model
    twin = mixed_llm._decode_model(mixed_llm._active())
    assert next(twin.parameters()).dtype == torch.bfloat16
    assert next(model.parameters()).dtype == torch.float32  # the loaded weights are untouched
    diffs, agree = [], []
    for prompt in PROMPTS[:2]:
        ids = mixed_llm._encode([prompt])["input_ids"]
        with torch.inference_mode():
            full = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=24, do_sample=False)
            tokens = full[0, ids.shape[1]:]
            reference = model(full).logits[0, ids.shape[1] - 1:-1].float().log_softmax(-1)
            cache = DynamicCache(config=model.config)
            first = model(ids, past_key_values=cache, use_cache=True).logits[0, -1:].float()
            cast_cache(cache, torch.bfloat16)
            rest = twin(tokens[None, :-1], past_key_values=cache, use_cache=True).logits[0].float()
            mixed = torch.cat([first, rest]).log_softmax(-1)
        diffs.append((reference.gather(1, tokens[:, None]) - mixed.gather(1, tokens[:, None])).abs()[:, 0])
        top2 = reference.topk(2, dim=-1).values
        clear = top2[:, 0] - top2[:, 1] >= 0.5
        agree.append((mixed.argmax(-1) == reference.argmax(-1))[clear])
    diff = torch.cat(diffs)
    assert diff.mean() < 0.1 and diff.max() < 0.5, (diff.mean(), diff.max())
    assert bool(torch.cat(agree).all())
    # and end to end, the mixed backend answers the first prompt like float32
    d = Decoding(max_new_tokens=24)
    assert_same_up_to_near_tie(mixed_llm, PROMPTS[0], mixed_llm.generate([PROMPTS[0]], decoding=d)[0][0].text,
                               _generate_reference(mixed_llm, [PROMPTS[0]], d)[0].text)


def test_twin_serves_only_the_base_model(mixed_llm):
    from assistant.adapter_runtime import Active
    from assistant.adapters import AdapterSpec

    base = mixed_llm._decode_model(Active(mixed_llm.model))
    assert base is not mixed_llm.model
    view = mixed_llm.with_adapter("")
    view.adapter = AdapterSpec.parse("some-lora")  # an adapter view decodes with the adapter's module
    assert view._decode_model(Active(mixed_llm.model)) is mixed_llm.model


def test_samples_share_a_prefill_repeat_with_a_seed_and_differ(mixed_llm):
    d = Decoding(max_new_tokens=20, temperature=1.0, top_p=0.95, seed=7)
    first = [c.text for c in mixed_llm.generate([PROMPTS[2]], n=4, decoding=d)[0]]
    again = [c.text for c in mixed_llm.generate([PROMPTS[2]], n=4, decoding=d)[0]]
    assert first == again
    assert len(set(first)) >= 2
    # two prompts x three samples in one call: every group has its three
    groups = mixed_llm.generate(PROMPTS[:2], n=3, decoding=d)
    assert [len(g) for g in groups] == [3, 3]
    assert all(c.index == i for i, g in enumerate(groups) for c in g)


def test_stream_stops_at_a_stop_string_and_closing_frees_the_model(mixed_llm):
    d = Decoding(max_new_tokens=60, stop=(".",))
    stream = mixed_llm.stream(PROMPTS[1], decoding=d)
    text = "".join(stream)
    assert "." not in text and text.strip()
    assert stream.candidate.finish_reason == "stop"
    long = mixed_llm.stream("Write a long story about a dragon.", decoding=Decoding(max_new_tokens=200))
    for i, _ in enumerate(long):
        if i == 3:
            break
    long.close()
    [[after]] = mixed_llm.generate([PROMPTS[0]], decoding=Decoding(max_new_tokens=12))
    assert "Paris" in after.text
