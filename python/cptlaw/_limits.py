"""Size limits: work that cannot fit in this machine's memory is refused up front.

Building a 10**12-step array (or a DataFrame of 10**12 grid rows) would fail only after
minutes of paging, or kill the process; checking the size first gives a clear error that
names the argument and the size instead.
"""

from __future__ import annotations

import os

#: Integers the core keeps in float64 tables (schedule lengths, grid levels) stay exact up to here.
MAX_EXACT_INT = 2**53


def memory_bytes():
    """Physical memory of this machine in bytes, or None where unknown."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def _gib(n: float) -> str:
    return f"{n / 2**30:.3g} GiB"


def check_fits(count: int, bytes_each: int, name: str, what: str, hint: str = "") -> None:
    """Raise ValueError naming ``name`` if ``count`` items of ``bytes_each`` exceed the memory."""
    need = int(count) * int(bytes_each)
    mem = memory_bytes()
    if mem is not None and need > mem:
        raise ValueError(f"{name}: {what} of {int(count):.4g} values needs ~{_gib(need)}, more than this "
                         f"machine's memory ({_gib(mem)})" + (f"; {hint}" if hint else ""))
