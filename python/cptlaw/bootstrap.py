"""Bootstrap confidence intervals for fitted parameters, confidence bands of the fitted
curve and prediction intervals of future observations.

Resampled data sets are refitted in one :func:`cptlaw.fit_many` call (threads, GIL
released), each warm-started from the point fit, so thousands of resamples are
cheap. Besiroglu et al. (arXiv 2404.10102) used 4,000 resamples on Chinchilla's fit.
The spread of the refitted curves is a *confidence band* of the mean curve; a
*prediction interval* of the loss one will observe adds the residual noise to each
refitted curve (see :mod:`cptlaw.intervals` for the difference and the delta-method
counterpart).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from . import _limits, _validate, _warnings
from ._fit_problem import _features
from .fit import FitResult, fit_many
from .intervals import Interval, _check_level, make_interval
from .results import DictResult, Inline, Table, Text, fmt

METHODS = ("pairs", "residuals")


class BootstrapResult(DictResult):
    """``samples`` (n_ok, n_params) of refitted parameters, ``ci`` {name: (low, high)},
    ``std`` {name: float}, ``success_rate``, ``residuals`` (the point fit's centred
    residuals, scaled by ``sqrt(n / dof)``, on the log scale), and, if ``predict`` was given,
    ``confidence_band`` and ``prediction_interval`` (:class:`cptlaw.intervals.Interval`,
    with ``low``, ``median``, ``high`` arrays shaped like the predicted inputs).

    ``prediction`` is the old name of ``confidence_band`` (deprecated: it is a band of the
    fitted curve, not an interval for observations).
    """

    def __getitem__(self, key):
        if isinstance(key, str) and key == "prediction" and not dict.__contains__(self, "prediction"):
            _warnings.warn("BootstrapResult.prediction is deprecated: it is the confidence band of the fitted "
                           "curve, now `confidence_band`; use `prediction_interval` for the loss you will observe",
                           DeprecationWarning)
            return dict.__getitem__(self, "confidence_band")
        return dict.__getitem__(self, key)

    def _title(self) -> str:
        law = self.get("law_class")
        name = law.__name__ if isinstance(law, type) else "BootstrapResult"
        return f"{name} bootstrap ({self.get('method')}, level {fmt(self.get('level'))})"

    def _blocks(self) -> list:
        ci, std = self.get("ci") or {}, self.get("std") or {}
        level = self.get("level")
        lo = f"{(1 - level) / 2:.1%}" if isinstance(level, float) else "low"
        hi = f"{(1 + level) / 2:.1%}" if isinstance(level, float) else "high"
        rows = [[k, fmt(std.get(k), ".4g"), fmt(a, ".6g"), fmt(b, ".6g")] for k, (a, b) in ci.items()]
        blocks = [Text(str(self.get("message", ""))), Table(["parameter", "std", lo, hi], rows),
                  Inline([("success rate", fmt(self.get("success_rate"), ".3f")),
                          ("samples", str(len(self.get("samples", ()))))])]
        for key in ("confidence_band", "prediction_interval"):
            if dict.__contains__(self, key):
                band = dict.__getitem__(self, key)
                blocks.append(Text(f"{key}: {np.size(band['center'])} point(s), "
                                   f"low {fmt(band['low'])}, high {fmt(band['high'])}"))
        return blocks

    def _stored(self, key):
        if not dict.__contains__(self, key):
            raise ValueError("features: required (bootstrap(..., predict=...) was not given)")
        return dict.__getitem__(self, key)

    def _law_cls(self):
        return self["law_class"]

    def _predictions(self, features):
        law_cls = self._law_cls()
        if not isinstance(features, dict):
            raise TypeError("features: expected a dict of the law's inputs by name")
        if self["samples"].shape[0] < 2:
            raise ValueError("bootstrap: too few resampled fits converged for a band")
        return np.stack([law_cls.from_vector(p)(**features) for p in self["samples"]])

    def confidence_band(self, features: Mapping[str, ArrayLike] | None = None, level: float | None = None) -> Interval:
        """The band of the fitted curve at ``features`` (the law's inputs by name): pointwise
        quantiles of the refitted curves. ``level`` defaults to the bootstrap's. Without
        ``features``: the band at the bootstrap's ``predict`` inputs."""
        if features is None:
            return self._stored("confidence_band")
        level = self["level"] if level is None else _check_level(level)
        preds = self._predictions(features)
        tail = (1 - level) / 2
        lo, med, hi = np.quantile(preds, [tail, 0.5, 1 - tail], axis=0)
        out = make_interval("confidence", level, "bootstrap", med, lo, hi)
        out["median"] = med
        return out

    def prediction_interval(self, features: Mapping[str, ArrayLike] | None = None, level: float | None = None,
                            n_draws: int = 4000) -> Interval:
        """An interval for a single future observation at ``features``: each refitted curve
        times ``exp(e)``, ``e`` drawn from the scaled residuals (``n_draws`` in all), pointwise
        quantiles. Reproducible: the draws come from the bootstrap's seed. Without
        ``features``: the interval at the bootstrap's ``predict`` inputs."""
        if features is None:
            return self._stored("prediction_interval")
        level = self["level"] if level is None else _check_level(level)
        n_draws = _validate.integer(n_draws, "n_draws", lo=10)
        _limits.check_fits(n_draws, 8 * 258, "n_draws", "draws")  # 256 points and 2 indices a draw
        preds = self._predictions(features)
        shape = preds.shape[1:]
        flat = preds.reshape(preds.shape[0], -1)
        rng = np.random.default_rng(self["noise_seed"])
        per = -(-n_draws // flat.shape[0])
        which = np.repeat(np.arange(flat.shape[0]), per)
        tail = (1 - level) / 2
        q = np.empty((3, flat.shape[1]))
        resid = self["residuals"]
        for a in range(0, flat.shape[1], 256):  # keep the draws x points block small
            b = min(a + 256, flat.shape[1])
            e = rng.choice(resid, size=(which.size, b - a), replace=True)
            q[:, a:b] = np.quantile(flat[which, a:b] * np.exp(e), [tail, 0.5, 1 - tail], axis=0)
        lo, med, hi = (x.reshape(shape) for x in q)
        out = make_interval("prediction", level, "bootstrap", med, lo, hi)
        out["median"] = med
        return out


def _refits(law, cols, y, *, method: str, n_boot: int, rng, accept_iteration_limit: bool = False, **fit_options):
    """Refit ``n_boot`` resampled data sets in one :func:`cptlaw.fit_many` call, each started
    from ``law`` (a fitted law on inputs ``cols`` and losses ``y``).

    Returns ``(samples, noise, ok)``: the parameter vectors of the usable refits (converged;
    with ``accept_iteration_limit`` also those stopped at the iteration limit, which started
    at the fit and moved towards the optimum), the log residuals centred and scaled by
    ``sqrt(n / dof)`` (the residual method resamples these: raw residuals understate the
    noise by that factor), and which refits were usable.
    """
    law_cls = type(law)
    n = y.size
    # the resampled data sets: an index, the loss and each input per point, copied for fit_many
    _limits.check_fits(n_boot * n, 8 * (3 + 2 * len(cols)), "n_boot", "resampled points")
    fitted = law(**dict(zip(law_cls.input_names, cols)))
    resid = np.log(y) - np.log(fitted)
    resid = resid - resid.mean()
    dof = n - sum(1 for name in law_cls.param_names if name not in (fit_options.get("fixed") or {}))
    noise = resid * np.sqrt(n / dof) if dof > 0 else resid
    if method == "pairs":
        idx = rng.integers(0, n, size=(n_boot, n))
        boot_cols = {name: c[idx] for name, c in zip(law_cls.input_names, cols)}
        boot_y = y[idx]
    else:
        with np.errstate(over="ignore", under="ignore"):  # such resamples are dropped below
            boot_y = fitted * np.exp(rng.choice(noise, size=(n_boot, n), replace=True))
        boot_cols = {name: np.broadcast_to(c, (n_boot, n)) for name, c in zip(law_cls.input_names, cols)}
    # A resample that over- or underflows (residuals of hundreds of nats, i.e. absurd data) is
    # a failed refit, not an error of the whole bootstrap.
    fine = np.all(np.isfinite(boot_y) & (boot_y > 0), axis=1)
    ok = np.zeros(n_boot, dtype=bool)
    if not fine.any():
        return np.empty((0, len(law_cls.param_names))), noise, ok
    fit_options.setdefault("multistart", False)
    res = fit_many(law_cls, {k: v[fine] for k, v in boot_cols.items()}, boot_y[fine], starts=law, **fit_options)
    usable = res.status >= 0 if accept_iteration_limit else res.success
    ok[fine] = usable & np.all(np.isfinite(res.params), axis=1)
    return res.params[ok[fine]], noise, ok


def bootstrap(
    result: FitResult,
    features: Mapping[str, ArrayLike],
    loss: ArrayLike,
    *,
    n_boot: int = 1000,
    method: str = "pairs",
    level: float = 0.95,
    predict: Mapping[str, ArrayLike] | None = None,
    seed: int | None = None,
    **fit_options: Any,
) -> BootstrapResult:
    """Bootstrap a fit.

    Parameters
    ----------
    result : FitResult
        A successful :func:`cptlaw.fit` result on ``features`` / ``loss``.
    features, loss
        The data that was fitted (as passed to ``fit``).
    n_boot : int
        Number of resamples.
    method : {"pairs", "residuals"}
        ``pairs`` resamples observations with replacement; ``residuals`` keeps the
        design and adds resampled log residuals to the fitted curve (centred and scaled by
        ``sqrt(n / dof)``, since raw residuals understate the noise).
    level : float
        Coverage of the percentile intervals (0.95 = 2.5% .. 97.5%).
    predict : dict, optional
        Inputs of the law at which to return the confidence band of the fitted curve and
        the prediction interval of observations (e.g. the areas of a schedule you plan),
        any shape; the same as calling :meth:`BootstrapResult.confidence_band` and
        :meth:`BootstrapResult.prediction_interval` afterwards.
    seed : int or numpy Generator, optional
    fit_options
        Passed to :func:`cptlaw.fit_many` (``objective``, ``bounds``, ``fixed``, ...).
    """
    if not isinstance(result, dict) or result.get("law") is None:
        raise TypeError("result: expected a successful cptlaw.fit result")
    law = result["law"]
    law_cls = type(law)
    n_boot = _validate.integer(n_boot, "n_boot", lo=2)
    _validate.choice(method, "method", METHODS)
    level = _validate.real_scalar(level, "level", lo=0.0, hi=1.0)
    if not 0 < level < 1:
        raise ValueError("level: must be strictly between 0 and 1")
    y = _validate.as_float_array(loss, "loss").reshape(-1)
    cols = [c.reshape(-1) for c in _features(law_cls, features, y.shape)]
    if not (np.isfinite(y).all() and all(np.isfinite(c).all() for c in cols)):
        raise ValueError("loss: bootstrap needs finite data (drop NaN points first)")
    if seed is not None and not isinstance(seed, (np.random.Generator, np.random.SeedSequence)):
        seed = _validate.integer(seed, "seed", lo=0)
    rng = np.random.default_rng(seed)
    samples, noise, ok = _refits(law, cols, y, method=method, n_boot=n_boot, rng=rng, **fit_options)
    noise_seed = int(rng.integers(2**63 - 1))  # after the resamples: same seed, same resamples as before
    tail = (1 - level) / 2
    out = BootstrapResult(
        samples=samples,
        success_rate=float(ok.mean()),
        level=level,
        method=method,
        law_class=law_cls,
        residuals=noise,
        noise_seed=noise_seed,
    )
    if samples.shape[0] < 2:
        nan = float("nan")
        out["ci"] = {p: (nan, nan) for p in law_cls.param_names}
        out["std"] = {p: nan for p in law_cls.param_names}
        out["message"] = "too few resampled fits converged"
        return out
    lo, hi = np.quantile(samples, [tail, 1 - tail], axis=0)
    out["ci"] = {p: (float(a), float(b)) for p, a, b in zip(law_cls.param_names, lo, hi)}
    out["std"] = {p: float(s) for p, s in zip(law_cls.param_names, samples.std(axis=0, ddof=1))}
    out["message"] = f"{samples.shape[0]} of {n_boot} resampled fits converged"
    if predict is not None:
        out["confidence_band"] = out.confidence_band(predict)
        out["prediction_interval"] = out.prediction_interval(predict)
    return out


__all__ = ["BootstrapResult", "METHODS", "bootstrap"]


def __dir__():  # dir() and tab completion show the public names only
    return sorted(__all__)
