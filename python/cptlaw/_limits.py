"""Size limits: work that cannot fit in memory is refused up front.

Building a 10**12-step array (or a DataFrame of 10**12 grid rows) would fail only after
minutes of paging, or kill the process; checking the size first gives a clear error that
names the argument and the size instead.
"""

from __future__ import annotations

import os

#: Integers the core keeps in float64 tables (schedule lengths, grid levels) stay exact up to here.
MAX_EXACT_INT = 2**53


def memory_bytes():
    """Physical memory of this machine in bytes, or the process's address-space limit where that
    is lower (ulimit -v: beyond it an allocation fails anyway); None where unknown."""
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        mem = None
    try:
        import resource

        cap = resource.getrlimit(resource.RLIMIT_AS)[0]
    except (ImportError, AttributeError, ValueError, OSError):
        cap = None
    if cap is not None and cap != resource.RLIM_INFINITY and cap > 0:
        mem = cap if mem is None else min(mem, cap)
    return mem


def _approx(n, digits: int = 4) -> str:
    """A count in %g style; also for ints beyond the float range (which %g cannot format)."""
    if n < 10**300:
        return f"{n:.{digits}g}"
    return f"~1e+{len(str(int(n))) - 1}"


def _gib(n) -> str:
    return f"{_approx(n // 2**30 if n >= 10**300 else n / 2**30, 3)} GiB"


def check_fits(count: int, bytes_each: int, name: str, what: str, hint: str = "") -> None:
    """Raise ValueError naming ``name`` if ``count`` items of ``bytes_each`` exceed the memory."""
    need = int(count) * int(bytes_each)
    mem = memory_bytes()
    if mem is not None and need > mem:
        raise ValueError(f"{name}: {what} of {_approx(int(count))} values needs ~{_gib(need)}, more than the "
                         f"memory available ({_gib(mem)})" + (f"; {hint}" if hint else ""))
