#!/usr/bin/env bash
# Write constraints.txt: every package the assistant installs, at the exact
# version that resolves today, so that setup.sh, .ci/run and every user get
# the same set. Resolves in a throwaway environment with the newest versions
# pyproject.toml allows, except what you pin on the command line:
#
#   bash scripts/lock.sh                          # newest of everything
#   bash scripts/lock.sh 'transformers==5.23.0'   # newest, but this pin
#
# Then run the suite on the new lock (bash scripts/setup.sh && .venv/bin/python
# -m pytest -q) and commit constraints.txt with what changed. To see whether
# the newest versions pass before you move the lock: bash scripts/try-newest.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d -t assistant-lock-XXXXXX)
trap 'rm -rf "$work"' EXIT
: > "$work/pins.txt"
for pin in "$@"; do echo "$pin" >> "$work/pins.txt"; done
constraints=none
[ -s "$work/pins.txt" ] && constraints="$work/pins.txt"

VENV="$work/venv" CONSTRAINTS="$constraints" bash scripts/setup.sh
{
    echo "# The lock: every package of the assistant's environment at an exact version."
    echo "# Written by scripts/lock.sh on $(date -u +%Y-%m-%d) (Python $("$work/venv/bin/python" -c 'import platform; print(platform.python_version())'), $(uname -m))${*:+, pinned: $*}."
    echo "# setup.sh installs with pip -c constraints.txt; edit by running lock.sh again, not by hand."
    "$work/venv/bin/python" scripts/freeze.py
} > constraints.txt.tmp
mv constraints.txt.tmp constraints.txt
echo "lock: wrote constraints.txt ($(grep -vc '^#' constraints.txt) packages)"
