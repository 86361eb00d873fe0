"""Importing the engine and running `assistant --help` must not import heavy libraries."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "transformers", "faiss", "textual", "sentence_transformers", "numpy", "llama_cpp")


def _loaded_after(code: str) -> set[str]:
    probe = code + "\nimport sys\nprint('LOADED:' + ','.join(sorted(m for m in sys.modules if m.split('.')[0] in %r)))" % (HEAVY,)
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("LOADED:")][-1]
    return {name for name in line[len("LOADED:"):].split(",") if name}


def test_public_api_and_engine_import_no_heavy_library():
    loaded = _loaded_after("import assistant, assistant.engine, assistant.plugins, assistant.backends.transformers.llm, "
                           "assistant.models, assistant.testing")
    assert not loaded, f"heavy modules imported: {sorted(loaded)}"


def test_builtin_plugins_import_no_heavy_library():
    loaded = _loaded_after("from assistant.plugins import make_plugin_host\nhost = make_plugin_host()\n"
                           "assert not [i for i in host.infos if i.error], host.infos")
    assert not loaded, f"heavy modules imported: {sorted(loaded)}"


def test_help_imports_no_heavy_library():
    code = ("import sys\nfrom assistant.cli import main\nsys.argv = ['assistant', '--help']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass")
    loaded = _loaded_after(code)
    assert not loaded, f"`assistant --help` imported: {sorted(loaded)}"
