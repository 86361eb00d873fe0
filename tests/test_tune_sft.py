"""``assistant tune sft`` on the real default model: the command's happy path
(here with prefix tuning, whose adapters then load and change the answer) and
early stopping. Both train for a couple of steps on six short records; the
LoRA and soft-prompt runs are in tests/test_adapters.py."""

from __future__ import annotations

import json
import math

import pytest

from assistant import Decoding

from .conftest import run_cli

pytestmark = pytest.mark.real_model

TOPICS = ["the sea", "a cat", "the moon", "bread", "a train", "snow"]
QUESTION = "Tell me about a dog."


def write_records(path):
    path.write_text("".join(json.dumps({"input": f"Tell me about {t}.", "output": "Pineapple!"}) + "\n"
                            for t in TOPICS))
    return path


def test_tune_sft_trains_a_prefix_adapter_that_loads_and_changes_the_answer(home, tmp_path):
    from assistant.adapters import AdapterRegistry
    from assistant.backends.transformers.llm import TransformersLLM
    from assistant.models import load_generator

    data = write_records(tmp_path / "pineapple.jsonl")
    result = run_cli("tune", "sft", "--name", "pre", "--data", str(data), "--kind", "prefix", "--virtual-tokens", "4",
                     "--max-steps", "2", "--batch-size", "2", "--max-length", "32", "--eval-every", "2",
                     "--patience", "0", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    assert "saved adapter 'pre' (prefix)" in result.stdout and "after 2 steps" in result.stdout, result.stdout
    assert 'try it: assistant ask "..." --adapter pre' in result.stdout
    assert "validation loss before training:" in result.stderr  # progress goes to stderr
    registry = AdapterRegistry()  # the command saved into <ASSISTANT_HOME>/adapters
    assert registry.root == home / "adapters"
    info = registry.get("pre")
    assert info.kind == "prefix" and info.prompt_learning and info.metrics["steps"] == 2
    assert info.config["options"] == {"virtual_tokens": 4, "projection": False}
    assert {"adapter_config.json", "adapter_model.safetensors", "loss.png"} <= set(registry.files("pre"))

    llm = TransformersLLM(load_generator("embedded", device="cpu", dtype="float32"))
    config = llm.model.config
    kv_width = config.num_key_value_heads * (config.hidden_size // config.num_attention_heads)
    # prefix tuning trains a key and a value per virtual token in every layer (not input embeddings)
    assert info.trainable_parameters == 4 * config.num_hidden_layers * 2 * kv_width
    greedy = Decoding(max_new_tokens=8)
    base = llm.generate([QUESTION], decoding=greedy)[0][0].text
    view = llm.with_adapter("pre")
    assert view.adapter.label == "pre"
    assert view.generate([QUESTION], decoding=greedy)[0][0].text != base  # the prefixes reach every layer


def test_training_stops_early_when_the_validation_loss_stops_improving(tmp_path):
    from assistant.adapters import AdapterRegistry
    from assistant_plugins.peft_adapters.kinds import LoraKind, LoraOptions
    from assistant_plugins.peft_adapters.templates import BUILTIN
    from assistant_plugins.peft_adapters.training import TrainConfig, train_sft

    # A learning rate too small to move any weight in float32: every evaluation
    # gives the same loss, never an improvement, so with patience 1 the run must
    # stop at its second evaluation (the first sets the best) instead of running
    # its three epochs. The outcome does not depend on what the model learns.
    config = TrainConfig(epochs=3, learning_rate=1e-30, batch_size=2, max_length=32, eval_every=1, patience=1,
                         val_fraction=0.2)
    result = train_sft(name="early", kind=LoraKind(), options=LoraOptions(rank=2), template=BUILTIN["instruction"],
                       data=write_records(tmp_path / "pineapple.jsonl"), config=config, device="cpu",
                       registry=AdapterRegistry(tmp_path / "registry"))
    losses = [h["eval_loss"] for h in result.history if "eval_loss" in h]
    assert len(set(losses)) == 1, losses  # the premise: no evaluation improved on the first
    planned = 3 * math.ceil(result.info.metrics["train_examples"] / 2)
    assert result.steps == 2 < planned, (result.steps, planned)
    assert result.info.metrics["stopped_early"] is True and result.info.metrics["steps"] == 2
