"""Print this environment's packages as pins, the way constraints.txt keeps
them (run it with the environment's python). Local version labels (torch's
+cpu) are left out: "torch==2.13.0" admits the CPU build setup.sh asks for,
and a plain 2.13.0 where that is missing; a wheel built here (llama-cpp-python,
from ~/.cache/assistant/wheels) is pinned by its version, not its file."""

import re
import subprocess
import sys

frozen = subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "freeze", "--exclude-editable"],
                        check=True, capture_output=True, text=True).stdout
pins = []
for line in frozen.splitlines():
    wheel = re.match(r"([A-Za-z0-9_.-]+) @ file://.*/[A-Za-z0-9_.]+-([0-9][^-]*)-[^/]*\.whl", line)
    if wheel:
        line = f"{wheel[1]}=={wheel[2]}"
    pins.append(re.sub(r"^([A-Za-z0-9_.-]+==[^+]+)\+.*", r"\1", line.strip()))
print("\n".join(sorted(pins, key=str.lower)))
