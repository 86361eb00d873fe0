#!/usr/bin/env bash
# Install the newest versions pyproject.toml allows into a throwaway
# environment and run the suite there, without touching .venv or the lock.
# It prints what differs from constraints.txt, so an upgrade is a decision:
# if the suite passes, move the lock with bash scripts/lock.sh.
#
#   bash scripts/try-newest.sh              # the whole suite
#   bash scripts/try-newest.sh -x tests/test_adapters.py   # pytest's arguments
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d -t assistant-newest-XXXXXX)
trap 'rm -rf "$work"' EXIT
VENV="$work/venv" CONSTRAINTS=none bash scripts/setup.sh
echo "try-newest: versions that differ from constraints.txt (locked -> newest):"
"$work/venv/bin/python" scripts/freeze.py \
    | "$work/venv/bin/python" -c '
import sys
def read(lines):
    pins = {}
    for line in lines:
        if "==" in line and not line.startswith("#"):
            name, version = line.strip().split("==", 1)
            pins[name.lower().replace("_", "-")] = version
    return pins
locked, newest = read(open("constraints.txt")), read(sys.stdin)
NEW = "(not locked)"
changed = [f"  {n}: {locked.get(n, NEW)} -> {v}" for n, v in sorted(newest.items()) if locked.get(n) != v]
print("\n".join(changed) or "  none: the lock is the newest")'
export ASSISTANT_REQUIRE_LLAMACPP=1
"$work/venv/bin/python" -m pytest -q "$@"
