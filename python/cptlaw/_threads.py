"""How many threads the compiled core may use."""

from __future__ import annotations

import os

from . import _validate

_num_threads = 0  # 0 = decide from the environment / the machine


def get_num_threads() -> int:
    """Threads the core uses: set_num_threads(), else CPTLAW_NUM_THREADS, else all CPUs."""
    if _num_threads > 0:
        return _num_threads
    env = os.environ.get("CPTLAW_NUM_THREADS")
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            pass
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def set_num_threads(n: int) -> None:
    """Set the thread count for all later calls (0 restores the default)."""
    global _num_threads
    _num_threads = _validate.integer(n, "n", lo=0)
