"""Plots (matplotlib, the optional extra ``cptlaw[plot]``; imported only when a function is
called). Every function draws on ``ax`` (a new figure's axes when None) and returns it.

* :func:`plot_fit`: observed losses (markers) vs the fitted law (lines) per run, predictions
  of held-out runs with their prediction interval;
* :func:`plot_prediction`: predicted loss curves of schedules (no observations), with their LRs;
* :func:`plot_tradeoff`: D_pt loss vs D_cpt loss of candidate runs and their Pareto front;
* :func:`plot_heatmap`: a grid of values (e.g. a weighted loss over peak LR x CPT steps).

One style for every plot of cptlaw (the demo's, ``cptlaw fit --plot``, ``cptlaw predict
--plot``): each run gets its own colour (Okabe and Ito's colour-blind-safe palette), line style
and marker (:func:`run_style`); observations are markers, the law is a line; the PT -> CPT
transfer is a labelled vertical line (:func:`mark_transfer`); intervals are bands with edge
lines (:func:`draw_band`), labelled with what they are; losses are in nats, steps in
optimizer updates; :func:`finish_figure` puts one legend for the whole figure beside it.
"""

from __future__ import annotations

import numpy as np

from . import _validate

__all__ = ["BAND_ALPHA", "LOSS_LABEL", "PALETTE", "STEP_LABEL", "draw_band", "finish_figure", "loss_label",
           "mark_transfer", "pareto_front", "plot_fit", "plot_heatmap", "plot_prediction", "plot_tradeoff",
           "run_style"]

#: Okabe and Ito's colour-blind-safe palette, its yellow (faint on white) replaced by Tol's wine
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#882255")
_LINESTYLES = ("-", "--", "-.", ":")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "h")
#: opacity of interval bands (their edges are drawn as thin lines too)
BAND_ALPHA = 0.25
STEP_LABEL = "step (optimizer updates)"
LOSS_LABEL = "validation loss (nats)"
TRANSFER_LABEL = "CPT starts"


def run_style(i: int) -> dict:
    """Colour, line style and marker of the ``i``-th run: neighbours differ in all three."""
    return {"color": PALETTE[i % len(PALETTE)], "ls": _LINESTYLES[i % len(_LINESTYLES)],
            "marker": _MARKERS[i % len(_MARKERS)]}


def loss_label(valset=None, prefix="") -> str:
    """``validation loss on 'pt' (nats)``: the y label of loss plots."""
    on = "" if valset is None else f" on {valset!r}"
    return f"{prefix}validation loss{on} (nats)"


def mark_transfer(ax, step, *, label=True):
    """A vertical line at the PT -> CPT transfer (after ``step`` PT updates), labelled
    "CPT starts" at the top of ``ax``. Returns the line."""
    import matplotlib.transforms as mtransforms

    line = ax.axvline(step, color="0.35", lw=1.0, ls=(0, (4, 3)), zorder=1, label=TRANSFER_LABEL)
    line.set_gid("transfer")
    if label:
        trans = mtransforms.blended_transform_factory(ax.transData, ax.transAxes)
        ax.text(step, 0.985, f" {TRANSFER_LABEL} \u2192", transform=trans, ha="left", va="top", fontsize=8,
                color="0.25", gid="transfer-label")
    return line


def draw_band(ax, x, low, high, color, *, label=None):
    """An interval band: filled at :data:`BAND_ALPHA`, with thin edge lines so it reads on any
    background. Returns the filled area."""
    area = ax.fill_between(x, low, high, color=color, alpha=BAND_ALPHA, lw=0, label=label, zorder=0)
    for edge in (low, high):
        ax.plot(x, edge, "-", color=color, lw=0.6, alpha=0.8, zorder=0)
    return area


def finish_figure(fig, title=None, *, extra=(), ncol=6):
    """One legend for the whole figure, below the panels (the labels of every axes, each once,
    then what markers, lines and bands mean), and a title. ``extra``: more legend handles."""
    handles, seen = [], set()
    keys = []
    for a in fig.axes:
        for h, lab in zip(*a.get_legend_handles_labels()):
            if lab and not lab.startswith("_") and lab not in seen:
                seen.add(lab)
                handles.append(h)
        keys += getattr(a, "_cptlaw_keys", [])
    for h in list(keys) + list(extra):
        if h.get_label() not in seen:
            seen.add(h.get_label())
            handles.append(h)
    if handles:
        ncol = max(1, min(ncol, len(handles)))
        try:
            fig.legend(handles=handles, loc="outside lower center", fontsize=8, ncol=ncol, frameon=False)
        except (ValueError, TypeError):  # matplotlib < 3.7: no "outside" placement
            fig.legend(handles=handles, loc="lower center", fontsize=8, ncol=ncol)
    if title:
        import textwrap

        width = max(40, int(fig.get_figwidth() * 12))  # characters that fit across the figure at 11 pt
        fig.suptitle(textwrap.fill(title, width), fontsize=11)
    return fig


def __dir__():  # dir() and tab completion show the public names only
    return sorted(__all__)


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
    _, ax = plt.subplots(layout="constrained")
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


_INTERVAL_NAMES = {"prediction": "prediction interval", "confidence": "confidence band"}


def _check_interval(interval, result_or_law, level):
    if interval is None:
        return None
    if interval not in _INTERVAL_NAMES:
        raise ValueError(f"interval: expected 'prediction', 'confidence' or None, got {interval!r}")
    if not isinstance(result_or_law, dict):
        raise TypeError("interval: needs a fit result (its covariance and residual scale), not a bare law")
    from .intervals import _check_level

    _check_level(level)
    return interval


def _interval_band(result, feats, interval, level):
    from .intervals import predict_interval

    with np.errstate(all="ignore"):
        iv = predict_interval(result, feats, level=level, kind=interval)
    return iv["low"], iv["high"]


def _styles(n, styles, colors):
    out = [dict(run_style(i)) for i in range(n)] if styles is None else [dict(s) for s in styles]
    if len(out) < n:
        raise ValueError(f"styles: {len(out)} styles for {n} runs")
    if colors is not None:
        for i, st in enumerate(out):
            st["color"] = colors[i % len(colors)]
    return out


def _transfers(runs):
    return sorted({len(r._lr_pt) for r in runs if r._lr_cpt is not None and len(r._lr_cpt)})


def plot_fit(result_or_law, runs, valset=None, ax=None, bands=None, *, fitted=None, area_options=None,
             level=0.95, points=400, legend=True, colors=None, styles=None, interval=None, transfer=True,
             band_label=None):
    """Observed losses (markers) and the law's curve (a line) for each run.

    Parameters
    ----------
    result_or_law : fit result or law
        A :func:`cptlaw.fit_runs` result (its area options are used) or a law instance.
    runs : Run or list of Run
        Each run's observations are drawn as markers and the law as a line over the observed
        step range, each run in its own colour, line style and marker (:func:`run_style`).
    valset : str, optional
        The validation set to draw (for runs with several).
    ax : matplotlib Axes, optional
    bands : optional
        Bands around the curves: parameter samples ``(n, n_params)`` (e.g. a bootstrap
        result's ``samples``, or the result itself), drawn as the ``level`` percentile band of
        the curves (a confidence band of the mean curve); or a dict ``{run name: (low, high)}``
        of arrays at the run's ``steps``.
    fitted : list of str or Run, optional
        The runs in the fit set. The others are predictions: their markers are hollow, their
        legend entries say "held out", and ``interval`` is drawn for them only. Default: all
        fitted.
    area_options : dict, optional
        ``decay``, ``split``, ``warmup_as_peak`` for the areas (default: the result's, else
        the library defaults).
    level : float
        Coverage of the bands and intervals.
    points : int
        Points of each law curve.
    legend : bool
        Draw a legend on ``ax`` (runs, then what the markers, lines and bands are); for a
        figure of several panels, pass False and call :func:`finish_figure`.
    colors : list, optional
        One matplotlib colour per run (overrides the style's colour).
    styles : list of dict, optional
        ``{color, ls, marker}`` per run (default ``run_style(i)``), e.g. to keep a run's style
        across panels that show different runs.
    interval : {"prediction", "confidence"}, optional
        Draw this interval (:func:`cptlaw.intervals.predict_interval`, needs a fit result)
        around the curves of the held-out runs: "prediction" bounds the losses one will
        observe (observation noise included), "confidence" the mean curve.
    transfer : bool
        Mark the PT -> CPT transfer of the runs with a labelled line ("CPT starts").
    band_label : str, optional
        What ``bands`` given as a dict are, for the legend (e.g. "95% prediction interval").

    Returns
    -------
    matplotlib Axes
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from .runs import Run, _runs

    law, opts = _law_and_options(result_or_law, area_options)
    runs = _runs(runs)  # a Run or Runs, checked one at a time
    interval = _check_interval(interval, result_or_law, level)
    ax = _axes(ax)
    fitted_names = None
    if fitted is not None:
        fitted_names = {f.name if isinstance(f, Run) else str(f) for f in fitted}
    samples = None
    if bands is not None and not (isinstance(bands, dict) and "samples" not in bands):
        samples = bands["samples"] if isinstance(bands, dict) else bands
    sty = _styles(len(runs), styles, colors)
    key_label = None  # what the bands drawn are
    any_held = False
    span = [np.inf, -np.inf]  # y range of the markers and lines (bands may not stretch the axis)
    for i, run in enumerate(runs):
        st = sty[i]
        is_fit = fitted_names is None or run.name in fitted_names
        any_held |= not is_fit
        steps = np.asarray(run.steps)
        obs = run.losses(valset)
        ax.plot(steps, obs, ls="none", marker=st["marker"], ms=3.2, color=st["color"], alpha=0.7,
                mfc=st["color"] if is_fit else "none", mew=0.8, zorder=2)
        lo, hi = int(steps.min()), int(steps.max())
        dense = np.unique(np.concatenate([np.linspace(lo, hi, points).round().astype(np.int64), steps]))
        probe = Run(lr_pt=run.lr_pt, steps=dense, lr_cpt=run.lr_cpt, r_pt=run.r_pt, name=run.name)
        feats = probe.features(law, **opts)
        pred = law(**feats)
        name = run.name or f"run {i + 1}"
        label = name if fitted_names is None else f"{name} ({'fit' if is_fit else 'held out: predicted'})"
        ax.plot(dense, pred, ls=st["ls"], color=st["color"], lw=1.6, zorder=3, label=label,
                marker=st["marker"], markevery=[], mfc=st["color"] if is_fit else "none")
        vals = np.concatenate([obs[np.isfinite(obs)], pred[np.isfinite(pred)]])
        if vals.size:
            span = [min(span[0], vals.min()), max(span[1], vals.max())]
        if samples is not None:
            blo, bhi = _band_from_samples(law, samples, feats, level)
            key_label = band_label or f"{level:.0%} confidence band (bootstrap)"
            draw_band(ax, dense, blo, bhi, st["color"])
        elif isinstance(bands, dict) and run.name in bands:
            blo, bhi = (np.asarray(b, dtype=np.float64) for b in bands[run.name])
            if blo.shape != steps.shape or bhi.shape != steps.shape:
                raise ValueError(f"bands[{run.name!r}]: low and high must have one value per step of the run")
            key_label = band_label or "band"
            draw_band(ax, steps, blo, bhi, st["color"])
        if interval is not None and (not is_fit or fitted_names is None):
            blo, bhi = _interval_band(result_or_law, feats, interval, level)
            key_label = f"{level:.0%} {_INTERVAL_NAMES[interval]}"
            draw_band(ax, dense, blo, bhi, st["color"])
    if (bands is not None or interval is not None) and np.isfinite(span).all() and span[1] > span[0]:
        pad = 0.05 * (span[1] - span[0])
        ax.set_ylim(span[0] - pad, span[1] + pad)
    if transfer:
        for t in _transfers(runs):
            mark_transfer(ax, t)
    ax.set_xlabel(STEP_LABEL)
    ax.set_ylabel(loss_label(valset))
    keys = [Line2D([], [], color="0.3", marker="o", ls="none", ms=4, label="observed (markers)"),
            Line2D([], [], color="0.3", ls="-", lw=1.6, label="law (lines)")]
    if any_held:
        keys.append(Line2D([], [], color="0.3", marker="o", mfc="none", ls="none", ms=4,
                           label="observed, held-out run (hollow)"))
    if key_label is not None:
        keys.append(Patch(facecolor="0.3", alpha=BAND_ALPHA, edgecolor="0.3", label=key_label))
    ax._cptlaw_keys = keys  # finish_figure's extra legend entries, for figures of several panels
    if legend:
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(handles=handles + keys, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                  borderaxespad=0, frameon=False)
    return ax


def _per_step(lr):
    return np.asarray(lr.values() if callable(getattr(lr, "values", None)) else lr, dtype=np.float64)


def plot_prediction(result_or_law, runs, valset=None, ax=None, *, lr_ax=None, area_options=None, points=400,
                    legend=True, colors=None, styles=None, interval=None, level=0.95, transfer=True):
    """The law's predicted loss over the whole length of each run (no observations needed).

    Each run is a line in its own colour and line style; the runs' own ``steps`` are marked
    on it. With ``lr_ax`` (another Axes, e.g. below ``ax``), the runs' learning rates are
    drawn there in the same styles. A labelled line marks each PT -> CPT transfer
    ("CPT starts"). ``interval`` ("prediction" or "confidence", needs a fit result) draws that
    interval as a band. The y axis spans the curves after the first 2% of the steps and after
    the PT warmup (the laws diverge at step 0). Other arguments as in :func:`plot_fit`.
    Returns ``ax``.
    """
    from matplotlib.patches import Patch

    from .runs import Run, _runs

    law, opts = _law_and_options(result_or_law, area_options)
    runs = _runs(runs)  # a Run or Runs, checked one at a time
    interval = _check_interval(interval, result_or_law, level)
    ax = _axes(ax)
    sty = _styles(len(runs), styles, colors)
    span = [np.inf, -np.inf]  # y range after the first 2% of each run (the laws diverge at step 0)
    seen_pt = []
    for i, run in enumerate(runs):
        st = sty[i]
        lr_pt = _per_step(run.lr_pt)
        # a PT phase an earlier run shares has its band drawn already: from the transfer on only
        shared = any(p.shape == lr_pt.shape and np.array_equal(p, lr_pt) for p in seen_pt)
        seen_pt.append(lr_pt)
        lr = lr_pt if run.lr_cpt is None else np.concatenate([lr_pt, _per_step(run.lr_cpt)])
        total = lr.size
        steps = np.asarray(run.steps)
        dense = np.unique(np.concatenate([np.linspace(1, total, points).round().astype(np.int64), steps]))
        probe = Run(lr_pt=run.lr_pt, steps=dense, lr_cpt=run.lr_cpt, r_pt=run.r_pt, name=run.name)
        feats = probe.features(law, **opts)
        pred = law(**feats)
        name = run.name or f"run {i + 1}"
        ax.plot(dense, pred, ls=st["ls"], color=st["color"], lw=1.6, zorder=3, label=name, marker=st["marker"],
                markevery=list(np.searchsorted(dense, steps)), ms=4)
        # the laws diverge at step 0 and are steep during a warmup: the y range starts after both
        peak_at = int(np.argmax(lr_pt >= 0.999 * lr_pt.max())) + 1 if lr_pt.size and lr_pt.max() > 0 else 0
        late = (dense >= max(0.02 * total, peak_at)) & np.isfinite(pred)
        if late.any():
            span = [min(span[0], pred[late].min()), max(span[1], pred[late].max())]
        if interval is not None:
            blo, bhi = _interval_band(result_or_law, feats, interval, level)
            part = late & (dense >= lr_pt.size) if shared and run.lr_cpt is not None else late
            draw_band(ax, dense[part], blo[part], bhi[part], st["color"])
            ok = late & np.isfinite(blo) & np.isfinite(bhi)
            if ok.any():
                span = [min(span[0], blo[ok].min()), max(span[1], bhi[ok].max())]
        if lr_ax is not None:
            lr_ax.plot(np.arange(1, total + 1), lr, ls=st["ls"], color=st["color"], lw=1.4)
    if transfer:
        for t in _transfers(runs):
            mark_transfer(ax, t)
            if lr_ax is not None:
                mark_transfer(lr_ax, t, label=False).set_label("_transfer")
    if np.isfinite(span).all() and span[1] > span[0]:
        pad = 0.08 * (span[1] - span[0])
        ax.set_ylim(span[0] - pad, span[1] + pad)
    ax.set_ylabel(loss_label(valset, "predicted "))
    if lr_ax is not None:
        lr_ax.set_ylabel("learning rate")
        lr_ax.set_xlabel(STEP_LABEL)
        lr_ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    else:
        ax.set_xlabel(STEP_LABEL)
    keys = []
    if interval is not None:
        keys.append(Patch(facecolor="0.3", alpha=BAND_ALPHA, edgecolor="0.3",
                          label=f"{level:.0%} {_INTERVAL_NAMES[interval]}"))
    ax._cptlaw_keys = keys
    if legend:
        handles, _ = ax.get_legend_handles_labels()
        ax.legend(handles=handles + keys, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                  borderaxespad=0, frameon=False)
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
        ax.scatter(x, y, s=18, color=PALETTE[0], alpha=0.6, zorder=2, label="candidates")
    if front and mask.any():
        o = np.argsort(x[mask])
        ax.plot(x[mask][o], y[mask][o], "-", color=PALETTE[1], lw=1.4, zorder=3)
        ax.scatter(x[mask], y[mask], s=40, facecolors="none", edgecolors=PALETTE[1], linewidths=1.2, zorder=4,
                   label="Pareto front (neither loss can fall without the other rising)")
    if labels is not None:
        labels = list(labels)
        if len(labels) != x.size:
            raise ValueError("labels: needs one label per point")
        for xi, yi, lab in zip(x, y, labels):
            ax.annotate(str(lab), (xi, yi), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel("D_pt validation loss: general (nats)")
    ax.set_ylabel("D_cpt validation loss: domain (nats)")
    ax.legend(fontsize=8, loc="lower left", bbox_to_anchor=(0.0, 1.01), borderaxespad=0, frameon=False, ncol=2)
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
                    r, g, b, _ = mesh.cmap(mesh.norm(z[i, j]))
                    dark = 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.5  # relative luminance of the cell
                    ax.text(xv[j], yv[i], f"{z[i, j]:.3g}", ha="center", va="center", fontsize=7,
                            color="w" if dark else "k")
    if mark_min and np.isfinite(z).any():
        i, j = np.unravel_index(np.nanargmin(z), z.shape)
        ax.plot(xv[j], yv[i], marker="*", color="w", mec="k", ms=14, ls="none",
                label=f"smallest value {z[i, j]:.4g}")
        ax.legend(fontsize=8, loc="lower left", bbox_to_anchor=(0.0, 1.01), borderaxespad=0, frameon=False)
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    return ax
