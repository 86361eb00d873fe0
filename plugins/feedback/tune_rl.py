"""``assistant tune rl``: reinforcement learning against the reward model.

The third step of RLHF (Ouyang et al., 2022) optimised the policy with PPO
against a learned reward model. PPO has left TRL (neither its main API nor
``trl.experimental`` has it in 1.16), so this uses TRL's current on-policy
trainers with our reward model as the reward function:

* ``grpo`` (Shao et al., 2024, "DeepSeekMath", Group Relative Policy
  Optimization): for each prompt, sample a group of completions, score
  them, and use each score minus the group's mean (over its standard
  deviation) as the advantage; no value network.
* ``rloo`` (Ahmadian et al., 2024, "Back to Basics: Revisiting REINFORCE
  Style Optimization for Learning from Human Feedback in LLMs"): REINFORCE
  with the mean reward of the *other* samples of the prompt as baseline.

Both need several samples per prompt (``--generations``, at least 2) and a
KL pull towards the reference model (``--beta``). On a CPU every step
samples ``batch × generations`` completions, so keep completions short.
The policy is a LoRA saved as kind ``lora``; the prompts come from the
pairs' prompts (the chosen/rejected answers are not used).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from assistant import ConfigError
from assistant.adapters import AdapterRegistry

from .pairs import PairSet, split
from .reward_model import cached as cached_reward_model
from .reward_model import clipped_prompt
from .runs import (RunConfig, RunResult, Timer, check_new, last, lora_config, pairs_fingerprint, progress_callback,
                   save_run, train_between_evaluations, trl_args)

ALGORITHMS = ("grpo", "rloo")
CURVES = {"reward": ["reward", "eval_reward"], "KL to reference": ["kl", "eval_kl"],
          "completion length": ["completions/mean_length"]}


def reward_function(reward_model: Any) -> Callable[..., list[float]]:
    """TRL's reward-function shape: ``f(prompts, completions, **columns) -> one float each``.

    The conversation travels in the ``messages`` column (JSON), so the reward
    model scores exactly as it was trained: conversation + response."""

    def reward_model_score(prompts: list[Any], completions: list[Any], messages: list[str], **_: Any) -> list[float]:
        texts = [c if isinstance(c, str) else c[-1]["content"] for c in completions]
        return [reward_model.score(json.loads(m), [t])[0] for m, t in zip(messages, texts)]

    return reward_model_score


def train_rl(*, name: str, data: PairSet, reward_model: str, config: RunConfig, algorithm: str = "grpo",
             generations: int = 4, max_completion_length: int = 64, temperature: float = 1.0,
             model_spec: str = "embedded", device: str = "auto", registry: AdapterRegistry | None = None,
             overwrite: bool = False, offline: bool = True,
             progress: Callable[[str], None] | None = None) -> RunResult:
    from datasets import Dataset

    from .tune_preference import _policy

    if algorithm not in ALGORITHMS:
        raise ConfigError(f"unknown RL algorithm {algorithm!r}", f"use one of: {', '.join(ALGORITHMS)}")
    if generations < 2:
        raise ConfigError("RL needs at least 2 generations per prompt to compare them", "pass --generations 2 or more")
    say = progress or (lambda _: None)
    registry = registry or AdapterRegistry()
    check_new(name, registry, overwrite)
    prompts = list(dict.fromkeys(p.prompt for p in data.pairs))
    if len(prompts) < 2:
        raise ConfigError(f"only {len(prompts)} distinct prompts in {data.source}; RL needs at least 2",
                          "pass a larger --data file")
    judge = cached_reward_model(reward_model, model_spec, device, offline, registry)
    timer = Timer()
    train_pairs, val_pairs = split(data.pairs, config.val_fraction, config.seed)
    loaded = _policy(model_spec, device, offline, say)
    tok = loaded.tokenizer
    tok.padding_side = "left"  # generation pads on the left

    def rows(pairs: list[Any]) -> Any:
        seen = list(dict.fromkeys(p.prompt for p in pairs))
        return Dataset.from_list([{
            "prompt": clipped_prompt(tok, [{"role": r, "content": c} for r, c in key], config.max_prompt_length),
            "messages": json.dumps([{"role": r, "content": c} for r, c in key])} for key in seen])

    train_set, val_set = rows(train_pairs), rows(val_pairs)
    say(f"{algorithm.upper()}: {len(train_set)} training and {len(val_set)} validation prompts, "
        f"{generations} samples each, judged by reward model {reward_model!r} ({loaded.device})")
    # TRL counts the batch in completions: batch_size prompts x generations
    batch = config.batch_size * generations
    if algorithm == "grpo":
        from trl import GRPOConfig as Config
        from trl import GRPOTrainer as Trainer
    else:
        from trl import RLOOConfig as Config
        from trl import RLOOTrainer as Trainer
    args = trl_args(Config, config, "rl", registry.run_dir(name), loaded.device, len(train_set),
                    per_device_train_batch_size=batch, per_device_eval_batch_size=batch,
                    num_generations=generations, max_completion_length=max_completion_length,
                    temperature=temperature, beta=config.beta, remove_unused_columns=False,
                    disable_dropout=True, log_completions=False)
    trainer = Trainer(model=loaded.model, reward_funcs=reward_function(judge), args=args, train_dataset=train_set,
                      eval_dataset=val_set, processing_class=tok, peft_config=lora_config(config, "CAUSAL_LM", loaded.model),
                      callbacks=[progress_callback(say)])
    before, after, history = train_between_evaluations(trainer)
    metrics = {
        "eval_reward_before": round(float(before.get("eval_reward", 0.0)), 4),
        "eval_reward_after": round(float(after.get("eval_reward", 0.0)), 4),
        "train_reward": last(history, "reward"), "steps": trainer.state.global_step,
        "train_prompts": len(train_set), "validation_prompts": len(val_set), "device": loaded.device,
        "seconds": round(timer.seconds, 1),
    }
    return save_run(name=name, kind="lora", method=algorithm, model=trainer.model, registry=registry,
                    base_label=loaded.source.label, base_folder=loaded.folder,
                    data_fingerprint=pairs_fingerprint(data.pairs), config=config, metrics=metrics, history=history,
                    overwrite=overwrite, seconds=timer.seconds, panels=CURVES,
                    extra_config={"data": data.source, "model": model_spec, "reward_model": reward_model,
                                  "generations": generations, "max_completion_length": max_completion_length,
                                  "temperature": temperature,
                                  "options": {"rank": config.rank, "alpha": config.alpha, "dropout": config.dropout,
                                              "targets": config.targets}})
