"""Prediction intervals and confidence bands around a fitted law.

Two different questions, two names:

- a **confidence band** bounds the *mean curve*, the law itself: how far the fitted curve may
  be from the one the data would give with infinitely many observations (parameter
  uncertainty only). It narrows as observations accumulate.
- a **prediction interval** bounds a *single future observation* (the loss you will log at
  that step): the confidence band's uncertainty plus the observation noise, estimated from
  the fit's residuals. It never gets narrower than the noise.

Observed losses scatter around the curve, so the loss you will log should be compared with
the prediction interval; a confidence band read as one looks over-confident.

Method (:func:`predict_interval`, the delta method): on the scale the fit works on (log of
the loss for the log objectives, so the noise is taken as multiplicative and the interval
is asymmetric; the loss itself for ``"least_squares"``),

    half-width = t_dof((1 + level) / 2) * sqrt(g' C g + kind_is_prediction * s**2)

with ``g`` the gradient of the (log) law with respect to its parameters at the predicted
inputs, ``C`` the fit's covariance (``result.covariance``), ``s`` the residual standard
deviation ``sqrt(RSS / dof)`` (``result.residual_std``) and a Student-t quantile on the fit's
residual degrees of freedom. Parameters that ended on a bound are held there (no
variance); where the prediction depends on a parameter the data do not determine
(``result.unidentifiable``) the interval is unbounded (low 0 or -inf, high inf) and flagged.
:meth:`cptlaw.BootstrapResult.prediction_interval` is the resampling counterpart.

Limits: the residuals of a misfitting law include its systematic error, which widens the
prediction interval (honestly) but is not noise; residuals that are correlated along a
curve make both intervals too narrow. The intervals are pointwise, not simultaneous.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from statistics import NormalDist
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from . import _validate
from .results import DictResult, Fields, Table, fmt

if TYPE_CHECKING:
    from .fit import FitResult

KINDS = ("prediction", "confidence")
_NAMES = {"prediction": "prediction_interval", "confidence": "confidence_band"}


class Interval(DictResult):
    """An interval around predicted losses (a dict with attribute access).

    ``kind`` ("prediction" for a single future observation, "confidence" for the mean curve),
    ``name`` ("prediction_interval" or "confidence_band", as JSON spells it), ``level``,
    ``method`` ("delta" or "bootstrap"), ``center`` (the fitted curve; the bootstrap median for
    ``method="bootstrap"``), ``low``, ``high`` (arrays shaped like the predicted inputs) and
    ``unbounded`` (bool array: the prediction depends on parameters the data do not determine).
    """

    def _title(self) -> str:
        return f"Interval: {self.get('name')} at level {fmt(self.get('level'))} ({self.get('method')})"

    def _blocks(self) -> list:
        center, low, high = (np.asarray(self.get(k, np.nan)) for k in ("center", "low", "high"))
        unbounded = np.asarray(self.get("unbounded", False))
        if center.ndim == 0:
            return [Fields([("center", center.item()), ("low", low.item()), ("high", high.item()),
                            ("unbounded", bool(unbounded))])]
        flat = [a.reshape(-1) for a in (center, low, high)]
        shown = min(flat[0].size, 8)
        rows = [[i] + [fmt(a[i], ".6g") for a in flat] for i in range(shown)]
        note = f"... and {flat[0].size - shown} more points" if flat[0].size > shown else ""
        if unbounded.any():
            note = (note + "; " if note else "") + f"{int(unbounded.sum())} unbounded (undetermined parameters)"
        return [Fields([("shape", str(center.shape))]), Table(["point", "center", "low", "high"], rows, note=note)]

    def as_dict(self) -> dict:
        """JSON-friendly: arrays as lists, infinities as None."""
        out = {}
        for k, v in self.items():
            if isinstance(v, np.ndarray):
                v = [None if not np.isfinite(x) else float(x) for x in v.reshape(-1)] if v.dtype.kind == "f" \
                    else v.reshape(-1).tolist()
            out[k] = v
        return out


# -- Student-t quantile (no SciPy at runtime) ------------------------------------------------


@functools.lru_cache(maxsize=1024)
def _t_two_sided(level: float, dof: int) -> float:
    """t such that P(|T| <= t) = level for Student's t with ``dof`` degrees of freedom."""
    if dof <= 0:
        return math.nan
    if dof > 30:  # Cornish-Fisher expansion (A&S 26.7.5): relative error < 1e-5 here
        z = NormalDist().inv_cdf((1.0 + level) / 2.0)
        z2 = z * z
        g1 = z * (z2 + 1) / 4
        g2 = z * ((5 * z2 + 16) * z2 + 3) / 96
        g3 = z * (((3 * z2 + 19) * z2 + 17) * z2 - 15) / 384
        g4 = z * ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945) / 92160
        return z + g1 / dof + g2 / dof**2 + g3 / dof**3 + g4 / dof**4

    def central(theta):  # P(|T| <= sqrt(dof) tan(theta)), A&S 26.7.3/26.7.4 (exact, integer dof)
        s, c = math.sin(theta), math.cos(theta)
        c2 = c * c
        if dof % 2:
            term, acc = 1.0, 1.0 if dof > 1 else 0.0
            for k in range(1, (dof - 1) // 2):
                term *= c2 * (2 * k) / (2 * k + 1)
                acc += term
            return 2 / math.pi * (theta + (s * c * acc if dof > 1 else 0.0))
        term, acc = 1.0, 1.0
        for k in range(1, dof // 2):
            term *= c2 * (2 * k - 1) / (2 * k)
            acc += term
        return s * acc

    lo, hi = 0.0, math.pi / 2
    for _ in range(64):
        mid = 0.5 * (lo + hi)
        if central(mid) < level:
            lo = mid
        else:
            hi = mid
    return math.sqrt(dof) * math.tan(0.5 * (lo + hi))


def _check_level(level):
    level = _validate.real_scalar(level, "level", lo=0.0, hi=1.0)
    if not 0 < level < 1:
        raise ValueError("level: must be strictly between 0 and 1")
    return level


def make_interval(kind, level, method, center, low, high, unbounded=None) -> Interval:
    """An :class:`Interval` of ``kind`` (``"confidence"`` or ``"prediction"``); ``unbounded``
    defaults to all False."""
    if unbounded is None:
        unbounded = np.zeros(np.shape(center), dtype=bool)
    return Interval(kind=kind, name=_NAMES[kind], level=level, method=method,
                    center=center, low=low, high=high, unbounded=unbounded)


def predict_interval(result: FitResult, features: Mapping[str, ArrayLike], *, level: float = 0.95,
                     kind: str = "prediction") -> Interval:
    """A prediction interval (``kind="prediction"``) or confidence band (``"confidence"``)
    of a fitted law at ``features`` (the law's inputs by name, any broadcastable shape), by
    the delta method (see the module docstring).

    ``result`` is a successful :func:`cptlaw.fit` / :func:`cptlaw.fit_runs` result.
    """
    if not isinstance(result, dict) or result.get("law") is None:
        raise TypeError("result: expected a successful cptlaw.fit result (with a fitted law)")
    _validate.choice(kind, "kind", KINDS)
    level = _check_level(level)
    if not isinstance(features, dict):
        raise TypeError("features: expected a dict of the law's inputs by name")
    law = result["law"]
    pred, g = law.value_and_grad(**features)
    log_space = result.get("residual_space", "log") == "log"
    if log_space:
        with np.errstate(divide="ignore", invalid="ignore"):
            g = g / pred[..., None]
    cov = np.asarray(result["covariance"], dtype=float)
    names = law.param_names
    undetermined = np.array([n in (result.get("unidentifiable") or {}) for n in names])
    held = ~np.isfinite(np.diag(cov)) & ~undetermined  # on a bound: held there
    use = ~undetermined & ~held
    c = np.where(np.isfinite(cov), cov, 0.0)[np.ix_(use, use)]
    gu = g[..., use]
    var = np.einsum("...i,ij,...j->...", gu, c, gu)
    var = np.maximum(var, 0.0)
    # a prediction that moves with an undetermined parameter is not bounded by the data
    gscale = np.maximum(np.abs(law.param_vector), 1.0)
    unbounded = np.any(np.abs(g[..., undetermined] * gscale[undetermined]) > 1e-10, axis=-1) \
        if undetermined.any() else np.zeros(pred.shape, dtype=bool)
    noise = float(result.get("residual_std", np.nan)) if kind == "prediction" else 0.0
    low, high = _bounds(pred, np.where(unbounded, np.inf, var), noise**2, level, int(result.get("dof", 0)),
                        log_space)
    return make_interval(kind, level, "delta", pred, low, high, unbounded)


def _bounds(center, var, noise2, level: float, dof: int, log_space: bool = True):
    """``(low, high)`` of an interval around ``center``: ``t_dof((1 + level) / 2) *
    sqrt(var + noise2)`` either side, on the log scale (``var``, ``noise2`` of the log loss:
    multiplicative, ``center * exp(-+half)``) or on the loss itself. ``noise2 = 0`` gives a
    confidence band, the residual variance a prediction interval."""
    half = _t_two_sided(level, dof) * np.sqrt(np.asarray(var) + noise2)
    if log_space:
        return center * np.exp(-half), center * np.exp(half)
    return center - half, center + half


__all__ = ["Interval", "KINDS", "make_interval", "predict_interval"]


def __dir__():  # dir() and tab completion show the public names only
    return sorted(__all__)
