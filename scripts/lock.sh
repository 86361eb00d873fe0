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
    # Local version labels (torch's +cpu) are left out: "torch==2.13.0" admits
    # the CPU build setup.sh asks for, and a plain 2.13.0 where that is missing.
    "$work/venv/bin/python" -m pip --disable-pip-version-check freeze --exclude-editable \
        | "$work/venv/bin/python" -c '
import re, sys
for line in sys.stdin:
    line = line.strip()
    wheel = re.match(r"([A-Za-z0-9_.-]+) @ file://.*/[A-Za-z0-9_.]+-([0-9][^-]*)-[^/]*\.whl", line)
    if wheel:  # a wheel built here (llama-cpp-python): lock its version
        line = f"{wheel[1]}=={wheel[2]}"
    print(re.sub(r"^([A-Za-z0-9_.-]+==[^+]+)\+.*", r"\1", line))' | LC_ALL=C sort -f
} > constraints.txt.tmp
mv constraints.txt.tmp constraints.txt
echo "lock: wrote constraints.txt ($(grep -vc '^#' constraints.txt) packages)"
