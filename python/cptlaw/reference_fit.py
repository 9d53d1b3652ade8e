"""The papers' fitting procedure, as a baseline for tests and benchmarks.

P2's published script: minimise ``sum huber(log(obs) - log(pred), delta=1e-3)``
with scipy's L-BFGS-B (finite-difference gradients, bounds (0, inf)) from a grid
of starts and keep the best. P1 does the same with an unstated grid; ours for the
CPT law is below. Model values come from :mod:`cptlaw.reference`, the independent
pure-Python formulas, so this shares no code with the compiled fitter.
"""

from __future__ import annotations

import itertools

import numpy as np

from . import reference

# P2's grid: 2 x 3 x 3 x 3 = 54 starts.
P2_GRID = {
    "L0": np.linspace(0.1, 2.1, 2),
    "A": np.linspace(1, 22, 3),
    "alpha": np.linspace(0, 0.8, 3),
    "C": np.linspace(1, 22, 3),
}
# A P1-style grid for the CPT law (48 starts): both signs of B, E over decades.
P1_GRID = {
    "L0": [1.0, 3.0],
    "A": [0.5],
    "alpha": [0.3, 0.6],
    "C1": [0.3],
    "C2": [0.3],
    "B": [-1.0, 1.0],
    "E": [10.0, 100.0, 1000.0],
    "beta": [0.1, 0.5],
}
GRIDS = {"annealing": P2_GRID, "cpt": P1_GRID}


def huber(r, delta=1e-3):
    a = np.abs(r)
    return np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta))


def objective(law_name, x, features, loss, delta=1e-3):
    """:ref:`objective`: sum of Huber(log obs - log pred)."""
    p = dict(zip(reference.PARAM_NAMES[law_name], x))
    pred = getattr(reference, law_name)(p, **features)
    with np.errstate(all="ignore"):
        r = np.log(loss) - np.log(pred)
    val = float(np.sum(huber(r, delta)))
    return val if np.isfinite(val) else 1e300


def fit(law_name, features, loss, grid=None, delta=1e-3):
    """Best of L-BFGS-B runs from every grid point. Returns (params dict, objective)."""
    from scipy.optimize import minimize

    names = reference.PARAM_NAMES[law_name]
    grid = grid or GRIDS[law_name]
    signed = {"B"}
    bounds = [(None, None) if n in signed else (0.0, None) for n in names]
    loss = np.asarray(loss, dtype=float)
    best_x, best_f = None, np.inf
    for values in itertools.product(*(grid[n] for n in names)):
        res = minimize(lambda x: objective(law_name, x, features, loss, delta), np.array(values, dtype=float),
                       method="L-BFGS-B", bounds=bounds)
        if res.fun < best_f:
            best_x, best_f = res.x, float(res.fun)
    return dict(zip(names, best_x)), best_f


__all__ = ["GRIDS", "P1_GRID", "P2_GRID", "fit", "huber", "objective"]


def __dir__():  # dir() and tab completion show the public names only
    return sorted(__all__)
