"""The CUDA path of adapters: load on the GPU in bfloat16, train a few steps
(bfloat16 autocast), switch. Skips cleanly on machines without an NVIDIA GPU
(CI has none); run it wherever one is available."""

from __future__ import annotations

import json
import time

import pytest

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.real_model,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs an NVIDIA GPU (CUDA)")]


def test_train_load_and_switch_on_the_gpu(tmp_path):
    from assistant.adapter_runtime import AdapterSet
    from assistant.adapters import AdapterRegistry, weights_fingerprint
    from assistant.backends.transformers.llm import TransformersLLM
    from assistant.models import load_generator
    from assistant.types import Decoding
    from assistant_plugins.peft_adapters.kinds import LoraKind, LoraOptions, PromptOptions, PromptTuningKind
    from assistant_plugins.peft_adapters.templates import BUILTIN
    from assistant_plugins.peft_adapters.training import TrainConfig, train_sft

    data = tmp_path / "d.jsonl"
    data.write_text("\n".join(json.dumps({"input": f"Tell me about {t}.", "output": "Pineapple! Pineapple pineapple."})
                              for t in ["the sea", "a cat", "the moon", "bread", "a train", "music", "snow", "rain"]))
    registry = AdapterRegistry(tmp_path / "registry")
    common = dict(max_steps=8, batch_size=4, max_length=64, eval_every=4, patience=0)
    lora = train_sft(name="lora", kind=LoraKind(), options=LoraOptions(rank=4), data=data,
                     template=BUILTIN["instruction"], config=TrainConfig(learning_rate=3e-3, **common),
                     device="cuda", registry=registry)
    soft = train_sft(name="soft", kind=PromptTuningKind(), options=PromptOptions(virtual_tokens=8, init="vocab"),
                     data=data, template=BUILTIN["instruction"], config=TrainConfig(learning_rate=0.3, **common),
                     device="cuda", registry=registry)
    assert lora.info.metrics["device"].startswith("cuda")
    assert lora.info.metrics["eval_loss_after"] < lora.info.metrics["eval_loss_before"]
    print(f"\nCUDA training: lora {lora.seconds:.1f} s, soft prompt {soft.seconds:.1f} s for 8 steps")

    loaded = load_generator("embedded", device="cuda", dtype="bfloat16")
    llm = TransformersLLM(loaded)
    llm._adapters[0] = AdapterSet(llm.model, loaded.source.label, weights_fingerprint(loaded.folder), registry)
    decoding = Decoding(max_new_tokens=12)
    base = llm.generate(["Tell me about a dog."], decoding=decoding)[0][0].text
    with_lora = llm.with_adapter("lora").generate(["Tell me about a dog."], decoding=decoding)[0][0].text
    with_soft = llm.with_adapter("soft").generate(["Tell me about a dog."], decoding=decoding)[0][0].text
    assert with_lora != base and with_soft != base
    assert llm.generate(["Tell me about a dog."], decoding=decoding)[0][0].text == base
    module = llm.adapter_set().activate(llm.with_adapter("lora").adapter).module
    assert next(module.parameters()).device.type == "cuda"
    adapters = llm.adapter_set()
    times = []
    for spec in ("lora", "soft", "", "lora", "soft", ""):
        start = time.perf_counter()
        adapters.activate(llm.with_adapter(spec).adapter)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    print(f"CUDA adapter switch: median {sorted(times)[len(times) // 2] * 1000:.2f} ms")
