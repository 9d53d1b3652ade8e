"""Fitting the laws to observed losses: one fit (`fit`) or many independent ones (`fit_many`).

The solver is the compiled Levenberg-Marquardt (box bounds, fixed parameters,
weights, Huber-on-log-residuals by IRLS), started from a grid over the law's
nonlinear parameters with the linear ones solved exactly (variable projection),
plus any starts you give. The objective (:ref:`objective`) is
``sum_i w_i * rho(r_i)`` with ``r = log(pred) - log(obs)`` and ``rho`` Huber with
``delta = 1e-3`` by default; ``"log_least_squares"`` and ``"least_squares"``
(on the raw loss) use ``rho = r**2 / 2``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from . import _core, _fit_device, _fit_problem
from ._fit_problem import NAN_POLICIES, _prepare, _unfittable, default_grid
from ._threads import get_num_threads
from .identifiability import _reasons, _undetermined, _undetermined_many, _warn_unidentifiable
from .laws import Law
from .results import DictResult, Inline, Table, Text, fmt

#: Objective names -> the compiled core's codes.
OBJECTIVES = _fit_problem.OBJECTIVES  # with the problem building; public here

#: Status code -> message, as the compiled fitter defines them (> 0 converged, 0 iteration
#: limit, < 0 failed).
STATUS_MESSAGES = dict(_core.fit_statuses)
_NON_FINITE = -2  # "the model is NaN or infinite at every start"
_BAD_DATA = -3  # "the data cannot be fitted"


class FitResult(DictResult):
    """Result of :func:`fit`, a dict with attribute access (like scipy's OptimizeResult).

    Fields: ``law`` (fitted law instance), ``params``, ``stderr`` (dicts by name),
    ``covariance`` (array in ``param_names`` order), ``x`` (parameter vector),
    ``objective``, ``r2`` (on the raw loss), ``mae``, ``mape`` (fractions), ``nfev``,
    ``nit``, ``starts_tried``, ``status``, ``message``, ``success``, ``n_points``,
    ``at_bound`` (names), ``unidentifiable`` ({name: reason} for the parameters the data do
    not determine; their stderr is inf), ``residual_std`` (scale of the residuals, on the
    log scale for the log objectives: ``residual_space`` is ``"log"`` or ``"loss"``) and
    ``dof`` (points minus estimated parameters). :func:`cptlaw.fit_runs` adds ``domain``.

    ``repr`` (and Jupyter) shows the parameters with their standard errors and the fit's
    quality; a fit file's record (``cptlaw fit --json``: ``law`` a name, ``valset``,
    ``area_options``, ``runs``) renders the same way.
    """

    def _law_name(self) -> str:
        law = self.get("law")
        if isinstance(law, Law):
            return type(law).__name__
        return law if isinstance(law, str) else ""

    def _title(self) -> str:
        name = self._law_name()
        vs = self.get("valset")
        title = (f"{name} fit" if name else "FitResult") + (f", validation set {vs!r}" if vs is not None else "")
        runs = self.get("runs")
        what = []
        if isinstance(runs, list):
            what.append(f"{len(runs)} run{'s' if len(runs) != 1 else ''}")
        if self.get("n_points") is not None:
            what.append(f"{self['n_points']} points")
        opts = self.get("area_options") or (self.get("domain") or {}).get("area_options")
        tail = ""
        if opts:
            tail = (f" (decay {opts.get('decay')}, split {opts.get('split')}, warmup_as_peak "
                    f"{opts.get('warmup_as_peak')})")
        return title + (": " + ", ".join(what) if what else "") + tail

    def _blocks(self) -> list:
        params = self.get("params") or {}
        stderr = self.get("stderr") or {}
        notes = {n: "at bound" for n in self.get("at_bound") or ()}
        notes.update({n: "not determined" for n in self.get("unidentifiable") or {}})
        rows = [[k, fmt(v, "12.6g").strip(), fmt(stderr.get(k), ".3g")] + ([notes.get(k, "")] if notes else [])
                for k, v in params.items()]
        mape = self.get("mape")
        blocks = [Text(str(self.get("message", ""))),
                  Table(["parameter", "value", "stderr"] + (["note"] if notes else []), rows,
                        right=(1, 2)),
                  Inline([("R^2", fmt(self.get("r2"), ".5f")), ("objective", fmt(self.get("objective"), ".4g")),
                          ("MAE", fmt(self.get("mae"), ".4f")),
                          ("MAPE", fmt(None if mape is None else 100 * mape, ".2f") + "%")])]
        if self.get("unidentifiable"):
            blocks.append(Text("not determined by the data (predictions that depend on them are not backed by the "
                               f"data): {_by_reason(self['unidentifiable'])}"))
        runs = self.get("runs")
        if isinstance(runs, list) and runs:
            blocks.append(Table(["run", "points", "MAE"],
                                [[r.get("name"), r.get("n_points"), fmt(r.get("mae"), ".4f")] for r in runs]))
        return blocks


def _by_reason(unidentifiable) -> str:
    """``B, E, beta (no CPT steps ...); C2 (...)``: the undetermined parameters, those with the
    same reason together."""
    groups: dict = {}
    for k, why in unidentifiable.items():
        groups.setdefault(why, []).append(k)
    return "; ".join(f"{', '.join(ks)} ({why})" for why, ks in groups.items())


class _Linearization(NamedTuple):
    """The SVD of a Jacobian ``J`` (points x parameters) with its columns scaled to unit norm.

    Columns differ by many decades (E ~ 1e3, alpha ~ 0.5), so J is judged and inverted
    normalised, then scaled back: the Gauss-Newton covariance ``inv(J'J) * sigma2`` of
    :func:`fit` (when ``full_rank``) and of :class:`cptlaw.live.LivePredictor` (a
    pseudo-inverse on the singular values kept, ``rcond``).
    """

    scale: np.ndarray  # column norms (1 for a zero column)
    s: np.ndarray  # singular values kept, descending
    vt: np.ndarray  # their right singular vectors (rows), in scaled coordinates
    full_rank: bool  # every column acts and (s_max / s_min)**2 < 1e13

    @classmethod
    def of(cls, J, rcond: float = 0.0):
        """None when J is not finite or the SVD fails; singular values <= ``rcond * s_max`` are dropped."""
        if not np.all(np.isfinite(J)):
            return None
        d = np.linalg.norm(J, axis=0)
        zero = d == 0
        d = np.where(zero, 1.0, d)
        try:
            _, sv, vt = np.linalg.svd(J / d, full_matrices=False)
        except np.linalg.LinAlgError:
            return None
        full = bool(not zero.any() and sv.size and sv[-1] > 0 and (sv[0] / sv[-1]) ** 2 < 1e13)
        keep = sv > rcond * sv[0] if sv.size else np.zeros(0, dtype=bool)
        return cls(d, sv[keep], vt[keep], full)

    def covariance(self, sigma2: float) -> np.ndarray:
        """``pinv(J'J) * sigma2`` on the kept singular values (the inverse when ``full_rank``)."""
        return (self.vt.T / self.s**2) @ self.vt / np.outer(self.scale, self.scale) * sigma2

    def in_row_space(self, g, tol: float) -> np.ndarray:
        """Per row of ``g`` (gradients w.r.t. the columns): lies in the row space of J up to a
        relative ``tol``, i.e. the data determine that combination of the parameters."""
        gs = g / self.scale
        resid = gs - (gs @ self.vt.T) @ self.vt
        norm = np.linalg.norm(gs, axis=-1)
        return (np.linalg.norm(resid, axis=-1) <= tol * np.maximum(norm, 1e-300)) | (norm == 0)


def _residual_scale2(r, dof: int, robust: bool = False) -> float:
    """The squared scale of residuals ``r``: their sum of squares over ``dof``. ``robust``
    clips each residual at 3 robust standard deviations (1.4826 * median |r|) first, so that
    a single spike (one bad evaluation) does not widen every later interval."""
    r = np.asarray(r, dtype=float)
    if robust:
        s0 = 1.4826 * float(np.median(np.abs(r))) if r.size else 0.0
        if s0 > 0:
            r = np.clip(r, -3.0 * s0, 3.0 * s0)
    return float(r @ r) / dof if dof > 0 else float("nan")


def _quality(law_obj, cols, y, law_cls, obj_code, w, fixed_mask, on_bound):
    """Prediction, R^2, the curve_fit-style covariance ``inv(J'J) * RSS / dof``, the
    undetermined parameters and the residual scale.

    Parameters on a bound are left out of J (their row/column is NaN), as fixed
    ones are (0): the Gaussian approximation does not hold at a bound. Undetermined
    parameters (:func:`_undetermined`) get NaN rows and columns too (stderr inf); the
    covariance of the others is computed without them."""
    inputs = dict(zip(law_cls.input_names, cols))
    pred, grad = law_obj.value_and_grad(**inputs)
    resid = pred - y
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid**2)) / ss_tot if ss_tot > 0 else float("nan")
    sw = None if w is None else np.sqrt(w)
    Jlog = grad / pred[:, None]
    if sw is not None:
        Jlog = Jlog * sw[:, None]
    free_all = fixed_mask == 0
    mask, zero, s, Vt = _undetermined(Jlog[None], law_obj.param_vector[None], free_all)
    unidentifiable = _reasons(law_obj, cols, mask, zero, s, Vt, free_all) if mask.any() else {}
    free = np.flatnonzero(free_all & ~on_bound & ~mask[0])
    if obj_code == 0:
        J, r = grad[:, free], resid
    else:
        J, r = grad[:, free] / pred[:, None], np.log(pred) - np.log(y)
    if sw is not None:
        J, r = J * sw[:, None], r * sw
    P = len(law_cls.param_names)
    cov = np.full((P, P), np.nan)
    dof = len(y) - len(free)
    rss = float(r @ r)
    if dof > 0 and free.size:
        lin = _Linearization.of(J)
        if lin is not None and lin.full_rank:
            cov[np.ix_(free, free)] = lin.covariance(rss / dof)
    cov[fixed_mask == 1, :] = 0.0
    cov[:, fixed_mask == 1] = 0.0
    noise = {
        "residual_std": float(np.sqrt(_residual_scale2(r, dof))),
        "residual_space": "loss" if obj_code == 0 else "log",
        "dof": int(dof),
    }
    return pred, r2, cov, mask[0], unidentifiable, noise


def fit(
    law: type[Law] | Law,
    features: Mapping[str, ArrayLike],
    loss: ArrayLike,
    *,
    objective: str = "huber_log",
    delta: float = 1e-3,
    weights: ArrayLike | None = None,
    bounds: Mapping[str, tuple[float | None, float | None]] | None = None,
    fixed: Mapping[str, float] | None = None,
    starts: Any = None,
    grid: ArrayLike | None = None,
    multistart: bool = True,
    keep: int = 6,
    max_iter: int = 500,
    ftol: float = 1e-10,
    xtol: float = 1e-10,
    gtol: float = 1e-10,
    nan_policy: str = "raise",
) -> FitResult:
    """Fit one parameter vector of ``law`` to observed losses.

    Parameters
    ----------
    law : law class or instance
        E.g. ``cptlaw.CPTLaw``; an instance is used as an extra start.
    features : dict of array_like
        The law's inputs by name (``s1, s2`` or ``s1_pt, s2_pt, s1_cpt, s2_cpt``, ...),
        each shaped like ``loss`` or a scalar. Several runs of one validation set are
        fitted jointly by concatenating their points.
    loss : array_like
        Observed losses.
    objective : {"huber_log", "log_least_squares", "least_squares"}
    delta : float
        Huber threshold on log residuals (1e-3 as in the papers).
    weights : array_like, optional
        Per-point weights (>= 0).
    bounds : dict, optional
        ``{name: (low, high)}``; defaults: ``(0, inf)``, signed parameters (B) free.
        Fix the sign of B with ``bounds={"B": (0, None)}``. E is kept in (0, 1e6], beta in
        [0.01, 10], alpha in [0, 10], a1 in [0, 100] and a2 (either sign) in [-50, 50] unless you widen them; ``at_bound`` lists the
        parameters that end on a bound.
    fixed : dict, optional
        ``{name: value}`` held constant.
    starts : dict, law instance or list of them, optional
        Extra starting points (always run).
    grid : array, optional
        Replace the default multistart grid (rows of full parameter vectors; linear
        entries are solved by variable projection).
    multistart : bool
        Use the default grid (else only ``starts``).
    keep : int
        LM runs from the best ``keep`` grid candidates.
    nan_policy : {"raise", "omit"}
        What to do with NaN/inf losses or features.

    Returns
    -------
    FitResult
        A failed fit has ``success=False`` and a ``message``; it never raises.
    """
    pb = _prepare(law, features, loss, weights, bounds, fixed, starts, grid, multistart, objective, nan_policy,
                  batch=False, delta=delta, max_iter=max_iter, ftol=ftol, xtol=xtol, gtol=gtol, keep=keep)
    law_cls, obj_code, y, cols, w = pb.law_cls, pb.objective, pb.y, pb.cols, pb.weights
    lo, hi, fixed_mask = pb.lo, pb.hi, pb.fixed_mask
    why = _unfittable(y, w)[0]
    if why is not None:
        return _failed(law_cls, y, why)
    x, objv, status, nfev, nit, tried = _core.fit_one[law_cls._core_name](**pb.core_args())
    x, objv = pb.unscale(x, objv)
    if not np.all(np.isfinite(x)):
        status = status if status <= 0 else _NON_FINITE  # never "converged" without parameters
        return _failed(law_cls, y, STATUS_MESSAGES.get(status, "failed"), status=status, nfev=nfev)
    law_obj = law_cls.from_vector(x)
    # Linear parameters scale with the losses: judge them on that scale.
    tol = 1e-9 * np.maximum(np.where(pb.linear_mask == 1, np.abs(y).max(), 1.0), np.abs(x))
    on_bound = (fixed_mask == 0) & ((np.abs(x - lo) <= tol) | (np.abs(x - hi) <= tol))
    pred, r2, cov, undetermined, unidentifiable, noise = _quality(
        law_obj, cols, y, law_cls, obj_code, w, fixed_mask, on_bound)
    stderr = np.sqrt(np.diag(cov))
    stderr[undetermined] = np.inf
    at_bound = [n for n, b in zip(law_cls.param_names, on_bound) if b]
    message = STATUS_MESSAGES.get(status, "unknown status")
    if at_bound:
        message += f"; at a bound: {', '.join(at_bound)} (see `bounds`)"
    if unidentifiable:
        message += f"; not determined by the data: {', '.join(unidentifiable)} (see `unidentifiable`)"
        _warn_unidentifiable(unidentifiable)
    return FitResult(
        law=law_obj,
        params=law_obj.params,
        stderr={n: float(s) for n, s in zip(law_cls.param_names, stderr)},
        covariance=cov,
        x=np.asarray(x),
        objective=float(objv),
        r2=r2,
        mae=float(np.mean(np.abs(pred - y))),
        mape=float(np.mean(np.abs(pred - y) / np.abs(y))),
        nfev=int(nfev),
        nit=int(nit),
        starts_tried=int(tried),
        status=int(status),
        message=message,
        success=bool(status > 0),
        at_bound=at_bound,
        unidentifiable=unidentifiable,
        n_points=int(len(y)),
        **noise,
    )


def _failed(law_cls, y, message, status=-3, nfev=0):
    P = len(law_cls.param_names)
    nan = float("nan")
    return FitResult(
        law=None,
        params={n: nan for n in law_cls.param_names},
        stderr={n: nan for n in law_cls.param_names},
        covariance=np.full((P, P), nan),
        x=np.full(P, nan),
        objective=nan,
        r2=nan,
        mae=nan,
        mape=nan,
        nfev=int(nfev),
        nit=0,
        starts_tried=0,
        status=int(status),
        message=message,
        success=False,
        at_bound=[],
        unidentifiable={},
        n_points=int(len(y)),
        residual_std=nan,
        residual_space="log",
        dof=0,
    )


class FitManyResult(DictResult):
    """Result of :func:`fit_many`: ``params`` (n_fits, n_params) in ``param_names`` order,
    per-fit ``objective``, ``success``, ``status``, ``nfev`` and ``message`` (list), and
    ``unidentifiable`` (n_fits, n_params) bool: the parameters each fit's data do not
    determine (see :func:`fit`), with ``identified`` (n_fits,) = none of them.

    The identifiability flags (and the messages' note on them) are computed on first access
    of ``unidentifiable``, ``identified`` or ``message``, in one batched pass (a compiled
    Jacobian per fit, then one batched screen; ~10-20 us per fit), so that batches that do
    not ask keep their full speed.
    """

    _LAZY = ("unidentifiable", "identified", "message")

    def __getitem__(self, key):
        if key in self._LAZY and "_pending" in self:
            self._settle()
        return dict.__getitem__(self, key)

    def _settle(self):
        law_cls, data, fixed_mask, use = dict.pop(self, "_pending")
        cols, w = data() if callable(data) else data  # a callable: host copies of device data
        undetermined = _undetermined_many(law_cls, dict.__getitem__(self, "params"), cols, w, fixed_mask, use)
        messages = list(dict.__getitem__(self, "message"))
        for k in np.flatnonzero(undetermined.any(axis=1)):
            which = [n for n, u in zip(law_cls.param_names, undetermined[k]) if u]
            messages[k] += f"; not determined by the data: {', '.join(which)}"
        self.update(message=messages, unidentifiable=undetermined, identified=~undetermined.any(axis=1))

    def get(self, key, default=None):
        return self[key] if key in self else default

    def _title(self) -> str:
        success = np.asarray(dict.__getitem__(self, "success"))
        return f"FitManyResult: {success.size} fits, {int(success.sum())} converged"

    def _blocks(self) -> list:
        raw = dict.__getitem__  # the lazy fields are not computed for a repr
        params, names = np.asarray(raw(self, "params")), list(raw(self, "param_names"))
        status, objective = np.asarray(raw(self, "status")), np.asarray(raw(self, "objective"))
        shown = min(len(status), 8)
        rows = [[i, int(status[i]), fmt(objective[i], ".4g")] + [fmt(v, ".4g") for v in params[i]]
                for i in range(shown)]
        more = f"... and {len(status) - shown} more fits" if len(status) > shown else ""
        codes, counts = np.unique(status, return_counts=True)
        tally = "; ".join(f"{n} x status {c}: {STATUS_MESSAGES.get(int(c), 'unknown')}" for c, n in zip(codes, counts))
        return [Text(tally), Table(["fit", "status", "objective"] + names, rows, note=more)]


def fit_many(
    law: type[Law] | Law,
    features: Mapping[str, ArrayLike],
    losses: ArrayLike,
    *,
    objective: str = "huber_log",
    delta: float = 1e-3,
    weights: ArrayLike | None = None,
    bounds: Mapping[str, tuple[float | None, float | None]] | None = None,
    fixed: Mapping[str, float] | None = None,
    starts: Any = None,
    grid: ArrayLike | None = None,
    multistart: bool = True,
    keep: int = 1,
    max_iter: int = 500,
    ftol: float = 1e-10,
    xtol: float = 1e-10,
    gtol: float = 1e-10,
    device: str = "cpu",
) -> FitManyResult:
    """Fit many independent curves in one call, across threads (GIL released).

    ``features`` is a dict of ``(n_fits, n_points)`` arrays (or scalars), ``losses``
    is ``(n_fits, n_points)``. Each fit has its own status; none raises. Options as in
    :func:`fit` (NaN values are not allowed here), except that the default start grid
    is coarser and only the best grid candidate is refined (``keep=1``): independent
    smooth curves rarely need more, and batches are about throughput.

    ``device="cuda"`` (or ``"cuda:N"``) fits on a GPU (:mod:`cptlaw.cuda`): NumPy inputs are
    copied there, CuPy / PyTorch CUDA inputs are used in place; the same algorithm, checks,
    statuses and results (as NumPy arrays), ``keep`` at most 16.
    """
    if device != "cpu":
        return _many_result(*_fit_device.fit_many(
            law, features, losses, objective=objective, delta=delta, weights=weights, bounds=bounds, fixed=fixed,
            starts=starts, grid=grid, multistart=multistart, keep=keep, max_iter=max_iter, ftol=ftol, xtol=xtol,
            gtol=gtol, device=device))
    pb = _prepare(law, features, losses, weights, bounds, fixed, starts, grid, multistart, objective, "raise",
                  batch=True, delta=delta, max_iter=max_iter, ftol=ftol, xtol=xtol, gtol=gtol, keep=keep)
    params, objv, status, nfev = _core.fit_many[pb.law_cls._core_name](**pb.core_args(), threads=get_num_threads())
    return _many_result(pb, params, objv, status, nfev, _unfittable(pb.y, pb.weights), (pb.cols, pb.weights))


def _many_result(pb, params, objv, status, nfev, why, data) -> FitManyResult:
    """The result of a batch from the fitter's raw output (on the scaled losses), ``why`` each
    curve cannot be fitted (or None) and the data for the identifiability screen: ``(cols, w)``
    or a function returning them."""
    params, objv = pb.unscale(params, objv)
    unfit = np.array([m is not None for m in why], dtype=bool)
    lost = (status > 0) & ~np.all(np.isfinite(params), axis=1)  # never "converged" without parameters
    status = np.where(lost, _NON_FINITE, status)
    status = np.where(unfit, _BAD_DATA, status).astype(status.dtype)
    # One message per distinct status, spread with NumPy: a million fits need no Python loop.
    messages = np.empty(len(status), dtype=object)
    for code in np.unique(status):
        messages[status == code] = STATUS_MESSAGES.get(int(code), "unknown status")
    for i in np.flatnonzero(unfit):
        messages[i] = why[i]
    return FitManyResult(
        params=params,
        param_names=pb.law_cls.param_names,
        objective=objv,
        status=status,
        success=status > 0,
        nfev=nfev,
        message=messages.tolist(),
        _pending=(pb.law_cls, data, pb.fixed_mask, ~unfit),
    )


__all__ = [
    "FitManyResult", "FitResult", "NAN_POLICIES", "OBJECTIVES", "STATUS_MESSAGES", "default_grid", "fit",
    "fit_many",
]


def __dir__():  # dir() and tab completion show the public names only
    return sorted(__all__)
