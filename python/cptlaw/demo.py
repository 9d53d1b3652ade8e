"""``cptlaw demo``: a CPT law chosen, fitted and checked on real runs bundled with the package.

The bundled runs (``cptlaw/data/tinycpt``, see its README) are a tiny byte-level GPT
pre-trained on English prose (D_pt) and continually pre-trained on Python code (D_cpt), from
an un-annealed and from an annealed PT checkpoint. The demo

1. chooses the law with :func:`cptlaw.compare` on the fit runs: CPTLaw against the
   shared-coefficient law where the package has it, each fitted on the CPT runs of one PT
   checkpoint and predicting those of the other (``group_by="checkpoint"``);
2. fits the chosen law, one parameter vector per validation set, jointly on the PT runs and
   three CPT runs;
3. predicts three held-out CPT runs with 95% **prediction intervals** (where a single
   observed loss should fall: observation noise estimated from the fit's residuals plus the
   uncertainty of the parameters, :func:`cptlaw.intervals.predict_interval`), and reports
   how many held-out observations fall inside;
4. writes ``summary.json`` (also a fit file for ``cptlaw predict`` / ``plan``) and ``demo.png``.
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
PT_RUNS = ("pt_const", "pt_anneal")
FIT_RUNS = ("pt_const", "pt_anneal", "cpt_const", "cpt_cos", "cpt_ann_cos")
HELD_OUT = ("cpt_wsd", "cpt_rewarm_cos", "cpt_ann_rewarm_cos")
VALSETS = {"pt": "D_pt (prose)", "cpt": "D_cpt (code)"}
AREA_OPTIONS: dict[str, Any] = {"decay": 0.999, "split": "by_source", "warmup_as_peak": True}
#: the laws the demo chooses between (those this build has): P1's law and the law with one
#: annealing coefficient, meant for CPT from annealed checkpoints
CANDIDATES = ("cpt", "cpt_shared_c")
LEVEL = 0.95
INTERVAL_MEANING = ("where a single observed loss should fall: the observation noise (estimated from the fit's "
                    "residuals) plus the uncertainty of the fitted parameters")

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
    warns if they disagree with the logged ``lr`` column); ``group`` is the PT checkpoint a run
    starts from (a PT run is its own)."""
    from . import io

    runs = {}
    for name in FIT_RUNS + HELD_OUT:
        folder = os.path.join(data_dir, f"A_{name}")
        with open(os.path.join(folder, "meta.json")) as fh:
            meta = json.load(fh)
        if meta["phase"] == "pt":
            sched = io.PhaseSchedules(tinycpt_pt_lr("anneal" in name))
            source = name
        else:
            spec = meta["cpt_schedule"]
            sched = io.PhaseSchedules(tinycpt_pt_lr("anneal" in meta["source_pt_run"]),
                                      tinycpt_cpt_lr(spec["kind"], float(spec["peak_mult"])))
            source = meta["source_pt_run"].removeprefix("A_")
        (run,) = io.read_csv_runs(os.path.join(folder, "curve.csv"), schedule=sched, name=name,
                                  r_pt=float(meta.get("replay", 0.0)))
        run.group = source  # the PT checkpoint the run starts from
        runs[name] = run
    return runs


def fit_points(runs: dict) -> dict:
    """The observations each run contributes (no point counted twice): pt_const all,
    pt_anneal after its branch point (update 4000; before, it repeats pt_const), CPT runs
    their CPT phase (their PT history repeats their checkpoint's run)."""
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


def choose_law(runs: dict, names=FIT_RUNS):
    """(law class, :class:`cptlaw.compare.CompareResult`): the candidate laws this build has,
    cross-validated on ``names``; by PT checkpoint when their CPT runs start from more than one."""
    from .compare import compare
    from .laws import law_class, law_names

    laws = [law_class(n) for n in CANDIDATES if n in law_names()]
    fit_set = [runs[n] for n in names]
    checkpoints = {r.group for r in fit_set if r.has_cpt}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # what matters is in the result
        res = compare(laws, fit_set, group_by="group" if len(checkpoints) > 1 else None, **AREA_OPTIONS)
    best = res.best or laws[0].__name__
    return next(c for c in laws if c.__name__ == best), res


def _bootstrap(res, law_cls, fit_set, valset, n_boot):
    """A pairs bootstrap of the fit (:mod:`cptlaw.bootstrap`)."""
    from .bootstrap import bootstrap

    feats = [r.features(law_cls, **AREA_OPTIONS) for r in fit_set]
    features = {k: np.concatenate([f[k] for f in feats]) for k in feats[0]}
    loss = np.concatenate([r.losses(valset) for r in fit_set])
    return bootstrap(res, features, loss, n_boot=n_boot, seed=0, level=LEVEL)


def _interval(res, boot, law_cls, run):
    """The 95% prediction interval at the run's steps: the delta method, or the bootstrap's."""
    from .intervals import predict_interval

    feats = run.features(law_cls, **AREA_OPTIONS)
    iv = boot.prediction_interval(feats) if boot is not None else predict_interval(res, feats, level=LEVEL)
    return np.asarray(iv["low"]), np.asarray(iv["high"])


def run_demo(out_dir: str, *, plot: bool = True, n_boot: int = 0, stream=None) -> dict:
    """Choose the law, fit, predict, write ``out_dir/summary.json`` (and ``demo.png``), print a
    table.

    The held-out runs get 95% prediction intervals (the loss one will observe), by the delta
    method (``n_boot=0``) or from ``n_boot`` pairs-bootstrap resamples with resampled residual
    noise. Returns the summary (a dict, as written)."""
    from . import __version__
    from .io.fitfile import dumps, fit_record
    from .runs import ExtrapolationWarning, fit_runs, predict_run

    stream = sys.stdout if stream is None else stream
    t0 = time.perf_counter()
    os.makedirs(out_dir, exist_ok=True)
    runs = fit_points(load_runs())
    fit_set = [runs[n] for n in FIT_RUNS]
    law_cls, chosen = choose_law(runs)
    method = "bootstrap" if n_boot else "delta"
    summary: dict[str, Any] = {
        "description": "A CPT law chosen by cross-validation (cptlaw.compare), fitted per validation set on real "
                       "tinycpt runs bundled with cptlaw, predicting held-out CPT runs with 95% prediction intervals",
        "data": "cptlaw/data/tinycpt (a 120k-parameter byte-level GPT: PT on prose, CPT on Python code, from an "
                "un-annealed and an annealed PT checkpoint)",
        "law": law_cls.__name__,
        "law_choice": {"candidates": [c for c in chosen.scores], "fitted_on": list(FIT_RUNS),
                       "recommendation": chosen.recommendation, "compare": chosen.to_dict()},
        "area_options": AREA_OPTIONS,
        "fit_runs": list(FIT_RUNS),
        "held_out": list(HELD_OUT),
        "intervals": {"kind": "prediction", "name": "prediction_interval", "level": LEVEL, "method": method,
                      "columns": ["pi_lo", "pi_hi"], "meaning": INTERVAL_MEANING,
                      **({"n_boot": n_boot, "bootstrap": "pairs", "seed": 0} if n_boot else {})},
        "valsets": {},
    }
    fits: dict[str, Any] = {}
    bands: dict[str, dict[str, Any]] = {}
    for vs in VALSETS:
        res = fit_runs(law_cls, fit_set, valset=vs, **AREA_OPTIONS)
        fits[vs] = res
        boot = _bootstrap(res, law_cls, fit_set, vs, n_boot) if n_boot else None
        maes: dict[str, float] = {}
        final: dict[str, dict[str, Any]] = {}
        inside: dict[str, Any] = {}
        bands[vs] = {}
        for name, run in runs.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ExtrapolationWarning)
                pred = predict_run(res, run)
            obs = run.losses(vs)
            maes[name] = _mae(pred, obs)
            lo, hi = _interval(res, boot, law_cls, run)
            bands[vs][name] = (lo, hi)
            final[name] = {"step": int(run.steps[-1]), "observed": float(obs[-1]), "predicted": float(pred[-1]),
                           "pi_lo": float(lo[-1]), "pi_hi": float(hi[-1]),
                           "observed_inside": bool(lo[-1] <= obs[-1] <= hi[-1])}
            ok = np.isfinite(obs)
            inside[name] = (int(np.sum((obs[ok] >= lo[ok]) & (obs[ok] <= hi[ok]))), int(ok.sum()))
        fj = fit_record(res, law_cls, vs, fit_set, AREA_OPTIONS, {n: maes[n] for n in FIT_RUNS})
        fj["description"] = VALSETS[vs]
        fj["prediction_mae"] = {n: maes[n] for n in HELD_OUT}
        fj["final_loss"] = final
        k = sum(inside[n][0] for n in HELD_OUT)
        m = sum(inside[n][1] for n in HELD_OUT)
        fj["coverage"] = {"held_out_points": k / m, "inside": k, "points": m,
                          "per_run": {n: inside[n][0] / inside[n][1] for n in HELD_OUT}}
        summary["valsets"][vs] = fj
    held_in = sum(summary["valsets"][v]["coverage"]["inside"] for v in VALSETS)
    held_n = sum(summary["valsets"][v]["coverage"]["points"] for v in VALSETS)
    finals = [summary["valsets"][v]["final_loss"][n]["observed_inside"] for v in VALSETS for n in HELD_OUT]
    summary["intervals"]["coverage"] = {
        "held_out_points": held_in / held_n,
        "held_out_final_losses": f"{sum(finals)} of {len(finals)}",
        "what": "share of the held-out runs' observations (both validation sets) inside their 95% prediction "
                "interval, and of their final observed losses",
    }
    summary["cptlaw_version"] = __version__

    png = os.path.join(out_dir, "demo.png")
    plot_note = None
    if plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            plot_note = "demo.png not written: plotting needs matplotlib (pip install cptlaw[plot])"
        else:
            _plot(summary, runs, png, fits, bands)
            summary["plot"] = "demo.png"
    if "plot" not in summary:
        summary["plot"] = None
    summary["seconds"] = round(time.perf_counter() - t0, 3)
    path = os.path.join(out_dir, "summary.json")
    with open(path, "w") as fh:
        fh.write(dumps(summary) + "\n")
    _print_table(summary, chosen, stream)
    written = [path] + ([png] if summary["plot"] else [])
    print(f"wrote {', '.join(written)} ({summary['seconds']:.1f} s)", file=stream)
    if plot_note:
        print(plot_note, file=stream)
    return summary


def _plot(summary, runs, png, fits, bands):
    from matplotlib.figure import Figure

    from .plot import finish_figure, plot_fit, run_style

    # one style per run across the panels: the predictions get the most distinct colours, the two
    # fitted cosine runs (close to each other) orange and sky blue, the PT runs black and wine
    style = {n: run_style(i) for i, n in enumerate(HELD_OUT + ("cpt_const", "cpt_cos", "cpt_ann_cos", "pt_const",
                                                               "pt_anneal"))}
    style["pt_const"]["ls"], style["pt_anneal"]["ls"] = "-", "--"
    fig = Figure(figsize=(13, 10.5), layout="constrained")
    axes = fig.subplots(2, 2)
    for col, (vs, fj) in enumerate(summary["valsets"].items()):
        top, bottom = axes[0, col], axes[1, col]
        plot_fit(fits[vs], [runs[n] for n in FIT_RUNS], valset=vs, ax=top, fitted=FIT_RUNS, legend=False,
                 styles=[style[n] for n in FIT_RUNS])
        top.set_title(f"{fj['description']}: the fit (R$^2$ {fj['r2']:.4f})", fontsize=10)
        # the held-out runs, CPT phase: predictions and their prediction intervals
        plot_fit(fits[vs], [runs[n] for n in HELD_OUT], valset=vs, ax=bottom, fitted=FIT_RUNS, legend=False,
                 styles=[style[n] for n in HELD_OUT], bands={n: bands[vs][n] for n in HELD_OUT},
                 band_label=f"{LEVEL:.0%} prediction interval: where an observed loss should fall",
                 transfer=False)
        cov = fj["coverage"]
        bottom.set_title(f"{fj['description']}: held-out runs, predicted\nMAE "
                         + ", ".join(f"{n} {fj['prediction_mae'][n]:.3f}" for n in HELD_OUT)
                         + f"\n{LEVEL:.0%} prediction intervals hold {cov['held_out_points']:.0%} of the observations",
                         fontsize=10)
    finish_figure(fig, f"cptlaw demo: {summary['law']} (chosen by cross-validation) fitted on real tinycpt runs "
                       "(top), held-out CPT runs predicted (bottom)", ncol=4)
    fig.savefig(png, dpi=100)


def _print_table(summary, chosen, stream):
    vsets = list(summary["valsets"])
    heads = [summary["valsets"][v]["description"] for v in vsets]
    w = 22
    p = lambda *a: print(*a, file=stream)  # noqa: E731
    p(f"cptlaw demo: {summary['data']}")
    cand = " vs ".join(summary["law_choice"]["candidates"])
    how = ("held out by PT checkpoint" if summary["law_choice"]["compare"]["group_by"] == "group"
           else "held out run by run")
    p(f"choosing the law ({cand}; cptlaw.compare on the fit runs, {how}):")
    p(f"  {summary['law_choice']['recommendation']}")
    p(f"fit: {summary['law']} on {', '.join(summary['fit_runs'])}, warmup_as_peak=True")
    p(f"{'':<34}" + "".join(f"{h:>{w}}" for h in heads))
    p(f"{'R^2 (fit)':<34}" + "".join(f"{summary['valsets'][v]['r2']:>{w}.5f}" for v in vsets))
    names = list(summary["valsets"][vsets[0]]["params"])
    for name in names:
        cells = []
        for v in vsets:
            fj = summary["valsets"][v]
            se = fj["stderr"].get(name)
            val = fj["params"][name]
            cells.append(f"{val:.4g} ± {se:.2g}" if se is not None and np.isfinite(se) else f"{val:.4g}")
        p(f"{name:<34}" + "".join(f"{c:>{w}}" for c in cells))
    p(f"MAE by run (nats); held-out runs: prediction error, and the share of their observations inside the "
      f"{LEVEL:.0%} prediction interval:")
    for n in summary["fit_runs"] + summary["held_out"]:
        role = "fit" if n in summary["fit_runs"] else "held out"
        cells = []
        for v in vsets:
            fj = summary["valsets"][v]
            if role == "fit":
                cells.append(f"{next(r['mae'] for r in fj['runs'] if r['name'] == n):.4f}")
            else:
                cells.append(f"{fj['prediction_mae'][n]:.4f} ({fj['coverage']['per_run'][n]:.0%} in PI)")
        p(f"  {n + ' (' + role + ')':<32}" + "".join(f"{c:>{w}}" for c in cells))
    iv = summary["intervals"]
    cov = iv["coverage"]
    method = "delta method" if iv["method"] == "delta" else f"pairs bootstrap, {iv['n_boot']} resamples"
    p(f"{LEVEL:.0%} prediction interval ({method}): {iv['meaning']}. On the held-out runs it holds "
      f"{cov['held_out_points']:.0%} of the observations ("
      + ", ".join(f"{summary['valsets'][v]['description']} {summary['valsets'][v]['coverage']['held_out_points']:.0%}"
                  for v in vsets)
      + f") and {cov['held_out_final_losses']} final losses.")


__all__ = ["AREA_OPTIONS", "CANDIDATES", "DATA_DIR", "FIT_RUNS", "HELD_OUT", "VALSETS", "choose_law", "fit_points", "load_runs",
           "run_demo", "tinycpt_cpt_lr", "tinycpt_pt_lr"]


def __dir__():  # dir() and tab completion show the public names only
    return sorted(__all__)
