"""The per-process GGUF reader cache: parsed once, read again when the file changes."""

from __future__ import annotations

import os

import numpy as np


def _write(path, value: int) -> None:
    from gguf import GGUFWriter

    tmp = path.with_name(path.name + ".tmp")
    writer = GGUFWriter(str(tmp), "llama")
    writer.add_uint32("test.value", value)
    writer.add_tensor("t", np.arange(4, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(tmp, path)


def test_one_reader_per_file_until_the_file_is_replaced(tmp_path):
    from assistant.backends.llamacpp.gguf_file import read_gguf

    path = tmp_path / "m.gguf"
    _write(path, 1)
    first = read_gguf(path)
    assert read_gguf(str(path)) is first  # the same file by another spelling: no second parse
    assert int(first.fields["test.value"].contents()) == 1
    _write(path, 2)  # replaced atomically, as a merge or a conversion writes it
    second = read_gguf(path)
    assert second is not first and int(second.fields["test.value"].contents()) == 2
    assert int(first.fields["test.value"].contents()) == 1  # the old map still reads the old file
