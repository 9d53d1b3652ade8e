"""How many threads the compiled core may use.

The core keeps one pool of worker threads for the whole process and starts them on first
use, so a count only sets how many of them a call may use; calls never start more threads
than they have pieces of work, and if the system refuses to start a thread the work runs on
those that exist (the result is the same). Counts are capped at ``MAX_THREADS`` (1024):
beyond that a count is almost surely a typo, and each thread reserves stack address space.
"""

from __future__ import annotations

import os

from . import _core, _validate

#: The largest thread count :func:`set_num_threads` and ``CPTLAW_NUM_THREADS`` accept.
MAX_THREADS = int(_core.max_threads)

_num_threads = 0  # 0 = decide from the environment / the machine


def _env_threads():
    """CPTLAW_NUM_THREADS as an int, None when unset; ValueError naming it when malformed."""
    env = os.environ.get("CPTLAW_NUM_THREADS", "").strip()
    if not env:
        return None
    try:
        n = int(env)
    except ValueError:
        raise ValueError(f"CPTLAW_NUM_THREADS: expected an integer thread count, got {env!r}") from None
    if not 1 <= n <= MAX_THREADS:
        raise ValueError(f"CPTLAW_NUM_THREADS: must be between 1 and {MAX_THREADS}, got {n}")
    return n


def get_num_threads() -> int:
    """Threads the core uses: set_num_threads(), else CPTLAW_NUM_THREADS, else all CPUs."""
    if _num_threads > 0:
        return _num_threads
    env = _env_threads()
    if env is not None:
        return env
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    return max(1, min(n, MAX_THREADS))


def set_num_threads(n: int) -> None:
    """Set the thread count for all later calls (0 restores the default); at most ``MAX_THREADS``."""
    global _num_threads
    n = _validate.integer(n, "n", lo=0)
    if n > MAX_THREADS:
        raise ValueError(f"n: at most {MAX_THREADS} threads, got {n}")
    _num_threads = n
