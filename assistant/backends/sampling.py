"""Choosing the next token from logits, with the semantics of transformers'
logits processors, so both backends decode a :class:`~assistant.types.Decoding`
the same way:

* repetition penalty (Keskar et al., 2019, CTRL): a seen token's logit is
  divided by the penalty when positive and multiplied when negative, over the
  prompt and the tokens generated so far (``RepetitionPenaltyLogitsProcessor``);
* temperature, then top-k, then top-p ("nucleus", Holtzman et al., 2020): the
  smallest set of most likely tokens whose probability reaches ``top_p`` is
  kept (``TopPLogitsWarper`` keeps at least one token);
* greedy decoding is the arg-max after the penalty.

Banned words (``Decoding.exclude``) are banned as token sequences, as
transformers' ``NoBadWordsLogitsProcessor`` does: a sequence's last token is
forbidden whenever the tokens before it were just generated.

Sampling uses one ``numpy`` generator per call, seeded from ``Decoding.seed``,
so a seeded call repeats exactly on this backend (not across backends).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from assistant.types import Decoding

#: nats below the best token past which a token is left out of sampling
NEGLIGIBLE = 20.0


class Sampler:
    def __init__(self, decoding: Decoding, banned: Sequence[Sequence[int]] = ()) -> None:
        self.decoding = decoding
        self.rng = np.random.default_rng(decoding.seed)
        self.banned_single = sorted({seq[0] for seq in banned if len(seq) == 1})
        self.banned_multi = [list(seq) for seq in banned if len(seq) > 1]

    def choose(self, logits: np.ndarray, context: Sequence[int], generated: Sequence[int]) -> int:
        """The next token given this row's logits, its prompt + generated tokens
        (``context``, for the repetition penalty) and the generated tokens alone."""
        d = self.decoding
        logits = logits.astype(np.float32, copy=True)
        if d.repetition_penalty != 1.0 and context:
            seen = np.unique(np.asarray(context, dtype=np.int64))
            values = logits[seen]
            logits[seen] = np.where(values > 0, values / d.repetition_penalty, values * d.repetition_penalty)
        if self.banned_single:
            logits[self.banned_single] = -np.inf
        for seq in self.banned_multi:
            prefix = seq[:-1]
            if len(generated) >= len(prefix) and list(generated[len(generated) - len(prefix):]) == prefix:
                logits[seq[-1]] = -np.inf
        if not d.sampling:
            return int(np.argmax(logits))
        return self._sample(logits / max(d.temperature, 1e-5))

    def _sample(self, logits: np.ndarray) -> int:
        """Top-k, then top-p, then a draw, on temperature-scaled ``logits``.

        Tokens more than ``NEGLIGIBLE`` nats below the best are dropped before
        normalising: each has under 2e-9 of the best token's probability, so
        together (49k of them at most) under 1e-4 of the mass. That turns
        sorting the whole vocabulary (a few ms per step and sequence) into
        sorting a few hundred tokens."""
        d = self.decoding
        best = float(logits.max())
        ids = np.flatnonzero(logits > best - NEGLIGIBLE)
        if 0 < d.top_k < len(ids):
            ids = ids[np.argpartition(-logits[ids], d.top_k - 1)[: d.top_k]]
        ids = ids[np.argsort(-logits[ids], kind="stable")]
        probs = np.exp(logits[ids].astype(np.float64) - best)
        probs /= probs.sum()
        if d.top_p < 1.0:
            keep = min(len(probs), int(np.searchsorted(np.cumsum(probs), d.top_p)) + 1)
            ids, probs = ids[:keep], probs[:keep] / probs[:keep].sum()
        return int(ids[self.rng.choice(len(probs), p=probs)])


def log_softmax(logits: np.ndarray) -> np.ndarray:
    x = logits.astype(np.float64)
    shifted = x - x.max()
    return shifted - np.log(np.exp(shifted).sum())
