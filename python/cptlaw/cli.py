"""The ``cptlaw`` command line: ``demo``, ``fit`` and ``predict``.

Exit status 0 on success; on bad input, one line on stderr (``file:line:column: error:
what is wrong``) and status 1 (2 for bad command-line arguments). ``--debug`` shows the
Python traceback instead.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import warnings

import numpy as np

EXIT_DATA = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """A bad command-line argument (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line instead of usage + message
        raise UsageError(message)


# ======================================================================================
# helpers
# ======================================================================================


def _finite_or_none(x):
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, (np.integer,)):
        return int(x)
    return x


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k) if k is not None else "null": _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    return _finite_or_none(obj)


_FLAT_LIST = re.compile(r"\[\n\s*([^\[\]{}]*?)\n\s*\]")


def dumps(obj) -> str:
    """JSON text with NaN/inf written as null (valid JSON); lists of plain values on one line."""
    text = json.dumps(_jsonable(obj), indent=2, allow_nan=False)
    # JSON strings hold no raw newlines: every newline inside such a list is layout
    return _FLAT_LIST.sub(lambda m: "[" + re.sub(r",\n\s*", ", ", m.group(1)) + "]", text)


def _parse_fix(items, what):
    out = {}
    for item in items or []:
        if "=" not in item:
            raise UsageError(f"{what} {item!r}: expected NAME=VALUE")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _parse_steps(text, total):
    """``all``, ``1000,2000,9000`` or ``start:stop:step`` (stop included) -> sorted int array."""
    text = text.strip()
    if text == "all":
        return np.arange(1, total + 1)
    vals = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if ":" in part:
                bits = [int(b) if b.strip() else None for b in part.split(":")]
                if len(bits) == 2:
                    bits.append(None)
                if len(bits) != 3:
                    raise ValueError
                a, b, c = bits
                a = 1 if a is None else a
                b = total if b is None else b
                c = 1 if c is None else c
                if c <= 0:
                    raise UsageError(f"--steps {text!r}: the step of a range must be > 0")
                vals.extend(range(a, b + 1, c))
            else:
                vals.append(int(part))
        except ValueError:
            raise UsageError(f"--steps {text!r}: expected 'all', a list like 1000,2000 or a range start:stop:step") from None
    if not vals:
        raise UsageError(f"--steps {text!r}: no steps")
    arr = np.unique(np.asarray(vals, dtype=np.int64))
    if arr[0] < 1 or arr[-1] > total:
        raise UsageError(f"--steps: steps must lie in 1..{total} (the schedule's updates), got {arr[0]}..{arr[-1]}")
    return arr


def _default_steps(total, pt_steps=None, n=20):
    if total <= 2 * n:
        return np.arange(1, total + 1)
    pts = set(np.unique(np.linspace(0, total, n + 1).round().astype(np.int64)[1:]).tolist())
    if pt_steps:
        pts.add(int(pt_steps))
    pts.discard(0)
    return np.array(sorted(pts), dtype=np.int64)


class _Warnings:
    """Collects warnings during a command; printed (one line each) only on success."""

    def __init__(self):
        self.items = []

    def __enter__(self):
        self._cm = warnings.catch_warnings(record=True)
        self.items = self._cm.__enter__()
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc):
        self._cm.__exit__(*exc)
        return False

    def lines(self):
        from .io import InterpolatedLRWarning

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
        return out


def _print_warnings(w, quiet):
    if quiet:
        return
    for line in w.lines():
        print(f"cptlaw: warning: {line}", file=sys.stderr)


# ======================================================================================
# fit
# ======================================================================================


def _area_options(args):
    wap = bool(args.warmup_as_peak)
    if args.warmup_steps is not None:
        if args.warmup_as_peak:
            raise UsageError("--warmup-as-peak and --warmup-steps: give one of them")
        if args.warmup_steps < 0:
            raise UsageError("--warmup-steps: must be >= 0")
        wap = args.warmup_steps
    return {"decay": args.decay, "split": args.split, "warmup_as_peak": wap}


def _valsets_of(runs, wanted):
    first = runs[0]
    keys = list(first.loss) if isinstance(first.loss, dict) else [None]
    for r in runs[1:]:
        k = list(r.loss) if isinstance(r.loss, dict) else [None]
        if set(k) != set(keys):
            def show(ks):
                return ", ".join("loss" if x is None else x for x in ks)
            raise UsageError(f"runs {first.name!r} and {r.name!r} have different validation sets "
                             f"({show(keys)} vs {show(k)}); pick one with --valset or --loss-column")
    if wanted is not None:
        if keys == [None]:
            raise UsageError(f"--valset {wanted!r}: the runs have a single loss column (drop --valset)")
        if wanted not in keys:
            raise UsageError(f"--valset {wanted!r}: not among the runs' validation sets ({', '.join(keys)})")
        return [wanted]
    return keys


def _law_for(name, runs, valset):
    from . import io

    if name is None:
        return io.law_class("cpt" if any(r.lr_cpt is not None for r in runs) else "annealing")
    if name.lower() == "replay":
        if valset not in ("pt", "cpt"):
            raise UsageError("--law replay needs the validation sets to be named 'pt' and 'cpt' "
                             "(else use replay-pt / replay-cpt)")
        return io.law_class(f"replay-{valset}")
    try:
        return io.law_class(name)
    except ValueError as exc:
        raise UsageError(f"--law: {str(exc).split(': ', 1)[1]}") from None


def _fit_json(res, law_cls, valset, runs, area, per_run):
    dom = res.get("domain") or {}
    return {
        "law": law_cls.__name__,
        "valset": valset,
        "params": res["params"],
        "stderr": res["stderr"],
        "objective": res["objective"],
        "r2": res["r2"],
        "mae": res["mae"],
        "mape": res["mape"],
        "n_points": res["n_points"],
        "success": res["success"],
        "status": res["status"],
        "message": res["message"],
        "at_bound": res.get("at_bound", []),
        "area_options": area,
        "domain": {"peak_lr": list(dom["peak_lr"]), "max_step": dom["max_step"]} if dom else None,
        "runs": [{"name": r.name, "n_points": int(np.sum(np.isfinite(r.losses(valset)))), "mae": per_run[r.name]}
                 for r in runs],
    }


def _per_run_mae(res, runs, valset):
    from .runs import ExtrapolationWarning, predict_run

    out = {}
    for r in runs:
        if res.get("law") is None:
            out[r.name] = float("nan")
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExtrapolationWarning)
            pred = predict_run(res, r)
        obs = r.losses(valset)
        ok = np.isfinite(obs)
        out[r.name] = float(np.mean(np.abs(pred[ok] - obs[ok]))) if ok.any() else float("nan")
    return out


def _fmt(x, spec=".5g"):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        width = re.match(r"\d*", spec).group()
        return "-".rjust(int(width)) if width else "-"
    return format(x, spec)


def _print_fit(fj, file=sys.stdout):
    vs = fj["valset"]
    opts = fj["area_options"]
    n_runs = len(fj["runs"])
    title = f"{fj['law']}" + (f", validation set {vs!r}" if vs is not None else "")
    print(f"{title}: {n_runs} run{'s' if n_runs != 1 else ''}, {fj['n_points']} points "
          f"(decay {opts['decay']}, split {opts['split']}, warmup_as_peak {opts['warmup_as_peak']})", file=file)
    print(f"  {fj['message']}", file=file)
    print(f"  {'parameter':<10} {'value':>12} {'stderr':>11}", file=file)
    for k, v in fj["params"].items():
        se = fj["stderr"].get(k)
        print(f"  {k:<10} {_fmt(v, '12.6g')} {_fmt(se, '11.3g')}", file=file)
    print(f"  R^2 {_fmt(fj['r2'], '.5f')}   objective {_fmt(fj['objective'], '.4g')}   MAE {_fmt(fj['mae'], '.4f')}"
          f"   MAPE {_fmt(None if fj['mape'] is None else 100 * fj['mape'], '.2f')}%", file=file)
    width = max(8, max(len(r["name"]) for r in fj["runs"]))
    print(f"  {'run':<{width}} {'points':>6} {'MAE':>8}", file=file)
    for r in fj["runs"]:
        print(f"  {r['name']:<{width}} {r['n_points']:>6} {_fmt(r['mae'], '8.4f')}", file=file)


def cmd_fit(args):
    from . import io
    from .runs import fit_runs

    area = _area_options(args)
    if args.law is not None and args.law.lower() != "replay":
        _law_for(args.law, [], None)  # a bad --law fails before any file is read
    fixed = {k: _num(v, f"--fix {k}") for k, v in _parse_fix(args.fix, "--fix").items()}
    bounds = {}
    for k, v in _parse_fix(args.bound, "--bound").items():
        if ":" not in v:
            raise UsageError(f"--bound {k}={v}: expected NAME=LOW:HIGH (either may be empty)")
        lo, hi = v.split(":", 1)
        bounds[k] = (None if not lo.strip() else _num(lo, f"--bound {k}"), None if not hi.strip() else _num(hi, f"--bound {k}"))
    with _Warnings() as w:
        schedule = io.read_schedule(args.schedule) if args.schedule else None
        runs = io.read_runs(
            args.files, schedule=schedule, loss_columns=args.loss_column or None,
            step_column=args.step_column, lr_column=args.lr_column,
            step_offset=args.step_offset, lr_shift=args.lr_shift, pt_steps=args.pt_steps, r_pt=args.replay,
            min_step=args.min_step, base=args.base,
        )
        if schedule is not None:
            names = {r.name for r in runs}
            unknown = [k for k in schedule if k is not None and k not in names]
            if unknown:
                raise UsageError(f"--schedule: run {unknown[0]!r} of the spec is not among the inputs "
                                 f"({', '.join(sorted(names))})")
        dropped = 0
        if not args.keep_duplicates:
            runs, dropped = io.drop_shared_history(runs)
        valsets = _valsets_of(runs, args.valset)
        fits = {}
        for vs in valsets:
            law_cls = _law_for(args.law, runs, vs)
            opts = dict(nan_policy="omit", objective=args.objective, delta=args.delta)
            if fixed:
                opts["fixed"] = fixed
            if bounds:
                opts["bounds"] = bounds
            res = fit_runs(law_cls, runs, valset=vs, **area, **opts)
            fits[vs] = _fit_json(res, law_cls, vs, runs, area, _per_run_mae(res, runs, vs))
    if len(fits) == 1:
        out = next(iter(fits.values()))
    else:
        out = {"law": next(iter(fits.values()))["law"], "area_options": area,
               "valsets": {vs: fj for vs, fj in fits.items()}}
    from . import __version__

    out["cptlaw_version"] = __version__
    out["files"] = [os.path.abspath(f) for f in args.files]
    out["left_out_points"] = dropped
    text = dumps(out)
    if args.output:
        with open(args.output, "w") as fh:
            fh.write(text + "\n")
    if args.json:
        print(text)
    else:
        if dropped:
            print(f"(left out {dropped} PT-phase points of CPT runs that repeat a PT run among the inputs; "
                  "--keep-duplicates keeps them)")
        for i, fj in enumerate(fits.values()):
            if i:
                print()
            _print_fit(fj)
        if args.output:
            print(f"wrote {args.output}")
    _print_warnings(w, args.quiet)
    failed = [fj for fj in fits.values() if not fj["success"]]
    if failed:
        print(f"cptlaw: error: the fit failed: {failed[0]['message']}", file=sys.stderr)
        return EXIT_DATA
    return 0


def _num(text, what):
    try:
        v = float(text)
    except ValueError:
        raise UsageError(f"{what}: expected a number, got {text!r}") from None
    if not math.isfinite(v):
        raise UsageError(f"{what}: expected a finite number, got {text!r}")
    return v


# ======================================================================================
# predict
# ======================================================================================


def cmd_predict(args):
    from . import io
    from .runs import Run, predict_run

    with _Warnings() as w:
        fits = io.read_fit(args.params)
        if args.valset is not None:
            if args.valset not in fits:
                names = ", ".join("loss" if k is None else k for k in fits)
                raise UsageError(f"--valset {args.valset!r}: the fit has validation set(s) {names}")
            fits = {args.valset: fits[args.valset]}
        if args.schedule:
            specs = io.read_schedule(args.schedule)
            if args.run is not None:
                if args.run not in specs:
                    raise UsageError(f"--run {args.run!r}: not in the schedule spec ({', '.join(map(str, specs))})")
                specs = {args.run: specs[args.run]}
        else:
            specs = {None: io.read_lr_file(args.lr, pt_steps=args.pt_steps)}
        results = {}
        for name, ph in specs.items():
            lr_pt, lr_cpt = ph.lr()
            if args.pt_steps is not None and lr_cpt is None and args.schedule:
                if not 1 <= args.pt_steps < len(lr_pt):
                    raise UsageError(f"--pt-steps {args.pt_steps}: must lie in 1..{len(lr_pt) - 1}")
                lr_pt, lr_cpt = lr_pt[:args.pt_steps], lr_pt[args.pt_steps:]
            total = len(lr_pt) + (0 if lr_cpt is None else len(lr_cpt))
            steps = (_parse_steps(args.steps, total) if args.steps
                     else _default_steps(total, None if lr_cpt is None else len(lr_pt)))
            run = Run(lr_pt=lr_pt, steps=steps, lr_cpt=lr_cpt, r_pt=args.replay, name=name or "schedule")
            full = np.concatenate([lr_pt] + ([] if lr_cpt is None else [lr_cpt]))
            losses = {}
            for vs, res in fits.items():
                opts = res.get("area_options") or (res.get("domain") or {}).get("area_options") or {}
                losses[vs] = predict_run(res, run, **opts)
            results[name] = {
                "steps": steps,
                "phase": ["pt" if s <= len(lr_pt) else "cpt" for s in steps],
                "lr": full[steps - 1],
                "loss": losses,
                "final": {vs: float(v[-1]) for vs, v in losses.items()},
            }
    law_name = type(next(iter(fits.values()))["law"]).__name__
    if args.json:
        if len(results) == 1 and None in results:
            out = {"law": law_name, **results[None]}
        else:
            out = {"law": law_name, "runs": results}
        if list(fits) == [None]:  # single validation set: a plain list
            for r in (out["runs"].values() if "runs" in out else [out]):
                r["loss"] = r["loss"][None]
                r["final"] = r["final"][None]
        print(dumps(out))
    else:
        for i, (name, res) in enumerate(results.items()):
            if i:
                print()
            if name is not None:
                print(f"run {name}")
            cols = ["loss" if vs is None else f"loss_{vs}" for vs in res["loss"]]
            print(f"{'step':>8} {'phase':>5} {'lr':>11} " + " ".join(f"{c:>10}" for c in cols))
            for j, s in enumerate(res["steps"]):
                print(f"{int(s):>8} {res['phase'][j]:>5} {res['lr'][j]:>11.4g} "
                      + " ".join(f"{res['loss'][vs][j]:>10.5f}" for vs in res["loss"]))
    _print_warnings(w, args.quiet)
    return 0


# ======================================================================================
# demo
# ======================================================================================


def cmd_demo(args):
    from .demo import run_demo

    with _Warnings() as w:
        run_demo(args.out, plot=not args.no_plot, n_boot=args.n_boot)
    _print_warnings(w, args.quiet)
    return 0


def cmd_reproduce(args):
    from . import reproduce  # imported lazily: `python -m cptlaw.reproduce` must not find it pre-imported

    return reproduce.main([args.paper] + (["--json"] if args.json else []))


# ======================================================================================
# entry point
# ======================================================================================


def build_parser():
    from . import __version__

    p = _Parser(prog="cptlaw", description="Fit and use the continual pre-training (CPT) scaling law.")
    p.add_argument("--version", action="version", version=f"cptlaw {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    common = _Parser(add_help=False)
    common.add_argument("--quiet", "-q", action="store_true", help="do not print warnings")
    common.add_argument("--debug", action="store_true", help="show Python tracebacks on errors")

    d = sub.add_parser("demo", parents=[common], help="fit the CPT law on bundled real runs, predict held-out ones",
                       description="Fit the CPT law on the bundled tinycpt runs for both validation sets, predict "
                                   "held-out CPT schedules, write OUT/summary.json and OUT/demo.png.")
    d.add_argument("--out", default="cptlaw-demo", help="output folder (created; default: ./cptlaw-demo)")
    d.add_argument("--no-plot", action="store_true", help="skip demo.png")
    d.add_argument("--n-boot", type=int, default=200,
                   help="bootstrap resamples for the 95%% prediction bands (0: none; default 200)")
    d.set_defaults(func=cmd_demo)

    f = sub.add_parser("fit", parents=[common], help="fit a law to runs read from files",
                       description="Fit a law jointly to the runs in FILE... (CSV: step,lr,loss or long format "
                                   "run,phase,step,lr,loss_pt,loss_cpt; W&B history JSON).")
    f.add_argument("files", nargs="+", metavar="FILE")
    f.add_argument("--law", help="annealing, cpt, replay (replay-pt / replay-cpt by validation set), replay-pt, "
                                 "replay-cpt, open-source, cpt-power-s2 (default: cpt if a run has a CPT phase, "
                                 "else annealing)")
    f.add_argument("--valset", help="the validation set to fit (default: each one)")
    f.add_argument("--json", action="store_true", help="print the result as JSON (input of `cptlaw predict`)")
    f.add_argument("-o", "--output", help="also write the JSON result to this file")
    f.add_argument("--schedule", metavar="SPEC", help="schedule spec (JSON/YAML) giving the per-step LRs")
    f.add_argument("--decay", type=float, default=0.999, help="momentum factor lambda of S2 (default 0.999)")
    f.add_argument("--split", choices=("by_source", "by_time", "restart"), default="by_source",
                   help="how S2 is split at the transfer (default by_source)")
    f.add_argument("--warmup-as-peak", action="store_true",
                   help="count the PT warmup (the steps before the first peak) at the peak LR (P2's convention)")
    f.add_argument("--warmup-steps", type=int, metavar="N",
                   help="like --warmup-as-peak, for the first N steps")
    f.add_argument("--min-step", type=int, default=1, help="ignore observations before this step (default 1)")
    f.add_argument("--step-offset", type=int, default=0,
                   help="added to every logged step to get the updates done (1 if steps are 0-based indices)")
    f.add_argument("--lr-shift", type=int, default=0,
                   help="the LR logged at step s is that of update s + LR_SHIFT (1 if logged after scheduler.step())")
    f.add_argument("--pt-steps", type=int, help="updates of the PT phase, for files without a phase column")
    f.add_argument("--loss-column", action="append", metavar="NAME", help="loss column / W&B key (repeatable)")
    f.add_argument("--lr-column", metavar="NAME", help="learning-rate column / W&B key")
    f.add_argument("--step-column", metavar="NAME", help="step column / W&B key")
    f.add_argument("--replay", type=float, default=None, help="replay ratio r_pt of runs without an r_pt column")
    f.add_argument("--base", metavar="FILE", help="W&B history of the run a resumed run started from")
    f.add_argument("--objective", choices=("huber_log", "log_least_squares", "least_squares"), default="huber_log")
    f.add_argument("--delta", type=float, default=1e-3, help="Huber threshold on log residuals (default 1e-3)")
    f.add_argument("--fix", action="append", metavar="NAME=VALUE", help="hold a parameter fixed (repeatable)")
    f.add_argument("--bound", action="append", metavar="NAME=LOW:HIGH", help="bounds of a parameter (repeatable)")
    f.add_argument("--keep-duplicates", action="store_true",
                   help="keep the PT points of CPT runs that repeat a PT run among the inputs")
    f.set_defaults(func=cmd_fit)

    q = sub.add_parser("predict", parents=[common], help="predict losses for a schedule from fitted parameters",
                       description="Predict the validation losses of a schedule with a law fitted by `cptlaw fit --json`.")
    q.add_argument("--params", required=True, metavar="FIT.json", help="fit result (`cptlaw fit --json` or demo's summary.json)")
    src = q.add_mutually_exclusive_group(required=True)
    src.add_argument("--schedule", metavar="SPEC", help="schedule spec (JSON/YAML), e.g. "
                     '{"pt": {"kind": "wsd", "peak_lr": 3e-4, "steps": 5000, "decay_steps": 1000}, "cpt": {...}}')
    src.add_argument("--lr", metavar="FILE", help="per-step LRs: .npy, or a CSV/text file with an lr column "
                     "(and optionally phase)")
    q.add_argument("--pt-steps", type=int, help="split a single schedule: the first PT_STEPS updates are PT")
    q.add_argument("--steps", help="steps to predict: all, a list 1000,2000 or a range start:stop:step "
                                   "(default: about 20 evenly spaced)")
    q.add_argument("--valset", help="predict only this validation set of the fit")
    q.add_argument("--run", help="with a spec holding several runs, predict only this one")
    q.add_argument("--replay", type=float, default=0.0, help="replay ratio r_pt (replay laws)")
    q.add_argument("--json", action="store_true", help="print JSON")
    q.set_defaults(func=cmd_predict)

    r = sub.add_parser("reproduce", parents=[common], help="recompute a paper's findings from its published fits",
                       description="Recompute P1's qualitative findings (loss potential, peak LR, turning length, "
                                   "optimal peak LR) from its published parameter tables; see the README.")
    r.add_argument("paper", choices=("p1",))
    r.add_argument("--json", action="store_true", help="print JSON")
    r.set_defaults(func=cmd_reproduce)

    from .cli_plan import add_grid_parser, add_plan_parser

    add_plan_parser(sub, common)
    add_grid_parser(sub, common)
    return p


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "command", None):
            parser.print_help()
            return EXIT_USAGE
        return args.func(args)
    except UsageError as exc:
        if debug:
            raise
        print(f"cptlaw: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("cptlaw: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # user errors: one line; anything else is a bug and keeps its traceback
        from .io import DataError

        if debug:
            raise
        if isinstance(exc, DataError):
            loc = exc.path or "<input>"
            if exc.line is not None:
                loc += f":{exc.line}" + (f":{exc.column}" if exc.column is not None else "")
            print(f"{loc}: error: {' '.join(exc.message.split())}", file=sys.stderr)
            return EXIT_DATA
        if isinstance(exc, (ValueError, OSError)) and not isinstance(exc, UnicodeError):
            msg = " ".join(str(exc).split())
            if isinstance(exc, OSError) and exc.filename:
                msg = f"{exc.filename}: error: {exc.strerror or msg}"
            else:
                msg = f"cptlaw: error: {msg}"
            print(msg, file=sys.stderr)
            return EXIT_DATA
        raise


if __name__ == "__main__":
    sys.exit(main())
