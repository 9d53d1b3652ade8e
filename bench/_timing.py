"""Helpers shared by the benchmark cases: timing, rows, thread settings.

A case module (``bench/cases_*.py``) defines ``CASES``, a list of :class:`Case`.
Each case is a function ``run(ctx: Context) -> list[Row]``; ``bench/run.py``
collects the rows of every case into one table.

Rules the helpers encode:

- Both sides of a comparison are timed in the same run, interleaved (A B, B A,
  A B, ...) so that drift (frequency, other processes, page cache) hits both
  alike; each side reports its best of N wall times.
- Timings are reported, never asserted: a row's pass/fail says whether the
  measured ratio met the target on this machine, nothing more.
- Thread counts are set through ``cptlaw.set_num_threads`` only.
"""

from __future__ import annotations

import gc
import math
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np


# ----------------------------------------------------------------------------- context
@dataclass
class Context:
    """What a case may read: the run's options."""

    quick: bool = False
    #: timed repetitions per side (best of N)
    repeat: int = 11
    seed: int = 20250505

    def size(self, full, quick):
        """``full`` normally, ``quick`` under ``--quick``."""
        return quick if self.quick else full

    def rng(self) -> np.random.Generator:
        return np.random.default_rng(self.seed)


# ----------------------------------------------------------------------------- rows
PASS, FAIL, INFO, SKIP, ERROR = "pass", "FAIL", "info", "skip", "ERROR"


@dataclass
class Row:
    """One line of the table.

    ``ratio`` is whatever the row compares, oriented so that bigger is better and
    the row passes when ``ratio >= target``: a speed-up ``baseline_s / cptlaw_s``
    (unit ``"x"``), or an absolute throughput (unit ``"/s"``).
    """

    name: str
    baseline: str = ""
    baseline_s: Optional[float] = None
    cptlaw_s: Optional[float] = None
    ratio: Optional[float] = None
    target: Optional[float] = None
    unit: str = "x"
    note: str = ""
    #: None: decided from ratio and target; otherwise INFO / SKIP / ERROR (or a forced FAIL)
    status: Optional[str] = None
    case: str = ""
    #: CPUs other processes kept busy while the case ran (filled in by run.py)
    others_cpus: Optional[float] = None

    @property
    def result(self) -> str:
        if self.status is not None:
            return self.status
        if self.ratio is None or self.target is None or not math.isfinite(self.ratio):
            return INFO
        return PASS if self.ratio >= self.target else FAIL

    def as_dict(self) -> dict:
        d = asdict(self)
        d["result"] = self.result
        return d


def speedup_row(name: str, baseline: str, baseline_s: float, cptlaw_s: float, target: Optional[float],
                note: str = "", **kw) -> Row:
    """A row whose ratio is ``baseline_s / cptlaw_s`` (how many times faster cptlaw is)."""
    return Row(name=name, baseline=baseline, baseline_s=baseline_s, cptlaw_s=cptlaw_s,
               ratio=baseline_s / cptlaw_s if cptlaw_s > 0 else math.inf, target=target, note=note, **kw)


def skip_row(name: str, why: str, **kw) -> Row:
    return Row(name=name, note=why, status=SKIP, **kw)


# ----------------------------------------------------------------------------- cases
@dataclass
class Case:
    """A named benchmark: ``run(ctx)`` returns its rows."""

    name: str
    run: Callable[[Context], List[Row]]
    about: str = ""
    module: str = field(default="", compare=False)


# ----------------------------------------------------------------------------- threads
def with_threads(n: int, fn: Callable[[], object]) -> Callable[[], object]:
    """``fn`` wrapped so that it runs with ``cptlaw.set_num_threads(n)`` (0 = the default).

    Setting the count costs microseconds, so wrapped functions can be interleaved
    freely with others that use a different count.
    """
    import cptlaw

    def call():
        cptlaw.set_num_threads(n)
        return fn()

    call.__name__ = f"{getattr(fn, '__name__', 'fn')}@{n}"
    return call


def default_threads() -> int:
    import cptlaw

    cptlaw.set_num_threads(0)
    return cptlaw.get_num_threads()


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class LoadMeter:
    """CPU time used by *other* processes while a block runs, in CPUs (0 .. cpu count).

    Reads the machine's busy time from /proc/stat and this process's own CPU time;
    the difference over the wall time is what others took. On a shared 2-core
    machine one busy neighbour halves what a 2-thread row can show, so the table
    reports it. ``None`` where /proc/stat is unavailable.
    """

    def __init__(self):
        self.others = None

    @staticmethod
    def _machine_busy():
        try:
            with open("/proc/stat") as f:
                v = [int(t) for t in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        idle = v[3] + (v[4] if len(v) > 4 else 0)  # idle + iowait
        hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        return (sum(v[:8]) - idle) / hz  # user..steal; guest time is already in user

    @staticmethod
    def _own():
        t = os.times()
        return t.user + t.system

    def __enter__(self):
        self._b0, self._o0, self._t0 = self._machine_busy(), self._own(), time.perf_counter()
        return self

    def __exit__(self, *exc):
        b1, o1, t1 = self._machine_busy(), self._own(), time.perf_counter()
        if self._b0 is not None and b1 is not None and t1 > self._t0:
            self.others = max(0.0, ((b1 - self._b0) - (o1 - self._o0)) / (t1 - self._t0))
        return False


# ----------------------------------------------------------------------------- timing
def race(fns: Dict[str, Callable[[], object]], repeat: int, warmup: int = 1) -> Dict[str, float]:
    """Best-of-``repeat`` wall time of each function, the functions interleaved.

    Round k runs every function once, in the given order for even k and reversed
    for odd k, so a slow drift affects all of them alike. Each function is first
    called ``warmup`` times untimed. Results are dropped before the next call
    (so each call pays for its own fresh outputs, as a user's would). The garbage
    collector is off while timing.
    """
    names = list(fns)
    best = {n: math.inf for n in names}
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        for _ in range(warmup):
            for n in names:
                fns[n]()
        for k in range(max(1, repeat)):
            order = names if k % 2 == 0 else names[::-1]
            for n in order:
                fn = fns[n]
                t0 = time.perf_counter()
                out = fn()
                dt = time.perf_counter() - t0
                del out
                if dt < best[n]:
                    best[n] = dt
    finally:
        if was_enabled:
            gc.enable()
    return best


def max_rel_diff(a, b) -> float:
    """``max |a - b| / max |b|`` over all elements (scaled by the array's magnitude,
    so entries that cross zero, like S2 of random schedules, do not blow it up)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    scale = float(np.max(np.abs(b))) if b.size else 0.0
    diff = float(np.max(np.abs(a - b))) if b.size else 0.0
    if scale == 0.0:
        return diff
    return diff / scale


# ----------------------------------------------------------------------------- formatting
def fmt_seconds(s: Optional[float]) -> str:
    if s is None or not math.isfinite(s):
        return "-"
    if s >= 1.0:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f} ms"
    return f"{s * 1e6:.0f} us"


def fmt_ratio(r: Optional[float], unit: str) -> str:
    if r is None:
        return "-"
    if not math.isfinite(r):
        return str(r)
    if unit == "x":
        return f"{r:.2f}x" if r < 100 else f"{r:.0f}x"
    return f"{r:.3g}{unit}"


def fmt_target(t: Optional[float], unit: str) -> str:
    if t is None:
        return "-"
    if unit == "x":
        return f">= {t:.3g}x"
    return f">= {t:.3g}{unit}"


COLUMNS = ("case", "row", "baseline", "base", "cptlaw", "ratio", "target", "result", "note")


def format_table(rows: Sequence[Row]) -> str:
    """Plain-text table, columns aligned; the note column is last and unpadded."""
    cells = [COLUMNS]
    for r in rows:
        cells.append((r.case, r.name, r.baseline, fmt_seconds(r.baseline_s), fmt_seconds(r.cptlaw_s),
                      fmt_ratio(r.ratio, r.unit), fmt_target(r.target, r.unit), r.result, r.note))
    widths = [max(len(c[i]) for c in cells) for i in range(len(COLUMNS) - 1)]
    right = {3, 4, 5}  # numbers right-aligned
    lines = []
    for j, c in enumerate(cells):
        parts = [c[i].rjust(widths[i]) if i in right else c[i].ljust(widths[i]) for i in range(len(widths))]
        parts.append(c[-1])
        lines.append("  ".join(parts).rstrip())
        if j == 0:
            lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 4)
    return "\n".join(lines)
