"""How many CPU cores this process may use."""

from __future__ import annotations

import os


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity where the OS keeps
    one (``taskset``, a container's cpuset, a test worker pinned to one core),
    else every core. ``os.cpu_count()`` counts the machine's cores even when
    the process may use only some of them, and threads beyond the usable
    cores wait on each other (llama.cpp's threads spin; measured here: ~6x
    slower beside a second process using every core)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no affinity on this OS (macOS, Windows)
        return os.cpu_count() or 1
