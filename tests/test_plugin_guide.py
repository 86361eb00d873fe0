"""docs/plugins.md is generated from the hookspecs and cannot drift; every
hook's example in docs/examples/hooks/ loads and is exercised."""

from __future__ import annotations

import json

import click
import pytest

from assistant import Decoding, Feedback, Settings
from assistant.docgen import EXAMPLES, GUIDE, plugin_guide, signature_line, spec_functions
from assistant.engine import Engine
from assistant.plugins import make_plugin_host
from assistant.testing import ScriptedLLM, write_tiny_corpus

from .conftest import run_cli


def test_guide_is_up_to_date():
    assert GUIDE.read_text(encoding="utf-8") == plugin_guide(), \
        "docs/plugins.md is stale: run `python -m assistant.docgen`"


@pytest.mark.parametrize("hook", sorted(spec_functions()))
def test_every_hook_has_its_exact_signature_and_an_example(hook):
    guide = GUIDE.read_text(encoding="utf-8")
    assert f"### `{hook}`" in guide
    assert signature_line(hook, spec_functions()[hook]) in guide
    example = EXAMPLES / f"{hook}.py"
    assert example.exists(), f"hook {hook} has no example in {EXAMPLES}"
    assert f"def {hook}(" in example.read_text()


def test_all_examples_load_and_every_hook_is_exercised(home, tmp_path):
    host = make_plugin_host(EXAMPLES)
    assert not [i for i in host.infos if i.error], [i.error for i in host.infos if i.error]
    assert host.registry.get("strategy", "one_sentence").plugin == "register_strategies"
    assert host.registry.get("adapter_kind", "none").plugin == "register_adapter_kinds"
    assert host.registry.get("benchmark", "csv_loader").plugin == "register_benchmarks"
    cli = click.Group()
    host.register_commands(cli)
    assert "collections" in cli.commands

    settings = Settings(retriever="keyword", example_selector="shared_words", examples_k=3,
                        strategy="one_sentence", plugins={"condition_prompt": {"audience": "children"}})
    llm = ScriptedLLM("Barn owls hunt at night.")
    engine = Engine(settings, host=host, llm=llm)
    engine.index(write_tiny_corpus(tmp_path / "corpus"))
    pieces: list[str] = []
    answer = engine.answer("When do owls hunt? And what is FAISS?", on_text=pieces.append)
    assert "".join(pieces) == answer.text == "Barn owls hunt at night."
    prompt = llm.calls[0].prompts[0]
    assert "Answer in exactly one sentence." in prompt and "Audience: children" in prompt
    assert "FAISS is a library" in prompt and "swallow their prey" in prompt  # hook + keyword retriever
    assert "What is 2 + 2?" in prompt and "How many metres" in prompt  # hook + selector examples

    engine.settings.strategy = "zero_shot"
    best = engine.answer("When do owls hunt?", options={"samples": 2},
                         decoding=Decoding(temperature=0.5, max_new_tokens=10))
    assert best.metadata["chosen"] == 0
    engine.feedback(Feedback(kind="rating", answer_ids=(answer.id,), value=1))

    called = {(c.hook, c.plugin) for c in host.call_log}
    for hook in ("retrieve", "select_examples", "condition_prompt", "score_candidates", "on_answer", "on_feedback"):
        assert (hook, hook) in called, f"example {hook}.py was not called"
    logged = [json.loads(line) for line in (home / "answers.jsonl").read_text().splitlines()]
    assert logged[0]["id"] == answer.id
    assert json.loads((home / "feedback.jsonl").read_text())["value"] == 1


def test_example_backend_answers_and_declares_what_it_cannot_do(home):
    """register_backends.py: `canned:TEXT` is claimed by the example's backend
    under `auto`; best-of-n ranks without likelihoods and says so once; the
    answer streams in one piece (the model cannot stream)."""
    host = make_plugin_host(EXAMPLES)
    assert host.registry.get("backend", "canned").plugin == "register_backends"
    engine = Engine(Settings(model="canned:Owls hunt at night."), host=host)
    pieces: list[str] = []
    answer = engine.answer("When do owls hunt?", use_retrieval=False, strategy="best_of_n",
                           options={"samples": 2}, on_text=pieces.append)
    assert answer.text == "Owls hunt at night." and pieces == ["Owls hunt at night."]
    assert type(engine.llm).__name__ == "CannedLLM" and engine.notices == []
    assert [n for n in answer.notices if "cannot score" in n] == [
        "model 'canned:Owls hunt at night.' cannot score answers: ranked without their likelihood"]
    # named but unable: one notice, and auto's choice among the others runs
    from assistant.backends import choose_backend

    name, notices = choose_backend(Settings(model="embedded", backend="canned", device="cpu"), engine.backends())
    assert name in ("llamacpp", "transformers")
    assert notices == [f"canned backend not used: the model setting does not start with 'canned:'; using "
                       f"{'llama.cpp' if name == 'llamacpp' else 'transformers'}"]


@pytest.mark.real_model
def test_example_loader_indexes_csv_with_the_builtin_retriever(home, tmp_path):
    folder = tmp_path / "tables"
    folder.mkdir()
    (folder / "birds.csv").write_text("bird,colour\nrobin,red\ncanary,yellow\n")
    (folder / "empty.csv").write_text("only,a,header\n")
    result = run_cli("--plugins-dir", str(EXAMPLES), "index", str(folder), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["added"] == 1 and report["skipped"] == [["empty.csv", "no data rows"]]
    listed = run_cli("--plugins-dir", str(EXAMPLES), "collections")
    assert listed.stdout.split() == ["default"]


def test_example_benchmark_runs_under_assistant_bench_with_its_baseline(home, tmp_path):
    out = tmp_path / "bench.json"
    result = run_cli("--plugins-dir", str(EXAMPLES), "bench", "--quick", "--only", "csv_loader", "--json", str(out))
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text())
    assert data["failed"] == {} and data["skipped"] == {}
    (row,) = data["rows"]
    assert row["name"] == "csv_loader.load_s" and row["baseline_name"] == "csv.reader"
    assert row["value"] > 0 and row["baseline"] > 0 and row["ratio"] == pytest.approx(row["baseline"] / row["value"])
    assert "load a 200-row CSV" in result.stdout
    unknown = run_cli("bench", "--only", "csv_loader")  # without the plugins folder it is not there
    assert unknown.returncode != 0 and "unknown benchmark" in unknown.stderr
