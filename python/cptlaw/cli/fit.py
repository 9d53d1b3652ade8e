"""``cptlaw fit``: a law fitted to runs read from files, with its text, JSON and plot outputs, and
the ``--law`` names (from the law classes) that ``compare`` shares."""

from __future__ import annotations

import math
import os
import re
import sys
import warnings

import numpy as np

from .. import io
from ..io.fitfile import fit_document, fit_record, write_fit
from ..fit import _by_reason
from ..identifiability import IdentifiabilityWarning
from ..laws import law_class, law_names
from ._common import (
    EXIT_DATA,
    UsageError,
    Warnings,
    check_outputs,
    dumps,
    finite,
    need_matplotlib,
)
from .runs_input import (add_run_arguments, area_options, input_paths, literal_warmup_note, read_input_runs,
                         valsets_of)

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


def _name_value(items, what):
    out = {}
    for item in items or []:
        if "=" not in item:
            raise UsageError(f"{what} {item!r}: expected NAME=VALUE")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


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

    area = area_options(args)
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
    check_outputs({"-o/--output": args.output, "--plot": args.plot}, input_paths(args))
    if args.plot:
        need_matplotlib("--plot")
    with Warnings() as w:
        runs, dropped = read_input_runs(args)
        valsets = valsets_of(runs, args.valset)
        fits, results = {}, {}
        for vs in valsets:
            law_cls = law_for(args.law, runs, vs)
            opts = dict(nan_policy="omit", objective=args.objective, delta=args.delta)
            if fixed:
                opts["fixed"] = fixed
            if bounds:
                opts["bounds"] = bounds
            with warnings.catch_warnings():  # said in the output, per validation set
                warnings.simplefilter("ignore", IdentifiabilityWarning)
                res = fit_runs(law_cls, runs, valset=vs, **area, **opts)
            results[vs] = res
            fits[vs] = fit_record(res, law_cls, vs, runs, area, per_run_mae(res, runs, vs))
        note = literal_warmup_note(runs, args, results.values())
        if note:
            w.add(note)
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
    if args.json:  # the text output says it per validation set; with --json, say it on stderr
        for fj in fits.values():
            if fj["unidentifiable"]:
                w.add(_unidentifiable_line(fj))
    w.print(args.quiet)
    failed = [fj for fj in fits.values() if not fj["success"]]
    if failed:
        print(f"cptlaw: error: the fit failed: {' '.join(str(failed[0]['message']).split())}", file=sys.stderr)
        return EXIT_DATA
    return 0


def _unidentifiable_line(fj):
    where = f"validation set {fj['valset']!r}: " if fj["valset"] is not None else ""
    return f"{where}not determined by the data: {_by_reason(fj['unidentifiable'])}"


def plot_fits(path, results, runs, area):
    """PNG: observed losses vs the fitted law, one panel per validation set."""
    from matplotlib.figure import Figure

    from ..plot import finish_figure, plot_fit

    ok = {vs: res for vs, res in results.items() if res.get("law") is not None}
    if not ok:
        raise io.DataError("--plot: no fitted law to draw (every fit failed)")
    n = len(ok)
    fig = Figure(figsize=(5.8 * n + 2.4, 4.8), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, n))
    for ax, (vs, res) in zip(axes, ok.items()):
        plot_fit(res, runs, valset=vs, ax=ax, area_options=area, legend=False)
        title = f"{type(res['law']).__name__}" + (f", validation set {vs!r}" if vs is not None else "")
        ax.set_title(f"{title}\nR$^2$ {res['r2']:.4f}, MAE {res['mae']:.4f} nats", fontsize=10)
    finish_figure(fig, f"cptlaw fit: {len(runs)} run{'s' if len(runs) != 1 else ''}, observed losses (markers) and "
                       "the fitted law (lines)")
    fig.savefig(path, dpi=110)


# ======================================================================================
# parsers
# ======================================================================================


def add_fit_parser(sub, common):
    choices = fittable_laws()
    f = sub.add_parser("fit", parents=[common], help="fit a law to runs read from files",
                       description="Fit a law jointly to the runs in FILE... (CSV: step,lr,loss or long format "
                                   "run,phase,step,lr,loss_pt,loss_cpt; W&B history JSON).")
    add_run_arguments(f, "the validation set to fit (default: each one)")
    f.add_argument("--law", metavar="NAME",
                   help=f"one of {', '.join(choices)} ('-' for '_' accepted; "
                        + ", ".join(f"{fam}: {fam}_pt / {fam}_cpt by validation set" for fam in
                                    _families(law_names()) if fam in choices)
                        + "; default: cpt if a run has a CPT phase, else annealing)")
    f.add_argument("--json", action="store_true", help="print the result as JSON (input of `cptlaw predict`)")
    f.add_argument("-o", "--output", metavar="FIT.json", help="also write the JSON result to this file")
    f.add_argument("--plot", metavar="FILE.png",
                   help="draw the observed losses and the fitted law per run and validation set (PNG)")
    f.add_argument("--fix", action="append", metavar="NAME=VALUE", help="hold a parameter fixed (repeatable)")
    f.add_argument("--bound", action="append", metavar="NAME=LOW:HIGH", help="bounds of a parameter (repeatable)")
    f.set_defaults(func=cmd_fit)
    return f


__all__ = ["RUN_INPUTS", "add_fit_parser", "cmd_fit", "fittable_laws", "law_for", "per_run_mae", "plot_fits", "print_fit"]


def __dir__():  # dir() and tab completion show the public names only
    return sorted(__all__)
