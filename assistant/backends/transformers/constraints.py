"""Lexical constraints on generation: words that must not appear, and words
that must.

* Excluding uses transformers' ``bad_words_ids``: every tokenisation of the
  word (with and without a leading space, lower-case and capitalised) is
  banned as a token sequence (Keskar et al., 2019 popularised such
  "bad words" lists; transformers implements them as ``NoBadWordsLogitsProcessor``).
* Requiring is our own logits processor, since constrained beam search
  (Hokamp & Liu, 2017; Post & Vilar, 2018) has left transformers' core. Until
  the word appears in a row it (1) adds ``bias`` to the logit of the word's
  first token, (2) forbids end-of-sequence, and (3) once the model has begun
  the word, or when only enough steps remain to write it, forces its
  remaining tokens. The word therefore always appears within
  ``max_new_tokens`` (if it fits), and usually where the model finds it fitting.

Import only from a backend: this module imports torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from transformers import LogitsProcessor

from assistant.backends.wordforms import banned_sequences


def bad_words_ids(tokenizer: Any, words: Sequence[str]) -> list[list[int]]:
    return banned_sequences(words, lambda form: tokenizer(form, add_special_tokens=False)["input_ids"])


class RequireWords(LogitsProcessor):
    """Make each of ``words`` appear in every generated row (see the module docstring)."""

    def __init__(self, tokenizer: Any, words: Sequence[str], max_new_tokens: int, eos_ids: set[int],
                 bias: float = 4.0) -> None:
        self.tokenizer = tokenizer
        # the mid-sentence form (leading space) is the one to write
        self.sequences = [tokenizer(" " + w.strip(), add_special_tokens=False)["input_ids"] for w in words if w.strip()]
        self.words = [w.strip().lower() for w in words if w.strip()]
        self.max_new_tokens = max_new_tokens
        self.eos_ids = sorted(eos_ids)
        self.bias = bias
        self.start: int | None = None
        self.forcing: dict[tuple[int, int], int] = {}  # (row, word) -> next position in its tokens

    def _missing(self, row_ids: list[int]) -> list[int]:
        text = self.tokenizer.decode(row_ids, skip_special_tokens=True).lower()
        return [i for i, word in enumerate(self.words) if word not in text]

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self.start is None:
            self.start = input_ids.shape[1]
        step = input_ids.shape[1] - self.start
        remaining = self.max_new_tokens - step
        for row in range(input_ids.shape[0]):
            generated = input_ids[row, self.start:].tolist()
            missing = self._missing(generated)
            if not missing:
                continue
            for w in missing:  # a word in progress: continue it
                tokens = self.sequences[w]
                position = self.forcing.get((row, w))
                if position is None and generated and generated[-1] == tokens[0] and len(tokens) > 1:
                    position = 1
                if position is not None and position < len(tokens):
                    self._force(scores, row, tokens[position])
                    self.forcing[(row, w)] = position + 1
                    break
            else:
                needed = sum(len(self.sequences[w]) for w in missing)
                if remaining <= needed:  # last chance: write the first missing word now
                    tokens = self.sequences[missing[0]]
                    self._force(scores, row, tokens[0])
                    self.forcing[(row, missing[0])] = 1
                else:
                    for w in missing:
                        scores[row, self.sequences[w][0]] += self.bias
                    for eos in self.eos_ids:
                        scores[row, eos] = -float("inf")
        return scores

    @staticmethod
    def _force(scores: torch.FloatTensor, row: int, token: int) -> None:
        value = scores[row].max() + 1.0
        scores[row, :] = -float("inf")
        scores[row, token] = value
