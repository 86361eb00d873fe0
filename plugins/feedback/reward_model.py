"""A reward model: the base model with a LoRA and a scalar head, scoring a
response to a conversation (higher is better).

It is trained by ``assistant tune reward`` on preference pairs with the
Bradley-Terry loss ``-log sigmoid(r_chosen - r_rejected - margin)``
(Ouyang et al., 2022, "Training language models to follow instructions
with human feedback", step 2 of RLHF; TRL's ``RewardTrainer``), saved in the
adapter registry as kind ``reward`` and used three ways:

* as a verifier through ``score_candidates`` (best-of-N, tree-of-thought),
  when the ``reward_model`` setting names it;
* as the reward function of ``assistant tune rl``;
* as the judge of ``assistant eval winrate``.

Both training and scoring encode a (conversation, response) with
``encode`` below, so the model sees at run time exactly what it saw in
training.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from assistant.adapters import META_FILE, AdapterError, AdapterInfo, AdapterRegistry, check_compatible, weights_fingerprint

REWARD_KIND = "reward"
#: How the scalar head reads a sequence: "last", the hidden state of its last
#: token (``AutoModelForSequenceClassification``'s own reading), or "mean", the
#: mean of every token's hidden state. Linear probes on the frozen default model
#: (UltraFeedback pairs, 994 train / 199 eval_200, 256 tokens) ranked eval_200
#: right 0.618 of the time reading the mean and 0.568 reading the last token, a
#: mid-answer token when a long answer is cut; see docs/feedback-loop.md.
POOLINGS = ("mean", "last")
DEFAULT_POOLING = "mean"


def prompt_text(tokenizer: Any, messages: Sequence[dict[str, str]]) -> str:
    """The conversation through the chat template, ending where the reply starts."""
    chat = [{"role": m["role"], "content": m["content"]} for m in messages]
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    return "\n\n".join(m["content"] for m in chat) + "\n\n"


def clipped_prompt(tokenizer: Any, messages: Sequence[dict[str, str]], max_prompt_length: int) -> str:
    """``prompt_text`` keeping only its last ``max_prompt_length`` tokens (the question is at the end)."""
    text = prompt_text(tokenizer, messages)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return text if len(ids) <= max_prompt_length else tokenizer.decode(ids[-max_prompt_length:])


def encode(tokenizer: Any, messages: Sequence[dict[str, str]], response: str, max_length: int,
           max_prompt_length: int) -> list[int]:
    """Token ids of the conversation (chat template, generation prompt) plus
    the response and the end-of-turn token.

    When too long, the prompt keeps its end (where the question is), at
    least ``max_prompt_length`` tokens of it when it is that long, and the
    response keeps its start."""
    prompt_ids = tokenizer(prompt_text(tokenizer, messages), add_special_tokens=False)["input_ids"]
    response_ids = tokenizer(response.strip() + (tokenizer.eos_token or ""), add_special_tokens=False)["input_ids"]
    keep = min(len(prompt_ids), max(max_prompt_length, max_length - len(response_ids)))
    prompt_ids = prompt_ids[len(prompt_ids) - keep:]
    return prompt_ids + response_ids[:max(1, max_length - len(prompt_ids))]


def sequence_classifier(folder: str, tokenizer: Any, device: str, pooling: str = "last") -> Any:
    """The base model with a fresh scalar head (``num_labels=1``) reading the sequence as ``pooling`` says."""
    import torch
    from transformers import AutoModelForSequenceClassification

    from assistant import quiet_transformers

    quiet_transformers()
    model = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=1, dtype=torch.float32)
    model.config.pad_token_id = tokenizer.pad_token_id
    use_pooling(model, pooling)
    return model.to(device)


def use_pooling(model: Any, pooling: str) -> None:
    """Make the head of a sequence classifier read ``pooling`` ("mean" or "last").

    "mean" replaces the body's output at each position by the running mean of
    the hidden states up to it (padding left out); the head still reads the
    last real token, which now holds the mean of the whole sequence. The
    model, its PEFT wrapping and its saved files stay those of
    ``AutoModelForSequenceClassification``, so TRL trains it unchanged; the
    pooling is recorded in the adapter's config and put back on load."""
    if pooling not in POOLINGS:
        raise ValueError(f"unknown pooling {pooling!r}; use one of {POOLINGS}")
    if pooling == "last":
        return
    body = getattr(model, model.base_model_prefix)

    def running_mean(_module: Any, _args: Any, kwargs: dict[str, Any], output: Any) -> Any:
        hidden = output.last_hidden_state
        mask = kwargs.get("attention_mask")
        weight = (mask[..., None].to(hidden.dtype) if mask is not None and mask.dim() == 2
                  else hidden.new_ones(hidden.shape[:-1] + (1,)))
        output.last_hidden_state = (hidden * weight).cumsum(1) / weight.cumsum(1).clamp(min=1.0)
        return output

    body.register_forward_hook(running_mean, with_kwargs=True)


class RewardModel:
    """A loaded reward model; ``score`` is thread-safe."""

    def __init__(self, model: Any, tokenizer: Any, info: AdapterInfo, device: str) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.info = info
        self.device = device
        training = info.config.get("training", {})
        self.max_length = int(training.get("max_length", 512))
        self.max_prompt_length = int(training.get("max_prompt_length", 128))
        self._lock = threading.Lock()

    @classmethod
    def load(cls, name: str, *, registry: AdapterRegistry | None = None, model_spec: str = "embedded",
             device: str = "auto", offline: bool = True) -> "RewardModel":
        from transformers import AutoTokenizer

        from assistant import generator_folder, resolve_device

        registry = registry or AdapterRegistry()
        info = registry.get(name)
        if info.kind != REWARD_KIND:
            raise AdapterError(f"adapter {name!r} is a {info.kind} adapter, not a reward model",
                               "name a reward model trained with `assistant tune reward` (see `assistant adapters list`)")
        source, folder = generator_folder(model_spec, offline)
        check_compatible(info, source.label, weights_fingerprint(folder))
        tokenizer = AutoTokenizer.from_pretrained(folder)
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        dev = resolve_device(device)
        # reward models saved before pooling was a choice read the last token
        base = sequence_classifier(folder, tokenizer, dev, str(info.config.get("pooling", "last")))
        from peft import PeftModel

        try:
            model = PeftModel.from_pretrained(base, str(registry.path(name)), is_trainable=False)
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise AdapterError(f"could not load reward model {name!r}: {exc}",
                               f"train it again with `assistant tune reward --name {name} --overwrite`") from None
        model.to(dev)
        model.eval()
        return cls(model, tokenizer, info, dev)

    def encode(self, messages: Sequence[dict[str, str]], response: str) -> list[int]:
        return encode(self.tokenizer, messages, response, self.max_length, self.max_prompt_length)

    def score_ids(self, sequences: Sequence[list[int]], batch_size: int = 8,
                  on_batch: Callable[[int], None] | None = None) -> list[float]:
        """One reward per token sequence, in the order given.

        Sequences are scored in batches of similar length (sorted, then put
        back in order), so short answers do not pay for the padding of long
        ones; ``on_batch(n)`` is told after each batch of ``n`` sequences."""
        import torch

        pad = self.tokenizer.pad_token_id
        order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
        scores = [0.0] * len(sequences)
        with self._lock, torch.inference_mode():
            for start in range(0, len(order), batch_size):
                batch = [sequences[i] for i in order[start:start + batch_size]]
                width = max(len(s) for s in batch)
                # right padding: the head reads the last non-pad token
                ids = torch.tensor([s + [pad] * (width - len(s)) for s in batch], device=self.device)
                mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in batch], device=self.device)
                logits = self.model(input_ids=ids, attention_mask=mask).logits
                for i, value in zip(order[start:start + batch_size], logits[:, 0].float().cpu()):
                    scores[i] = float(value)
                if on_batch is not None:
                    on_batch(len(batch))
        return scores

    def score(self, messages: Sequence[dict[str, str]], responses: Sequence[str], batch_size: int = 8) -> list[float]:
        """One reward per response to the conversation ``messages``."""
        return self.score_ids([self.encode(messages, r) for r in responses], batch_size)

    def pairwise_accuracy(self, pairs: Sequence[Any], batch_size: int = 8,
                          on_scored: Callable[[int], None] | None = None) -> tuple[float, list[float]]:
        """Share of pairs whose chosen response scores above the rejected one, and the margins.

        All answers are scored together in length-sorted batches;
        ``on_scored(n)`` is told as each batch of ``n`` answers is done (two
        per pair)."""
        sequences: list[list[int]] = []
        for pair in pairs:
            sequences += [self.encode(pair.messages, pair.chosen), self.encode(pair.messages, pair.rejected)]
        scores = self.score_ids(sequences, batch_size, on_scored)
        margins = [scores[2 * k] - scores[2 * k + 1] for k in range(len(pairs))]
        accuracy = sum(m > 0 for m in margins) / len(margins) if margins else 0.0
        return accuracy, margins


_cache: dict[tuple[str, str, str, float], RewardModel] = {}
_cache_lock = threading.Lock()


def cached(name: str, model_spec: str, device: str, offline: bool = True,
           registry: AdapterRegistry | None = None) -> RewardModel:
    """Load a reward model once per process (keyed by its files' time too, so a retrained one reloads)."""
    registry = registry or AdapterRegistry()
    meta = registry.path(name) / META_FILE
    key = (str(registry.path(name)), model_spec, device, meta.stat().st_mtime if meta.exists() else 0.0)
    with _cache_lock:
        if key not in _cache:
            _cache[key] = RewardModel.load(name, registry=registry, model_spec=model_spec, device=device,
                                           offline=offline)
        return _cache[key]
