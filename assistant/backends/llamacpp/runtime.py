"""A thin, typed layer over llama-cpp-python's low-level (ctypes) API: one
model, one context holding several sequences in a unified KV cache, and the
few operations the backend needs.

Why the low-level API: the high-level ``Llama`` class decodes one sequence,
while self-consistency, best-of-N and tree-of-thought want ``n``
continuations of one prompt. Here the prompt is decoded once into sequence 0,
its cache is copied into sequences 1..n-1 (``llama_memory_seq_cp`` copies
cell references, not tensors), and every decoding step is one batch with one
token per live sequence, so the weights are read once per step for all of
them. Inputs can also be embeddings instead of tokens (``llama_batch.embd``),
which is how soft prompts enter.

Only this module touches ``llama_cpp``; it is imported lazily, so the
assistant starts and runs without the package.
"""

from __future__ import annotations

import ctypes
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.cores import usable_cores
from assistant.errors import ModelError


def import_llama_cpp() -> Any:
    """The ``llama_cpp`` module, quiet; raises ImportError (or OSError for a broken build)."""
    logging.getLogger("llama-cpp-python").setLevel(logging.ERROR)
    import llama_cpp  # noqa: F401  (its import installs a log callback that honours the logger level)

    return llama_cpp


@dataclass(frozen=True)
class ContextOptions:
    n_ctx: int = 4096  # tokens in the KV cache, over all sequences together
    n_seq_max: int = 16  # sequences decoded together (samples x prompts)
    n_batch: int = 512  # tokens per llama_decode call
    n_threads: int = 0  # 0: every core this process may use
    kv_unified: bool = True  # sequences share one pool of cells (a copied prefix costs no memory)
    flash_attn: bool = False  # measured slower on a small CPU model (see assistant/bench/backends.py)


class Runtime:
    """One llama.cpp model and context (not thread-safe: callers hold a lock)."""

    def __init__(self, gguf: str | Path, options: ContextOptions | None = None) -> None:
        self.lib = lib = import_llama_cpp()
        self.options = options = options or ContextOptions()
        lib.llama_backend_init()
        mparams = lib.llama_model_default_params()
        self.model = lib.llama_model_load_from_file(str(gguf).encode(), mparams)
        if not self.model:
            raise ModelError(f"llama.cpp could not load {gguf}", "is it a GGUF model file for this llama.cpp version?")
        threads = options.n_threads or usable_cores()
        cparams = lib.llama_context_default_params()
        cparams.n_ctx = options.n_ctx
        cparams.n_batch = options.n_batch
        cparams.n_ubatch = options.n_batch
        cparams.n_seq_max = min(options.n_seq_max, lib.llama_max_parallel_sequences())
        cparams.kv_unified = options.kv_unified
        cparams.n_threads = threads
        cparams.n_threads_batch = threads
        cparams.no_perf = True
        cparams.flash_attn_type = lib.LLAMA_FLASH_ATTN_TYPE_ENABLED if options.flash_attn else \
            lib.LLAMA_FLASH_ATTN_TYPE_DISABLED
        self.ctx = lib.llama_init_from_model(self.model, cparams)
        if not self.ctx:
            lib.llama_model_free(self.model)
            raise ModelError(f"llama.cpp could not create a context of {options.n_ctx} tokens",
                             "lower context_window, or use --backend transformers")
        self.n_seq_max = int(cparams.n_seq_max)
        self.threads = threads
        self.memory = lib.llama_get_memory(self.ctx)
        self.vocab = lib.llama_model_get_vocab(self.model)
        self.n_vocab = int(lib.llama_vocab_n_tokens(self.vocab))
        self.n_embd = int(lib.llama_model_n_embd(self.model))
        self.n_ctx = int(lib.llama_n_ctx(self.ctx))
        self.n_ctx_train = int(lib.llama_model_n_ctx_train(self.model))
        self._batch = lib.llama_batch_init(options.n_batch, 0, 1)
        self._piece = ctypes.create_string_buffer(256)
        self._controls: dict[str, int] | None = None
        self._loras: list[Any] = []
        self.decoded = 0  # tokens decoded so far (tests and benchmarks read it)

    def close(self) -> None:
        lib = self.lib
        if getattr(self, "ctx", None):
            lib.llama_batch_free(self._batch)
            lib.llama_free(self.ctx)
            self.ctx = None
        for adapter in self._loras:
            lib.llama_adapter_lora_free(adapter)
        self._loras = []
        if getattr(self, "model", None):
            lib.llama_model_free(self.model)
            self.model = None

    # ------------------------------------------------------------ vocabulary

    def tokenize(self, text: str, special: bool = True) -> list[int]:
        """Token ids of ``text``, no BOS added; ``special``: parse <|im_start|> etc. as tokens."""
        data = text.encode("utf-8")
        size = len(data) + 16
        buf = (self.lib.llama_token * size)()
        n = self.lib.llama_tokenize(self.vocab, data, len(data), buf, size, False, special)
        if n < 0:
            size = -n
            buf = (self.lib.llama_token * size)()
            n = self.lib.llama_tokenize(self.vocab, data, len(data), buf, size, False, special)
        return list(buf[:n])

    def control_tokens(self) -> dict[str, int]:
        """The vocabulary's control and user-defined tokens (the ones
        ``tokenize(special=True)`` parses out of text), by their text."""
        if self._controls is None:
            lib, wanted = self.lib, self.lib.LLAMA_TOKEN_ATTR_CONTROL | self.lib.LLAMA_TOKEN_ATTR_USER_DEFINED
            self._controls = {}
            for token in range(lib.llama_vocab_n_tokens(self.vocab)):
                if lib.llama_vocab_get_attr(self.vocab, token) & wanted:
                    text = lib.llama_vocab_get_text(self.vocab, token)
                    if text:
                        self._controls.setdefault(text.decode("utf-8", "replace"), token)
        return self._controls

    def piece(self, token: int) -> bytes:
        """The bytes of one token; control tokens (end of turn...) give b""."""
        n = self.lib.llama_token_to_piece(self.vocab, token, self._piece, len(self._piece), 0, False)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = self.lib.llama_token_to_piece(self.vocab, token, buf, len(buf), 0, False)
            return buf.raw[:n]
        return self._piece.raw[:n]

    def is_eog(self, token: int) -> bool:
        return bool(self.lib.llama_vocab_is_eog(self.vocab, token))

    def metadata(self, key: str) -> str | None:
        buf = ctypes.create_string_buffer(1 << 16)
        n = self.lib.llama_model_meta_val_str(self.model, key.encode(), buf, len(buf))
        return buf.value.decode("utf-8", "replace") if n >= 0 else None

    # ----------------------------------------------------------- the cache

    def seq_rm(self, seq: int, start: int = 0, end: int = -1) -> None:
        """Forget positions [start, end) of ``seq`` (-1: to the end; seq -1: every sequence)."""
        self.lib.llama_memory_seq_rm(self.memory, seq, start, end)

    def seq_cp(self, source: int, target: int, start: int = 0, end: int = -1) -> None:
        self.lib.llama_memory_seq_cp(self.memory, source, target, start, end)

    def clear(self) -> None:
        self.lib.llama_memory_clear(self.memory, True)

    # -------------------------------------------------------------- decoding

    def decode_tokens(self, items: Sequence[tuple[int, int, int, bool]]) -> list[np.ndarray]:
        """Decode ``(token, position, sequence, want_logits)`` items, in chunks of
        the batch size; the logits of the items that wanted them, in order."""
        lib, batch, size = self.lib, self._batch, self.options.n_batch
        out: list[np.ndarray] = []
        for start in range(0, len(items), size):
            chunk = items[start:start + size]
            batch.n_tokens = len(chunk)
            for i, (token, pos, seq, want) in enumerate(chunk):
                batch.token[i] = token
                batch.pos[i] = pos
                batch.n_seq_id[i] = 1
                batch.seq_id[i][0] = seq
                batch.logits[i] = want
            self._check(lib.llama_decode(self.ctx, batch))
            self.decoded += len(chunk)
            out.extend(self.logits(i) for i, item in enumerate(chunk) if item[3])
        return out

    def decode_embeddings(self, vectors: np.ndarray, start_pos: int, seq: int) -> None:
        """Decode rows of input embeddings (a soft prompt) at positions start_pos..."""
        lib = self.lib
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.n_embd:
            raise ModelError(f"embeddings of shape {vectors.shape} do not fit a model of width {self.n_embd}",
                             "was the soft prompt trained for this model?")
        batch = lib.llama_batch_init(len(vectors), self.n_embd, 1)
        try:
            batch.n_tokens = len(vectors)
            ctypes.memmove(batch.embd, vectors.ctypes.data, vectors.nbytes)
            for i in range(len(vectors)):
                batch.pos[i] = start_pos + i
                batch.n_seq_id[i] = 1
                batch.seq_id[i][0] = seq
                batch.logits[i] = False
            self._check(lib.llama_decode(self.ctx, batch))
        finally:
            lib.llama_batch_free(batch)

    def logits(self, index: int) -> np.ndarray:
        """A copy of the logits of the ``index``-th output of the last decode."""
        ptr = self.lib.llama_get_logits_ith(self.ctx, index)
        if not ptr:
            raise ModelError("llama.cpp returned no logits for that position", "this is a bug in the backend")
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,)).copy()

    def _check(self, code: int) -> None:
        if code == 1:
            raise ModelError(f"the llama.cpp KV cache ({self.n_ctx} tokens over all sequences) is full",
                             "ask for fewer samples at once, shorten the prompt, or raise context_window")
        if code != 0:
            raise ModelError(f"llama_decode failed with code {code}", "use --backend transformers and report this")

    # -------------------------------------------------------------- adapters

    def load_lora(self, path: str | Path) -> Any:
        adapter = self.lib.llama_adapter_lora_init(self.model, str(path).encode())
        if not adapter:
            raise ModelError(f"llama.cpp could not load the adapter {path}",
                             "convert it again (delete the file) or use --backend transformers")
        self._loras.append(adapter)
        return adapter

    def set_loras(self, adapters: Sequence[tuple[Any, float]]) -> None:
        """Make exactly these adapters (with scales) active; [] turns them off."""
        lib = self.lib
        n = len(adapters)
        array = (lib.llama_adapter_lora_p_ctypes * max(n, 1))(*[a for a, _ in adapters])
        scales = (ctypes.c_float * max(n, 1))(*[s for _, s in adapters])
        code = lib.llama_set_adapters_lora(self.ctx, array if n else None, n, scales if n else None)
        if code != 0:
            raise ModelError(f"llama.cpp refused the adapters (code {code})", "use --backend transformers")
