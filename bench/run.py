"""Run the side-by-side benchmarks and print one table.

    python bench/run.py                  # every case, full sizes
    python bench/run.py --quick          # small sizes: a smoke test
    python bench/run.py --only areas     # cases whose name matches (substring or glob)
    python bench/run.py --json out.json  # also write the rows as JSON
    python bench/run.py --list           # list the cases and exit

Cases are found in ``bench/cases_*.py`` (each defines ``CASES``, a list of
``_timing.Case``); see bench/README.md. Timings are reported, never asserted:
the exit status is 1 only when a case raised or its results disagreed with the
baseline (rows marked ERROR), whatever the ratios.
"""

from __future__ import annotations

import argparse
import fnmatch
import glob
import importlib
import json
import os
import platform
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from _timing import ERROR, Context, LoadMeter, Row, cpu_count, format_table  # noqa: E402


def discover() -> list:
    """Every Case of every bench/cases_*.py, in file order, tagged with its module."""
    cases = []
    for path in sorted(glob.glob(os.path.join(HERE, "cases_*.py"))):
        modname = os.path.splitext(os.path.basename(path))[0]
        try:
            mod = importlib.import_module(modname)
        except Exception as exc:  # a broken module must not hide the others
            from _timing import Case

            def broken(ctx, exc=exc):
                raise exc

            cases.append(Case(name="<import>", run=broken, about=str(exc), module=modname))
            continue
        for case in getattr(mod, "CASES", []):
            case.module = modname
            cases.append(case)
    return cases


def full_name(case) -> str:
    return f"{case.module[len('cases_'):]}.{case.name}"


def matches(case, patterns) -> bool:
    if not patterns:
        return True
    names = (case.name.lower(), full_name(case).lower())
    for pat in patterns:
        p = pat.lower()
        if any(ch in p for ch in "*?["):
            if any(fnmatch.fnmatchcase(n, p) for n in names):
                return True
        elif any(p in n for n in names):
            return True
    return False


def machine_info() -> dict:
    info = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": cpu_count(),
    }
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import numpy

    info["numpy"] = numpy.__version__
    try:
        import scipy

        info["scipy"] = scipy.__version__
    except ImportError:
        info["scipy"] = None
    try:
        import cptlaw

        info["cptlaw"] = getattr(cptlaw, "__version__", "?")
        info["cptlaw_path"] = os.path.dirname(cptlaw.__file__)
    except ImportError as exc:
        info["cptlaw"] = f"not importable: {exc}"
    return info


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes and fewer repetitions (smoke test)")
    ap.add_argument("--only", action="append", metavar="PATTERN",
                    help="run cases whose name (or module.name) contains PATTERN, or matches it as a glob; "
                         "repeatable")
    ap.add_argument("--json", metavar="PATH", help="also write the rows and machine info as JSON")
    ap.add_argument("--repeat", type=int, default=None, help="timed repetitions per side (best of N); "
                                                                 "default 11, or 5 with --quick")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    args = ap.parse_args(argv)

    cases = [c for c in discover() if matches(c, args.only)]
    if args.list:
        for c in cases:
            print(f"{full_name(c):30s} {c.about}")
        return 0
    if not cases:
        print(f"no case matches {args.only}", file=sys.stderr)
        return 2

    ctx = Context(quick=args.quick, repeat=args.repeat if args.repeat is not None else (5 if args.quick else 11))
    info = machine_info()
    t_start = time.perf_counter()
    rows = []
    load = {}
    with LoadMeter() as whole:
        for case in cases:
            t0 = time.perf_counter()
            with LoadMeter() as meter:
                try:
                    got = list(case.run(ctx))
                except Exception as exc:
                    traceback.print_exc(file=sys.stderr)
                    got = [Row(name=case.name, note=f"{type(exc).__name__}: {exc}", status=ERROR)]
            load[full_name(case)] = meter.others
            for r in got:
                r.case = full_name(case)
                r.others_cpus = meter.others
            rows.extend(got)
            busy = "" if meter.others is None else f", other processes {meter.others:.2f} CPUs"
            print(f"# {full_name(case)}: {time.perf_counter() - t0:.1f} s{busy}", file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - t_start

    print(f"cptlaw {info.get('cptlaw')} ({info.get('cptlaw_path', '?')}); numpy {info['numpy']}, "
          f"scipy {info['scipy']}; {info['cpus']} CPUs, {info.get('cpu', '?')}")
    print(f"best of {ctx.repeat}, sides interleaved; {'quick sizes; ' if ctx.quick else ''}"
          f"ratio = baseline / cptlaw unless the unit says otherwise; run took {elapsed:.1f} s")
    if whole.others is not None:
        worst = max((v, k) for k, v in load.items() if v is not None) if load else (0.0, "")
        print(f"other processes kept {whole.others:.2f} of {info['cpus']} CPUs busy during the run "
              f"(most: {worst[0]:.2f} during {worst[1]})")
        if worst[0] > 0.25:
            print("WARNING: the machine was shared; multi-threaded rows (and to a lesser degree all rows) "
                  "understate cptlaw. Rerun on an idle machine before reading the ratios.")
    print()
    print(format_table(rows))

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "quick": ctx.quick, "repeat": ctx.repeat, "elapsed_s": elapsed,
                       "others_cpus": whole.others, "others_cpus_by_case": load,
                       "rows": [r.as_dict() for r in rows]}, f, indent=2)
    return 1 if any(r.result == ERROR for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
