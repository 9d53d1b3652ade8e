"""Plots (matplotlib, the optional extra ``cptlaw[plot]``; imported only when a function is
called). Every function draws on ``ax`` (a new figure's axes when None) and returns it.

* :func:`plot_fit`: observed losses vs the fitted law (solid, runs in the fit set) and its
  predictions (dashed, held-out runs), per run, with optional bootstrap bands;
* :func:`plot_prediction`: predicted loss curves of schedules (no observations), with their LRs;
* :func:`plot_tradeoff`: D_pt loss vs D_cpt loss of candidate runs and their Pareto front;
* :func:`plot_heatmap`: a grid of values (e.g. a weighted loss over peak LR x CPT steps).
"""

from __future__ import annotations

import numpy as np

from . import _validate

__all__ = ["pareto_front", "plot_fit", "plot_heatmap", "plot_prediction", "plot_tradeoff"]


def _mpl():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError("plotting needs matplotlib: pip install cptlaw[plot]") from None
    import matplotlib.pyplot as plt

    return plt


def _axes(ax):
    if ax is not None:
        return ax
    plt = _mpl()
    _, ax = plt.subplots()
    return ax


def _law_and_options(result_or_law, area_options):
    from .laws import Law

    opts = {"decay": 0.999, "split": "by_source", "warmup_as_peak": False}
    law = result_or_law
    if isinstance(result_or_law, dict):
        law = result_or_law.get("law")
        dom = result_or_law.get("domain") or {}
        opts.update(dom.get("area_options") or result_or_law.get("area_options") or {})
    if not isinstance(law, Law):
        raise TypeError("result_or_law: expected a fitted law or a successful fit result (cptlaw.fit_runs)")
    if area_options:
        opts.update(area_options)
    return law, opts


def _band_from_samples(law, samples, feats, level):
    cls = type(law)
    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim != 2 or samples.shape[1] != len(cls.param_names):
        raise ValueError(f"bands: expected parameter samples of shape (n, {len(cls.param_names)}) "
                         f"({', '.join(cls.param_names)}), got {samples.shape}")
    curves = []
    for row in samples:
        if np.all(np.isfinite(row)):
            with np.errstate(all="ignore"):
                curves.append(cls.from_vector(row)(**feats))
    if not curves:
        raise ValueError("bands: no finite parameter sample")
    curves = np.asarray(curves)
    curves = curves[np.all(np.isfinite(curves), axis=1)]
    if not len(curves):
        raise ValueError("bands: the law is not finite for any parameter sample")
    lo, hi = np.percentile(curves, [(1 - level) / 2 * 100, (1 + level) / 2 * 100], axis=0)
    return lo, hi


def plot_fit(result_or_law, runs, valset=None, ax=None, bands=None, *, fitted=None, area_options=None,
             level=0.95, points=400, legend=True, colors=None):
    """Observed losses and the law's curve for each run.

    Parameters
    ----------
    result_or_law : fit result or law
        A :func:`cptlaw.fit_runs` result (its area options are used) or a law instance.
    runs : Run or list of Run
        Each run's observations are drawn as dots and the law as a line over the observed
        step range, one colour per run.
    valset : str, optional
        The validation set to draw (for runs with several).
    ax : matplotlib Axes, optional
    bands : optional
        Uncertainty bands: parameter samples ``(n, n_params)`` (e.g. a bootstrap result's
        ``samples``, or the result itself), drawn as the ``level`` percentile band of the
        curves; or a dict ``{run name: (low, high)}`` of arrays at the run's ``steps``.
    fitted : list of str or Run, optional
        The runs in the fit set: their curves are solid ("fitted"), the others dashed
        ("predicted"). Default: all solid.
    area_options : dict, optional
        ``decay``, ``split``, ``warmup_as_peak`` for the areas (default: the result's, else
        the library defaults).
    level : float
        Coverage of the bands drawn from parameter samples.
    points : int
        Points of each law curve.
    legend : bool
        Draw a legend (runs, then the line styles).
    colors : list, optional
        One matplotlib colour per run (default ``C0``, ``C1``, ...).

    Returns
    -------
    matplotlib Axes
    """
    from matplotlib.lines import Line2D

    from .runs import Run, _runs

    law, opts = _law_and_options(result_or_law, area_options)
    runs = _runs(runs)  # a Run or Runs, checked one at a time
    ax = _axes(ax)
    fitted_names = None
    if fitted is not None:
        fitted_names = {f.name if isinstance(f, Run) else str(f) for f in fitted}
    samples = None
    if bands is not None and not (isinstance(bands, dict) and "samples" not in bands):
        samples = bands["samples"] if isinstance(bands, dict) else bands
    handles = []
    any_pred = any_fit = False
    span = [np.inf, -np.inf]  # y range of the dots and lines (bands may not stretch the axis)
    for i, run in enumerate(runs):
        color = f"C{i % 10}" if colors is None else colors[i % len(colors)]
        steps = np.asarray(run.steps)
        obs = run.losses(valset)
        ax.plot(steps, obs, "o", ms=2.5, color=color, alpha=0.55, mec="none")
        lo, hi = int(steps.min()), int(steps.max())
        dense = np.unique(np.concatenate([np.linspace(lo, hi, points).round().astype(np.int64), steps]))
        probe = Run(lr_pt=run.lr_pt, steps=dense, lr_cpt=run.lr_cpt, r_pt=run.r_pt, name=run.name)
        feats = probe.features(law, **opts)
        pred = law(**feats)
        is_fit = fitted_names is None or run.name in fitted_names
        any_fit |= is_fit
        any_pred |= not is_fit
        ax.plot(dense, pred, "-" if is_fit else "--", color=color, lw=1.4)
        vals = np.concatenate([obs[np.isfinite(obs)], pred[np.isfinite(pred)]])
        if vals.size:
            span = [min(span[0], vals.min()), max(span[1], vals.max())]
        if samples is not None:
            blo, bhi = _band_from_samples(law, samples, feats, level)
            ax.fill_between(dense, blo, bhi, color=color, alpha=0.18, lw=0)
        elif isinstance(bands, dict) and run.name in bands:
            blo, bhi = (np.asarray(b, dtype=np.float64) for b in bands[run.name])
            if blo.shape != steps.shape or bhi.shape != steps.shape:
                raise ValueError(f"bands[{run.name!r}]: low and high must have one value per step of the run")
            ax.fill_between(steps, blo, bhi, color=color, alpha=0.18, lw=0)
        handles.append(Line2D([], [], color=color, lw=1.4, ls="-" if is_fit else "--",
                              label=f"{run.name}{'' if fitted_names is None else (' (fit)' if is_fit else ' (held out)')}"))
    if bands is not None and np.isfinite(span).all() and span[1] > span[0]:
        pad = 0.05 * (span[1] - span[0])
        ax.set_ylim(span[0] - pad, span[1] + pad)
    ax.set_xlabel("step (optimizer updates)")
    ax.set_ylabel("validation loss" + (f" ({valset})" if valset is not None else ""))
    if legend:
        keys = [Line2D([], [], color="0.3", marker="o", ls="none", ms=3, label="observed")]
        if any_fit:
            keys.append(Line2D([], [], color="0.3", ls="-", label="law (fitted)"))
        if any_pred:
            keys.append(Line2D([], [], color="0.3", ls="--", label="law (predicted)"))
        ax.legend(handles=handles + keys, fontsize=7, ncol=2 if len(handles) > 4 else 1)
    return ax


def _per_step(lr):
    return np.asarray(lr.values() if callable(getattr(lr, "values", None)) else lr, dtype=np.float64)


def plot_prediction(result_or_law, runs, valset=None, ax=None, *, lr_ax=None, area_options=None, points=400,
                    legend=True, colors=None):
    """The law's predicted loss over the whole length of each run (no observations needed).

    Curves are dashed, as the predictions of :func:`plot_fit`; the runs' own ``steps`` are
    marked on them. With ``lr_ax`` (another Axes, e.g. below ``ax``), the runs' learning
    rates are drawn there in the same colours. A dotted line marks each PT -> CPT transfer. The
    y axis spans the curves after the first 2% of the steps (the laws diverge at step 0).
    Arguments as in :func:`plot_fit`. Returns ``ax``.
    """
    from matplotlib.lines import Line2D

    from .runs import Run, _runs

    law, opts = _law_and_options(result_or_law, area_options)
    runs = _runs(runs)  # a Run or Runs, checked one at a time
    ax = _axes(ax)
    handles, transfers = [], set()
    span = [np.inf, -np.inf]  # y range after the first 2% of each run (the laws diverge at step 0)
    for i, run in enumerate(runs):
        color = f"C{i % 10}" if colors is None else colors[i % len(colors)]
        lr_pt = _per_step(run.lr_pt)
        lr = lr_pt if run.lr_cpt is None else np.concatenate([lr_pt, _per_step(run.lr_cpt)])
        total = lr.size
        steps = np.asarray(run.steps)
        dense = np.unique(np.concatenate([np.linspace(1, total, points).round().astype(np.int64), steps]))
        probe = Run(lr_pt=run.lr_pt, steps=dense, lr_cpt=run.lr_cpt, r_pt=run.r_pt, name=run.name)
        pred = law(**probe.features(law, **opts))
        ax.plot(dense, pred, "--", color=color, lw=1.4)
        ax.plot(steps, pred[np.searchsorted(dense, steps)], "o", ms=2.5, color=color, mec="none")
        late = pred[(dense >= 0.02 * total) & np.isfinite(pred)]
        if late.size:
            span = [min(span[0], late.min()), max(span[1], late.max())]
        if run.lr_cpt is not None:
            transfers.add(lr_pt.size)
        if lr_ax is not None:
            lr_ax.plot(np.arange(1, total + 1), lr, "-", color=color, lw=1.2)
        handles.append(Line2D([], [], color=color, lw=1.4, ls="--", label=run.name or f"run {i + 1}"))
    for t in sorted(transfers):
        for a in (ax,) if lr_ax is None else (ax, lr_ax):
            a.axvline(t, color="0.6", lw=0.8, ls=":")
    if np.isfinite(span).all() and span[1] > span[0]:
        pad = 0.08 * (span[1] - span[0])
        ax.set_ylim(span[0] - pad, span[1] + pad)
    ax.set_ylabel("predicted validation loss" + (f" ({valset})" if valset is not None else ""))
    if lr_ax is not None:
        lr_ax.set_ylabel("learning rate")
        lr_ax.set_xlabel("step (optimizer updates)")
        lr_ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    else:
        ax.set_xlabel("step (optimizer updates)")
    if legend:
        keys = [Line2D([], [], color="0.3", marker="o", ls="none", ms=3, label="requested steps")]
        if transfers:
            keys.append(Line2D([], [], color="0.6", lw=0.8, ls=":", label="PT -> CPT"))
        ax.legend(handles=handles + keys, fontsize=7, ncol=2 if len(handles) > 4 else 1)
    return ax


def pareto_front(loss_pt, loss_cpt) -> np.ndarray:
    """Boolean mask of the points not dominated in (loss_pt, loss_cpt), both minimised."""
    x = _validate.as_float_array(loss_pt, "loss_pt", allow_empty=True).reshape(-1)
    y = _validate.as_float_array(loss_cpt, "loss_cpt", allow_empty=True).reshape(-1)
    if x.shape != y.shape:
        raise ValueError(f"loss_pt, loss_cpt: need the same number of points, got {x.size} and {y.size}")
    ok = np.isfinite(x) & np.isfinite(y)
    mask = np.zeros(x.shape, bool)
    idx = np.flatnonzero(ok)
    order = idx[np.lexsort((y[idx], x[idx]))]
    best = np.inf
    for i in order:
        if y[i] < best:
            mask[i] = True
            best = y[i]
    return mask


def plot_tradeoff(loss_pt, loss_cpt, ax=None, *, labels=None, c=None, cmap="viridis", colorbar_label=None,
                  front=True):
    """The D_pt vs D_cpt trade-off: one point per candidate (run, schedule, grid cell), the
    Pareto front (both losses minimised) highlighted and joined.

    Parameters
    ----------
    loss_pt, loss_cpt : array_like
        The two validation losses of each candidate (any shape, flattened).
    labels : list of str, optional
        Annotate each point (sensible for a few points).
    c : array_like, optional
        Colour the points by this value (e.g. the CPT peak LR), with a colour bar.
    front : bool
        Draw the Pareto front.
    """
    _mpl()
    x = _validate.as_float_array(loss_pt, "loss_pt", allow_empty=True).reshape(-1)
    y = _validate.as_float_array(loss_cpt, "loss_cpt", allow_empty=True).reshape(-1)
    if x.size == 0:
        raise ValueError("loss_pt: no points")
    mask = pareto_front(x, y)
    ax = _axes(ax)
    if c is not None:
        cv = _validate.as_float_array(c, "c", allow_empty=True).reshape(-1)
        if cv.shape != x.shape:
            raise ValueError("c: needs one value per point")
        sc = ax.scatter(x, y, c=cv, cmap=cmap, s=18, zorder=2)
        cb = ax.figure.colorbar(sc, ax=ax)
        if colorbar_label:
            cb.set_label(colorbar_label)
    else:
        ax.scatter(x, y, s=18, color="C0", alpha=0.6, zorder=2, label="candidates")
    if front and mask.any():
        o = np.argsort(x[mask])
        ax.plot(x[mask][o], y[mask][o], "-", color="C3", lw=1.2, zorder=3)
        ax.scatter(x[mask], y[mask], s=36, facecolors="none", edgecolors="C3", zorder=4, label="Pareto front")
    if labels is not None:
        labels = list(labels)
        if len(labels) != x.size:
            raise ValueError("labels: needs one label per point")
        for xi, yi, lab in zip(x, y, labels):
            ax.annotate(str(lab), (xi, yi), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel("D_pt validation loss (general)")
    ax.set_ylabel("D_cpt validation loss (domain)")
    ax.legend(fontsize=8)
    return ax


def _edges(v, log):
    v = np.asarray(v, dtype=np.float64)
    if v.size == 1:
        return np.array([v[0] * 0.5, v[0] * 1.5]) if log else np.array([v[0] - 0.5, v[0] + 0.5])
    w = np.log(v) if log else v
    mid = (w[1:] + w[:-1]) / 2
    e = np.concatenate([[w[0] - (mid[0] - w[0])], mid, [w[-1] + (w[-1] - mid[-1])]])
    return np.exp(e) if log else e


def plot_heatmap(values, x, y, ax=None, *, xlabel=None, ylabel=None, cbar_label=None, cmap="viridis",
                 log_x=None, log_y=None, mark_min=True, annotate=False):
    """A grid of values, e.g. a weighted CPT loss over (peak LR, CPT steps).

    Parameters
    ----------
    values : array_like, shape (len(y), len(x))
    x, y : array_like
        Grid coordinates (monotonic). Log axes by default when they are > 0 and evenly spaced
        in log (e.g. 1000, 2000, 4000) or span over 20x; ``log_x`` / ``log_y`` decide otherwise.
    mark_min : bool
        Mark the smallest finite value with a star.
    annotate : bool
        Write each value in its cell (sensible for small grids).
    """
    _mpl()
    z = _validate.as_float_array(values, "values", allow_empty=True)
    xv = _validate.as_float_array(x, "x", allow_empty=True).reshape(-1)
    yv = _validate.as_float_array(y, "y", allow_empty=True).reshape(-1)
    if z.shape != (yv.size, xv.size):
        raise ValueError(f"values: expected shape (len(y), len(x)) = ({yv.size}, {xv.size}), got {z.shape}")
    for name, v in (("x", xv), ("y", yv)):
        if v.size > 1 and not (np.all(np.diff(v) > 0) or np.all(np.diff(v) < 0)):
            raise ValueError(f"{name}: grid coordinates must be strictly monotonic")

    def auto(v, flag):
        if flag is not None:
            return bool(flag)
        if v.size < 2 or not np.all(v > 0):
            return False
        d, dl = np.diff(v), np.diff(np.log(v))
        geometric = v.size > 2 and np.allclose(dl, dl[0], rtol=1e-6) and not np.allclose(d, d[0], rtol=1e-6)
        return bool(geometric or v.max() / v.min() > 20)

    lx, ly = auto(xv, log_x), auto(yv, log_y)
    ax = _axes(ax)
    mesh = ax.pcolormesh(_edges(xv, lx), _edges(yv, ly), np.ma.masked_invalid(z), cmap=cmap, shading="flat")
    cb = ax.figure.colorbar(mesh, ax=ax)
    if cbar_label:
        cb.set_label(cbar_label)
    if lx:
        ax.set_xscale("log")
    if ly:
        ax.set_yscale("log")
    if annotate:
        for i in range(yv.size):
            for j in range(xv.size):
                if np.isfinite(z[i, j]):
                    ax.text(xv[j], yv[i], f"{z[i, j]:.3g}", ha="center", va="center", fontsize=7, color="w")
    if mark_min and np.isfinite(z).any():
        i, j = np.unravel_index(np.nanargmin(z), z.shape)
        ax.plot(xv[j], yv[i], marker="*", color="w", mec="k", ms=14, ls="none",
                label=f"min {z[i, j]:.4g}")
        ax.legend(fontsize=8, loc="best")
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    return ax
