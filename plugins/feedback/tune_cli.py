"""``assistant tune reward|dpo|kto|rl`` and ``assistant eval reward|winrate``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from assistant import ConfigError

from .reward_model import DEFAULT_POOLING, POOLINGS
from .tune_reward import HEAD_LR_SCALE

LOOP = """\b
The loop (rate, export, train, use):
  assistant ask "..." --strategy best_of_n -o samples=4      # candidates stored as siblings
  assistant feedback rank 3f2a 9c1e=77b0                     # best first, = ties
  assistant tune reward --name my-rm --from-store            # or --data pairs.jsonl
  assistant tune dpo --name my-dpo --from-store
  assistant eval winrate --adapter my-dpo --reward-model my-rm --data held-out.jsonl
  assistant ask "..." --adapter my-dpo
  ASSISTANT_REWARD_MODEL=my-rm assistant ask "..." --strategy best_of_n   # or reward_model in the config
\b
Data: --data takes TRL's pair schema (prompt, chosen, rejected, optional margin;
strings or chat messages), e.g. ../shared/data/preferences/train_1000.jsonl.
On a CPU, start small (--limit 200 --max-length 256); on a GPU, TRL runs in
bfloat16 and `accelerate launch -m assistant tune ...` spreads it over GPUs.
"""


def run_options(defaults: dict[str, Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The options every preference run shares (one RunConfig)."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        options = [
            click.option("--name", required=True, help="Save the result under this adapter name."),
            click.option("--data", type=click.Path(path_type=Path), help="JSONL preference pairs (TRL schema)."),
            click.option("--from-store", is_flag=True, help="Use the rankings and choices in the feedback store."),
            click.option("--limit", type=click.IntRange(min=0), default=0, help="Use the first N pairs (0: all)."),
            click.option("--epochs", type=float, default=1.0, show_default=True),
            click.option("--max-steps", type=int, default=0, show_default=True, help="Stop after N steps (0: epochs)."),
            click.option("--lr", "learning_rate", type=float, default=0.0,
                         help=f"Learning rate (default {defaults['lr']:g})."),
            click.option("--batch-size", type=int, default=defaults.get("batch_size", 4), show_default=True),
            click.option("--grad-accum", type=int, default=1, show_default=True),
            click.option("--max-length", type=int, default=defaults.get("max_length", 384), show_default=True,
                         help="Tokens of prompt + answer (the answer's end is cut)."),
            click.option("--max-prompt-length", type=int, default=128, show_default=True,
                         help="Tokens kept of a long prompt (its end)."),
            click.option("--val-fraction", type=float, default=0.1, show_default=True,
                         help="Share of prompts held out for validation."),
            click.option("--eval-every", type=int, default=25, show_default=True, help="Steps between validations."),
            click.option("--rank", type=int, default=8, show_default=True, help="LoRA rank."),
            click.option("--alpha", type=int, default=16, show_default=True, help="LoRA alpha."),
            click.option("--targets", type=click.Choice(["attention", "all-linear"]), default="attention",
                         show_default=True, help="Layers the LoRA adapts."),
            click.option("--top-layers", type=click.IntRange(min=0), default=0, show_default=True,
                         help="Adapt only the last N layers (0: all): cheaper steps on a CPU."),
            click.option("--beta", type=float, default=0.1, show_default=True,
                         help="Pull towards the reference model (DPO, KTO, RL)."),
            click.option("--seed", type=int, default=0, show_default=True),
            click.option("--overwrite", is_flag=True, help="Replace an existing adapter with this name."),
            click.option("--model", help='Base model: "embedded", a folder, a .gguf file or a hub id.'),
            click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "mps"])),
        ]
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def _config(kw: dict[str, Any]) -> Any:
    from .runs import RunConfig

    return RunConfig(epochs=kw["epochs"], max_steps=kw["max_steps"], learning_rate=kw["learning_rate"],
                     batch_size=kw["batch_size"], grad_accum=kw["grad_accum"], max_length=kw["max_length"],
                     max_prompt_length=kw["max_prompt_length"], val_fraction=kw["val_fraction"],
                     eval_every=kw["eval_every"], rank=kw["rank"], alpha=kw["alpha"], targets=kw["targets"],
                     top_layers=kw["top_layers"],
                     beta=kw["beta"], seed=kw["seed"])


def _pairs(app: Any, kw: dict[str, Any], settings: Any) -> Any:
    from .pairs import pairs_from_store, read_pairs

    if bool(kw["data"]) == bool(kw["from_store"]):
        raise ConfigError("say where the pairs come from", "pass either --data FILE or --from-store")
    data = read_pairs(kw["data"], kw["limit"]) if kw["data"] else pairs_from_store(settings)
    if kw["from_store"] and kw["limit"]:
        data.pairs[:] = data.pairs[:kw["limit"]]
    _say_left_out(data.dropped)
    return data


def _say_left_out(dropped: dict[str, int]) -> None:
    """Say which pairs were not used, e.g. 'left out 25 pairs whose scores tie (no preference)'."""
    why = {"scores_tie": "whose scores tie (no preference)", "chosen_equals_rejected": "whose answers are equal or empty",
           "tied": "between tied answers", "same_text": "with the same text twice",
           "different_prompts": "across different prompts"}
    parts = [f"{n} pairs {why.get(k, k)}" for k, n in dropped.items() if n]
    if parts:
        _say("left out " + ", ".join(parts))


def _report(result: Any, headline: str) -> None:
    for notice in result.notices:
        click.echo(f"note: {notice}", err=True)
    click.echo(f"saved {result.info.kind} adapter {result.info.name!r} ({result.info.config['method']}) to {result.folder}")
    click.echo(headline)
    click.echo(f"curves: {result.folder / 'curves.png'}")


def _say(message: str) -> None:
    click.echo(message, err=True)


def _quiet_datasets() -> None:
    try:
        import datasets

        datasets.disable_progress_bars()
    except ImportError:
        raise ConfigError("preference training needs the `datasets` and `trl` packages",
                          "pip install 'trl>=1.16' (scripts/setup.sh installs it)") from None


def _common(run: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(run)
    def wrapper(app: Any, **kw: Any) -> None:
        _quiet_datasets()
        settings = app.settings(model=kw["model"], device=kw["device"])
        run(app, settings, kw)

    return wrapper


@click.command("reward", epilog=LOOP)
@run_options({"lr": 1e-4})
@click.option("--pooling", type=click.Choice(POOLINGS), default=DEFAULT_POOLING, show_default=True,
              help="What the scalar head reads: the mean of every token's hidden state, or the last token's.")
@click.option("--head-lr-scale", type=click.FloatRange(min=0.0, min_open=True), default=HEAD_LR_SCALE,
              show_default=True,
              help="The scalar head (trained from scratch) learns at this multiple of --lr.")
@click.pass_obj
@_common
def tune_reward(app: Any, settings: Any, kw: dict[str, Any]) -> None:
    """Train a reward model (LoRA + scalar head) on preference pairs.

    Reports pairwise accuracy on held-out prompts before and after. Use it as
    a verifier (`reward_model` setting), as the reward of `tune rl`, and as
    the judge of `eval winrate`.
    """
    from .tune_reward import train_reward

    result = train_reward(name=kw["name"], data=_pairs(app, kw, settings), config=_config(kw),
                          model_spec=settings.model, device=settings.device, overwrite=kw["overwrite"],
                          offline=settings.offline, progress=_say, pooling=kw["pooling"],
                          head_lr_scale=kw["head_lr_scale"])
    m = result.info.metrics
    _report(result, f"held-out pairwise accuracy {m['eval_accuracy_before']:.3f} -> {m['eval_accuracy_after']:.3f} "
                    f"({m['validation_pairs']} pairs, {m['steps']} steps, {m['seconds']:.0f} s)")


@click.command("dpo", epilog=LOOP)
@run_options({"lr": 5e-5})
@click.pass_obj
@_common
def tune_dpo(app: Any, settings: Any, kw: dict[str, Any]) -> None:
    """Train a chat LoRA with Direct Preference Optimization on pairs."""
    from .tune_preference import train_dpo

    result = train_dpo(name=kw["name"], data=_pairs(app, kw, settings), config=_config(kw), model_spec=settings.model,
                       device=settings.device, overwrite=kw["overwrite"], offline=settings.offline, progress=_say)
    m = result.info.metrics
    _report(result, f"held-out DPO loss {m['eval_loss_before']:.4f} -> {m['eval_loss_after']:.4f}; "
                    f"implicit reward margin {m.get('eval_reward_margins', 0):.4f}, pairs ranked right "
                    f"{m.get('eval_reward_accuracies', 0):.3f} ({m['steps']} steps, {m['seconds']:.0f} s)\n"
                    f'try it: assistant ask "..." --adapter {kw["name"]}')


@click.command("kto", epilog=LOOP)
@run_options({"lr": 5e-5})
@click.option("--kto-data", type=click.Path(path_type=Path),
              help="JSONL of single rated answers (prompt, completion, label), as `feedback export --format kto` writes.")
@click.pass_obj
@_common
def tune_kto(app: Any, settings: Any, kw: dict[str, Any]) -> None:
    """Train a chat LoRA with KTO on answers rated good or bad (thumbs).

    Takes --kto-data (thumbs), or pairs (--data / --from-store) split into a
    good and a bad answer each.
    """
    from .tune_preference import train_kto

    data = None if kw["kto_data"] else _pairs(app, kw, settings)
    result = train_kto(name=kw["name"], data=data, kto_file=kw["kto_data"], config=_config(kw),
                       model_spec=settings.model, device=settings.device, overwrite=kw["overwrite"],
                       offline=settings.offline, progress=_say)
    m = result.info.metrics
    _report(result, f"held-out KTO loss {m['eval_loss_before']:.4f} -> {m['eval_loss_after']:.4f} "
                    f"({m['steps']} steps, {m['seconds']:.0f} s)\n"
                    f'try it: assistant ask "..." --adapter {kw["name"]}')


@click.command("rl", epilog=LOOP)
@run_options({"lr": 2e-5, "batch_size": 2})
@click.option("--reward-model", required=True, help="Reward model that scores the samples (`tune reward`).")
@click.option("--algorithm", type=click.Choice(["grpo", "rloo"]), default="grpo", show_default=True,
              help="TRL's on-policy trainer (PPO has left TRL).")
@click.option("--generations", type=int, default=4, show_default=True, help="Samples per prompt (at least 2).")
@click.option("--max-completion-length", type=int, default=64, show_default=True, help="Tokens per sample.")
@click.option("--temperature", type=float, default=1.0, show_default=True)
@click.pass_obj
@_common
def tune_rl(app: Any, settings: Any, kw: dict[str, Any]) -> None:
    """RL fine-tuning of a chat LoRA against a reward model (GRPO or RLOO).

    The prompts of the pairs are sampled --generations times per step and
    each sample is scored by the reward model; the answers in the pairs are
    not used.
    """
    from .tune_rl import train_rl

    result = train_rl(name=kw["name"], data=_pairs(app, kw, settings), reward_model=kw["reward_model"],
                      config=_config(kw), algorithm=kw["algorithm"], generations=kw["generations"],
                      max_completion_length=kw["max_completion_length"], temperature=kw["temperature"],
                      model_spec=settings.model, device=settings.device, overwrite=kw["overwrite"],
                      offline=settings.offline, progress=_say)
    m = result.info.metrics
    _report(result, f"held-out mean reward {m['eval_reward_before']:.4f} -> {m['eval_reward_after']:.4f} "
                    f"({m['steps']} steps, {m['seconds']:.0f} s)\n"
                    f'try it: assistant ask "..." --adapter {kw["name"]}')


# ---------------------------------------------------------------- evaluation

EVAL_EPILOG = """\b
Examples:
  assistant eval reward --reward-model my-rm --data ../shared/data/preferences/eval_200.jsonl
  assistant eval winrate --adapter my-dpo --reward-model my-rm \\
      --data ../shared/data/preferences/eval_200.jsonl --limit 50
"""


@click.command("reward", epilog=EVAL_EPILOG)
@click.option("--reward-model", required=True, help="The reward model to test.")
@click.option("--data", type=click.Path(path_type=Path), required=True, help="JSONL preference pairs.")
@click.option("--limit", type=click.IntRange(min=0), default=0, help="The first N pairs (0: all).")
@click.option("--keep-ties", is_flag=True,
              help="Also score pairs whose two answers were rated equal (score_chosen = score_rejected); "
                   "by default they are left out, as they have no right order.")
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write the result here.")
@click.option("--model", help="Base model the reward model was trained on.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "mps"]))
@click.pass_obj
def eval_reward(app: Any, reward_model: str, data: Path, limit: int, keep_ties: bool, json_path: Path | None,
                model: str | None, device: str | None) -> None:
    """Pairwise accuracy of a reward model: how often chosen scores above rejected."""
    from assistant import write_json

    from .pairs import read_pairs
    from .reward_model import RewardModel
    from .winrate import wilson

    settings = app.settings(model=model, device=device)
    pairs = read_pairs(data, limit, keep_ties=keep_ties)
    _say_left_out(pairs.dropped)
    if not pairs.pairs:
        raise ConfigError(f"no usable pairs in {data}", "each line needs prompt, chosen and rejected that differ")
    judge = RewardModel.load(reward_model, model_spec=settings.model, device=settings.device, offline=settings.offline)
    with click.progressbar(length=2 * len(pairs.pairs), label="scoring answers",
                           file=click.get_text_stream("stderr")) as bar:
        accuracy, margins = judge.pairwise_accuracy(pairs.pairs, on_scored=bar.update)
    low, high = wilson(accuracy, len(margins))
    click.echo(f"pairwise accuracy {accuracy:.3f} (95 % CI {low:.3f}-{high:.3f}) on {len(margins)} pairs of {data}; "
               f"mean margin {sum(margins) / len(margins):.3f}")
    if json_path:
        write_json(json_path, {"reward_model": reward_model, "data": str(data), "pairs": len(margins),
                               "left_out": pairs.dropped, "accuracy": accuracy, "ci95": [low, high], "margins": margins})
        click.echo(f"wrote {json_path}")


@click.command("winrate", epilog=EVAL_EPILOG)
@click.option("--adapter", required=True, help="The adapter to compare with the base model.")
@click.option("--reward-model", required=True, help="The judge (`tune reward`).")
@click.option("--data", type=click.Path(path_type=Path), required=True,
              help="JSONL with prompts (pairs or any rows with a prompt).")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="Prompts to compare on.")
@click.option("--max-new-tokens", type=int, default=96, show_default=True)
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write every answer and score here.")
@click.option("--model", help="Base model.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "mps"]))
@click.pass_obj
def eval_winrate(app: Any, adapter: str, reward_model: str, data: Path, limit: int, max_new_tokens: int,
                 json_path: Path | None, model: str | None, device: str | None) -> None:
    """Win rate of an adapter over the base model, judged by a reward model.

    Both answer each held-out prompt greedily; the reward model scores both;
    a win counts 1, a tie 1/2.
    """
    from assistant import write_json

    from .pairs import read_pairs
    from .reward_model import RewardModel
    from .winrate import win_rate

    settings = app.settings(model=model, device=device)
    prompts = list(dict.fromkeys(p.prompt for p in read_pairs(data, keep_ties=True).pairs))[:limit]
    if not prompts:
        raise ConfigError(f"no prompts in {data}", "pass a JSONL file with prompt, chosen, rejected")
    engine = app.engine(model=model, device=device)
    llm = engine.llm
    if not hasattr(llm, "with_adapter"):
        raise ConfigError("this model backend cannot apply adapters", "use the transformers backend")
    policy = engine.adapted_llm(adapter)  # checks the adapter's kind and base model first
    judge = RewardModel.load(reward_model, model_spec=settings.model, device=settings.device, offline=settings.offline)
    with click.progressbar(length=len(prompts), label="answering", file=click.get_text_stream("stderr")) as bar:
        result = win_rate(llm, policy, judge, prompts, max_new_tokens, on_prompt=lambda: bar.update(1))
    click.echo(f"{adapter} vs base on {result.n} prompts, judged by {reward_model}: win rate {result.rate:.3f} "
               f"(95 % CI {result.low:.3f}-{result.high:.3f}; {result.wins} wins, {result.ties} ties, "
               f"{result.losses} losses); mean reward base {result.mean_base:.3f}, {adapter} {result.mean_adapter:.3f}")
    if json_path:
        write_json(json_path, result.to_json() | {"adapter": adapter, "reward_model": reward_model, "data": str(data)})
        click.echo(f"wrote {json_path}")
