"""The transformers backend of :class:`assistant.llm.LLM`: the reference
implementation, and the one that carries every adapter kind.

Batching: all prompts of a ``generate`` call and all ``n`` samples of each
run in one ``model.generate`` (left padding, ``num_return_sequences``),
which was measured 2.3x faster than ``n`` separate calls on 2 CPU cores
(shared/FIELD-NOTES.md). ``n`` samples of a single prompt also share its
prefill: the prompt's KV cache is computed once and repeated across the
batch (``_sample_with_shared_prefix``).

On the CPU, greedy and sampled generation and streaming run in the project's
own decode loop instead (:mod:`assistant.backends.transformers.decode`): float32 prefill, then
decoding by a bfloat16 copy of the weights when ``decode_dtype`` asks for it
(``dtype = "auto"`` on the CPU does), finished rows leaving the batch.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from assistant.adapters import AdapterSpec
from assistant.llm import PromptLike, TextStream, cut_at_stop, stream_rows
from assistant.models import LoadedModel
from assistant.prompt import as_prompt, to_messages
from assistant.types import Candidate, Decoding


class TransformersLLM:
    def __init__(self, loaded: LoadedModel, context_window: int = 0, decode_dtype: str | None = None) -> None:
        """``decode_dtype``: decode with a copy of the weights in this dtype
        ("bfloat16") on the CPU, the prompt still prefilled by the loaded weights."""
        self.loaded = loaded
        self.model = loaded.model
        self.tokenizer = loaded.tokenizer
        self.name = loaded.source.label
        window = getattr(self.model.config, "max_position_embeddings", 2048)
        self.context_window = min(context_window, window) if context_window else window
        self._lock = threading.RLock()  # one forward pass at a time (UI threads)
        self._adapters: list[Any] = [None]  # [AdapterSet], shared by every adapter view
        self.adapter = AdapterSpec()  # what this view runs with; see with_adapter
        self.decode_dtype = decode_dtype if decode_dtype and decode_dtype != loaded.dtype else None
        self._twin: list[Any] = [None]  # the decode copy of the base weights, shared by every view

    # --------------------------------------------------------------- adapters

    def with_adapter(self, spec: str | AdapterSpec | None) -> "TransformersLLM":
        """A view of this model that runs every call with ``spec`` active
        ("" or "none": the base model; "qa"; or a LoRA mix "qa*0.7+style*0.3").

        Views share the weights, the lock and the loaded adapters, so
        switching costs a ``set_adapter`` (milliseconds), not a reload. The
        adapters are loaded (and checked against this base model) here, so
        a wrong name or a mismatched base fails before any generation.
        """
        spec = spec if isinstance(spec, AdapterSpec) else AdapterSpec.parse(spec)
        if spec.parts:
            with self._lock:
                self.adapter_set().prepare(spec)
        view = copy.copy(self)
        view.adapter = spec
        view.name = self.loaded.source.label + (f" + {spec.label}" if spec.parts else "")
        return view

    def adapter_set(self) -> Any:
        if self._adapters[0] is None:
            from assistant.adapter_runtime import AdapterSet
            from assistant.adapters import weights_fingerprint

            self._adapters[0] = AdapterSet(self.model, self.loaded.source.label,
                                           weights_fingerprint(self.loaded.folder))
        return self._adapters[0]

    def _active(self) -> Any:
        """The module to call for this view's adapter (under the lock)."""
        from assistant.adapter_runtime import Active

        if self._adapters[0] is None:
            return Active(self.model)
        return self._adapters[0].activate(self.adapter)

    # ---------------------------------------------------------------- prompts

    def render(self, prompt: PromptLike) -> str:
        return self._render_messages(_messages(prompt))

    def _render_messages(self, messages: list[dict[str, str]]) -> str:
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return "\n\n".join(f"{m['role']}: {m['content']}" for m in messages) + "\n\nassistant:"

    def prompt_ids(self, prompt: PromptLike) -> list[int]:
        """The token ids the model reads for ``prompt``: the chat template's own
        control tokens, and every message's text tokenized as plain text, so a
        passage or question holding ``<|im_end|>`` cannot open a turn
        (:mod:`assistant.backends.untrusted`)."""
        from assistant.backends.untrusted import template_pieces

        added = self.tokenizer.added_tokens_encoder  # every string the tokenizer would parse as one token
        ids: list[int] = []
        for piece in template_pieces(self._render_messages, _messages(prompt), added):
            ids += [added[piece.text]] if piece.control else self.plain_ids(piece.text)
        return ids

    def plain_ids(self, text: str) -> list[int]:
        """``text`` as plain text: control-token strings in it stay characters."""
        return self.tokenizer(text, add_special_tokens=False, split_special_tokens=True)["input_ids"]

    def _encode(self, prompts: Sequence[PromptLike]) -> Any:
        batch = {"input_ids": [self.prompt_ids(p) for p in prompts]}
        return self.tokenizer.pad(batch, padding=True, return_tensors="pt").to(self.model.device)

    def count_tokens(self, prompt: PromptLike) -> int:
        return len(self.prompt_ids(prompt))

    # ------------------------------------------------------------- generation

    def _generate_kwargs(self, decoding: Decoding, n: int) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "max_new_tokens": decoding.max_new_tokens,
            "pad_token_id": self.tokenizer.pad_token_id,
            "repetition_penalty": decoding.repetition_penalty,
            "num_return_sequences": n,
        }
        if decoding.num_beams > 1:
            kwargs.update(do_sample=False, num_beams=max(decoding.num_beams, n))
        elif decoding.sampling:
            kwargs.update(do_sample=True, temperature=decoding.temperature, top_p=decoding.top_p,
                          top_k=decoding.top_k or None)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if decoding.stop:
            kwargs.update(stop_strings=list(decoding.stop), tokenizer=self.tokenizer)
        if decoding.exclude or decoding.require:
            from transformers import LogitsProcessorList

            from assistant.backends.transformers.constraints import RequireWords, bad_words_ids

            if decoding.exclude:
                kwargs["bad_words_ids"] = bad_words_ids(self.tokenizer, decoding.exclude)
            if decoding.require:
                kwargs["logits_processor"] = LogitsProcessorList([RequireWords(
                    self.tokenizer, decoding.require, decoding.max_new_tokens, self._eos_ids())])
        return kwargs

    def _seed(self, decoding: Decoding) -> None:
        if decoding.seed is not None:
            import torch

            torch.manual_seed(decoding.seed)

    def generate(self, prompts: Sequence[PromptLike], n: int = 1, decoding: Decoding | None = None,
                 label: str = "generate") -> list[list[Candidate]]:
        import torch

        decoding = decoding or Decoding()
        if not prompts:
            return []
        deterministic = not decoding.sampling and decoding.num_beams == 1
        runs = 1 if deterministic else n
        with self._lock, torch.inference_mode():
            self._seed(decoding)
            active = self._active()
            enc = self._encode(prompts)
            if self._use_loop(decoding, active):
                rows: list[Any] = []
                for rows in self._loop(active, enc, runs, decoding):
                    pass
                return self._loop_results(rows, enc, n, deterministic)
            shared = not active.prompt_learning and decoding.num_beams == 1 and enc["input_ids"].shape[1] > 1
            if len(prompts) == 1 and runs > 1 and shared:
                out = self._sample_with_shared_prefix(active.module, enc, decoding, runs)
            else:
                out = active.module.generate(**enc, **self._generate_kwargs(decoding, runs))
        width = enc["input_ids"].shape[1]
        prompt_lengths = enc["attention_mask"].sum(dim=1).tolist()
        results: list[list[Candidate]] = []
        for i in range(len(prompts)):
            group = []
            for j in range(runs):
                row = out[i * runs + j, width:]
                group.append(self._candidate(row, int(prompt_lengths[i]), decoding, index=i))
            if deterministic and n > 1:
                group = group * n
            results.append(group)
        return results

    # ------------------------------------------------------ the decode loop

    def _use_loop(self, decoding: Decoding, active: Any) -> bool:
        """Our decode loop (assistant/backends/transformers/decode.py) on the CPU, and for
        prompt-learning adapters everywhere (PEFT's generate for them breaks
        with transformers' releases: decode.py's docstring); generate() for
        beams, required words and the GPU otherwise."""
        return (decoding.num_beams == 1 and not decoding.require
                and (self.model.device.type == "cpu" or active.prompt_learning))

    def _decode_model(self, active: Any) -> Any:
        """The module that decodes: the low-precision twin for the base model, else the active module."""
        if self.decode_dtype is None or self.adapter.parts:
            return active.module
        if self._twin[0] is None:
            from assistant.models import resolve_dtype

            dtype = resolve_dtype(self.decode_dtype, "cpu")
            if self._adapters[0] is None:  # the weights are untouched: copy them
                twin = copy.deepcopy(self.model)
            else:  # adapter layers were injected into the model: read the base again
                from transformers import AutoModelForCausalLM

                twin = AutoModelForCausalLM.from_pretrained(self.loaded.folder, dtype=dtype)
            self._twin[0] = twin.to(dtype).eval()
        return self._twin[0]

    def _loop(self, active: Any, enc: Any, runs: int, decoding: Decoding, streaming: bool = False) -> Any:
        from assistant.adapter_runtime import prompt_virtual
        from assistant.backends.transformers.decode import decode_steps
        from assistant.backends.sampling import Sampler
        from assistant.backends.wordforms import banned_sequences

        banned = banned_sequences(decoding.exclude,
                                  lambda form: self.tokenizer(form, add_special_tokens=False)["input_ids"])
        prefill, decode, virtual = active.module, self._decode_model(active), None
        if active.prompt_learning:  # the base model, the adapter's virtual positions in front
            prefill = decode = active.module.get_base_model()
            virtual = prompt_virtual(active)
        return decode_steps(prefill, decode, self.tokenizer, enc, runs, decoding,
                            Sampler(decoding, banned), self._eos_ids(), text_every_step=streaming, virtual=virtual)

    def _loop_results(self, rows: list[Any], enc: Any, n: int, deterministic: bool) -> list[list[Candidate]]:
        results: list[list[Candidate]] = [[] for _ in range(enc["input_ids"].shape[0])]
        for row in rows:
            results[row.prompt].append(Candidate(
                text=row.text.strip(), prompt_tokens=int(enc["attention_mask"][row.prompt].sum()),
                completion_tokens=len(row.generated), finish_reason=row.finish or "length", index=row.prompt))
        return [group * n if deterministic and n > 1 else group for group in results]

    def _sample_with_shared_prefix(self, module: Any, enc: Any, decoding: Decoding, runs: int) -> Any:
        """``runs`` samples of one prompt whose prefill is computed once: the prompt
        (all but its last token) fills a KV cache, the cache is repeated ``runs``
        times along the batch, and generation continues from it. With
        ``num_return_sequences`` the prompt would be prefilled ``runs`` times."""
        from transformers import DynamicCache

        from assistant.backends.transformers.decode import cache_kwarg

        ids, mask = enc["input_ids"], enc["attention_mask"]
        cache = DynamicCache(config=self.model.config)
        cache_kw = cache_kwarg(self.model)  # renamed in transformers 5.24
        module(input_ids=ids[:, :-1], attention_mask=mask[:, :-1], **{cache_kw: cache}, use_cache=True)
        cache.batch_repeat_interleave(runs)
        return module.generate(input_ids=ids.repeat(runs, 1), attention_mask=mask.repeat(runs, 1),
                               **{cache_kw: cache}, **self._generate_kwargs(decoding, 1))

    def _candidate(self, tokens: Any, prompt_tokens: int, decoding: Decoding, index: int) -> Candidate:
        ids = tokens.tolist()
        eos = self._eos_ids()
        count = len(ids)
        finish = "length"
        for pos, tok in enumerate(ids):
            if tok in eos:
                count, finish = pos + 1, "stop"
                break
        text = self.tokenizer.decode(ids[:count], skip_special_tokens=True)
        text, stopped = cut_at_stop(text, decoding.stop)
        if stopped:
            finish = "stop"
        return Candidate(text=text.strip(), prompt_tokens=prompt_tokens, completion_tokens=count,
                         finish_reason=finish, index=index)

    def _eos_ids(self) -> set[int]:
        eos = self.model.generation_config.eos_token_id
        ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        if self.tokenizer.eos_token_id is not None:
            ids.add(self.tokenizer.eos_token_id)
        return ids

    def stream(self, prompt: PromptLike, decoding: Decoding | None = None, label: str = "stream") -> TextStream:
        return TextStream(lambda stream: self._stream_pieces(prompt, decoding or Decoding(), stream))

    def _stream_pieces(self, prompt: PromptLike, decoding: Decoding, stream: TextStream) -> Iterator[str]:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        cancel = threading.Event()

        class _Cancelled(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> bool:
                return cancel.is_set()

        enc = self._encode([prompt])
        with self._lock:
            active = self._active()
            if self._use_loop(decoding, active):  # our loop, in the caller's thread
                steps = self._loop(active, enc, 1, decoding, streaming=True)
                yield from stream_rows(steps, decoding.stop, stream, int(enc["attention_mask"].sum()))
                return
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        kwargs = self._generate_kwargs(decoding, 1)
        kwargs.update(streamer=streamer, stopping_criteria=StoppingCriteriaList([_Cancelled()]))
        output: dict[str, Any] = {}

        def work() -> None:
            try:
                with self._lock, torch.inference_mode():
                    self._seed(decoding)
                    output["ids"] = self._active().module.generate(**enc, **kwargs)
            except BaseException as exc:  # re-raised in the consumer
                output["error"] = exc
                streamer.end()

        thread = threading.Thread(target=work, name="assistant-generate", daemon=True)
        thread.start()
        emitted = ""
        pending = ""
        stopped = False
        exhausted = False
        hold = max((len(s) for s in decoding.stop), default=0)
        try:
            for piece in streamer:
                pending += piece
                cut, stopped = cut_at_stop(emitted + pending, decoding.stop)
                if stopped:
                    if len(cut) > len(emitted):
                        yield cut[len(emitted):]
                    emitted = cut
                    pending = ""
                    cancel.set()
                    break
                # hold back a tail that could be the start of a stop string
                ready = pending[: len(pending) - hold] if hold else pending
                if ready:
                    emitted += ready
                    pending = pending[len(ready):]
                    yield ready
            else:
                exhausted = True
                if pending:
                    emitted += pending
                    yield pending
        finally:
            cancel.set()
            if not exhausted:
                for _ in streamer:  # drain so the worker can finish
                    pass
            thread.join()
        if "error" in output:
            raise output["error"]
        ids = output["ids"][0, enc["input_ids"].shape[1]:]
        candidate = self._candidate(ids, int(enc["attention_mask"].sum()), decoding, index=0)
        stream.candidate = Candidate(text=emitted.strip(), prompt_tokens=candidate.prompt_tokens,
                                     completion_tokens=candidate.completion_tokens,
                                     finish_reason="stop" if stopped else candidate.finish_reason)

    # ---------------------------------------------------------------- scoring

    def score(self, prompt: PromptLike, continuation: str) -> float:
        import torch

        prompt_ids = self.prompt_ids(prompt)
        cont_ids = self.plain_ids(continuation)
        if not cont_ids:
            return 0.0
        ids = torch.tensor([prompt_ids + cont_ids], device=self.model.device)
        with self._lock, torch.inference_mode():
            active = self._active()
            logits = active.module(input_ids=ids).logits  # (1, seq, vocab)
            logits = logits[:, active.virtual_tokens:]  # a soft prompt's positions come first
        logprobs = torch.log_softmax(logits[0, len(prompt_ids) - 1 : -1].float(), dim=-1)  # (cont, vocab)
        target = torch.tensor(cont_ids, device=logprobs.device)
        return float(logprobs.gather(1, target[:, None]).sum())


def _messages(prompt: PromptLike) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in to_messages(as_prompt(prompt))]
