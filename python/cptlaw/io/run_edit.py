"""Observations kept or dropped from runs: a step/phase window, and PT history that CPT runs
repeat from a PT run fitted alongside them."""

from __future__ import annotations

import numpy as np

from .. import _validate
from ..runs import Run, _runs


def _is_empty(runs) -> bool:
    return isinstance(runs, (list, tuple)) and not runs


def select(run: Run, *, min_step=None, max_step=None, phase=None) -> Run:
    """A copy of ``run`` keeping the observations with ``min_step <= step <= max_step``
    and, with ``phase="pt"`` / ``"cpt"``, only those of that phase (same learning rates)."""
    if not isinstance(run, Run):
        raise TypeError(f"run: expected a cptlaw.Run, got {type(run).__name__}")
    steps = np.asarray(run.steps)
    m = np.ones(steps.shape, bool)
    if min_step is not None:
        m &= steps >= _validate.real_scalar(min_step, "min_step")
    if max_step is not None:
        m &= steps <= _validate.real_scalar(max_step, "max_step")
    n_pt = len(np.asarray(run.lr_pt if not hasattr(run.lr_pt, "values") else run.lr_pt.values()))
    if phase == "pt":
        m &= steps <= n_pt
    elif phase == "cpt":
        m &= steps > n_pt
    elif phase is not None:
        raise ValueError(f"phase: expected 'pt', 'cpt' or None, got {_validate.describe(phase)}")
    if not m.any():
        raise ValueError(f"run {run.name!r}: no observations left after selecting")
    loss = run.loss
    if isinstance(loss, dict):
        loss = {k: np.asarray(v)[m] for k, v in loss.items()}
    elif loss is not None:
        loss = np.asarray(loss)[m]
    return Run(lr_pt=run.lr_pt, steps=steps[m], loss=loss, lr_cpt=run.lr_cpt, r_pt=run.r_pt, name=run.name,
               group=run.group)


def _lr_array(x):
    if x is None:
        return None
    return np.asarray(x.values() if hasattr(x, "values") and callable(x.values) else x, dtype=np.float64)


def drop_shared_history(runs) -> tuple:
    """Drop the PT observations of CPT runs that repeat a PT-only run among ``runs``.

    A CPT run's log usually starts with the PT history of its checkpoint; when that PT run
    is fitted too, its points would count twice. A CPT run's PT-phase observations are
    dropped when a PT-only run has the same PT learning rates. Returns ``(runs, dropped)``
    with ``dropped`` the number of observations removed.
    """
    runs = [] if _is_empty(runs) else _runs(runs)
    pt_only = [_lr_array(r.lr_pt) for r in runs if r.lr_cpt is None]
    out, dropped = [], 0
    for r in runs:
        if r.lr_cpt is not None:
            lp = _lr_array(r.lr_pt)
            if any(p.shape == lp.shape and np.array_equal(p, lp) for p in pt_only):
                n_pt = len(lp)
                n = int(np.sum(np.asarray(r.steps) <= n_pt))
                if 0 < n < len(r.steps):
                    r = select(r, phase="cpt")
                    dropped += n
        out.append(r)
    return out, dropped


__all__ = ["drop_shared_history", "select"]


def __dir__():  # dir() and tab completion show the public names only
    return sorted(__all__)
