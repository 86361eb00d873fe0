"""One parsed GGUF file per process.

``gguf.GGUFReader`` reads every metadata field element by element; for the
embedded model's 49,152-token vocabulary and its merges that is ~4 s on these
cores (measured: ``GGUFReader(SmolLM2-135M-Instruct.Q4_1.gguf)`` 3.9 s), paid
by every LoRA conversion and merge before this cache. The reader's tensors
are a read-only memory map, so sharing one reader is safe; the key holds the
file's identity (device, inode, size, modification time), so a file replaced
in place is read again.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any


def read_gguf(path: str | Path) -> Any:
    """The ``GGUFReader`` of ``path``, parsed once per process while the file is unchanged."""
    resolved = Path(path).resolve()
    st = os.stat(resolved)
    return _read(str(resolved), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=4)
def _read(path: str, _dev: int, _ino: int, _size: int, _mtime_ns: int) -> Any:
    from gguf import GGUFReader

    return GGUFReader(path)  # mode "r": a read-only map
