"""``cptlaw demo``: the CPT law fitted to real runs bundled with the package.

The bundled runs (``cptlaw/data/tinycpt``, see its README) are a tiny byte-level GPT
pre-trained on English prose (D_pt) and continually pre-trained on Python code (D_cpt). The
demo fits P1's CPT law, one parameter vector per validation set, jointly on two PT runs and
two CPT schedules, predicts two held-out CPT schedules, and writes ``summary.json`` and
``demo.png``.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from typing import Any

import numpy as np

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "tinycpt")
FIT_RUNS = ("pt_const", "pt_anneal", "cpt_const", "cpt_cos")
HELD_OUT = ("cpt_wsd", "cpt_rewarm_cos")
VALSETS = {"pt": "D_pt (prose)", "cpt": "D_cpt (code)"}
AREA_OPTIONS: dict[str, Any] = {"decay": 0.999, "split": "by_source", "warmup_as_peak": True}

_PEAK, _PT_STEPS, _CPT_STEPS, _PT_WARMUP = 3e-3, 5000, 4000, 200


def tinycpt_pt_lr(anneal: bool) -> np.ndarray:
    """Per-step PT LRs of the tinycpt runs (``lr[k]`` is update k+1's): warmup ``P*t/200``
    to update 200, then P; ``anneal``: from update 4001 linear to 0.1 P at 5000."""
    t = np.arange(1, _PT_STEPS + 1, dtype=np.float64)
    lr = np.where(t <= _PT_WARMUP, _PEAK * t / _PT_WARMUP, _PEAK)
    if anneal:
        lr = np.where(t > 4000, _PEAK * (1 - 0.9 * (t - 4000) / 1000), lr)
    return lr


def tinycpt_cpt_lr(kind: str, mult: float) -> np.ndarray:
    """Per-step CPT LRs of the tinycpt runs (updates 1..4000), from ``meta.json``'s
    ``cpt_schedule`` kind and peak multiplier."""
    t = np.arange(1, _CPT_STEPS + 1, dtype=np.float64)
    p = _PEAK * mult
    if kind == "const":
        return np.full(t.shape, p)
    if kind == "cos":
        return p / 2 * (1 + np.cos(np.pi * t / _CPT_STEPS))
    if kind == "wsd":
        return np.where(t <= 3200, p, p * (_CPT_STEPS - t) / 800)
    if kind == "rewarm_cos":
        return np.where(t <= 100, p * t / 100, p / 2 * (1 + np.cos(np.pi * (t - 100) / 3900)))
    raise ValueError(f"unknown tinycpt CPT schedule {kind!r}")


def load_runs(data_dir: str = DATA_DIR) -> dict:
    """The bundled runs as ``cptlaw.Run`` objects (all their observations, both validation
    sets), with per-step LRs rebuilt from the schedule formulas of ``meta.json`` (the reader
    warns if they disagree with the logged ``lr`` column)."""
    from . import io

    runs = {}
    for name in FIT_RUNS + HELD_OUT:
        folder = os.path.join(data_dir, f"A_{name}")
        with open(os.path.join(folder, "meta.json")) as fh:
            meta = json.load(fh)
        if meta["phase"] == "pt":
            sched = io.PhaseSchedules(tinycpt_pt_lr("anneal" in name))
        else:
            spec = meta["cpt_schedule"]
            sched = io.PhaseSchedules(tinycpt_pt_lr("anneal" in meta["source_pt_run"]),
                                      tinycpt_cpt_lr(spec["kind"], float(spec["peak_mult"])))
        (run,) = io.read_csv_runs(os.path.join(folder, "curve.csv"), schedule=sched, name=name,
                                  r_pt=float(meta.get("replay", 0.0)))
        runs[name] = run
    return runs


def fit_points(runs: dict) -> dict:
    """The observations each run contributes (no point counted twice): pt_const all,
    pt_anneal after its branch point (update 4000; before, it repeats pt_const), CPT runs
    their CPT phase (their PT history repeats pt_const)."""
    from .io import select

    out = {}
    for name, run in runs.items():
        if name == "pt_const":
            out[name] = run
        elif name == "pt_anneal":
            out[name] = select(run, min_step=4001)
        else:
            out[name] = select(run, phase="cpt")
    return out


def _mae(pred, obs):
    ok = np.isfinite(obs)
    return float(np.mean(np.abs(pred[ok] - obs[ok])))


def _bootstrap_samples(res, fit_set, valset, n_boot):
    """Parameter samples of a pairs bootstrap of the fit (:mod:`cptlaw.bootstrap`)."""
    from .bootstrap import bootstrap
    from .laws import CPTLaw

    feats = [r.features(CPTLaw, **AREA_OPTIONS) for r in fit_set]
    features = {k: np.concatenate([f[k] for f in feats]) for k in feats[0]}
    loss = np.concatenate([r.losses(valset) for r in fit_set])
    return bootstrap(res, features, loss, n_boot=n_boot, seed=0)["samples"]


def run_demo(out_dir: str, *, plot: bool = True, n_boot: int = 200, stream=None) -> dict:
    """Fit, predict, write ``out_dir/summary.json`` (and ``demo.png``), print a table.

    ``n_boot`` bootstrap resamples (0: none) give 95% bands of the predictions (parameter
    uncertainty only) in the plot and for each run's final loss in the summary.
    Returns the summary (a dict, as written)."""
    from . import __version__
    from .io.fitfile import dumps, fit_record
    from .laws import CPTLaw
    from .runs import ExtrapolationWarning, fit_runs, predict_run

    stream = sys.stdout if stream is None else stream
    t0 = time.perf_counter()
    os.makedirs(out_dir, exist_ok=True)
    runs = fit_points(load_runs())
    fit_set = [runs[n] for n in FIT_RUNS]
    summary: dict[str, Any] = {
        "description": "P1's CPT law fitted per validation set on real tinycpt runs (bundled with cptlaw), "
                       "predicting held-out CPT schedules",
        "data": "cptlaw/data/tinycpt (a 120k-parameter byte-level GPT: PT on prose, CPT on Python code)",
        "law": "CPTLaw",
        "area_options": AREA_OPTIONS,
        "fit_runs": list(FIT_RUNS),
        "held_out": list(HELD_OUT),
        "valsets": {},
    }
    samples = {}
    for vs in VALSETS:
        res = fit_runs(CPTLaw, fit_set, valset=vs, **AREA_OPTIONS)
        if n_boot:
            samples[vs] = _bootstrap_samples(res, fit_set, vs, n_boot)
        maes: dict[str, float] = {}
        final: dict[str, dict[str, Any]] = {}
        for name, run in runs.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ExtrapolationWarning)
                pred = predict_run(res, run)
            obs = run.losses(vs)
            maes[name] = _mae(pred, obs)
            final[name] = {"step": int(run.steps[-1]), "observed": float(obs[-1]), "predicted": float(pred[-1])}
            if n_boot:
                last = run.features(CPTLaw, **AREA_OPTIONS)
                last = {k: v[-1:] for k, v in last.items()}
                draws = [CPTLaw.from_vector(x)(**last)[0] for x in samples[vs]]
                final[name]["band_95"] = [float(q) for q in np.percentile(draws, [2.5, 97.5])]
        fj = fit_record(res, CPTLaw, vs, fit_set, AREA_OPTIONS, {n: maes[n] for n in FIT_RUNS})
        fj["description"] = VALSETS[vs]
        fj["prediction_mae"] = {n: maes[n] for n in HELD_OUT}
        fj["final_loss"] = final
        summary["valsets"][vs] = fj
    summary["bootstrap"] = {"n_boot": n_boot, "method": "pairs", "seed": 0} if n_boot else None
    summary["cptlaw_version"] = __version__

    png = os.path.join(out_dir, "demo.png")
    plot_note = None
    if plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            plot_note = "demo.png not written: plotting needs matplotlib (pip install cptlaw[plot])"
        else:
            _plot(summary, runs, png, samples)
            summary["plot"] = "demo.png"
    if "plot" not in summary:
        summary["plot"] = None
    summary["seconds"] = round(time.perf_counter() - t0, 3)
    path = os.path.join(out_dir, "summary.json")
    with open(path, "w") as fh:
        fh.write(dumps(summary) + "\n")
    _print_table(summary, stream)
    written = [path] + ([png] if summary["plot"] else [])
    print(f"wrote {', '.join(written)} ({summary['seconds']:.1f} s)", file=stream)
    if plot_note:
        print(plot_note, file=stream)
    return summary


def _plot(summary, runs, png, samples):
    from matplotlib.figure import Figure

    from .laws import CPTLaw
    from .plot import plot_fit

    fig = Figure(figsize=(12, 8.5), layout="constrained")
    axes = fig.subplots(2, 2)
    order = [runs[n] for n in FIT_RUNS + HELD_OUT]
    cpt_only = [runs[n] for n in FIT_RUNS + HELD_OUT if n.startswith("cpt")]
    for col, (vs, fj) in enumerate(summary["valsets"].items()):
        law = CPTLaw(**fj["params"])
        top, bottom = axes[0, col], axes[1, col]
        bands = samples.get(vs)
        plot_fit(law, order, valset=vs, ax=top, fitted=FIT_RUNS, area_options=AREA_OPTIONS, legend=col == 0,
                 bands=bands)
        top.axvline(_PT_STEPS, color="0.6", lw=0.8, ls=":")
        held = ", ".join(f"{n} {fj['prediction_mae'][n]:.3f}" for n in HELD_OUT)
        top.set_title(f"{fj['description']}: R$^2$ {fj['r2']:.4f} (fit); held-out MAE {held}", fontsize=9)
        # the CPT phase close up, colours as above
        plot_fit(law, cpt_only, valset=vs, ax=bottom, fitted=FIT_RUNS, area_options=AREA_OPTIONS, legend=False,
                 bands=bands,
                 colors=[f"C{i}" for i, n in enumerate(FIT_RUNS + HELD_OUT) if n.startswith("cpt")])
        bottom.set_title(f"{fj['description']}: CPT phase", fontsize=9)
    boot = summary.get("bootstrap")
    fig.suptitle("cptlaw demo: CPT law fitted on tinycpt runs (solid), held-out CPT schedules predicted (dashed)"
                 + (f"; 95% bootstrap bands ({boot['n_boot']} resamples)" if boot else ""), fontsize=11)
    fig.savefig(png, dpi=100)


def _print_table(summary, stream):
    vsets = list(summary["valsets"])
    heads = [summary["valsets"][v]["description"] for v in vsets]
    w = 18
    print(f"cptlaw demo: CPT law fitted on {', '.join(summary['fit_runs'])} (bundled tinycpt runs), "
          f"warmup_as_peak=True", file=stream)
    print(f"{'':<28}" + "".join(f"{h:>{w}}" for h in heads), file=stream)
    print(f"{'R^2 (fit)':<28}" + "".join(f"{summary['valsets'][v]['r2']:>{w}.5f}" for v in vsets), file=stream)
    names = list(summary["valsets"][vsets[0]]["params"])
    for p in names:
        cells = []
        for v in vsets:
            fj = summary["valsets"][v]
            se = fj["stderr"].get(p)
            val = fj["params"][p]
            cells.append(f"{val:.4g} ± {se:.2g}" if se is not None and np.isfinite(se) else f"{val:.4g}")
        print(f"{p:<28}" + "".join(f"{c:>{w}}" for c in cells), file=stream)
    print("MAE by run (prediction error for the held-out runs):", file=stream)
    for n in summary["fit_runs"] + summary["held_out"]:
        role = "fit" if n in summary["fit_runs"] else "held-out"
        vals = []
        for v in vsets:
            fj = summary["valsets"][v]
            m = fj["prediction_mae"][n] if role == "held-out" else next(r["mae"] for r in fj["runs"] if r["name"] == n)
            vals.append(m)
        print(f"  {n + ' (' + role + ')':<26}" + "".join(f"{m:>{w}.4f}" for m in vals), file=stream)


__all__ = ["AREA_OPTIONS", "DATA_DIR", "FIT_RUNS", "HELD_OUT", "VALSETS", "fit_points", "load_runs", "run_demo",
           "tinycpt_cpt_lr", "tinycpt_pt_lr"]


def __dir__():  # dir() and tab completion show the public names only
    return sorted(__all__)
