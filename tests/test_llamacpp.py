"""The llama.cpp backend against the transformers reference, on the real
embedded model: same greedy tokens, close log-probabilities, for the base
model, a LoRA (every projection, so the rotary permutation of q/k is
checked) and a soft prompt; shared-prefix sampling, prompt reuse, stop
strings, banned words, and the fallback when llama.cpp is missing.

Tolerance. The GGUF stores Q4_1 weights; transformers dequantizes them once
to float32, llama.cpp multiplies the quantized weights by activations it
quantizes to 8 bits per block of 32 (Q8_1). The weights are the same
numbers and only the activations are rounded, which moves per-token
log-probabilities by a few hundredths of a nat (measured on these prompts:
mean |difference| 0.02-0.06, max 0.19). So:

* log-probabilities of the reference's greedy tokens: mean |difference|
  under 0.1 nat, max under 0.5 -- a wrong q/k permutation or a missing LoRA
  scale moves them by whole nats;
* greedy tokens: wherever the reference's best token leads the second by at
  least 0.5 nat (more than twice the largest difference above), llama.cpp
  must pick the same token; closer than that is a near-tie the rounding may
  flip ("What is the capital of France?" opens with "The" at 25.33 against
  "L" at 25.24 in float32), so the free-running greedy texts must agree up to
  the first near-tie (and the test checks that most tokens are not near-ties).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.types import Decoding

pytestmark = pytest.mark.real_model

PROMPTS = ["What is the capital of France?", "Write one sentence about the sea.",
           "List three colours.", "Explain photosynthesis in one sentence."]


def _hf_reference(llm, prompt: str, tokens: int = 12) -> tuple[list[int], list[int], np.ndarray]:
    """Prompt ids, greedy tokens of the transformers model, and its log-probability
    rows predicting each of them (teacher forcing). The greedy tokens come from
    PEFT's forward on the whole sequence at each step, not from a generate():
    PeftModel.generate depends on transformers' cache argument's name."""
    import torch

    text = llm.render(prompt)
    prompt_ids = llm.tokenizer(text, add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        active = llm._active()
        generated: list[int] = []
        while len(generated) < tokens and not (generated and generated[-1] in llm._eos_ids()):
            step = active.module(input_ids=torch.tensor([prompt_ids + generated])).logits[0, -1]
            generated.append(int(step.argmax()))
        ids = torch.tensor([prompt_ids + generated])
        logits = active.module(input_ids=ids).logits[0, active.virtual_tokens:]
    rows = torch.log_softmax(logits[len(prompt_ids) - 1:-1].float(), dim=-1).numpy()
    return prompt_ids, generated, rows


def _llama_greedy(llm, prompt: str, tokens: int = 12) -> list[int]:
    from assistant.backends.sampling import Sampler

    with llm._lock:
        rows = llm._decode([llm._tokens(prompt)], [(0, 0)], Decoding(max_new_tokens=tokens),
                           Sampler(Decoding(max_new_tokens=tokens)))
    return rows[0].generated


NEAR_TIE = 0.5  # nats between the reference's two best tokens


def _compare(hf, cpp, prompts=PROMPTS) -> dict[str, float]:
    from assistant.backends.sampling import log_softmax

    diffs: list[float] = []
    positions = ties = 0
    for prompt in prompts:
        prompt_ids, hf_tokens, hf_rows = _hf_reference(hf, prompt)
        assert cpp._tokens(prompt) == prompt_ids, "both backends must see the same tokens"
        assert cpp.render(prompt) == hf.render(prompt)
        cpp_rows = [log_softmax(r) for r in cpp.token_logits(prompt_ids, hf_tokens)]
        first_tie = len(hf_tokens)
        for i, (token, ref, ours) in enumerate(zip(hf_tokens, hf_rows, cpp_rows)):
            diffs.append(abs(float(ref[token]) - float(ours[token])))
            best, second = np.sort(ref)[-2:][::-1]
            positions += 1
            if best - second < NEAR_TIE:
                ties += 1
                first_tie = min(first_tie, i)
                continue
            assert int(np.argmax(ours)) == token, f"{prompt!r}: token {i} differs with a clear lead of {best - second:.2f}"
        cpp_tokens = _llama_greedy(cpp, prompt, len(hf_tokens))
        assert cpp_tokens[:first_tie] == hf_tokens[:first_tie], f"greedy tokens differ before any near-tie: {prompt!r}"
    assert ties <= positions // 3, f"{ties} of {positions} positions are near-ties: the check proves little"
    mean, worst = float(np.mean(diffs)), max(diffs)
    assert mean < 0.1 and worst < 0.5, f"log-probabilities differ: mean {mean:.3f}, max {worst:.3f}"
    return {"mean": mean, "max": worst, "ties": ties, "positions": positions}


def test_base_model_matches_transformers(real_llm, embedded_llamacpp_llm):
    _compare(real_llm, embedded_llamacpp_llm)


@pytest.fixture(scope="module")
def random_adapters(tmp_path_factory):
    """A LoRA on every projection of every layer with random A and B (PEFT
    starts B at zero, which would test nothing), and a soft prompt made of
    the embeddings of a real instruction, saved in a registry like trained ones."""
    import torch
    from peft import LoraConfig, PrefixTuningConfig, PromptTuningConfig, get_peft_model

    from assistant.adapters import AdapterInfo, AdapterRegistry, weights_fingerprint
    from assistant.models import load_generator

    registry = AdapterRegistry(tmp_path_factory.mktemp("llamacpp-adapters"))
    loaded = load_generator("embedded", device="cpu", dtype="float32")
    fingerprint = weights_fingerprint(loaded.folder)
    torch.manual_seed(0)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                                            "up_proj", "down_proj"], task_type="CAUSAL_LM")
    lora = get_peft_model(loaded.model, config)
    with torch.no_grad():
        for name, param in lora.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.02)
    info = dict(base_model=loaded.source.label, base_fingerprint=fingerprint)

    def save(model, name, kind):
        registry.save(AdapterInfo(name=name, kind=kind, **info), lambda folder: model.save_pretrained(str(folder)))

    save(lora, "rand-lora", "lora")
    lora.unload()
    loaded = load_generator("embedded", device="cpu", dtype="float32")
    words = "Answer like a pirate, always."
    ids = loaded.tokenizer(words, add_special_tokens=False)["input_ids"]
    soft = get_peft_model(loaded.model, PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=len(ids)))
    with torch.no_grad():
        embedding = loaded.model.get_input_embeddings().weight[ids]
        soft.prompt_encoder["default"].embedding.weight.copy_(embedding)
    save(soft, "pirate", "prompt")
    loaded = load_generator("embedded", device="cpu", dtype="float32")
    prefix = get_peft_model(loaded.model, PrefixTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=4))
    save(prefix, "pfx", "prefix")
    return registry


def _with_registry(llm, registry):
    llm._shared["registry"] = registry
    return llm


@pytest.fixture(scope="module")
def reference_with_adapters(random_adapters):
    from assistant.adapter_runtime import AdapterSet
    from assistant.adapters import weights_fingerprint
    from assistant.backends.transformers.llm import TransformersLLM
    from assistant.models import load_generator

    llm = TransformersLLM(load_generator("embedded", device="cpu", dtype="float32"))
    llm._adapters[0] = AdapterSet(llm.model, llm.loaded.source.label, weights_fingerprint(llm.loaded.folder),
                                  random_adapters)
    return llm


@pytest.fixture(scope="module")
def cpp_with_adapters(embedded_llamacpp_llm, random_adapters):
    return _with_registry(embedded_llamacpp_llm.with_adapter(""), random_adapters)


def test_lora_on_every_projection_matches_peft(reference_with_adapters, cpp_with_adapters):
    hf = reference_with_adapters.with_adapter("rand-lora")
    cpp = cpp_with_adapters.with_adapter("rand-lora")
    _compare(hf, cpp, PROMPTS[:2])
    # the adapter really changes what is written (or the comparison proves nothing)
    base = _llama_greedy(cpp_with_adapters.with_adapter(""), PROMPTS[0])
    assert _llama_greedy(cpp, PROMPTS[0]) != base


def test_lora_scale_and_switching(reference_with_adapters, cpp_with_adapters):
    zero = cpp_with_adapters.with_adapter("rand-lora*0")
    base = cpp_with_adapters.with_adapter("")
    full = cpp_with_adapters.with_adapter("rand-lora")
    ids = base._tokens(PROMPTS[1])
    target = _llama_greedy(base, PROMPTS[1])
    lp = {name: sum(v.token_logprobs(ids, target)) for name, v in
          [("base", base), ("zero", zero), ("full", full), ("base-again", base)]}
    assert lp["zero"] == pytest.approx(lp["base"], abs=1e-3)
    assert lp["base-again"] == pytest.approx(lp["base"], abs=1e-3)
    assert abs(lp["full"] - lp["base"]) > 0.1
    # a scaled adapter equals PEFT's weighted mix of it
    _compare(reference_with_adapters.with_adapter("rand-lora*0.5"), cpp_with_adapters.with_adapter("rand-lora*0.5"),
             PROMPTS[1:2])


@pytest.fixture(scope="module")
def cpp_run_time_lora(random_adapters):
    """A second llama.cpp model that applies LoRA at run time (no merging): the
    path of LoRA mixes, tested here on a single adapter against PEFT."""
    from assistant.backends.llamacpp.backend import LlamaCppLLM
    from assistant.backends.llamacpp.runtime import Runtime
    from assistant.models import embedded_gguf, resolve_generator

    gguf = embedded_gguf()
    llm = LlamaCppLLM(Runtime(gguf), gguf, resolve_generator("embedded").label, merge_lora=False,
                      registry=random_adapters)
    yield llm
    llm.runtime.close()


def test_merged_lora_runs_a_cached_copy_of_the_model(cpp_with_adapters):
    full = cpp_with_adapters.with_adapter("rand-lora")
    state = full._state(full.adapter)
    assert state.model and not state.loras  # merged, not a run-time adapter
    path = Path(state.model)
    stamp = path.stat().st_mtime_ns
    assert _llama_greedy(full, PROMPTS[0])
    assert full._shared["model"] == state.model and full.runtime is not full._shared["runtimes"][""]
    assert _llama_greedy(cpp_with_adapters.with_adapter(""), PROMPTS[0])
    assert full._shared["model"] == ""  # the base runs the base model again
    full._shared["states"].clear()  # worked out again: the merged file is reused, not rewritten
    assert Path(full._state(full.adapter).model).stat().st_mtime_ns == stamp


def test_run_time_lora_matches_peft(reference_with_adapters, cpp_run_time_lora):
    cpp = cpp_run_time_lora.with_adapter("rand-lora")
    assert cpp._state(cpp.adapter).loras and not cpp._state(cpp.adapter).model
    _compare(reference_with_adapters.with_adapter("rand-lora"), cpp, PROMPTS[:2])
    _compare(reference_with_adapters.with_adapter("rand-lora*0.5"), cpp_run_time_lora.with_adapter("rand-lora*0.5"),
             PROMPTS[1:2])


def test_soft_prompt_matches_peft(reference_with_adapters, cpp_with_adapters):
    hf = reference_with_adapters.with_adapter("pirate")
    cpp = cpp_with_adapters.with_adapter("pirate")
    _compare(hf, cpp, PROMPTS[:2])
    assert _llama_greedy(cpp, PROMPTS[1]) != _llama_greedy(cpp_with_adapters.with_adapter(""), PROMPTS[1])


def test_prefix_tuning_is_handed_to_transformers(reference_with_adapters, cpp_with_adapters):
    cpp = cpp_with_adapters.with_adapter("pfx")
    cpp._shared["reference"] = reference_with_adapters  # instead of loading another transformers model
    decoding = Decoding(max_new_tokens=8)
    expected = reference_with_adapters.with_adapter("pfx").generate([PROMPTS[0]], decoding=decoding)[0][0].text
    assert cpp.generate([PROMPTS[0]], decoding=decoding)[0][0].text == expected
    cpp._shared["reference"] = None


def test_prefix_tuning_generates_like_peft_forward(reference_with_adapters):
    """A prefix lives in the cache of the transformers backend's own decode
    loop; its greedy tokens equal those of PEFT's training forward (which
    builds the prefix itself) run on the whole sequence at every step. With
    transformers 5.24 PeftModel.generate silently dropped the prefix."""
    import torch

    view = reference_with_adapters.with_adapter("pfx")
    decoding = Decoding(max_new_tokens=8)
    text = view.generate([PROMPTS[0]], decoding=decoding)[0][0].text
    wrapper = reference_with_adapters.adapter_set().activate(view.adapter).module
    tok = reference_with_adapters.tokenizer
    ids = tok(view.render(PROMPTS[0]), return_tensors="pt", add_special_tokens=False)["input_ids"]
    generated: list[int] = []
    with torch.inference_mode():
        for _ in range(8):
            current = torch.cat([ids, torch.tensor([generated], dtype=ids.dtype)], dim=1) if generated else ids
            generated.append(int(wrapper(input_ids=current, attention_mask=torch.ones_like(current)).logits[0, -1].argmax()))
            if generated[-1] == tok.eos_token_id:
                break
    assert text == tok.decode(generated, skip_special_tokens=True).strip()
    assert text != reference_with_adapters.with_adapter("").generate([PROMPTS[0]], decoding=decoding)[0][0].text


def test_samples_share_one_prefill_and_are_reproducible(embedded_llamacpp_llm):
    llm = embedded_llamacpp_llm.with_adapter("")
    decoding = Decoding(max_new_tokens=16, temperature=0.8, top_p=0.95, seed=7)
    before = llm.runtime.decoded
    first = llm.generate([PROMPTS[1]], n=5, decoding=decoding)[0]
    decoded = llm.runtime.decoded - before
    assert len(first) == 5 and all(c.completion_tokens > 0 for c in first)
    assert len({c.text for c in first}) >= 3, "five samples at temperature 0.8 should differ"
    prompt_tokens = llm.count_tokens(PROMPTS[1])
    # the prompt is decoded at most once: the rest are the samples' own tokens
    assert decoded <= prompt_tokens + sum(c.completion_tokens for c in first)
    again = llm.generate([PROMPTS[1]], n=5, decoding=decoding)[0]
    assert [c.text for c in again] == [c.text for c in first]


def test_the_same_prompt_again_decodes_one_token(embedded_llamacpp_llm):
    llm = embedded_llamacpp_llm.with_adapter("")
    decoding = Decoding(max_new_tokens=4)
    llm.generate([PROMPTS[2]], decoding=decoding)
    before = llm.runtime.decoded
    out = llm.generate([PROMPTS[2]], decoding=decoding)[0][0]
    assert llm.runtime.decoded - before <= 1 + out.completion_tokens


def test_several_prompts_in_one_call(embedded_llamacpp_llm):
    """Prompts decoded side by side give each the tokens it gets alone, up to
    a near-tie. A batch multiplies matrices where one sequence multiplies
    vectors, and the kernels round differently (differently again on AVX-512
    than on AVX2), so where the single call's two best tokens are within
    NEAR_TIE the batch may take the other one, and the texts part there. A
    wrong position, mask or sequence id would part them at a clear lead."""
    from assistant.backends.sampling import Sampler, log_softmax

    llm = embedded_llamacpp_llm.with_adapter("")
    decoding = Decoding(max_new_tokens=10)
    prompt_ids = [llm._tokens(p) for p in PROMPTS[:3]]
    with llm._lock:
        together = llm._decode(prompt_ids, [(i, 0) for i in range(3)], decoding, Sampler(decoding))
    assert [row.prompt for row in together] == [0, 1, 2]
    compared = 0
    for i, ids in enumerate(prompt_ids):
        alone = _llama_greedy(llm, PROMPTS[i], 10)
        batch = together[i].generated
        rows = [log_softmax(r) for r in llm.token_logits(ids, alone)]
        for pos, (token, row) in enumerate(zip(alone, rows)):
            if batch[pos] != token:
                gap = float(row[token] - row[batch[pos]])
                assert gap < NEAR_TIE, f"{PROMPTS[i]!r}: token {pos} differs with a clear lead of {gap:.2f}"
                break
            compared += 1
        else:
            assert batch == alone
    assert compared >= 15, f"only {compared} of 30 tokens agreed before a near-tie: the check proves little"
    texts = llm.generate(PROMPTS[:3], decoding=decoding)
    assert [g[0].index for g in texts] == [0, 1, 2] and all(g[0].text for g in texts)


def test_stop_strings_streaming_and_banned_words(embedded_llamacpp_llm):
    llm = embedded_llamacpp_llm.with_adapter("")
    free = llm.generate(["Count from 1 to 10, separated by commas."], decoding=Decoding(max_new_tokens=30))[0][0]
    assert "4" in free.text
    stopped = llm.generate(["Count from 1 to 10, separated by commas."],
                           decoding=Decoding(max_new_tokens=30, stop=("4",)))[0][0]
    assert "4" not in stopped.text and stopped.finish_reason == "stop"
    stream = llm.stream("Count from 1 to 10, separated by commas.", decoding=Decoding(max_new_tokens=30, stop=("4",)))
    pieces = list(stream)
    assert "".join(pieces).strip() == stopped.text and stream.candidate.text == stopped.text
    free = llm.generate([PROMPTS[1]], decoding=Decoding(max_new_tokens=20))[0][0].text
    word = next(w for w in re.findall(r"[A-Za-z]{4,}", free) if w.lower() not in ("write", "sentence"))
    banned = llm.generate([PROMPTS[1]], decoding=Decoding(max_new_tokens=20, exclude=(word,)))[0][0].text
    assert word.lower() not in banned.lower() and banned != free


def test_beam_search_is_handed_to_transformers(embedded_llamacpp_llm, real_llm):
    llm = embedded_llamacpp_llm.with_adapter("")
    llm._shared["reference"] = real_llm  # the session's transformers model, instead of loading another
    decoding = Decoding(max_new_tokens=8, num_beams=2)
    assert llm.generate([PROMPTS[0]], decoding=decoding)[0][0].text == \
        real_llm.generate([PROMPTS[0]], decoding=decoding)[0][0].text


def test_missing_llamacpp_falls_back_with_one_notice(monkeypatch, tmp_path):
    from assistant import Settings
    from assistant.backends import load_llm
    from assistant.backends.transformers.llm import TransformersLLM

    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # import llama_cpp -> ImportError
    llm, notices = load_llm(Settings(backend="auto", device="cpu", dtype="float32"))
    assert isinstance(llm, TransformersLLM)
    assert len(notices) == 1 and "llama-cpp-python is not installed" in notices[0]


def test_auto_picks_llamacpp_for_the_embedded_model(embedded_llamacpp_llm):
    from assistant import Settings
    from assistant.backends import load_llm
    from assistant.backends.llamacpp.backend import LlamaCppLLM

    llm, notices = load_llm(Settings(backend="auto", device="cpu"))
    assert isinstance(llm, LlamaCppLLM) and notices == []
    from assistant.cores import usable_cores

    assert llm.runtime.threads == usable_cores()  # threads 0: every core this process may use
    llm.runtime.close()
    llm, _ = load_llm(Settings(backend="auto", device="cpu", threads=1))
    assert llm.runtime.threads == 1 and llm.generate(["Say hi."], decoding=Decoding(max_new_tokens=4))[0][0].text
    llm.runtime.close()


def test_cli_backend_flag_answers():
    from tests.conftest import run_cli

    result = run_cli("--backend", "llamacpp", "ask", "What is 2 + 2?", "--no-retrieval", "--json",
                     "--max-new-tokens", "8")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["usage"]["completion_tokens"] > 0
    assert "note:" not in result.stderr  # no fallback
