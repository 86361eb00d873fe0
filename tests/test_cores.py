"""Thread counts follow the cores a process may use, not the machine's."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity on this OS")
def test_a_process_pinned_to_one_core_computes_with_one_thread():
    """A child pinned to one core (as ``taskset -c`` or a cpuset would) counts one
    usable core, although ``os.cpu_count()`` still counts every core of the
    machine (tests/test_llamacpp.py checks that a llama.cpp context takes
    ``usable_cores()`` threads)."""
    core = min(os.sched_getaffinity(0))
    code = ("import os; from assistant.cores import usable_cores; "
            "print(usable_cores(), os.cpu_count())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         preexec_fn=lambda: os.sched_setaffinity(0, {core}))
    usable, machine = map(int, out.stdout.split())
    assert usable == 1 and machine == os.cpu_count()


def test_usable_cores_is_the_affinity_where_there_is_one():
    from assistant.cores import usable_cores

    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert usable_cores() == expected >= 1
