"""What every command shares: exit codes, one-line usage errors, argument types that refuse
non-finite and out-of-range values, value lists and ranges, output paths that never overwrite
an input, and warnings collected for printing."""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
import textwrap
import warnings

import numpy as np

from ..io import MAX_STEPS
from ..io import DataError, InterpolatedLRWarning
from ..io.fitfile import dumps  # noqa: F401  (the commands' JSON writer)

EXIT_DATA = 1
EXIT_USAGE = 2

#: Most values one list argument (e.g. --peak-lr 1e-5:1e-3:N) may expand to.
MAX_VALUES = 100_000


class UsageError(Exception):
    """A bad command-line argument (exit status 2)."""


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line instead of usage + message
        raise UsageError(" ".join(message.split()))


def wrap(text, width=92):
    """Paragraphs (separated by blank lines) filled to ``width`` (help texts are shown raw)."""
    paras = [" ".join(p.split()) for p in text.strip().split("\n\n")]
    return "\n\n".join(textwrap.fill(p, width) for p in paras)


# ======================================================================================
# numbers
# ======================================================================================


def finite(text, what) -> float:
    """The command line's one finite-number parser."""
    try:
        v = float(text)
    except (TypeError, ValueError):
        raise UsageError(f"{what}: expected a number, got {text!r}") from None
    if not math.isfinite(v):
        raise UsageError(f"{what}: expected a finite number, got {text!r}")
    return v


def whole(text, what) -> int:
    """A whole number (``1e4`` allowed for 10000; beyond 30 digits read as +-1e30)."""
    s = str(text).strip()
    if re.fullmatch(r"[+-]?\d+", s):
        digits = s.lstrip("+-0")
        if len(digits) > 30:  # beyond any limit; no huge int is built
            return (-1 if s.startswith("-") else 1) * 10 ** 30
        return int(s)
    v = finite(s, what)
    if not v.is_integer():
        raise UsageError(f"{what}: expected a whole number, got {text!r}")
    return int(v)


def number_type(lo=-math.inf, hi=math.inf, *, strict_lo=False):
    """argparse type: a finite number in [lo, hi] (lo excluded with ``strict_lo``)."""

    def parse(text):
        try:
            v = finite(text, "value")
        except UsageError:
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}") from None
        if (strict_lo and not v > lo) or v < lo or v > hi:
            raise argparse.ArgumentTypeError(f"must be {_bounds_text(lo, hi, strict_lo)}, got {_short(text)}")
        return v

    parse.__name__ = "number"
    return parse


def whole_type(lo=0, hi=MAX_STEPS):
    """argparse type: a whole number in [lo, hi] (``1e4`` allowed for 10000)."""

    def parse(text):
        try:
            v = whole(text, "value")
        except UsageError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"must lie in {lo:,}..{hi:,}, got {_short(text)}")
        return v

    parse.__name__ = "whole number"
    return parse


def _short(text, n=24):
    text = str(text)
    return text if len(text) <= n else f"{text[:n]}... ({len(text)} characters)"


def _bounds_text(lo, hi, strict_lo):
    if hi == math.inf:
        return f"a finite number {'>' if strict_lo else '>='} {lo:g}"
    if lo == -math.inf:
        return f"a finite number <= {hi:g}"
    return f"in [{lo:g}, {hi:g}]" if not strict_lo else f"in ({lo:g}, {hi:g}]"


# ======================================================================================
# value lists and ranges: one meaning of start:stop:count everywhere
# ======================================================================================

RANGES_HELP = ("a list separated by commas, each item a number or a range start:stop:count (count values from "
               "start to stop, both included: log-spaced for learning rates, linear otherwise, rounded for step "
               "counts)")

_KINDS = {
    # kind: (spacing of ranges, integer, low, high, low bound strict)
    "lr": ("log", False, 0.0, math.inf, True),
    "lr0": ("log", False, 0.0, math.inf, False),
    "steps": ("linear", True, 1, MAX_STEPS, False),
    "count": ("linear", True, 0, MAX_STEPS, False),
    "frac": ("linear", False, 0.0, 1.0, False),
}


def parse_values(text, what, kind, *, start=None, stop=None):
    """Values of a list argument: items separated by commas, each a number or a range
    ``start:stop:count`` (``count`` values from ``start`` to ``stop``, both included;
    log-spaced for learning rates, linear otherwise, rounded for step counts). Repeats are
    dropped, the order kept. ``kind``: "lr" (> 0), "lr0" (>= 0), "steps" (int >= 1),
    "count" (int >= 0), "frac" (in [0, 1]). ``start`` / ``stop``: defaults for an empty start
    or stop (else they must be given)."""
    spacing, integer, lo, hi, strict = _KINDS[kind]
    out = []
    items = [s.strip() for s in str(text).split(",")]
    if not any(items):
        raise UsageError(f"{what}: expected a value, a list like 1,2,3 or a range start:stop:count, got {text!r}")
    for item in items:
        if not item:
            raise UsageError(f"{what}: empty item in {text!r}")
        if ":" in item:
            parts = [p.strip() for p in item.split(":")]
            if len(parts) != 3 or not parts[2] or (not parts[0] and start is None) or (not parts[1] and stop is None):
                raise UsageError(f"{what}: expected start:stop:count, got {item!r}")
            a = start if not parts[0] else _value(parts[0], what, integer)
            b = stop if not parts[1] else _value(parts[1], what, integer)
            try:
                n = whole(parts[2], what)
            except UsageError:
                raise UsageError(f"{what}: expected start:stop:count with a whole count, got {item!r}") from None
            if n < 1 or (n == 1 and a != b):
                raise UsageError(f"{what}: the count of {item!r} must be >= 2 (or give a single value)")
            if n > MAX_VALUES:
                raise UsageError(f"{what}: {item!r} asks for {n:,} values; at most {MAX_VALUES:,} per argument")
            for v in (a, b):
                _check_range(v, what, lo, hi, strict)
            if spacing == "log":
                if a <= 0 or b <= 0:
                    raise UsageError(f"{what}: the range {item!r} is log-spaced; start and stop must be > 0")
                vals = np.geomspace(a, b, n)
                vals[0], vals[-1] = a, b  # exact ends
            else:
                vals = np.linspace(a, b, n)
            if integer:
                vals = np.round(vals).astype(np.int64)
            out.extend(int(v) if integer else float(v) for v in vals)
        else:
            v = _value(item, what, integer)
            _check_range(v, what, lo, hi, strict)
            out.append(v)
        if len(out) > MAX_VALUES:
            raise UsageError(f"{what}: more than {MAX_VALUES:,} values")
    seen, uniq = set(), []
    for v in out:
        if v not in seen:
            seen.add(v)
            uniq.append(v)
    return uniq


def _value(text, what, integer):
    if integer:
        try:
            return whole(text, what)
        except UsageError as exc:
            if "out of range" in str(exc):
                raise
            raise UsageError(f"{what}: expected a whole number of steps, got {text!r}") from None
    return finite(text, what)


def _check_range(v, what, lo, hi, strict):
    if (strict and not v > lo) or v < lo or v > hi:
        if hi == math.inf:
            bound = f"> {lo:g}" if strict else f">= {lo:g}"
        elif isinstance(hi, int) and hi == MAX_STEPS:
            bound = f"in {lo}..{hi:,} (cptlaw's limit on steps)"
        else:
            bound = f"in [{lo:g}, {hi:g}]"
        raise UsageError(f"{what}: values must be {bound}, got {v:g}")


def bounds_pair(text, what, integer=False):
    """``LOW:HIGH`` -> (low, high)."""
    parts = str(text).split(":")
    if len(parts) != 2 or not all(p.strip() for p in parts):
        raise UsageError(f"{what}: expected LOW:HIGH, got {text!r}")
    a, b = (_value(p.strip(), what, integer) for p in parts)
    if integer and max(abs(a), abs(b)) > MAX_STEPS:
        raise UsageError(f"{what}: values must lie in 0..{MAX_STEPS:,} (cptlaw's limit on steps), got {text!r}")
    if a > b:
        raise UsageError(f"{what}: LOW must be <= HIGH, got {text!r}")
    return a, b


# ======================================================================================
# files: outputs never overwrite inputs
# ======================================================================================


def _same(a, b):
    try:
        if os.path.exists(a) and os.path.exists(b):
            return os.path.samefile(a, b)
    except OSError:
        pass
    return os.path.realpath(a) == os.path.realpath(b)


def check_outputs(outputs, inputs):
    """Refuse outputs that name an input (or one another) and outputs in a missing folder.

    ``outputs``, ``inputs``: {option text: path or list of paths}; None entries are skipped."""

    def flat(d):
        for opt, v in d.items():
            for p in ([] if v is None else (v if isinstance(v, (list, tuple)) else [v])):
                yield opt, os.fspath(p)

    ins = list(flat(inputs))
    outs = list(flat(outputs))
    for i, (opt, path) in enumerate(outs):
        for in_opt, in_path in ins:
            if _same(path, in_path):
                raise UsageError(f"{opt} {path}: is the input {in_path} ({in_opt}); write the output to another file")
        for opt2, path2 in outs[:i]:
            if _same(path, path2):
                raise UsageError(f"{opt} {path}: {opt2} writes to the same file; give two files")
        if os.path.isdir(path):
            raise UsageError(f"{opt} {path}: is a folder; name a file")
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise UsageError(f"{opt} {path}: the folder {folder} does not exist")


def need_matplotlib(opt):
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise DataError(f"{opt}: plotting needs matplotlib (pip install cptlaw[plot])") from None


# ======================================================================================
# warnings: collected during a command, printed one line each on success
# ======================================================================================


class Warnings:
    """Collects warnings during a command; printed (one line each) only on success."""

    def __init__(self):
        self.items = []
        self.extra = []

    def __enter__(self):
        self._cm = warnings.catch_warnings(record=True)
        self.items = self._cm.__enter__()
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc):
        self._cm.__exit__(*exc)
        return False

    def add(self, message):
        """A warning of the command itself (not a Python warning)."""
        self.extra.append(message)

    def lines(self):
        out, interp, seen = [], [], set()
        for w in self.items:
            msg = " ".join(str(w.message).split())
            if issubclass(w.category, InterpolatedLRWarning):
                interp.append(msg)
                continue
            if msg not in seen:
                seen.add(msg)
                out.append(msg)
        if len(interp) == 1:
            out.insert(0, interp[0])
        elif interp:
            names = []
            for m in interp:
                i = m.find("run '")
                names.append(m[i + 5:m.find("'", i + 5)] if i >= 0 else "?")
            out.insert(0, f"learning rates of {len(interp)} runs ({', '.join(names)}) were logged only every few "
                          "updates: per-step LRs interpolated linearly between the logged values (give the "
                          "schedule with --schedule for exact areas)")
        extra = list(dict.fromkeys(" ".join(m.split()) for m in self.extra))  # each once
        return extra + out

    def print(self, quiet):
        if quiet:
            return
        for line in self.lines():
            print(f"cptlaw: warning: {line}", file=sys.stderr)


__all__ = ["EXIT_DATA", "EXIT_USAGE", "MAX_VALUES", "Parser", "UsageError", "Warnings", "bounds_pair",
           "check_outputs", "dumps", "finite", "need_matplotlib", "number_type", "parse_values", "whole", "whole_type",
           "wrap"]
