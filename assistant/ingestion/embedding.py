"""The embedder as the ingestion layer uses it: loaded on first use, shared
between threads under its lock, texts in and unit vectors out.

Embeddings are L2-normalised, so the inner product of two of them is their
cosine similarity, the measure all-MiniLM-L6-v2 was trained for (its model
card); a store searches them by inner product.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..config import Settings

BLOCK = 256  # texts per progress report when a UI follows the embedding


class Embedder:
    """``settings.embedder`` on the CPU (or ``settings.device`` when one is
    named), loaded the first time it is needed."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.label = settings.embedder  # what a store records and checks against
        self._model: Any = None

    @property
    def model(self) -> Any:
        """The ``SentenceTransformer`` itself (loads it)."""
        if self._model is None:
            from ..models import load_embedder

            device = "cpu" if self.settings.device == "auto" else self.settings.device
            self._model = load_embedder(self.settings.embedder, device, offline=self.settings.offline)
        return self._model

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension())

    def count_tokens(self, text: str) -> int:
        """Word pieces of ``text`` without special tokens (what the chunker packs)."""
        from ..models import embedder_lock

        model = self.model
        with embedder_lock(model):
            return len(model.tokenizer(text, add_special_tokens=False)["input_ids"])

    def embed(self, texts: list[str], progress: bool = False,
              on_progress: Callable[[int, int], None] | None = None) -> Any:
        """Unit vectors, float32 of shape (len(texts), dimension). ``progress``
        shows a terminal bar; ``on_progress(done, total)`` is called after each
        block of 256 texts instead (for a UI)."""
        import numpy as np

        from ..models import embedder_lock

        model = self.model
        if not texts:
            return np.zeros((0, self.dimension), dtype="float32")

        def encode(part: list[str], bar: bool) -> Any:
            with embedder_lock(model):
                return model.encode(part, batch_size=32, normalize_embeddings=True,
                                    convert_to_numpy=True, show_progress_bar=bar)

        if on_progress is None:
            vectors = encode(texts, progress)
        else:
            blocks = []
            for start in range(0, len(texts), BLOCK):
                blocks.append(encode(texts[start:start + BLOCK], False))
                on_progress(min(start + BLOCK, len(texts)), len(texts))
            vectors = np.concatenate(blocks)
        return np.ascontiguousarray(vectors, dtype="float32")  # (n, dim)
