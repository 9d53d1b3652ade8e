"""``cptlaw fit`` (a law fitted to runs read from files) and ``cptlaw predict`` (losses of a
schedule from a fit file), with their text, JSON, CSV and plot outputs."""

from __future__ import annotations

import csv
import math
import os
import re
import sys
import warnings

import numpy as np

from .. import io
from ..io import MAX_STEPS
from ..io.fitfile import fit_document, fit_record, write_fit
from ..laws import law_class, law_names
from ._common import (
    EXIT_DATA,
    UsageError,
    Warnings,
    check_outputs,
    dumps,
    finite,
    need_matplotlib,
    number_type,
    parse_values,
    whole,
    whole_type,
)

#: The inputs :meth:`cptlaw.Run.features` computes from learning rates: laws taking only these can
#: be fitted to runs read from files.
RUN_INPUTS = frozenset({"s1", "s2", "s1_pt", "s2_pt", "s1_cpt", "s2_cpt", "r_pt"})


# ======================================================================================
# law names (from the law classes)
# ======================================================================================


def _families(names):
    """``replay`` for ``replay_pt`` + ``replay_cpt``: a law per validation set, picked by its name."""
    return [n[:-3] for n in names if n.endswith("_pt") and n[:-3] + "_cpt" in names]


def fittable_laws() -> list:
    """The ``--law`` names: laws of LR areas (fittable from runs), then families like ``replay``."""
    names = [n for n in law_names() if set(law_class(n).input_names) <= RUN_INPUTS]
    fams = _families(names)
    out = []
    for n in names:
        fam = next((f for f in fams if n == f + "_pt"), None)
        if fam is not None:
            out.append(fam)
        out.append(n)
    return out


def _law_key(name):
    return str(name).strip().lower().replace("-", "_")


def law_for(name, runs, valset):
    """The law class ``--law NAME`` means for validation set ``valset`` (default: cpt when a run
    has a CPT phase, else annealing)."""
    if name is None:
        return law_class("cpt" if any(r.lr_cpt is not None for r in runs) else "annealing")
    key = _law_key(name)
    choices = fittable_laws()
    if key in _families(law_names()) and key in choices:
        if valset not in ("pt", "cpt"):
            raise UsageError(f"--law {key} needs the validation sets to be named 'pt' and 'cpt' "
                             f"(else use {key}_pt / {key}_cpt)")
        return law_class(f"{key}_{valset}")
    if key not in choices:
        if key in law_names():
            cls = law_class(key)
            need = sorted(set(cls.input_names) - RUN_INPUTS)
            raise UsageError(f"--law: {key} ({cls.__name__}) needs {', '.join(need)}, which runs read from files do "
                             f"not provide; expected one of {', '.join(choices)}")
        raise UsageError(f"--law: unknown law {name!r}; expected one of {', '.join(choices)}")
    return law_class(key)


# ======================================================================================
# fit
# ======================================================================================


def _area_options(args):
    wap = bool(args.warmup_as_peak)
    if args.warmup_steps is not None:
        if args.warmup_as_peak:
            raise UsageError("--warmup-as-peak and --warmup-steps: give one of them")
        wap = args.warmup_steps
    return {"decay": args.decay, "split": args.split, "warmup_as_peak": wap}


def _name_value(items, what):
    out = {}
    for item in items or []:
        if "=" not in item:
            raise UsageError(f"{what} {item!r}: expected NAME=VALUE")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


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


def per_run_mae(res, runs, valset) -> dict:
    from ..runs import ExtrapolationWarning, predict_run

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


def print_fit(fj, file=None):
    from ..fit import FitResult

    print(FitResult(fj), file=sys.stdout if file is None else file)  # a fit file's record renders as its fit


def cmd_fit(args):
    from ..runs import fit_runs

    area = _area_options(args)
    if args.law is not None:
        law_for(args.law, [], "pt")  # a bad --law fails before any file is read
    fixed = {k: finite(v, f"--fix {k}") for k, v in _name_value(args.fix, "--fix").items()}
    bounds = {}
    for k, v in _name_value(args.bound, "--bound").items():
        if ":" not in v:
            raise UsageError(f"--bound {k}={v}: expected NAME=LOW:HIGH (either may be empty)")
        lo, hi = v.split(":", 1)
        bounds[k] = (None if not lo.strip() else finite(lo, f"--bound {k}"),
                     None if not hi.strip() else finite(hi, f"--bound {k}"))
    check_outputs({"-o/--output": args.output, "--plot": args.plot},
                  {"FILE": args.files, "--schedule": args.schedule, "--base": args.base})
    if args.plot:
        need_matplotlib("--plot")
    with Warnings() as w:
        schedule = io.read_schedule(args.schedule) if args.schedule else None
        runs = io.read_runs(
            args.files, schedule=schedule, loss_columns=args.loss_column or None, step_column=args.step_column,
            lr_column=args.lr_column, step_offset=args.step_offset, lr_shift=args.lr_shift, pt_steps=args.pt_steps,
            r_pt=args.replay, min_step=args.min_step, base=args.base,
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
        fits, results = {}, {}
        for vs in valsets:
            law_cls = law_for(args.law, runs, vs)
            opts = dict(nan_policy="omit", objective=args.objective, delta=args.delta)
            if fixed:
                opts["fixed"] = fixed
            if bounds:
                opts["bounds"] = bounds
            res = fit_runs(law_cls, runs, valset=vs, **area, **opts)
            results[vs] = res
            fits[vs] = fit_record(res, law_cls, vs, runs, area, per_run_mae(res, runs, vs))
        if args.plot:
            plot_fits(args.plot, results, runs, area)
    from .. import __version__

    out = fit_document(fits, area, cptlaw_version=__version__, files=[os.path.abspath(f) for f in args.files],
                       left_out_points=dropped)
    if args.output:
        write_fit(args.output, out)
    if args.json:
        print(dumps(out))
    else:
        if dropped:
            print(f"(left out {dropped} PT-phase points of CPT runs that repeat a PT run among the inputs; "
                  "--keep-duplicates keeps them)")
        for i, fj in enumerate(fits.values()):
            if i:
                print()
            print_fit(fj)
        for path in (args.output, args.plot):
            if path:
                print(f"wrote {path}")
    w.print(args.quiet)
    failed = [fj for fj in fits.values() if not fj["success"]]
    if failed:
        print(f"cptlaw: error: the fit failed: {' '.join(str(failed[0]['message']).split())}", file=sys.stderr)
        return EXIT_DATA
    return 0


def _transfers(runs):
    return sorted({len(np.asarray(r.lr_pt)) for r in runs if r.lr_cpt is not None})


def plot_fits(path, results, runs, area):
    """PNG: observed losses vs the fitted law, one panel per validation set."""
    from matplotlib.figure import Figure

    from ..plot import plot_fit

    ok = {vs: res for vs, res in results.items() if res.get("law") is not None}
    if not ok:
        raise io.DataError("--plot: no fitted law to draw (every fit failed)")
    n = len(ok)
    fig = Figure(figsize=(6.5 * n, 4.8), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, n))
    for ax, (vs, res) in zip(axes, ok.items()):
        plot_fit(res, runs, valset=vs, ax=ax, area_options=area, legend=True)
        for t in _transfers(runs):
            ax.axvline(t, color="0.6", lw=0.8, ls=":")
        title = f"{type(res['law']).__name__}" + (f", validation set {vs!r}" if vs is not None else "")
        ax.set_title(f"{title}: R$^2$ {res['r2']:.4f}, MAE {res['mae']:.4f}", fontsize=9)
    fig.suptitle(f"cptlaw fit: {len(runs)} run{'s' if len(runs) != 1 else ''}, observed (dots) vs fitted law (lines)"
                 + ("; dotted: PT -> CPT transfer" if _transfers(runs) else ""), fontsize=10)
    fig.savefig(path, dpi=100)


# ======================================================================================
# predict
# ======================================================================================

STEPS_HELP = ("steps to predict: all, a list 1000,2000, a range start:stop:count (count steps from start to stop, "
              "both included, rounded; an empty start or stop is the first or last update) or start:stop (every "
              "step from start to stop); default: about 20 evenly spaced")


def parse_steps(text, total, warn=None):
    """``all``, ``1000,2000``, ``start:stop:count`` or ``start:stop`` -> sorted int array in 1..total."""
    text = text.strip()
    if text == "all":
        return np.arange(1, total + 1)
    vals = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        bits = part.split(":")
        if len(bits) == 2:  # every step from start to stop
            a = 1 if not bits[0].strip() else _step(bits[0], text)
            b = total if not bits[1].strip() else _step(bits[1], text)
            if a < 1 or b > total:
                raise UsageError(f"--steps: steps must lie in 1..{total} (the schedule's updates), got {a}..{b}")
            vals.extend(range(a, b + 1))
        elif len(bits) == 3:
            got = parse_values(part, "--steps", "steps", start=1, stop=total)
            vals.extend(got)
            _legacy_stride(part, bits, total, got, warn)
        elif len(bits) > 3:
            raise UsageError(f"--steps {text!r}: expected 'all', a list like 1000,2000 or a range start:stop:count")
        else:
            vals.append(_step(part, text))
    if not vals:
        raise UsageError(f"--steps {text!r}: no steps")
    arr = np.unique(np.asarray(vals, dtype=np.int64))
    if arr[0] < 1 or arr[-1] > total:
        raise UsageError(f"--steps: steps must lie in 1..{total} (the schedule's updates), got {arr[0]}..{arr[-1]}")
    return arr


def _step(text, all_text):
    try:
        v = whole(text, "--steps")
    except UsageError:
        raise UsageError(f"--steps {all_text!r}: expected 'all', a list like 1000,2000 or a range "
                         "start:stop:count") from None
    if abs(v) > MAX_STEPS:
        raise UsageError(f"--steps: {text.strip()} is beyond cptlaw's limit of {MAX_STEPS:,} steps")
    return v


def _legacy_stride(part, bits, total, got, warn):
    """cptlaw 0.1 read start:stop:c in ``predict --steps`` as every c-th step: say so when it differs."""
    if warn is None:
        return
    try:
        a = 1 if not bits[0].strip() else int(bits[0])
        b = total if not bits[1].strip() else int(bits[1])
        c = int(bits[2])
    except ValueError:
        return
    if c < 1:
        return
    old = list(range(a, b + 1, c))
    if old == sorted(set(got)):
        return
    hint = ""
    if len(old) >= 2:
        again = np.unique(np.round(np.linspace(old[0], old[-1], len(old))).astype(np.int64)).tolist()
        if again == old:
            hint = f"; for those steps write {old[0]}:{old[-1]}:{len(old)}"
    shown = ", ".join(map(str, old[:3])) + (", ..." if len(old) > 3 else "")
    warn(f"--steps {part}: start:stop:count means {c} steps from {a} to {b} (as in plan and grid); cptlaw 0.1 read "
         f"it as a step size of {c} ({shown}){hint}")


def _default_steps(total, pt_steps=None, n=20):
    if total <= 2 * n:
        return np.arange(1, total + 1)
    pts = set(np.unique(np.linspace(0, total, n + 1).round().astype(np.int64)[1:]).tolist())
    if pt_steps:
        pts.add(int(pt_steps))
    pts.discard(0)
    return np.array(sorted(pts), dtype=np.int64)


def cmd_predict(args):
    from ..runs import Run, predict_run

    check_outputs({"--csv": args.csv, "--plot": args.plot},
                  {"--params": args.params, "--schedule": args.schedule, "--lr": args.lr})
    if args.plot:
        need_matplotlib("--plot")
    with Warnings() as w:
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
            if args.run is not None:
                raise UsageError("--run: picks a run of a --schedule spec; --lr files hold one schedule")
            specs = {None: io.read_lr_file(args.lr, pt_steps=args.pt_steps)}
        results, runs = {}, {}
        for name, ph in specs.items():
            lr_pt, lr_cpt = ph.lr()
            if args.pt_steps is not None and lr_cpt is None and args.schedule:
                if not 1 <= args.pt_steps < len(lr_pt):
                    raise UsageError(f"--pt-steps {args.pt_steps}: must lie in 1..{len(lr_pt) - 1}")
                lr_pt, lr_cpt = lr_pt[:args.pt_steps], lr_pt[args.pt_steps:]
            total = len(lr_pt) + (0 if lr_cpt is None else len(lr_cpt))
            steps = (parse_steps(args.steps, total, w.add) if args.steps
                     else _default_steps(total, None if lr_cpt is None else len(lr_pt)))
            run = Run(lr_pt=lr_pt, steps=steps, lr_cpt=lr_cpt, r_pt=args.replay, name=name or "schedule")
            runs[name] = run
            full = np.concatenate([lr_pt] + ([] if lr_cpt is None else [lr_cpt]))
            losses = {vs: predict_run(res, run, **_area(res)) for vs, res in fits.items()}
            _check_finite(losses, steps, name, run, w.add)
            results[name] = {
                "steps": steps,
                "phase": ["pt" if s <= len(lr_pt) else "cpt" for s in steps],
                "lr": full[steps - 1],
                "loss": losses,
                "final": {vs: float(v[-1]) for vs, v in losses.items()},
            }
        if args.plot:
            plot_predictions(args.plot, fits, runs)
    if args.csv:
        write_prediction_csv(args.csv, results)
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
        for path in (args.csv, args.plot):
            if path:
                print(f"wrote {path}")
    w.print(args.quiet)
    return 0


def _check_finite(losses, steps, name, run, warn):
    """Say where a prediction is not a finite number (e.g. before any LR > 0: S1 = 0)."""
    for vs, loss in losses.items():
        bad = np.flatnonzero(~np.isfinite(loss))
        if bad.size:
            where = f"run {name!r}, " if name is not None else ""
            where += f"validation set {vs!r}, " if vs is not None else ""
            warn(f"the predicted loss is not a finite number at {bad.size} of {loss.size} steps ({where}first at step "
                 f"{int(steps[bad[0]])}: {loss[bad[0]]}); the law is undefined where no LR > 0 came before, and "
                 f"fails for schedules far outside the fitted ones (peak LR {run.peak_lr:.3g})")


def _area(res):
    return res.get("area_options") or (res.get("domain") or {}).get("area_options") or {}


def write_prediction_csv(path, results):
    """One row per (run, step): run (with several runs), step, phase, lr, loss or loss_<set>."""
    several = not (len(results) == 1 and None in results)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        first = next(iter(results.values()))
        cols = ["loss" if vs is None else f"loss_{vs}" for vs in first["loss"]]
        out.writerow((["run"] if several else []) + ["step", "phase", "lr"] + cols)
        for name, res in results.items():
            for j, s in enumerate(res["steps"]):
                row = ([name] if several else []) + [int(s), res["phase"][j], repr(float(res["lr"][j]))]
                out.writerow(row + [repr(float(res["loss"][vs][j])) for vs in res["loss"]])


def plot_predictions(path, fits, runs):
    """PNG: the predicted loss curves of each schedule (one panel per validation set) above their
    learning rates."""
    from matplotlib.figure import Figure

    from ..plot import plot_prediction

    n = len(fits)
    fig = Figure(figsize=(6.5 * n, 6.4), layout="constrained")
    axes = fig.subplots(2, n, squeeze=False, sharex="col", height_ratios=(2.2, 1))
    colors = [f"C{i % 10}" for i in range(len(runs))]
    for col, (vs, res) in enumerate(fits.items()):
        top, bottom = axes[0, col], axes[1, col]
        plot_prediction(res, list(runs.values()), valset=vs, ax=top, lr_ax=bottom, area_options=_area(res),
                        colors=colors, legend=col == 0)
        top.set_title(f"{type(res['law']).__name__}" + (f", validation set {vs!r}" if vs is not None else ""),
                      fontsize=9)
    fig.suptitle("cptlaw predict: predicted validation loss (top) of each learning-rate schedule (bottom)",
                 fontsize=10)
    fig.savefig(path, dpi=100)


# ======================================================================================
# parsers
# ======================================================================================


def add_fit_parser(sub, common):
    choices = fittable_laws()
    f = sub.add_parser("fit", parents=[common], help="fit a law to runs read from files",
                       description="Fit a law jointly to the runs in FILE... (CSV: step,lr,loss or long format "
                                   "run,phase,step,lr,loss_pt,loss_cpt; W&B history JSON).")
    f.add_argument("files", nargs="+", metavar="FILE")
    f.add_argument("--law", metavar="NAME",
                   help=f"one of {', '.join(choices)} ('-' for '_' accepted; "
                        + ", ".join(f"{fam}: {fam}_pt / {fam}_cpt by validation set" for fam in
                                    _families(law_names()) if fam in choices)
                        + "; default: cpt if a run has a CPT phase, else annealing)")
    f.add_argument("--valset", help="the validation set to fit (default: each one)")
    f.add_argument("--json", action="store_true", help="print the result as JSON (input of `cptlaw predict`)")
    f.add_argument("-o", "--output", metavar="FIT.json", help="also write the JSON result to this file")
    f.add_argument("--plot", metavar="FILE.png",
                   help="draw the observed losses and the fitted law per run and validation set (PNG)")
    f.add_argument("--schedule", metavar="SPEC", help="schedule spec (JSON/YAML) giving the per-step LRs")
    f.add_argument("--decay", type=number_type(0.0, 1.0), default=0.999,
                   help="momentum factor lambda of S2 (default 0.999)")
    f.add_argument("--split", choices=("by_source", "by_time", "restart"), default="by_source",
                   help="how S2 is split at the transfer (default by_source)")
    f.add_argument("--warmup-as-peak", action="store_true",
                   help="count the PT warmup (the steps before the first peak) at the peak LR (P2's convention)")
    f.add_argument("--warmup-steps", type=whole_type(0, MAX_STEPS), metavar="N",
                   help="like --warmup-as-peak, for the first N steps")
    f.add_argument("--min-step", type=whole_type(-MAX_STEPS, MAX_STEPS), default=1,
                   help="ignore observations before this step (default 1)")
    f.add_argument("--step-offset", type=whole_type(-MAX_STEPS, MAX_STEPS), default=0,
                   help="added to every logged step to get the updates done (1 if steps are 0-based indices)")
    f.add_argument("--lr-shift", type=whole_type(-MAX_STEPS, MAX_STEPS), default=0,
                   help="the LR logged at step s is that of update s + LR_SHIFT (1 if logged after scheduler.step())")
    f.add_argument("--pt-steps", type=whole_type(1, MAX_STEPS),
                   help="updates of the PT phase, for files without a phase column")
    f.add_argument("--loss-column", action="append", metavar="NAME", help="loss column / W&B key (repeatable)")
    f.add_argument("--lr-column", metavar="NAME", help="learning-rate column / W&B key")
    f.add_argument("--step-column", metavar="NAME", help="step column / W&B key")
    f.add_argument("--replay", type=number_type(0.0, 1.0), default=None,
                   help="replay ratio r_pt of runs without an r_pt column")
    f.add_argument("--base", metavar="FILE", help="W&B history of the run a resumed run started from")
    f.add_argument("--objective", choices=("huber_log", "log_least_squares", "least_squares"), default="huber_log")
    f.add_argument("--delta", type=number_type(0.0, strict_lo=True), default=1e-3,
                   help="Huber threshold on log residuals (default 1e-3)")
    f.add_argument("--fix", action="append", metavar="NAME=VALUE", help="hold a parameter fixed (repeatable)")
    f.add_argument("--bound", action="append", metavar="NAME=LOW:HIGH", help="bounds of a parameter (repeatable)")
    f.add_argument("--keep-duplicates", action="store_true",
                   help="keep the PT points of CPT runs that repeat a PT run among the inputs")
    f.set_defaults(func=cmd_fit)
    return f


def add_predict_parser(sub, common):
    q = sub.add_parser("predict", parents=[common], help="predict losses for a schedule from fitted parameters",
                       description="Predict the validation losses of a schedule with a law fitted by `cptlaw fit "
                                   "--json`.")
    q.add_argument("--params", required=True, metavar="FIT.json",
                   help="fit result (`cptlaw fit --json` or demo's summary.json)")
    src = q.add_mutually_exclusive_group(required=True)
    src.add_argument("--schedule", metavar="SPEC", help="schedule spec (JSON/YAML), e.g. "
                     '{"pt": {"kind": "wsd", "peak_lr": 3e-4, "steps": 5000, "decay_steps": 1000}, "cpt": {...}}')
    src.add_argument("--lr", metavar="FILE", help="per-step LRs: .npy, or a CSV/text file with an lr column "
                     "(and optionally phase)")
    q.add_argument("--pt-steps", type=whole_type(1, MAX_STEPS),
                   help="split a single schedule: the first PT_STEPS updates are PT")
    q.add_argument("--steps", help=STEPS_HELP)
    q.add_argument("--valset", help="predict only this validation set of the fit")
    q.add_argument("--run", help="with a spec holding several runs, predict only this one")
    q.add_argument("--replay", type=number_type(0.0, 1.0), default=0.0, help="replay ratio r_pt (replay laws)")
    q.add_argument("--json", action="store_true", help="print JSON")
    q.add_argument("--csv", metavar="OUT.csv",
                   help="also write the predictions to a CSV file (step, phase, lr, loss per validation set)")
    q.add_argument("--plot", metavar="FILE.png",
                   help="draw the predicted loss curves and learning rates of the schedules (PNG)")
    q.set_defaults(func=cmd_predict)
    return q


__all__ = ["RUN_INPUTS", "add_fit_parser", "add_predict_parser", "cmd_fit", "cmd_predict", "fittable_laws",
           "law_for", "parse_steps", "per_run_mae", "print_fit"]
