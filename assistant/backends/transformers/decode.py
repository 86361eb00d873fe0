"""The transformers backend's own decode loop, for the CPU.

``model.generate()`` is general; this loop does one thing: prefill the
prompts, then one forward pass per token for every live row, choosing tokens
with :class:`assistant.backends.sampling.Sampler` (the llama.cpp backend's sampler, so
a :class:`~assistant.types.Decoding` means the same on both backends). What it
adds over ``generate()``:

* **a bfloat16 twin for decoding.** On these CPUs a decode step is bound by
  reading the weights, so bfloat16 weights decode ~1.7x faster than float32
  (measured 26 vs 15.6 tokens/s, ``assistant bench --only backends``); a
  prefill is a matrix product, and bfloat16 products without hardware
  support are ~6x *slower* (2.5 vs 0.4 s for 222 tokens). So the prompt is
  prefilled by the float32 model, its KV cache is cast to bfloat16, and the
  tokens are decoded by a bfloat16 copy of the weights. The twin serves the
  base model; with an adapter active, decoding stays in the loaded dtype.
  Its quality is checked in tests/test_hf_decode.py against float32
  (log-probabilities of the float32 greedy tokens: mean |diff| < 0.1 nat);
* ``n`` samples of a prompt share one prefill (the cache is repeated along
  the batch), and rows that finish leave the batch (``batch_select_indices``),
  so a short sample stops costing compute;
* it runs in the caller's thread, step by step, so streaming needs no worker
  thread and closing the stream stops the work at once.

* **prompt-learning adapters** decode here on every device. A soft prompt's
  embeddings go in front of the prompt's input embeddings, a prefix's keys and
  values fill the cache before the prompt (:class:`Virtual`): the same inputs
  PEFT builds for training (Lester et al. 2021, "The Power of Scale for
  Parameter-Efficient Prompt Tuning"; Li & Liang 2021, "Prefix-Tuning").
  ``PeftModel.generate`` finds its first step by the name of transformers'
  cache argument, which transformers 5.24 renamed (``past_key_values`` ->
  ``cache``): PEFT 0.21 then injects the soft prompt at every step and its
  prefix is never read. Built here, neither depends on that detail.

Beam search and required words (a logits processor of
:mod:`assistant.backends.transformers.constraints`) stay with ``generate()``, and so does the base
model on a GPU.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from assistant.llm import cut_at_stop
from assistant.backends.sampling import Sampler
from assistant.types import Decoding


@dataclass
class Row:
    """One sequence being generated: a sample of prompt ``prompt``."""

    prompt: int
    context: list[int]  # the prompt's tokens, then the generated ones (repetition penalty)
    generated: list[int] = field(default_factory=list)
    text: str = ""
    finish: str = ""  # "" while running, then "stop" or "length"
    stopped_by_string: bool = False


@dataclass(frozen=True)
class Virtual:
    """What a prompt-learning adapter puts in front of every prompt: ``tokens``
    virtual positions, either a soft prompt's ``embeds`` (tokens, hidden) or a
    ``prefix`` that makes a cache holding the prefix's keys and values for a
    batch of the given size."""

    tokens: int
    embeds: Any = None
    prefix: Callable[[int], Any] | None = None


def cache_kwarg(model: Any) -> str:
    """The name under which ``model``'s forward takes the KV cache: ``cache``
    since transformers 5.24, ``past_key_values`` before."""
    params = inspect.signature(type(model).forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def cast_cache(cache: Any, dtype: Any) -> None:
    """Cast every layer's keys and values of a ``DynamicCache`` in place."""
    for layer in cache.layers:
        if getattr(layer, "keys", None) is not None and layer.keys.numel():
            layer.keys = layer.keys.to(dtype)
            layer.values = layer.values.to(dtype)
            layer.dtype = dtype


def decode_steps(prefill_model: Any, decode_model: Any, tokenizer: Any, enc: Any, runs: int,
                 decoding: Decoding, sampler: Sampler, eos_ids: set[int],
                 text_every_step: bool = False, virtual: Virtual | None = None) -> Iterator[list[Row]]:
    """Generate ``runs`` rows for each prompt of ``enc`` (left-padded ids and
    mask); yields the rows after each step. Call it under the model's lock;
    each forward pass runs in ``torch.inference_mode()`` on its own, since the
    caller's code runs between steps. Closing the iterator early ends every row.

    ``text_every_step``: decode each row's text at every step (streaming);
    otherwise only when stop strings need checking, and once at the end.
    ``virtual``: a prompt-learning adapter's positions in front of every
    prompt; both models are then the plain base model (not the PeftModel,
    whose forward would add them a second time).
    """
    import torch

    ids, mask = enc["input_ids"], enc["attention_mask"]
    rows = []
    for i in range(ids.shape[0]):
        prompt = [int(t) for t, m in zip(ids[i].tolist(), mask[i].tolist()) if m]
        rows += [Row(i, list(prompt)) for _ in range(runs)]
    cache_kw = cache_kwarg(prefill_model)
    with torch.inference_mode():  # per call: the caller's code runs between our steps
        cache, inputs, mask, positions = _prefill_inputs(prefill_model, ids, mask, virtual)
        out = prefill_model(**inputs, attention_mask=mask, position_ids=positions, **{cache_kw: cache},
                            use_cache=True, logits_to_keep=1)
    logits = out.logits[:, -1].float()
    if runs > 1:
        cache.batch_repeat_interleave(runs)
        logits = logits.repeat_interleave(runs, dim=0)
        mask = mask.repeat_interleave(runs, dim=0)
        positions = positions.repeat_interleave(runs, dim=0)
    dtype = next(decode_model.parameters()).dtype
    if dtype != next(prefill_model.parameters()).dtype:
        cast_cache(cache, dtype)
    live = list(range(len(rows)))  # rows still in the batch, in batch order
    next_pos = positions[:, -1:] + 1
    check_text = text_every_step or bool(decoding.stop)
    for step in range(decoding.max_new_tokens):
        scores = logits.cpu().numpy()
        keep: list[int] = []
        for b, r in enumerate(live):
            row = rows[r]
            token = sampler.choose(scores[b], row.context, row.generated)
            row.generated.append(token)
            row.context.append(token)
            if token in eos_ids:
                row.finish = "stop"
            elif check_text:
                row.text, stopped = cut_at_stop(tokenizer.decode(row.generated, skip_special_tokens=True),
                                                decoding.stop)
                if stopped:
                    row.finish, row.stopped_by_string = "stop", True
            if not row.finish:
                keep.append(b)
        if not keep or step == decoding.max_new_tokens - 1:
            break
        try:
            yield rows
        except GeneratorExit:
            for row in rows:
                row.finish = row.finish or "stop"
            _finish_text(rows, tokenizer, decoding)
            return
        if len(keep) < len(live):  # finished rows leave the batch
            index = torch.tensor(keep, device=ids.device)
            cache.batch_select_indices(index)
            mask, next_pos = mask[index], next_pos[index]
            live = [live[b] for b in keep]
        step_ids = torch.tensor([[rows[r].generated[-1]] for r in live], device=ids.device)
        mask = torch.cat([mask, mask.new_ones((len(live), 1))], dim=1)
        with torch.inference_mode():
            out = decode_model(input_ids=step_ids, attention_mask=mask, position_ids=next_pos,
                               **{cache_kw: cache}, use_cache=True)
        logits = out.logits[:, -1].float()
        next_pos = next_pos + 1
    for row in rows:
        row.finish = row.finish or "length"
    _finish_text(rows, tokenizer, decoding)
    yield rows


def _prefill_inputs(model: Any, ids: Any, mask: Any, virtual: Virtual | None) -> tuple[Any, dict, Any, Any]:
    """The cache, inputs, attention mask and positions of the prefill.

    Positions count real tokens only (left padding is skipped). A soft prompt
    takes positions 0..tokens-1 before the padding, as PEFT's own generate put
    it; a prefix occupies the cache, and the prompt's positions start after it,
    as in PEFT's training forward."""
    import torch
    from transformers import DynamicCache

    real = (mask.long().cumsum(-1) - 1).clamp(min=0)
    if virtual is None:
        return DynamicCache(config=model.config), {"input_ids": ids}, mask, real
    ones = mask.new_ones((ids.shape[0], virtual.tokens))
    if virtual.prefix is not None:
        return virtual.prefix(ids.shape[0]), {"input_ids": ids}, torch.cat([ones, mask], dim=1), real + virtual.tokens
    embeds = model.get_input_embeddings()(ids)  # (batch, seq, hidden)
    soft = virtual.embeds.to(device=embeds.device, dtype=embeds.dtype).expand(ids.shape[0], -1, -1)
    mask = torch.cat([ones, mask], dim=1)
    positions = (mask.long().cumsum(-1) - 1).clamp(min=0)
    return DynamicCache(config=model.config), {"inputs_embeds": torch.cat([soft, embeds], dim=1)}, mask, positions


def _finish_text(rows: Sequence[Row], tokenizer: Any, decoding: Decoding) -> None:
    for row in rows:
        if not row.stopped_by_string:  # special tokens (the end of turn) are not text
            row.text, _ = cut_at_stop(tokenizer.decode(row.generated, skip_special_tokens=True), decoding.stop)
