"""The API fuzzer that ``test_fuzz_api.py`` runs in a subprocess (so that a crash of the
process fails the test instead of ending the suite).

Every target draws one call of the public API (``_fuzz_targets.py``) from hypothesis
strategies (``_fuzz_values.py``) and makes it. A call must return, or raise ValueError /
TypeError (or a documented exception of the target) whose message names one of the call's
arguments; it must not modify its inputs, nor take longer than ``--limit`` seconds; and some
targets check properties of the result (layouts give the same result as contiguous float64,
an aliased ``out=`` is refused or harmless). Anything else is a finding.

Usage: ``python _fuzz_api.py [--examples N] [--only SUBSTRING] [--limit SECONDS]``; prints
one JSON object on its last line: ``{"cases": n, "targets": n, "findings": [...]}`` (one
finding per target, kind, exception type and message pattern). Before each call the case is
written to stderr (``CASE ...``), so that a crash names the case that caused it.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import re
import resource
import signal
import sys
import time
import traceback
import warnings

import numpy as np

faulthandler.enable()


class Slow(BaseException):
    """Raised by the alarm when one call runs past the limit."""


def _short(value, depth=0) -> str:
    """A bounded description of an argument (arrays by dtype, shape and flags)."""
    if isinstance(value, np.ndarray):
        flags = ("" if value.flags.writeable else " readonly") + ("" if value.flags.c_contiguous else " noncontig")
        body = np.array2string(value.flat[:6], threshold=6) if value.size and value.dtype.kind != "V" else ""
        return f"array({value.dtype}, {value.shape}{flags}{', ' + body if body else ''})"
    if isinstance(value, dict) and depth < 2:
        return "{" + ", ".join(f"{k!r}: {_short(v, depth + 1)}" for k, v in list(value.items())[:12]) + "}"
    if isinstance(value, (list, tuple)) and depth < 2:
        inner = ", ".join(_short(v, depth + 1) for v in value[:8]) + (", ..." if len(value) > 8 else "")
        return ("[" + inner + "]") if isinstance(value, list) else ("(" + inner + ")")
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 120 else text[:117] + "..."


def _arrays(value, depth=0):
    """The ndarrays in an argument (one level into dicts, lists and tuples)."""
    if isinstance(value, np.ndarray):
        yield value
    elif depth < 2 and isinstance(value, dict):
        for v in value.values():
            yield from _arrays(v, depth + 1)
    elif depth < 2 and isinstance(value, (list, tuple)):
        for v in value:
            yield from _arrays(v, depth + 1)


def _snapshot(args, kwargs, skip):
    snap = []
    for value in list(args) + [v for k, v in kwargs.items() if k not in skip]:
        for a in _arrays(value):
            if a.dtype.kind in "biufcmM" and a.nbytes < 1 << 20:
                snap.append((a, a.copy()))
    return snap


def _pattern(message: str) -> str:
    """A message with its numbers and quoted values blanked, to group findings."""
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "'_'", message)
    text = re.sub(r"[-+]?\d+(\.\d*)?([eE][-+]?\d+)?", "N", text)
    return text[:160]


def _where(exc) -> str:
    """The innermost frame of the package in a traceback: where the exception came from."""
    if exc is None:
        return ""
    here = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        if "cptlaw" in frame.filename:
            here = f"{frame.filename.rsplit('cptlaw', 1)[-1]}:{frame.lineno} {frame.name}"
    return here


def names_an_argument(message: str, names) -> bool:
    for n in names:
        if re.search(r"(?<![A-Za-z0-9_])" + re.escape(str(n)) + r"(?![A-Za-z0-9_])", message):
            return True
    return False


class Runner:
    def __init__(self, limit: float):
        self.limit = limit
        self.cases = 0
        self.findings: dict = {}
        signal.signal(signal.SIGALRM, self._alarm)

    def _alarm(self, signum, frame):
        raise Slow()

    def record(self, target, kind, exc_type, message, case, exc=None):
        key = (target, kind, exc_type, _pattern(message) if kind != "slow" else case)
        hit = self.findings.get(key)
        if hit is None:
            self.findings[key] = {"target": target, "kind": kind, "type": exc_type, "message": message[:400],
                                  "case": case, "count": 1, "where": _where(exc)}
        else:
            hit["count"] += 1

    def call(self, target, call):
        """Make one call and judge it."""
        self.cases += 1
        fn, args, kwargs = call.fn, call.args, call.kwargs
        label = call.label or getattr(fn, "__qualname__", target)
        case = f"{label}(" + ", ".join(
            [_short(a) for a in args] + [f"{k}={_short(v)}" for k, v in kwargs.items()]) + ")"
        print("CASE", target, case[:2000], file=sys.stderr, flush=True)
        snap = _snapshot(args, kwargs, call.mutable)
        signal.setitimer(signal.ITIMER_REAL, self.limit)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with np.errstate(all="ignore"):
                    result = fn(*args, **kwargs)
                    if call.check is not None:
                        call.check(result)
        except Slow:
            self.record(target, "slow", "", f"ran past {self.limit} s", case)
            return
        except AssertionError as exc:
            signal.setitimer(signal.ITIMER_REAL, 0)
            self.record(target, "wrong result", "AssertionError", str(exc), case, exc)
            return
        except BaseException as exc:  # noqa: BLE001 - judging every exception is the point
            signal.setitimer(signal.ITIMER_REAL, 0)
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            self._judge(target, exc, call, kwargs, case)
            return
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        for original, copy in snap:
            if not np.array_equal(original, copy, equal_nan=original.dtype.kind in "fc"):
                self.record(target, "input modified", "", "an input array was modified", case)
                break

    def _judge(self, target, exc, call, kwargs, case):
        kind = type(exc)
        message = str(exc)
        allowed = call.allowed
        if kind in allowed or (kind.__module__.startswith("cptlaw") and issubclass(kind, (ValueError, TypeError))):
            names = set(call.names) | set(kwargs)
            located = getattr(exc, "path", None) is not None  # io's DataError: "path:line:col: message"
            if not located and not names_an_argument(message, names):
                self.record(target, "unnamed argument", kind.__name__, message, case, exc)
            elif "\n" in message.strip():
                self.record(target, "multi-line message", kind.__name__, message, case, exc)
            return
        self.record(target, "exception", f"{kind.__module__}.{kind.__name__}", message, case, exc)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=40, help="hypothesis examples per target (scaled per target)")
    parser.add_argument("--only", default="", help="run the targets whose name contains this")
    parser.add_argument("--limit", type=float, default=20.0, help="seconds one call may take")
    parser.add_argument("--memory", type=int, default=6, help="address-space limit in GiB")
    parser.add_argument("--times", action="store_true", help="print the time per target to stderr")
    parser.add_argument("--seed", type=int, default=None, help="explore: a random seed instead of derandomize")
    parser.add_argument("--canary", action="store_true",
                        help="run only targets that misbehave on purpose (the judge's own test)")
    opts = parser.parse_args(argv)
    # a case that allocates what it should have refused fails with MemoryError, not by paging
    # the machine out (also protects the machine the tests run on)
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    cap = opts.memory << 30 if hard == resource.RLIM_INFINITY else min(opts.memory << 30, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))

    from hypothesis import HealthCheck, Phase, given, seed, settings
    from hypothesis import strategies as st

    import _fuzz_targets

    runner = Runner(opts.limit)
    pool = _fuzz_targets.CANARIES if opts.canary else _fuzz_targets.TARGETS
    targets = [t for t in pool if opts.only in t.name]

    def fuzz(t, n):
        @settings(max_examples=n, derandomize=opts.seed is None, database=None, deadline=None,
                  phases=[Phase.generate], suppress_health_check=list(HealthCheck))
        @given(st.data())
        def run(data):
            call = t.draw(data)
            if call is not None:
                runner.call(t.name, call)
        return run if opts.seed is None else seed(opts.seed)(run)

    for t in targets:
        run = fuzz(t, max(1, int(round(opts.examples * t.weight))))
        start = time.perf_counter()
        run()
        if opts.times:
            print(f"TIME {t.name} {time.perf_counter() - start:.2f}s", file=sys.stderr, flush=True)
    report = {"cases": runner.cases, "targets": len(targets), "findings": list(runner.findings.values())}
    sys.stdout.write(json.dumps(report) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
