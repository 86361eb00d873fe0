"""The llama.cpp backend of :class:`assistant.llm.LLM`.

It decodes the GGUF file itself (no conversion), about five times faster
than transformers on a small CPU (shared/FIELD-NOTES.md: 106 vs 20
tokens/s), and keeps what the project's strategies rely on:

* ``n`` samples of a prompt share one prefill: the prompt is decoded into
  sequence 0, its cache cells are copied to sequences 1..n-1 and every step
  decodes one token of each live sequence in one batch
  (:mod:`assistant.backends.llamacpp.runtime`); several prompts of one call run side by
  side the same way, and start from the longest prefix they share with the
  cached prompt;
* the prompt of the previous call stays in the cache: a conversation's next
  turn (or a strategy's next call with the same instructions) decodes only the
  new tokens;
* LoRA adapters, converted once from PEFT to GGUF
  (:mod:`assistant.backends.llamacpp.lora_gguf`), several at once with scales, switched
  per call; a single active LoRA is merged into a copy of the model instead
  (:mod:`assistant.backends.llamacpp.merge`), which decodes at the base model's speed;
  soft prompts enter as embeddings at the first positions.

What it does not do -- beam search, required words, prefix-tuning adapters --
it hands to a transformers model loaded on first need (``reference``), so
every strategy runs unchanged on this backend.
"""

from __future__ import annotations

import codecs
import copy
import hashlib
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.adapters import AdapterError, AdapterRegistry, AdapterSpec, check_compatible, weights_fingerprint
from assistant.llm import PromptLike, TextStream, cut_at_stop, stream_rows
from assistant.prompt import as_prompt, to_messages
from assistant.types import Candidate, Decoding
from .runtime import Runtime
from assistant.backends.sampling import Sampler, log_softmax


@dataclass
class _Row:
    """One sequence being generated: a sample of one prompt."""

    seq: int
    prompt: int  # index of its prompt in the call
    context: list[int]  # prompt tokens, then generated ones (for the repetition penalty)
    logits: np.ndarray
    generated: list[int] = field(default_factory=list)
    data: bytes = b""
    text: str = ""
    finish: str = ""  # "" while running, then "stop" or "length"
    stopped_by_string: bool = False


@dataclass(frozen=True)
class _AdapterState:
    """What the context runs with: LoRA files with scales, or a soft prompt."""

    key: str = ""
    loras: tuple[tuple[str, float], ...] = ()  # (gguf path, scale)
    soft_prompt: str = ""  # adapter name whose embeddings come first
    model: str = ""  # a merged model file to run instead of the base ("": the base)


class LlamaCppLLM:
    backend = "llamacpp"

    def __init__(self, runtime: Runtime, gguf: str | Path, label: str, context_window: int = 0,
                 reference: Callable[[], Any] | None = None, base_folder: str | None = None,
                 registry: AdapterRegistry | None = None, merge_lora: bool = True) -> None:
        """``merge_lora``: run a single active LoRA merged into a copy of the
        model (as fast as the base) rather than as a run-time adapter."""
        self.gguf = Path(gguf)
        self.label = label
        self.name = f"{label} [llama.cpp]"  # recorded with every answer: provenance includes the backend
        window = min(runtime.n_ctx_train, runtime.n_ctx)
        self.context_window = min(context_window, window) if context_window else window
        self.adapter = AdapterSpec()
        # shared by every adapter view
        self._shared: dict[str, Any] = {
            "lock": threading.RLock(), "reference": None, "make_reference": reference,
            "loras": {}, "soft": {}, "cache_key": None, "cached": [], "template": None,
            "registry": registry, "base_folder": base_folder, "states": {},
            "runtimes": {"": runtime}, "model": "", "merge": merge_lora,
        }
        self._template_source = runtime.metadata("tokenizer.chat_template") or ""

    # ------------------------------------------------------------ adapters

    @property
    def _lock(self) -> threading.RLock:
        return self._shared["lock"]

    @property
    def runtime(self) -> Runtime:
        """The llama.cpp model and context in use: the base's, or a merged model's."""
        return self._shared["runtimes"][self._shared["model"]]

    def with_adapter(self, spec: str | AdapterSpec | None) -> "LlamaCppLLM":
        """A view running every call with ``spec`` ("" / "none", "qa", "qa*0.7+tone*0.3").
        LoRA adapters are converted (once, cached) and loaded here, so a wrong
        name fails before any generation."""
        spec = spec if isinstance(spec, AdapterSpec) else AdapterSpec.parse(spec)
        if spec.parts:
            with self._lock:
                self._state(spec)
        view = copy.copy(self)
        view.adapter = spec
        view.name = f"{self.label} [llama.cpp]" + (f" + {spec.label}" if spec.parts else "")
        return view

    def _registry(self) -> AdapterRegistry:
        if self._shared["registry"] is None:
            self._shared["registry"] = AdapterRegistry()
        return self._shared["registry"]

    def _fingerprint(self) -> str | None:
        folder = self._shared["base_folder"]
        return weights_fingerprint(folder) if folder and Path(folder).is_dir() else None

    def _state(self, spec: AdapterSpec) -> _AdapterState | None:
        """The llama.cpp state for ``spec``, or None when only transformers can
        run it; worked out once per spec (adapters load once, as on transformers)."""
        if not spec.parts:
            return _AdapterState()
        states = self._shared["states"]
        if spec.label not in states:
            states[spec.label] = self._new_state(spec)
        return states[spec.label]

    def _new_state(self, spec: AdapterSpec) -> _AdapterState | None:
        registry = self._registry()
        infos = {name: registry.get(name) for name in spec.names}
        fingerprint = self._fingerprint()
        for info in infos.values():
            if info.kind == "reward":
                raise AdapterError(f"{info.name!r} is a reward model (it scores answers, it does not write them)",
                                   f"use it as a verifier: set reward_model = \"{info.name}\"")
            if fingerprint is not None:
                check_compatible(info, self.label, fingerprint)
        kinds = {info.kind for info in infos.values()}
        if kinds - {"lora", "prompt"}:
            return None  # prefix tuning and other kinds: transformers
        if "prompt" in kinds:
            if len(spec.parts) > 1:
                raise AdapterError(f"soft-prompt adapters cannot be mixed: {spec.label}",
                                   "mix only LoRA adapters, or use one soft prompt on its own")
            name = spec.names[0]
            if name not in self._shared["soft"]:
                from .lora_gguf import soft_prompt

                self._shared["soft"][name] = soft_prompt(registry.path(name))
            return _AdapterState(key=spec.label, soft_prompt=name)
        parts = [(name, scale) for name, scale in spec.parts if scale != 0]  # a zero scale changes nothing
        if not parts:
            return _AdapterState(key=spec.label)
        if len(parts) == 1 and self._shared["merge"]:
            name, scale = parts[0]
            return _AdapterState(key=spec.label, model=self._merged_file(name, scale))
        loras = []
        base = self._shared["runtimes"][""]
        for name, scale in parts:
            path = self._lora_file(name)
            if path not in self._shared["loras"]:
                self._shared["loras"][path] = base.load_lora(path)
            loras.append((path, scale))
        return _AdapterState(key=spec.label, loras=tuple(loras))

    def _merged_file(self, name: str, scale: float) -> str:
        """The base model with adapter ``name`` merged at ``scale`` (made once, cached by content)."""
        from assistant import paths
        from .lora_gguf import FORMAT_VERSION, lora_tensors, read_base_shape
        from .merge import MERGE_VERSION, write_merged_gguf

        folder = self._registry().path(name)
        digest = hashlib.sha256(f"{FORMAT_VERSION}|{MERGE_VERSION}|{self.gguf.name}|"
                                f"{self.gguf.stat().st_size}|{scale!r}".encode())
        for part in ("adapter_config.json", "adapter_model.safetensors"):
            digest.update((folder / part).read_bytes())
        target = paths.cache_dir() / "llamacpp-adapters" / f"{name}-merged-{digest.hexdigest()[:12]}.gguf"
        if not target.exists():
            tensors, alpha = lora_tensors(folder, read_base_shape(self.gguf))
            write_merged_gguf(self.gguf, tensors, alpha, scale, target)
        return str(target)

    def _use_model(self, path: str) -> None:
        """Make ``path`` ("" for the base) the model in use, loading it once;
        at most one merged model stays loaded beside the base."""
        runtimes = self._shared["runtimes"]
        if path not in runtimes:
            for other in [p for p in runtimes if p]:
                runtimes.pop(other).close()
            runtimes[path] = Runtime(path, runtimes[""].options)
        self._shared["model"] = path

    def _lora_file(self, name: str) -> str:
        """The GGUF conversion of adapter ``name`` (made once, cached by content)."""
        from assistant import paths
        from .lora_gguf import FORMAT_VERSION, write_lora_gguf

        folder = self._registry().path(name)
        digest = hashlib.sha256(f"{FORMAT_VERSION}|{self.gguf.name}".encode())
        for part in ("adapter_config.json", "adapter_model.safetensors"):
            digest.update((folder / part).read_bytes())
        target = paths.cache_dir() / "llamacpp-adapters" / f"{name}-{digest.hexdigest()[:12]}.gguf"
        if not target.exists():
            write_lora_gguf(folder, self.gguf, target)
        return str(target)

    def _activate(self, state: _AdapterState) -> np.ndarray | None:
        """Apply ``state`` to the context (under the lock); the soft prompt's embeddings, if any."""
        if self._shared["cache_key"] != state.key:
            self._use_model(state.model)
            handles = [(self._shared["loras"][path], scale) for path, scale in state.loras]
            self.runtime.set_loras(handles)
            self.runtime.clear()
            self._shared["cached"] = []
            self._shared["cache_key"] = state.key
        if state.soft_prompt:
            return self._shared["soft"][state.soft_prompt]
        return None

    def reference(self) -> Any:
        """The transformers model (with this view's adapter) for what llama.cpp cannot do."""
        if self._shared["reference"] is None:
            make = self._shared["make_reference"]
            if make is None:
                raise AdapterError("this needs the transformers backend, and none can be loaded here",
                                   "use --backend transformers")
            self._shared["reference"] = make()
        return self._shared["reference"].with_adapter(self.adapter)

    def _needs_reference(self, decoding: Decoding) -> bool:
        if decoding.num_beams > 1 or decoding.require:
            return True
        with self._lock:
            return self._state(self.adapter) is None

    # -------------------------------------------------------------- prompts

    def render(self, prompt: PromptLike) -> str:
        return self._render_messages(_messages(prompt))

    def _render_messages(self, messages: list[dict[str, str]]) -> str:
        if not self._template_source:
            return "\n\n".join(f"{m['role']}: {m['content']}" for m in messages) + "\n\nassistant:"
        if self._shared["template"] is None:
            from jinja2.ext import loopcontrols
            from jinja2.sandbox import ImmutableSandboxedEnvironment

            def raise_exception(message: str) -> None:
                raise ValueError(message)

            # the environment transformers renders chat templates with
            env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
            env.globals["raise_exception"] = raise_exception
            self._shared["template"] = env.from_string(self._template_source)
        return self._shared["template"].render(messages=messages, add_generation_prompt=True,
                                               bos_token="", eos_token="<|im_end|>")

    def _tokens(self, prompt: PromptLike) -> list[int]:
        return self.prompt_ids(prompt)

    def prompt_ids(self, prompt: PromptLike) -> list[int]:
        """The token ids the model reads for ``prompt``: the chat template's own
        control tokens, and every message's text tokenized as plain text, so a
        passage or question holding ``<|im_end|>`` cannot open a turn
        (:mod:`assistant.backends.untrusted`)."""
        from assistant.backends.untrusted import template_pieces

        rt = self.runtime
        controls = rt.control_tokens()
        ids: list[int] = []
        for piece in template_pieces(self._render_messages, _messages(prompt), controls):
            ids += [controls[piece.text]] if piece.control else rt.tokenize(piece.text, special=False)
        return ids

    def count_tokens(self, prompt: PromptLike) -> int:
        return len(self._tokens(prompt))

    # ------------------------------------------------------------ prefill

    def _prefill(self, seq: int, tokens: list[int], soft: np.ndarray | None,
                 logits_from: int | None = None) -> list[np.ndarray]:
        """Put ``tokens`` (after the soft prompt, if any) into sequence ``seq``,
        reusing the longest prefix already decoded in sequence 0; the logits
        predicted at positions ``logits_from``.. (default: the last token only),
        which are decoded even when cached."""
        rt = self.runtime
        offset = 0 if soft is None else len(soft)
        first = len(tokens) - 1 if logits_from is None else logits_from
        cached: list[int] = self._shared["cached"]
        if soft is not None and not cached and seq == 0:
            rt.seq_rm(0)
            rt.decode_embeddings(soft, 0, 0)
        common = min(_common_prefix(cached, tokens), first)
        if seq == 0:
            rt.seq_rm(0, offset + common, -1)
            self._shared["cached"] = list(tokens)
        else:
            rt.seq_rm(seq)
            if offset + common:
                rt.seq_cp(0, seq, 0, offset + common)
        return rt.decode_tokens([(tokens[pos], offset + pos, seq, pos >= first) for pos in range(common, len(tokens))])

    def _forget_cache(self) -> None:
        """After a failure, whatever state the cache was left in: start clean next time."""
        self.runtime.clear()
        self._shared["cached"] = []
        self._shared["cache_key"] = None

    # ----------------------------------------------------------- generation

    def generate(self, prompts: Sequence[PromptLike], n: int = 1, decoding: Decoding | None = None,
                 label: str = "generate") -> list[list[Candidate]]:
        decoding = decoding or Decoding()
        if not prompts:
            return []
        if self._needs_reference(decoding):
            return self.reference().generate(prompts, n=n, decoding=decoding, label=label)
        runs = 1 if not decoding.sampling else n
        token_lists = [self._tokens(p) for p in prompts]
        pairs = [(i, j) for i in range(len(prompts)) for j in range(runs)]
        by_prompt: dict[int, list[Candidate]] = {i: [] for i in range(len(prompts))}
        with self._lock:
            width = self.runtime.n_seq_max
            sampler = Sampler(decoding, self._banned(decoding))
            for start in range(0, len(pairs), width):
                rows = self._decode(token_lists, pairs[start:start + width], decoding, sampler)
                for row in rows:
                    by_prompt[row.prompt].append(self._candidate(row, len(token_lists[row.prompt])))
        results = []
        for i in range(len(prompts)):
            group = by_prompt[i]
            results.append(group * n if runs == 1 and n > 1 else group)
        return results

    def _banned(self, decoding: Decoding) -> list[list[int]]:
        from assistant.backends.wordforms import banned_sequences

        return banned_sequences(decoding.exclude, lambda form: self.runtime.tokenize(form, special=False))

    def _decode(self, token_lists: list[list[int]], pairs: list[tuple[int, int]], decoding: Decoding,
                sampler: Sampler) -> list[_Row]:
        """Generate one row per (prompt, sample) pair, side by side in one batch per step."""
        rows: list[_Row] = []
        for rows in self._steps(token_lists, pairs, decoding, sampler):
            pass
        return rows

    def _steps(self, token_lists: list[list[int]], pairs: list[tuple[int, int]], decoding: Decoding,
               sampler: Sampler) -> Iterator[list[_Row]]:
        """The rows after each step (call under the lock). Closing the iterator
        early ends every row there, and the cache is left consistent either way.

        It runs in the caller's thread: a worker thread beside llama.cpp's own
        two was measured to cost ~15 % of the decoding speed on 2 cores."""
        soft = self._activate(self._state(self.adapter) or _AdapterState())
        rt = self.runtime  # after activating: a merged adapter runs another model
        offset = 0 if soft is None else len(soft)
        rows: list[_Row] = []
        first_seq: dict[int, int] = {}
        closed = False
        try:
            for seq, (prompt, _) in enumerate(pairs):
                tokens = token_lists[prompt]
                if prompt in first_seq:  # another sample: share the prompt's cells
                    source = rows[first_seq[prompt]]
                    rt.seq_rm(seq)
                    rt.seq_cp(source.seq, seq, 0, offset + len(tokens))
                    logits = source.logits
                else:
                    first_seq[prompt] = len(rows)
                    logits = self._prefill(seq, tokens, soft)[-1]
                rows.append(_Row(seq, prompt, list(tokens), logits))
            decoder = [codecs.getincrementaldecoder("utf-8")("replace") for _ in rows]
            for step in range(decoding.max_new_tokens):
                for r, dec in zip(rows, decoder):
                    if r.finish:
                        continue
                    token = sampler.choose(r.logits, r.context, r.generated)
                    r.generated.append(token)
                    r.context.append(token)
                    if rt.is_eog(token):
                        r.finish = "stop"
                        continue
                    r.text += dec.decode(rt.piece(token))
                    if decoding.stop:
                        r.text, stopped = cut_at_stop(r.text, decoding.stop)
                        if stopped:
                            r.finish, r.stopped_by_string = "stop", True
                live = [r for r in rows if not r.finish]
                if not live or step == decoding.max_new_tokens - 1:
                    break
                try:
                    yield rows
                except GeneratorExit:  # the reader stopped: end here, tidily, and yield no more
                    closed = True
                    for r in live:
                        r.finish = "stop"
                    break
                outs = rt.decode_tokens([(r.generated[-1], offset + len(r.context) - 1, r.seq, True) for r in live])
                for r, logits in zip(live, outs):
                    r.logits = logits
            for r in rows:
                r.finish = r.finish or "length"
        except BaseException as exc:
            if not isinstance(exc, GeneratorExit):
                self._forget_cache()
            raise
        for r in rows:
            if r.seq != 0:
                rt.seq_rm(r.seq)
        # sequence 0 now holds the prompt and what was decoded of its answer
        # (the last sampled token never went through the model)
        decoded = rows[0].context[: len(rows[0].context) - 1] if rows[0].generated else rows[0].context
        self._shared["cached"] = decoded
        rt.seq_rm(0, offset + len(decoded), -1)
        if not closed:
            yield rows

    def _candidate(self, row: _Row, prompt_tokens: int) -> Candidate:
        return Candidate(text=row.text.strip(), prompt_tokens=prompt_tokens, completion_tokens=len(row.generated),
                         finish_reason=row.finish or "length", index=row.prompt)

    # ------------------------------------------------------------ streaming

    def stream(self, prompt: PromptLike, decoding: Decoding | None = None, label: str = "stream") -> TextStream:
        decoding = decoding or Decoding()
        if self._needs_reference(decoding):
            return self.reference().stream(prompt, decoding=decoding, label=label)
        return TextStream(lambda stream: self._stream_pieces(prompt, decoding, stream))

    def _stream_pieces(self, prompt: PromptLike, decoding: Decoding, stream: TextStream) -> Iterator[str]:
        tokens = self._tokens(prompt)
        with self._lock:
            steps = self._steps([tokens], [(0, 0)], decoding, Sampler(decoding, self._banned(decoding)))
            yield from stream_rows(steps, decoding.stop, stream, len(tokens))

    # -------------------------------------------------------------- scoring

    def score(self, prompt: PromptLike, continuation: str) -> float:
        with self._lock:
            if self._state(self.adapter) is None:
                return self.reference().score(prompt, continuation)
        prompt_ids = self._tokens(prompt)
        cont_ids = self.runtime.tokenize(continuation, special=False)
        if not cont_ids:
            return 0.0
        return float(sum(self.token_logprobs(prompt_ids, cont_ids)))

    def token_logprobs(self, prompt_ids: list[int], cont_ids: list[int]) -> list[float]:
        """Log-probability of each continuation token after the prompt (equivalence tests, scoring)."""
        rows = self.token_logits(prompt_ids, cont_ids)
        return [float(log_softmax(logits)[tok]) for logits, tok in zip(rows, cont_ids)]

    def token_logits(self, prompt_ids: list[int], cont_ids: list[int]) -> list[np.ndarray]:
        """The logits predicting each continuation token (teacher forcing)."""
        with self._lock:
            soft = self._activate(self._state(self.adapter) or _AdapterState())
            try:
                # the last continuation token predicts nothing we need
                return self._prefill(0, prompt_ids + cont_ids[:-1], soft, logits_from=len(prompt_ids) - 1)
            except BaseException:
                self._forget_cache()
                raise


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _messages(prompt: PromptLike) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in to_messages(as_prompt(prompt))]
