"""Adapters on the real embedded model: a LoRA and a soft prompt trained for a
few steps with the real Trainer, saved, reloaded in a fresh model, switched,
mixed, and refused on another base model.

The module trains its own adapters into its own registry and loads its own
copy of the model (LoRA layers are injected into the model they load on, so
the session's shared model stays untouched)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.real_model

QUESTION = "Tell me about a dog."
TOPICS = ["the sea", "a cat", "the moon", "bread", "a train", "music", "snow", "a garden", "coffee", "rain",
          "a book", "the sun"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two adapters trained for 8 steps to answer everything with "Pineapple!"."""
    from assistant.adapters import AdapterRegistry
    from assistant_plugins.peft_adapters.kinds import LoraKind, LoraOptions, PromptOptions, PromptTuningKind
    from assistant_plugins.peft_adapters.templates import BUILTIN
    from assistant_plugins.peft_adapters.training import TrainConfig, train_sft

    root = tmp_path_factory.mktemp("adapters")
    data = root / "pineapple.jsonl"
    data.write_text("\n".join(json.dumps({"input": f"Tell me about {t}.", "output": "Pineapple! Pineapple pineapple."})
                              for t in TOPICS) + "\n")
    registry = AdapterRegistry(root / "registry")
    common = dict(max_steps=8, batch_size=4, max_length=64, eval_every=4, patience=0)
    results = {
        "lora-a": train_sft(name="lora-a", kind=LoraKind(), options=LoraOptions(rank=4), data=data,
                            template=BUILTIN["instruction"], config=TrainConfig(learning_rate=3e-3, **common),
                            device="cpu", registry=registry),
        "soft": train_sft(name="soft", kind=PromptTuningKind(), options=PromptOptions(virtual_tokens=8, init="vocab"),
                          data=data, template=BUILTIN["instruction"], config=TrainConfig(learning_rate=0.3, **common),
                          device="cpu", registry=registry),
    }
    return registry, results


@pytest.fixture(scope="module")
def fresh_llm(trained):
    """A separately loaded model whose adapters come from the test registry (a reload from disk)."""
    from assistant.adapter_runtime import AdapterSet
    from assistant.adapters import weights_fingerprint
    from assistant.backends.transformers.llm import TransformersLLM
    from assistant.models import load_generator

    registry, _ = trained
    llm = TransformersLLM(load_generator("embedded", device="cpu", dtype="float32"))
    llm._adapters[0] = AdapterSet(llm.model, llm.loaded.source.label, weights_fingerprint(llm.loaded.folder), registry)
    return llm


def _greedy(llm, prompt=QUESTION, tokens=12):
    from assistant.types import Decoding

    return llm.generate([prompt], decoding=Decoding(max_new_tokens=tokens))[0][0].text


def test_training_saves_peft_files_metadata_and_a_lower_validation_loss(trained):
    from assistant.adapters import weights_fingerprint
    from assistant.models import conversion_dir, embedded_gguf

    registry, results = trained
    assert registry.names() == ["lora-a", "soft"]
    for name, result in results.items():
        files = registry.files(name)
        assert {"adapter_config.json", "adapter_model.safetensors", "assistant-adapter.json", "log_history.json", "loss.png"} <= set(files)
        assert (registry.path(name) / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert not any(f.endswith((".bin", ".pt", ".pkl")) for f in files)  # no pickle
        info = registry.get(name)
        assert info.base_fingerprint == weights_fingerprint(conversion_dir(embedded_gguf()))
        assert info.metrics["steps"] == 8
        assert info.metrics["eval_loss_after"] < info.metrics["eval_loss_before"]
        assert len(info.data_fingerprint) == 16
        assert info.config["template"] == "instruction"
    assert registry.get("lora-a").trainable_parameters < 0.01 * 135e6  # rank 4 on the attention projections
    assert registry.get("soft").trainable_parameters == 8 * 576  # 8 virtual tokens x hidden size
    assert registry.get("soft").prompt_learning and not registry.get("lora-a").prompt_learning


def test_lora_and_soft_prompt_change_outputs_and_switch_without_reloading(fresh_llm):
    base = _greedy(fresh_llm)
    lora_view, soft_view = fresh_llm.with_adapter("lora-a"), fresh_llm.with_adapter("soft")
    lora = _greedy(lora_view)
    soft = _greedy(soft_view)
    assert "Pineapple" in lora and "Pineapple" not in base
    assert soft != base
    # switching back and forth gives the same texts again: one base model, adapters toggled
    assert _greedy(fresh_llm) == base
    assert _greedy(lora_view) == lora
    assert _greedy(soft_view) == soft
    assert _greedy(fresh_llm.with_adapter("none")) == base
    assert fresh_llm.adapter_set().loaded == ["lora-a", "soft"]
    assert lora_view.name.endswith("+ lora-a")
    # likelihood of the trained answer goes up under both adapters
    assert lora_view.score(QUESTION, "Pineapple!") > soft_view.score(QUESTION, "Pineapple!") > fresh_llm.score(QUESTION, "Pineapple!")


def test_soft_prompt_conditions_generate_exactly_like_prepended_embeddings(fresh_llm):
    """PEFT has shipped versions whose generate silently dropped the soft prompt.
    Reference: greedy decoding by hand on the base model with the soft prompt's
    embeddings put in front of the input embeddings."""
    import torch

    from assistant.types import Decoding

    soft_view = fresh_llm.with_adapter("soft")
    text = _greedy(soft_view, tokens=8)
    wrapper = fresh_llm.adapter_set().activate(soft_view.adapter).module
    virtual = wrapper.get_prompt_embedding_to_save("soft").to(torch.float32)  # (8, hidden)
    model, tok = fresh_llm.model, fresh_llm.tokenizer
    ids = tok(fresh_llm.render(QUESTION), return_tensors="pt", add_special_tokens=False)["input_ids"]
    generated: list[int] = []
    with torch.inference_mode():
        for _ in range(8):
            current = torch.cat([ids, torch.tensor([generated], dtype=ids.dtype)], dim=1) if generated else ids
            embeds = torch.cat([virtual[None], model.get_input_embeddings()(current)], dim=1)
            logits = model(inputs_embeds=embeds).logits  # LoRA layers are off while the soft prompt is active
            generated.append(int(logits[0, -1].argmax()))
    by_hand = tok.decode(generated, skip_special_tokens=True).strip()
    assert text == by_hand
    assert text != _greedy(fresh_llm, tokens=8)
    assert soft_view.generate([QUESTION], decoding=Decoding(max_new_tokens=8))[0][0].text == by_hand


def test_weighted_lora_mix(fresh_llm):
    base = fresh_llm.score(QUESTION, "Pineapple!")
    full = fresh_llm.with_adapter("lora-a").score(QUESTION, "Pineapple!")
    zero = fresh_llm.with_adapter("lora-a*0").score(QUESTION, "Pineapple!")
    half = fresh_llm.with_adapter("lora-a*0.5").score(QUESTION, "Pineapple!")
    assert zero == pytest.approx(base, abs=1e-3)
    assert base < half < full


def test_a_mixed_soft_prompt_and_unknown_names_are_refused_clearly(fresh_llm):
    from assistant.adapters import AdapterError

    with pytest.raises(AdapterError, match="soft-prompt adapters cannot be mixed"):
        fresh_llm.with_adapter("lora-a*0.5+soft*0.5")
    with pytest.raises(AdapterError, match="no adapter named 'nope'.*"):
        fresh_llm.with_adapter("nope")
    with pytest.raises(AdapterError, match="not a valid adapter name"):
        fresh_llm.with_adapter("../etc")
    assert _greedy(fresh_llm) == _greedy(fresh_llm.with_adapter(""))  # a failed switch changed nothing


def test_an_adapter_for_another_base_model_is_refused(trained, fresh_llm):
    from assistant.adapters import META_FILE, AdapterError

    registry, _ = trained
    foreign = registry.path("foreign")
    shutil.copytree(registry.path("lora-a"), foreign)
    meta = json.loads((foreign / META_FILE).read_text())
    meta.update(name="foreign", base_model="SmolLM2-360M-Instruct", base_fingerprint="0123456789abcdef")
    (foreign / META_FILE).write_text(json.dumps(meta))
    try:
        with pytest.raises(AdapterError, match=r"trained on SmolLM2-360M-Instruct .* but the loaded model is SmolLM2-135M"):
            fresh_llm.with_adapter("foreign")
    finally:
        shutil.rmtree(foreign)


def test_engine_turn_records_the_adapter(trained, fresh_llm):
    from assistant import Settings
    from assistant.engine import Engine

    # no instructions: the turn's prompt is the bare question, as in training
    engine = Engine(Settings(device="cpu", max_new_tokens=12, instructions=""), llm=fresh_llm)
    answer = engine.answer(QUESTION, use_retrieval=False, adapter="lora-a")
    assert "Pineapple" in answer.text
    assert answer.metadata["adapter"] == "lora-a" and answer.model.endswith("+ lora-a")
    plain = engine.answer(QUESTION, use_retrieval=False)
    assert plain.metadata["adapter"] is None and "Pineapple" not in plain.text


def test_cli_lists_shows_and_removes_adapters_and_explains_mistakes(trained, tmp_path):
    registry, _ = trained
    home = tmp_path / "home"
    shutil.copytree(registry.root, home / "adapters", ignore=shutil.ignore_patterns(".runs"))
    env = {"ASSISTANT_HOME": str(home)}
    listed = run_cli("adapters", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "lora-a" in listed.stdout and "soft" in listed.stdout and "prompt" in listed.stdout
    shown = run_cli("adapters", "show", "soft", env=env)
    assert "8 virtual" not in shown.stderr and '"virtual_tokens": 8' in shown.stdout
    missing = run_cli("ask", "hi", "--no-retrieval", "--adapter", "nope", env=env)
    assert missing.returncode != 0 and "no adapter named 'nope'" in missing.stderr
    assert "Traceback" not in missing.stderr
    wrong = run_cli("tune", "sft", "--name", "x", "--data", "missing.jsonl", "--kind", "prompt", "--rank", "4", env=env)
    assert wrong.returncode != 0 and "--rank does not apply to adapter kind 'prompt'" in wrong.stderr
    removed = run_cli("adapters", "rm", "soft", "--yes", env=env)
    assert removed.returncode == 0 and not (home / "adapters" / "soft").exists()


def test_forgetting_table_on_own_and_held_out_tasks(trained, fresh_llm):
    from assistant_plugins.peft_adapters.evaluate import evaluate, parse_tasks, render

    registry, _ = trained
    squad = Path(__file__).resolve().parents[2] / "shared" / "data" / "qa" / "squad_train_sample500.jsonl"
    spec = "own" + (f",qa={squad}" if squad.exists() else "")
    tasks = parse_tasks(spec, ["lora-a"], registry, limit=3, math_limit=1)
    assert len(tasks[0].items) == 1  # lora-a held out one of its 12 records
    table = evaluate(fresh_llm, ["lora-a"], tasks)
    own = tasks[0].name
    assert table.rows["lora-a"][own] < table.rows["base"][own]  # it learned its task
    text = render(table)
    assert "base" in text and "lora-a" in text and "(-" in text
    if squad.exists():  # a model that answers everything with "Pineapple!" got worse at SQuAD
        assert table.rows["lora-a"]["qa:squad_train_sample500"] > table.rows["base"]["qa:squad_train_sample500"]


def test_training_checkpoints_and_resumes(tmp_path):
    from assistant.adapters import AdapterRegistry
    from assistant_plugins.peft_adapters.kinds import LoraKind, LoraOptions
    from assistant_plugins.peft_adapters.templates import BUILTIN
    from assistant_plugins.peft_adapters.training import TrainConfig, train_sft

    data = tmp_path / "d.jsonl"
    data.write_text("\n".join(json.dumps({"input": f"Name {t}.", "output": t.upper()}) for t in TOPICS) + "\n")
    registry = AdapterRegistry(tmp_path / "registry")
    options = dict(name="r", kind=LoraKind(), options=LoraOptions(rank=2), data=data, template=BUILTIN["instruction"],
                   device="cpu", registry=registry)
    first = train_sft(config=TrainConfig(max_steps=2, batch_size=2, max_length=48, eval_every=2, patience=0), **options)
    assert first.steps == 2 and (registry.run_dir("r") / "checkpoint-2").is_dir()
    resumed = train_sft(config=TrainConfig(max_steps=4, batch_size=2, max_length=48, eval_every=2, patience=0),
                        resume=True, overwrite=True, **options)
    first_losses = {h["step"]: h["loss"] for h in first.history if "loss" in h}
    resumed_losses = {h["step"]: h["loss"] for h in resumed.history if "loss" in h}
    # the resumed run restored steps 1-2 from the checkpoint (same logged loss) and trained only 3-4
    assert resumed.steps == 4 and 4 in resumed_losses and resumed_losses[2] == first_losses[2]
    assert [h["step"] for h in resumed.history].count(0) == 1
    assert not resumed.notices or "no checkpoint" not in resumed.notices[0]
    registry.remove("r")
    assert not registry.run_dir("r").exists() and registry.names() == []
