"""``cptlaw predict``: the losses of schedules from a fit file, with prediction intervals (or
confidence bands) and what was judged about extrapolation, as text, JSON, CSV and a plot."""

from __future__ import annotations

import csv
import warnings

import numpy as np

from .. import io
from ..io import MAX_STEPS
from ..io.fitfile import interval_inputs
from ._common import (
    UsageError,
    Warnings,
    check_outputs,
    dumps,
    need_matplotlib,
    number_type,
    parse_values,
    whole,
    whole_type,
)

STEPS_HELP = ("steps to predict: all, a list 1000,2000, a range start:stop:count (count steps from start to stop, "
              "both included, rounded; an empty start or stop is the first or last update) or start:stop (every "
              "step from start to stop); default: about 20 evenly spaced")

#: --interval: the interval kind -> its columns (JSON, CSV, text) and its name
INTERVALS = {
    "prediction": ("pi_lo", "pi_hi", "prediction interval"),
    "confidence": ("ci_lo", "ci_hi", "confidence band"),
}
INTERVAL_MEANING = {
    "prediction": "the loss you will observe at that step (observation noise, estimated from the fit's residuals, "
                  "plus the uncertainty of the fitted parameters)",
    "confidence": "the law's mean curve (the uncertainty of the fitted parameters only; observed losses scatter "
                  "further: use --interval prediction for them)",
}


# ======================================================================================
# steps
# ======================================================================================


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


# ======================================================================================
# predict
# ======================================================================================


def _interval_kind(args, fits, warn):
    """The interval --interval asks for (None: none), after checking the fit file holds its inputs."""
    want = args.interval
    lacking = {vs: interval_inputs(res) for vs, res in fits.items()}
    lacking = {vs: what for vs, what in lacking.items() if what}
    if want == "none":
        return None
    if want is None:  # the default: prediction intervals when the fit file allows them
        if lacking:
            what = "; ".join(sorted(set(lacking.values())))
            warn(f"no prediction intervals: {args.params} lacks {what} (a fit file of an earlier cptlaw, or written "
                 "by hand; `cptlaw fit -o` writes them); --interval none silences this")
            return None
        return "prediction"
    if lacking:
        vs, what = next(iter(lacking.items()))
        where = f" (validation set {vs!r})" if vs is not None else ""
        raise io.DataError(f"--interval {want}: needs the fit's {what}{where}, which this file lacks (a fit file of "
                           "an earlier cptlaw, or written by hand; refit with `cptlaw fit -o`)", args.params)
    return want


def _interval(res, run, kind, level):
    from ..intervals import predict_interval

    feats = run.features(res["law"], **_area(res))
    with np.errstate(all="ignore"):
        iv = predict_interval(res, feats, level=level, kind=kind)
    return iv


def cmd_predict(args):
    from ..extrapolation import ExtrapolationWarning, extrapolation_checks
    from ..runs import Run, predict_run

    check_outputs({"--csv": args.csv, "--plot": args.plot},
                  {"--params": args.params, "--schedule": args.schedule, "--lr": args.lr})
    if args.plot:
        need_matplotlib("--plot")
    if args.interval == "none" and args.level is not None:
        raise UsageError("--level: sets the coverage of an interval; drop it or --interval none")
    level = 0.95 if args.level is None else args.level
    with Warnings() as w:
        fits = io.read_fit(args.params)
        if args.valset is not None:
            if args.valset not in fits:
                names = ", ".join("loss" if k is None else k for k in fits)
                raise UsageError(f"--valset {args.valset!r}: the fit has validation set(s) {names}")
            fits = {args.valset: fits[args.valset]}
        kind = _interval_kind(args, fits, w.add)
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
            with warnings.catch_warnings():  # judged below, said once per run
                warnings.simplefilter("ignore", ExtrapolationWarning)
                losses = {vs: predict_run(res, run, **_area(res)) for vs, res in fits.items()}
            _check_finite(losses, steps, name, run, w.add)
            checks = {vs: extrapolation_checks(res, run) for vs, res in fits.items()}
            for msg in dict.fromkeys(c.message for cs in checks.values() for c in cs if not c.inside):
                w.add(msg)
            entry = {
                "steps": steps,
                "phase": ["pt" if s <= len(lr_pt) else "cpt" for s in steps],
                "lr": full[steps - 1],
                "loss": losses,
                "final": {vs: float(v[-1]) for vs, v in losses.items()},
            }
            if kind is not None:
                lo_name, hi_name, _ = INTERVALS[kind]
                ivs = {vs: _interval(res, run, kind, level) for vs, res in fits.items()}
                entry[lo_name] = {vs: iv["low"] for vs, iv in ivs.items()}
                entry[hi_name] = {vs: iv["high"] for vs, iv in ivs.items()}
                _check_unbounded(ivs, fits, steps, name, kind, w.add)
            entry["extrapolation"] = {vs: [c.as_dict() for c in cs] for vs, cs in checks.items()}
            results[name] = entry
        if args.plot:
            plot_predictions(args.plot, fits, runs, kind, level)
    if args.csv:
        write_prediction_csv(args.csv, results, kind)
    law_name = type(next(iter(fits.values()))["law"]).__name__
    info = None if kind is None else {"kind": kind, "name": INTERVALS[kind][2].replace(" ", "_"),
                                      "columns": list(INTERVALS[kind][:2]), "level": level, "method": "delta",
                                      "meaning": INTERVAL_MEANING[kind]}
    if args.json:
        if len(results) == 1 and None in results:
            out = {"law": law_name, "interval": info, **results[None]}
        else:
            out = {"law": law_name, "interval": info, "runs": results}
        if list(fits) == [None]:  # single validation set: plain lists
            for r in (out["runs"].values() if "runs" in out else [out]):
                for key in ("loss", "final", "extrapolation") + (INTERVALS[kind][:2] if kind else ()):
                    r[key] = r[key][None]
        print(dumps(out))
    else:
        print_predictions(results, fits, kind, level)
        for path in (args.csv, args.plot):
            if path:
                print(f"wrote {path}")
    w.print(args.quiet)
    return 0


def _columns(valsets, kind):
    """(key, valset, header) of each value column: the loss, then the interval, per validation set."""
    out = []
    for vs in valsets:
        tail = "" if vs is None else f"_{vs}"
        out.append(("loss", vs, f"loss{tail}"))
        if kind is not None:
            lo, hi, _ = INTERVALS[kind]
            out += [(lo, vs, f"{lo}{tail}"), (hi, vs, f"{hi}{tail}")]
    return out


def print_predictions(results, fits, kind, level):
    for i, (name, res) in enumerate(results.items()):
        if i:
            print()
        if name is not None:
            print(f"run {name}")
        cols = _columns(list(res["loss"]), kind)
        print(f"{'step':>8} {'phase':>5} {'lr':>11} " + " ".join(f"{h:>10}" for _, _, h in cols))
        for j, s in enumerate(res["steps"]):
            print(f"{int(s):>8} {res['phase'][j]:>5} {res['lr'][j]:>11.4g} "
                  + " ".join(f"{res[key][vs][j]:>10.5f}" for key, vs, _ in cols))
        _print_checks(res["extrapolation"])
    if kind is not None:
        lo, hi, what = INTERVALS[kind]
        print(f"\n{lo}, {hi}: the {level:.0%} {what} of {INTERVAL_MEANING[kind]}")


def _print_checks(checks):
    """What was judged about extrapolation: once when every validation set's fit saw the same runs."""
    groups = {}
    for vs, cs in checks.items():
        key = tuple((c["phase"], c["quantity"], c["value"], tuple(c["fitted"] or ()), c["inside"]) for c in cs)
        groups.setdefault(key, []).append(vs)
    if not any(checks.values()):
        print("extrapolation: not judged (the fit file records no fitted domain)")
        return
    for vss in groups.values():
        cs = checks[vss[0]]
        where = "" if len(groups) == 1 else f" (validation set{'s' if len(vss) > 1 else ''} " \
                                           f"{', '.join(map(str, vss))})"
        bad = sum(not c["inside"] for c in cs)
        print(f"extrapolation judged against the fitted runs{where}: "
              + ("inside" if not bad else f"{bad} of {len(cs)} OUTSIDE"))
        for c in cs:
            print("  " + _check_line(c))


def _check_line(c):
    label = f"{ {'pt': 'PT', 'cpt': 'CPT'}[c['phase']]} {c['quantity']}"
    if c["fitted"] is None:
        return f"{label:<19} OUTSIDE: {c['message'].split(': ', 1)[-1]}"
    fmt = ".3g" if c["quantity"] != "length" else ".0f"
    lo, hi = c["fitted"]
    fitted = f"[{format(lo, fmt)}, {format(hi, fmt)}]"
    text = f"{label:<19} {format(c['value'], fmt):>9}   fitted {fitted:<22}"
    if c["inside"]:
        return (text + " inside").rstrip()
    alo, ahi = c["allowed"]
    return text + f" OUTSIDE (judged inside [{format(alo, fmt)}, {format(ahi, fmt)}])"


def _check_unbounded(ivs, fits, steps, name, kind, warn):
    for vs, iv in ivs.items():
        n = int(np.sum(iv["unbounded"]))
        if n:
            where = f"run {name!r}, " if name is not None else ""
            where += f"validation set {vs!r}, " if vs is not None else ""
            params = ", ".join(fits[vs].get("unidentifiable") or {})
            warn(f"the {INTERVALS[kind][2]} is unbounded at {n} of {steps.size} steps ({where}first at step "
                 f"{int(steps[np.argmax(iv['unbounded'])])}): the prediction there depends on parameters the fitted "
                 f"runs do not determine ({params})")


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


def write_prediction_csv(path, results, kind=None):
    """One row per (run, step): run (with several runs), step, phase, lr, then per validation set
    loss (``loss_<set>``) and the interval's ``pi_lo``/``pi_hi`` or ``ci_lo``/``ci_hi`` (``_<set>``)."""
    several = not (len(results) == 1 and None in results)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        first = next(iter(results.values()))
        cols = _columns(list(first["loss"]), kind)
        out.writerow((["run"] if several else []) + ["step", "phase", "lr"] + [h for _, _, h in cols])
        for name, res in results.items():
            for j, s in enumerate(res["steps"]):
                row = ([name] if several else []) + [int(s), res["phase"][j], repr(float(res["lr"][j]))]
                out.writerow(row + [repr(float(res[key][vs][j])) for key, vs, _ in cols])


def plot_predictions(path, fits, runs, kind=None, level=0.95):
    """PNG: the predicted loss curves of each schedule (one panel per validation set) above their
    learning rates, with the interval ``kind`` as a band."""
    from matplotlib.figure import Figure

    from ..plot import finish_figure, plot_prediction

    n = len(fits)
    fig = Figure(figsize=(5.8 * n + 2.4, 6.6), layout="constrained")
    axes = fig.subplots(2, n, squeeze=False, sharex="col", height_ratios=(2.2, 1))
    for col, (vs, res) in enumerate(fits.items()):
        top, bottom = axes[0, col], axes[1, col]
        plot_prediction(res, list(runs.values()), valset=vs, ax=top, lr_ax=bottom, area_options=_area(res),
                        interval=kind, level=level, legend=False)
        top.set_title(f"{type(res['law']).__name__}" + (f", validation set {vs!r}" if vs is not None else ""),
                      fontsize=10)
    what = "" if kind is None else f" with its {level:.0%} {INTERVALS[kind][2]}"
    finish_figure(fig, f"cptlaw predict: predicted validation loss{what} (top) of each learning-rate schedule "
                       "(bottom); markers: the requested steps")
    fig.savefig(path, dpi=110)


# ======================================================================================
# parser
# ======================================================================================


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
    q.add_argument("--interval", choices=("prediction", "confidence", "none"),
                   help="an interval around each predicted loss: prediction (default when the fit file holds the "
                        "fit's covariance and residual scale: where the loss you will observe lies, observation "
                        "noise included; columns pi_lo, pi_hi), confidence (the law's mean curve only; ci_lo, "
                        "ci_hi) or none")
    q.add_argument("--level", type=number_type(0.0, 0.999999, strict_lo=True),
                   help="coverage of the interval (default 0.95)")
    q.add_argument("--json", action="store_true", help="print JSON")
    q.add_argument("--csv", metavar="OUT.csv",
                   help="also write the predictions to a CSV file (step, phase, lr, loss and the interval per "
                        "validation set)")
    q.add_argument("--plot", metavar="FILE.png",
                   help="draw the predicted loss curves and learning rates of the schedules (PNG)")
    q.set_defaults(func=cmd_predict)
    return q


__all__ = ["INTERVALS", "STEPS_HELP", "add_predict_parser", "cmd_predict", "parse_steps", "plot_predictions",
           "print_predictions", "write_prediction_csv"]


def __dir__():  # dir() and tab completion show the public names only
    return sorted(__all__)
