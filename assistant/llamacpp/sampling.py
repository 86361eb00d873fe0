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

from ..types import Decoding

#: candidates sorted for top-p before falling back to a full sort
_NUCLEUS_POOL = 1024


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

    def _sample(self, logits: np.ndarray, full: bool = False) -> int:
        d = self.decoding
        n = len(logits)
        k = d.top_k if 0 < d.top_k < n else n
        # the candidates: the top k, or for top-p alone the most likely 1,024
        # (a full sort of a 49k vocabulary costs more than a decoding step)
        pool = k if k < n or full else (min(_NUCLEUS_POOL, n) if d.top_p < 1.0 else n)
        if pool < n:
            ids = np.argpartition(-logits, pool - 1)[:pool]
            ids = ids[np.argsort(-logits[ids], kind="stable")]
        else:
            ids = np.argsort(-logits, kind="stable")
        top = logits[ids].astype(np.float64)
        weights = np.exp(top - top[0])
        # top-k renormalises over the k kept; otherwise the whole vocabulary counts
        total = weights.sum() if k < n or pool == n else np.exp(logits.astype(np.float64) - top[0]).sum()
        probs = weights / total
        if d.top_p < 1.0:
            cumulative = np.cumsum(probs)
            if cumulative[-1] < d.top_p and pool < k:
                return self._sample(logits, full=True)
            keep = min(len(probs), int(np.searchsorted(cumulative, d.top_p)) + 1)
            probs, ids = probs[:keep], ids[:keep]
        probs = probs / probs.sum()
        return int(ids[self.rng.choice(len(probs), p=probs)])


def log_softmax(logits: np.ndarray) -> np.ndarray:
    x = logits.astype(np.float64)
    shifted = x - x.max()
    return shifted - np.log(np.exp(shifted).sum())
