"""Feedback that trains: reward model, DPO, KTO and RL runs on tiny data from
a real feedback store (real SQLite, the real default model), each producing
an adapter that loads; the reward model as a verifier; clear refusals."""

from __future__ import annotations

import json

import pytest

from assistant import AssistantError, Decoding, Feedback, Settings
from assistant.engine import Engine
from assistant.plugins import make_plugin_host
from assistant.testing import ScriptedLLM

from .conftest import run_cli
from .test_feedback import OnePassage

# real_model test by test: the refusals of bad data come before any model is loaded

QUESTIONS = ["When do owls hunt?", "What do owls eat?", "Where do owls nest?", "How do owls fly so quietly?",
             "Why do owls hoot?", "How long do owls live?", "Can owls turn their heads?", "Do owls migrate?"]
GOOD = "Owls hunt at night; the passage says so [1]."
BAD = "no idea lol"
#: What each run of the ``trained`` fixture told the user, line by line.
SAID: dict[str, list[str]] = {}
TINY = dict(max_steps=2, batch_size=2, eval_every=2, max_length=96, max_prompt_length=48, val_fraction=0.25)
#: RL samples every prompt of a step and of an evaluation: one of each (one of eight prompts held out)
RL_TINY = dict(max_steps=1, batch_size=1, eval_every=1, val_fraction=0.125, max_prompt_length=32)


def fill_store(settings: Settings) -> None:
    """Answers with two candidates each (a good and a bad one), ranked and rated."""
    host = make_plugin_host(extra=[("one_passage", OnePassage())])
    engine = Engine(settings, host=host, llm=ScriptedLLM(lambda prompt, i: GOOD if i % 2 == 0 else BAD))
    for question in QUESTIONS:
        answer = engine.answer(question, options={"samples": 2}, decoding=Decoding(temperature=0.7, max_new_tokens=9))
        good, bad = f"{answer.id}-0", f"{answer.id}-1"
        engine.feedback(Feedback(kind="ranking", answer_ids=(good, bad), ranking=((good,), (bad,))))
        engine.feedback(Feedback(kind="rating", answer_ids=(good,), value=1.0))
        engine.feedback(Feedback(kind="rating", answer_ids=(bad,), value=-1.0))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One store, and the reward model, DPO and KTO adapters trained from it."""
    from assistant.adapters import AdapterRegistry
    from assistant_plugins.feedback.pairs import pairs_from_store
    from assistant_plugins.feedback.runs import RunConfig
    from assistant_plugins.feedback.tune_preference import train_dpo, train_kto
    from assistant_plugins.feedback.tune_reward import train_reward

    home = tmp_path_factory.mktemp("feedback-training") / "home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ASSISTANT_HOME", str(home))
        settings = Settings(retriever="one")
        fill_store(settings)
        data = pairs_from_store(settings)
        registry = AdapterRegistry()
        config = RunConfig(learning_rate=1e-3, **TINY)
        SAID.update(rm=[], dpo=[], kto=[])
        results = {
            "rm": train_reward(name="rm", data=data, config=config, device="cpu", progress=SAID["rm"].append),
            "dpo": train_dpo(name="dpo", data=data, config=config, device="cpu", progress=SAID["dpo"].append),
            "kto": train_kto(name="kto", data=data, config=config, device="cpu", progress=SAID["kto"].append),
        }
        yield home, settings, data, registry, results


@pytest.fixture(scope="module")
def chat_llm(trained):
    """A separately loaded chat model whose adapters come from the trained registry."""
    from assistant.adapter_runtime import AdapterSet
    from assistant.adapters import weights_fingerprint
    from assistant.backends.transformers.llm import TransformersLLM
    from assistant.models import load_generator

    registry = trained[3]
    llm = TransformersLLM(load_generator("embedded", device="cpu", dtype="float32"))
    llm._adapters[0] = AdapterSet(llm.model, llm.loaded.source.label, weights_fingerprint(llm.loaded.folder), registry)
    return llm


@pytest.mark.real_model
def test_the_store_gives_one_pair_per_ranked_question(trained):
    _home, _settings, data, _registry, _results = trained
    assert len(data.pairs) == len(QUESTIONS)
    assert all(p.chosen == GOOD and p.rejected == BAD and p.margin == 1.0 for p in data.pairs)
    # one pair per ranked question: each question ends exactly one pair's (conditioned) prompt
    assert sorted(q for p in data.pairs for q in QUESTIONS if p.question.endswith(q)) == sorted(QUESTIONS)


@pytest.mark.real_model
def test_each_run_saves_safetensors_metadata_history_and_curves(trained):
    _home, _settings, _data, registry, results = trained
    for name, result in results.items():
        files = registry.files(name)
        assert {"adapter_config.json", "adapter_model.safetensors", "assistant-adapter.json", "log_history.json",
                "curves.png"} <= set(files), name
        assert not any(f.endswith((".bin", ".pt", ".pkl")) for f in files)
        info = registry.get(name)
        assert info.config["method"] == name.replace("rm", "reward")
        assert info.config["training"]["seed"] == 0 and info.metrics["steps"] == 2
        assert (result.folder / "curves.png").read_bytes()[:4] == b"\x89PNG"
        history = json.loads((result.folder / "log_history.json").read_text())
        assert history[0]["step"] == 0 and "eval_loss" in history[0]
    assert registry.get("rm").kind == "reward" and registry.get("dpo").kind == "lora"
    # DPO logs its implicit rewards: margins and the share of pairs ranked right
    assert "eval_reward_margins" in registry.get("dpo").metrics and "eval_reward_accuracies" in registry.get("dpo").metrics


@pytest.mark.real_model
def test_runs_report_progress_in_plain_lines_and_evaluate_once_at_the_end(trained):
    _home, _settings, _data, registry, results = trained
    for name, result in results.items():
        said = SAID[name]
        # the evaluation before training says it is running, then what it found
        assert any(line.startswith("evaluating on the validation pairs: batch 1/") for line in said), (name, said)
        assert any(line.startswith("step 0: ") and "loss" in line for line in said), (name, said)
        # each training log: step of steps, the loss, the time per step and the time left
        train_lines = [line for line in said if line.startswith("step 2/2: loss ")]
        assert train_lines and "s/step, about" in train_lines[0] and "left)" in train_lines[0], (name, said)
        # training ended on an evaluation, which is the "after": not evaluated a second time
        history = result.history
        assert sum(any(k.startswith("eval_") for k in h) for h in history) == 2, (name, history)
        evaluated = [h for h in history if "eval_loss" in h]
        assert registry.get(name).metrics["eval_loss_after"] == round(evaluated[-1]["eval_loss"], 4)


@pytest.mark.real_model
def test_reward_model_loads_and_scores_and_refuses_to_chat(trained, chat_llm):
    from assistant.adapters import AdapterError
    from assistant_plugins.feedback.reward_model import RewardModel

    _home, _settings, data, registry, _results = trained
    assert registry.get("rm").config["pooling"] == "mean"  # the default, recorded for loading
    judge = RewardModel.load("rm", registry=registry, device="cpu")
    scores = judge.score(data.pairs[0].messages, [GOOD, BAD, GOOD])
    assert len(scores) == 3 and scores[0] == pytest.approx(scores[2], abs=1e-4) and scores[0] != scores[1]
    scored: list[int] = []
    accuracy, margins = judge.pairwise_accuracy(data.pairs[:3], batch_size=4, on_scored=scored.append)
    assert sum(scored) == 6 and len(margins) == 3
    # scored in length-sorted batches, the margins come back in the pairs' order
    one_by_one = [c - r for c, r in (judge.score(p.messages, [p.chosen, p.rejected]) for p in data.pairs[:3])]
    assert margins == pytest.approx(one_by_one, abs=1e-4)
    assert accuracy == sum(m > 0 for m in one_by_one) / 3
    with pytest.raises(AdapterError, match="is a reward model"):
        chat_llm.with_adapter("rm")


@pytest.mark.real_model
def test_mean_pooling_head_reads_the_mean_of_the_hidden_states():
    """The "mean" head scores the mean of every real token's hidden state
    (padding left out), whatever the padding of the batch."""
    import torch
    from transformers import AutoTokenizer

    from assistant.models import generator_folder
    from assistant_plugins.feedback.reward_model import sequence_classifier

    _source, folder = generator_folder("embedded", True)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    mean = sequence_classifier(folder, tokenizer, "cpu", "mean").eval()
    last = sequence_classifier(folder, tokenizer, "cpu", "last").eval()
    with torch.no_grad():
        last.score.weight.copy_(mean.score.weight)
        batch = tokenizer(["Owls hunt at night, mostly for small mammals.", "Owls"], return_tensors="pt", padding=True)
        assert batch["attention_mask"][1].sum() < batch["attention_mask"][0].sum()  # the second row is padded
        pooled = mean(**batch).logits[:, 0]
        hidden = last.model(**batch).last_hidden_state
        weight = batch["attention_mask"][..., None].float()
        expected = last.score((hidden * weight).sum(1) / weight.sum(1))[:, 0]
        assert torch.allclose(pooled, expected, atol=1e-4)
        assert not torch.allclose(last(**batch).logits[:, 0], expected, atol=1e-3)  # the last token alone differs


@pytest.mark.real_model
def test_the_head_learns_faster_than_the_lora(trained):
    import torch

    from assistant_plugins.feedback.tune_reward import scale_head_lr

    assert trained[3].get("rm").config["head_lr_scale"] == 10.0  # the real run above went through it

    class Trainer:  # what scale_head_lr uses of a Trainer: the model and its optimizer
        def __init__(self):
            self.model = torch.nn.ModuleDict({"body": torch.nn.Linear(4, 4), "score": torch.nn.Linear(4, 1)})
            self.model["body"].bias.requires_grad_(False)
            self.optimizer = None

        def create_optimizer(self):
            self.optimizer = self.optimizer or torch.optim.AdamW(
                [{"params": [self.model["body"].weight, self.model["score"].weight], "weight_decay": 0.01},
                 {"params": [self.model["score"].bias], "weight_decay": 0.0}], lr=1e-4)
            return self.optimizer

    trainer = Trainer()
    assert scale_head_lr(trainer, 10.0) == 2
    rates = {id(p): (g["lr"], g["weight_decay"]) for g in trainer.optimizer.param_groups for p in g["params"]}
    assert rates[id(trainer.model["body"].weight)] == (1e-4, 0.01)
    assert rates[id(trainer.model["score"].weight)] == (pytest.approx(1e-3), 0.01)
    assert rates[id(trainer.model["score"].bias)] == (pytest.approx(1e-3), 0.0)
    assert len(rates) == 3  # the frozen bias is not trained
    untouched = Trainer()
    assert scale_head_lr(untouched, 1.0) == 0 and untouched.optimizer is None


@pytest.mark.real_model
def test_eval_reward_leaves_out_pairs_whose_scores_tie(trained, tmp_path):
    home = trained[0]
    data = tmp_path / "pairs.jsonl"
    rows = [{"prompt": "When do owls hunt?", "chosen": GOOD, "rejected": BAD},
            {"prompt": "What do owls eat?", "chosen": "Mice and voles [1].", "rejected": BAD,
             "metadata": {"score_chosen": 8.0, "score_rejected": 3.0}},
            {"prompt": "Do owls migrate?", "chosen": "Some do.", "rejected": "A few species do.",
             "metadata": {"score_chosen": 7.0, "score_rejected": 7.0}}]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "result.json"
    result = run_cli("eval", "reward", "--reward-model", "rm", "--data", str(data), "--json", str(out),
                     env={"ASSISTANT_HOME": str(home)})
    assert result.returncode == 0, result.stderr
    assert "left out 1 pairs whose scores tie" in result.stderr and "on 2 pairs" in result.stdout
    assert json.loads(out.read_text())["left_out"]["scores_tie"] == 1
    kept = run_cli("eval", "reward", "--reward-model", "rm", "--data", str(data), "--keep-ties",
                   env={"ASSISTANT_HOME": str(home)})
    assert kept.returncode == 0 and "on 3 pairs" in kept.stdout and "left out" not in kept.stderr


def greedy(llm, prompts, tokens: int = 8) -> list[str]:
    return [group[0].text for group in llm.generate(list(prompts), decoding=Decoding(max_new_tokens=tokens))]


def trained_prompts(trained):
    """The conversations the adapters were trained on, as the chat model renders them."""
    from assistant_plugins.feedback.winrate import prompt_from_messages

    return [prompt_from_messages(p.prompt) for p in trained[2].pairs]


@pytest.mark.real_model
def test_dpo_and_kto_adapters_load_into_the_chat_model_and_change_its_answers(trained, chat_llm):
    prompts = trained_prompts(trained)[:4]
    base = greedy(chat_llm, prompts)

    def margin(view, prompt) -> float:
        return view.score(prompt, GOOD) - view.score(prompt, BAD)

    base_margin = margin(chat_llm, prompts[0])
    for name in ("dpo", "kto"):
        view = chat_llm.with_adapter(name)
        assert view.adapter.label == name
        # greedy on both sides, so a difference can only come from the adapter's weights
        # (two steps move some answers, not all: measured, two of these four change under each)
        assert greedy(view, prompts) != base, f"{name}: the adapter left every greedy answer unchanged"
        # and in the direction of the feedback: the good answer gains on the bad one on a trained
        # prompt (measured: by about 5 nats on every prompt after the fixture's two steps)
        adapted_margin = margin(view, prompts[0])
        assert adapted_margin > base_margin, (name, adapted_margin, base_margin)


@pytest.mark.real_model
def test_reward_model_is_a_verifier_for_best_of_n(trained):
    home, _settings, _data, _registry, _results = trained
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ASSISTANT_HOME", str(home))
        settings = Settings(retriever="one", reward_model="rm", device="cpu")
        host = make_plugin_host(extra=[("one_passage", OnePassage())])
        engine = Engine(settings, host=host, llm=ScriptedLLM(lambda prompt, i: [BAD, GOOD, BAD][i % 3]))
        answer = engine.answer("When do owls hunt?", strategy="best_of_n",
                               options={"samples": 3, "likelihood_weight": 0.0},
                               decoding=Decoding(temperature=0.7, max_new_tokens=9))
    scores = answer.metadata["scores"]
    reward = scores["feedback"]
    assert len(reward) == 3 and reward[0] == pytest.approx(reward[2], abs=1e-4)
    best = max(range(3), key=reward.__getitem__)
    assert answer.metadata["chosen"] == best  # the only verifier decides


@pytest.mark.real_model
def test_rl_runs_a_step_against_the_reward_model_and_the_policy_loads(trained, chat_llm):
    from assistant_plugins.feedback.runs import RunConfig
    from assistant_plugins.feedback.tune_rl import train_rl

    home, _settings, data, registry, _results = trained
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ASSISTANT_HOME", str(home))
        # one step on one prompt, ending on an evaluation of one held-out prompt that the "after" reuses
        result = train_rl(name="rl", data=data, reward_model="rm", generations=2, max_completion_length=4,
                          config=RunConfig(**{**TINY, **RL_TINY}), device="cpu")
    assert result.info.kind == "lora" and result.info.config["method"] == "grpo"
    assert result.info.metrics["steps"] == 1 and "adapter_model.safetensors" in registry.files("rl")
    assert any("reward" in h for h in result.history)
    # the saved policy is a chat adapter: it loads from the registry and answers
    view = chat_llm.with_adapter("rl")
    assert view.adapter.label == "rl" and greedy(view, trained_prompts(trained)[:1], tokens=4)[0].strip()


@pytest.mark.real_model
def test_tune_rl_with_rloo_saves_a_policy_that_loads(trained, chat_llm):
    home, _settings, _data, registry, _results = trained
    result = run_cli("tune", "rl", "--algorithm", "rloo", "--name", "rloo", "--from-store", "--reward-model", "rm",
                     "--max-steps", "1", "--generations", "2", "--max-completion-length", "4", "--batch-size", "1",
                     "--max-length", "96", "--max-prompt-length", "32", "--val-fraction", "0.125", "--eval-every", "1",
                     "--device", "cpu", env={"ASSISTANT_HOME": str(home)})
    assert result.returncode == 0, result.stderr
    assert "RLOO: " in result.stderr and "judged by reward model 'rm'" in result.stderr  # RLOO's trainer ran
    assert "saved lora adapter 'rloo' (rloo)" in result.stdout and "held-out mean reward" in result.stdout
    info = registry.get("rloo")
    assert info.kind == "lora" and info.config["method"] == "rloo" and info.config["reward_model"] == "rm"
    assert info.metrics["steps"] == 1
    history = json.loads((registry.path("rloo") / "log_history.json").read_text())
    assert any("reward" in h for h in history[1:]), history  # the reward model scored the samples
    view = chat_llm.with_adapter("rloo")
    assert view.adapter.label == "rloo" and greedy(view, trained_prompts(trained)[:1], tokens=4)[0].strip()


@pytest.mark.real_model
def test_eval_winrate_judges_the_adapter_against_the_base_model(trained, chat_llm, tmp_path):
    from assistant_plugins.feedback.reward_model import cached as cached_reward_model
    from assistant_plugins.feedback.winrate import wilson

    home, _settings, data, registry, _results = trained
    # one prompt (each costs two generations and a judgement, here and again in the checks below),
    # the first whose greedy answer the adapter changes, so the win rate is not a forced tie;
    # the two pairs after it are left out by --limit
    prompts = trained_prompts(trained)
    changed = [i for i, (b, k) in enumerate(zip(greedy(chat_llm, prompts), greedy(chat_llm.with_adapter("kto"), prompts)))
               if b != k]
    assert changed, "the KTO adapter changes no greedy answer"
    chosen = [data.pairs[changed[0]]] + [pair for i, pair in enumerate(data.pairs) if i != changed[0]][:2]
    held_out = tmp_path / "held-out.jsonl"
    held_out.write_text("".join(json.dumps({"prompt": p.messages, "chosen": p.chosen, "rejected": p.rejected}) + "\n"
                                for p in chosen))
    out = tmp_path / "winrate.json"
    # float32 as chat_llm, so the command's greedy answers can be checked against it; transformers,
    # as the adapter path under test is the same one chat_llm runs
    result = run_cli("--backend", "transformers", "eval", "winrate", "--adapter", "kto", "--reward-model", "rm",
                     "--data", str(held_out), "--limit", "1", "--max-new-tokens", "8", "--device", "cpu",
                     "--json", str(out), env={"ASSISTANT_HOME": str(home), "ASSISTANT_DTYPE": "float32"})
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert report["n"] == 1 and report["adapter"] == "kto" and report["reward_model"] == "rm"  # --limit 1
    [row] = report["rows"]
    # the row holds the base model's and the adapter's own greedy answers to that prompt
    [prompt] = [p for p in trained_prompts(trained) if p.input == chosen[0].question]
    assert row["base"] == greedy(chat_llm, [prompt])[0], row
    assert row["adapter"] == greedy(chat_llm.with_adapter("kto"), [prompt])[0], row
    assert row["base"] != row["adapter"]  # the adapter was applied
    # the judge's scores, and the tally, rate and interval that follow from them
    judge = cached_reward_model("rm", "embedded", "cpu", registry=registry)  # loaded once per process
    score_base, score_adapter = judge.score(chosen[0].messages, [row["base"], row["adapter"]])
    assert (row["score_base"], row["score_adapter"]) == (pytest.approx(score_base, abs=1e-3),
                                                         pytest.approx(score_adapter, abs=1e-3))
    won = score_adapter - score_base >= 1e-3
    lost = score_base - score_adapter >= 1e-3
    assert (report["wins"], report["ties"], report["losses"]) == (int(won), int(not won and not lost), int(lost))
    assert report["rate"] == (1.0 if won else 0.0 if lost else 0.5)
    assert report["ci95"] == pytest.approx(list(wilson(report["rate"], 1)))
    assert f"kto vs base on 1 prompts, judged by rm: win rate {report['rate']:.3f}" in result.stdout


def test_too_few_pairs_and_bad_data_give_clear_messages(tmp_path, home):
    from assistant_plugins.feedback.pairs import read_pairs
    from assistant_plugins.feedback.runs import RunConfig
    from assistant_plugins.feedback.tune_reward import train_reward

    few = tmp_path / "few.jsonl"
    few.write_text(json.dumps({"prompt": "q", "chosen": "a", "rejected": "b"}) + "\n"
                   + json.dumps({"prompt": "q", "chosen": "same", "rejected": "same"}) + "\n")
    data = read_pairs(few)
    assert len(data.pairs) == 1 and data.dropped["chosen_equals_rejected"] == 1
    ties = tmp_path / "ties.jsonl"  # scores at the top level (UltraFeedback-binarized) or under metadata
    ties.write_text(json.dumps({"prompt": "q", "chosen": "a", "rejected": "b", "score_chosen": 5, "score_rejected": 5})
                    + "\n" + json.dumps({"prompt": "q", "chosen": "c", "rejected": "d",
                                        "metadata": {"score_chosen": 6.5, "score_rejected": 6.5}}) + "\n"
                    + json.dumps({"prompt": "q", "chosen": "e", "rejected": "f",
                                  "metadata": {"score_chosen": 7, "score_rejected": 6.5}}) + "\n")
    assert [p.chosen for p in read_pairs(ties).pairs] == ["e"] and read_pairs(ties).dropped["scores_tie"] == 2
    assert len(read_pairs(ties, keep_ties=True).pairs) == 3
    with pytest.raises(AssistantError, match="only 1 usable preference pairs.*at least 4"):
        train_reward(name="x", data=data, config=RunConfig(**TINY), device="cpu")
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps({"prompt": "q", "chosen": "a"}) + "\n")
    result = run_cli("tune", "reward", "--name", "x", "--data", str(broken))
    assert result.returncode != 0 and "no field 'rejected'" in result.stderr and "Traceback" not in result.stderr
    empty = run_cli("tune", "dpo", "--name", "x", "--from-store")
    assert empty.returncode != 0 and "only 0 usable preference pairs" in empty.stderr
    neither = run_cli("tune", "reward", "--name", "x")
    assert "pass either --data FILE or --from-store" in neither.stderr


@pytest.mark.real_model
def test_top_rated_answers_flow_into_the_example_bank(trained):
    home = trained[0]
    env = {"ASSISTANT_HOME": str(home)}
    first = run_cli("feedback", "promote", "--bank", "fb", env=env)
    assert first.returncode == 0, first.stderr
    assert f"added {len(QUESTIONS)} answers" in first.stdout
    rows = [json.loads(line) for line in (home / "examples" / "fb.jsonl").read_text().splitlines()]
    assert {r["input"] for r in rows} == set(QUESTIONS) and {r["output"] for r in rows} == {GOOD}
    again = run_cli("feedback", "promote", "--bank", "fb", env=env)
    assert "added 0 answers" in again.stdout  # nothing twice


@pytest.mark.real_model
def test_adapters_list_shows_methods_and_reward_accuracy(trained):
    listed = run_cli("adapters", "list", env={"ASSISTANT_HOME": str(trained[0])})
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[0]: line for line in listed.stdout.splitlines()[1:]}
    assert "reward" in rows["rm"] and "acc " in rows["rm"]
    assert " dpo " in rows["dpo"] and " kto " in rows["kto"] and "loss " in rows["dpo"]
