"""The fitting problem: user arguments turned into a checked, scaled problem for the fitter.

:func:`cptlaw.fit` and :func:`cptlaw.fit_many` (on the CPU and on a GPU) share it: the law
class, the objective and solver options, bounds and fixed values, the data (checked, NaN
policy applied), the starts and the default multistart grid, and the power-of-two scale of
losses far from order 1. Its public names (``OBJECTIVES``, ``NAN_POLICIES``, ``default_grid``)
are documented in :mod:`cptlaw.fit`, which re-exports them.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np

from . import _core, _validate
from .laws import Law

#: Objective names -> the compiled core's codes.
OBJECTIVES = {name: code for code, name in enumerate(_core.fit_objectives)}
NAN_POLICIES = ("raise", "omit")

_INT32_MAX = 2**31 - 1
# The fitter's tolerances and damping floors are tuned for losses of order 1-100 (nats).
# Losses far outside [2**-4, 2**10] are scaled by a power of two (exact) before fitting;
# every law is linear in its linear parameters jointly, so those scale back exactly.
_UNSCALED = (2.0**-4, 2.0**10)
_LOSS_RANGE = (1e-100, 1e100)  # beyond, the covariance's J'J over- or underflows


def _law_class(law):
    if isinstance(law, type) and issubclass(law, Law) and law is not Law:
        return law, None
    if isinstance(law, Law):
        return type(law), law
    raise TypeError(f"law: expected a law class such as cptlaw.CPTLaw, got {_validate.describe(law)}")


def _param_dict(value, name, law_cls):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError(f"{name}: expected a dict keyed by parameter name")
    for key in value:
        if key not in law_cls.param_names:
            raise ValueError(f"{name}: unknown parameter {key!r}; expected one of {', '.join(law_cls.param_names)}")
    return dict(value)


def _bounds(law_cls, bounds):
    # a law's default bound wins over the sign rule (a2 is signed but boxed); else signed -> free
    box = law_cls.default_bounds
    lo = np.array([box[n][0] if n in box else (-np.inf if n in law_cls.signed_params else 0.0)
                   for n in law_cls.param_names])
    hi = np.array([box.get(n, (0, np.inf))[1] for n in law_cls.param_names])
    for key, pair in _param_dict(bounds, "bounds", law_cls).items():
        try:
            a, b = pair
        except (TypeError, ValueError):
            raise TypeError(f"bounds: {key!r} must be a (low, high) pair") from None
        i = law_cls.param_names.index(key)
        lo[i] = -np.inf if a is None else _bound_value(a, key)
        hi[i] = np.inf if b is None else _bound_value(b, key)
        if lo[i] > hi[i]:
            raise ValueError(f"bounds: low > high for {key!r} ({lo[i]} > {hi[i]})")
        if lo[i] == np.inf or hi[i] == -np.inf:
            raise ValueError(f"bounds: {key!r} has no finite value in ({lo[i]}, {hi[i]})")
    return lo, hi


def _bound_value(v, key):
    if isinstance(v, (bool, str)) or not isinstance(v, (int, float, np.integer, np.floating)) or np.isnan(v):
        raise ValueError(f"bounds: {key!r} needs numeric (low, high) values (None or +-inf for no bound)")
    return float(v)


def _feature_names(law_cls, features, name="features"):
    """Checks that ``features`` is a dict keyed by exactly the law's inputs."""
    if not isinstance(features, dict):
        raise TypeError(f"{name}: expected a dict of arrays keyed by {', '.join(law_cls.input_names)}")
    unknown = [k for k in features if k not in law_cls.input_names]
    if unknown:
        raise ValueError(f"{name}: unknown input(s) {', '.join(map(repr, unknown))} for {law_cls.__name__}; "
                         f"expected {', '.join(law_cls.input_names)}")
    missing = [k for k in law_cls.input_names if k not in features]
    if missing:
        raise ValueError(f"{name}: missing input(s) {', '.join(missing)} for {law_cls.__name__}")


def _features(law_cls, features, loss_shape, name="features"):
    _feature_names(law_cls, features, name)
    out = []
    for key in law_cls.input_names:
        a = _validate.as_float_array(features[key], f"{name}[{key!r}]")
        if a.shape != loss_shape:
            if a.size == 1:
                a = np.full(loss_shape, float(a.reshape(-1)[0]))
            else:
                raise ValueError(f"{name}[{key!r}]: shape {a.shape} does not match the loss shape {loss_shape}")
        out.append(a)
    return out


def default_grid(law_cls, features=None, fixed=None, coarse=False) -> np.ndarray:
    """Start grid over the law's nonlinear parameters (linear ones are projected).

    Rows are full parameter vectors; linear entries are placeholders. The values of each
    parameter are the law's (:meth:`cptlaw.laws.Law.start_values`); ``features`` (a dict of
    the law's inputs, or a list in ``input_names`` order) lets a law scale them to the data.
    ``coarse`` keeps every other value of the longer axes (what :func:`fit_many` uses).
    """
    fixed = fixed or {}
    if features is not None and not isinstance(features, dict):  # the inputs in input_names order
        features = dict(zip(law_cls.input_names, features))
    axes = []
    for name in law_cls.param_names:
        if name in fixed:
            axes.append(np.array([fixed[name]], dtype=float))
        elif name in law_cls.linear_params:
            axes.append(np.array([1.0]))
        else:
            axes.append(law_cls.start_values(name, features))  # the law's own knowledge
        if coarse and len(axes[-1]) > 3:
            axes[-1] = axes[-1][::2] if len(axes[-1]) < 16 else axes[-1][::3]
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.stack([m.reshape(-1) for m in mesh], axis=1)


def _starts(law_cls, starts, start_law, fixed):
    """Start rows (k, n_params) from dicts, law instances or rows of n_params numbers."""
    names = law_cls.param_names
    P = len(names)
    rows = []
    if start_law is not None:
        rows.append(start_law.param_vector)
    if starts is not None:
        if isinstance(starts, (dict, Law)):
            starts = [starts]
        elif isinstance(starts, np.ndarray) or (
            isinstance(starts, (list, tuple)) and starts and not isinstance(starts[0], (dict, Law))
        ):
            arr = _validate.as_float_array(starts, "starts", min_ndim=1)
            if arr.ndim > 2 or arr.shape[-1] != P:
                raise ValueError(f"starts: expected rows of {P} values ({', '.join(names)}), got shape {arr.shape}")
            starts = list(arr.reshape(-1, P))
        elif not isinstance(starts, (list, tuple)):
            raise TypeError(f"starts: expected a dict, a law instance, rows of {P} values or a list of them, "
                            f"got {type(starts).__name__}")
        for i, s in enumerate(starts):
            where = f"starts[{i}]"
            if isinstance(s, Law):
                if s.param_names != names:
                    raise ValueError(f"{where}: a {type(s).__name__} cannot start a {law_cls.__name__} fit "
                                     f"(parameters {', '.join(names)})")
                rows.append(s.param_vector)
                continue
            if isinstance(s, np.ndarray):
                if s.shape != (P,):
                    raise ValueError(f"{where}: expected {P} values ({', '.join(names)}), got shape {s.shape}")
                rows.append(s)
                continue
            s = _param_dict(s, where, law_cls)
            missing = [n for n in names if n not in s and n not in fixed]
            if missing:
                raise ValueError(f"{where}: lacks {', '.join(missing)}")
            rows.append(np.array([_validate.real_scalar(s[n], f"{where}[{n!r}]") if n in s else fixed.get(n, 0.0)
                                  for n in names]))
    arr = np.array(rows, dtype=float).reshape(-1, P)
    _validate.check_finite(arr, "starts")
    for name, v in fixed.items():
        arr[:, names.index(name)] = v
    return arr


class _Problem(NamedTuple):
    """A validated fitting problem, as the compiled fitter takes it."""

    law_cls: type[Law]
    objective: int
    y: np.ndarray  # (n,) or (n_fits, n)
    cols: list  # the law's inputs, each shaped like y
    weights: Optional[np.ndarray]
    lo: np.ndarray
    hi: np.ndarray
    fixed_mask: np.ndarray  # uint8 per parameter
    linear_mask: np.ndarray  # uint8 per parameter
    starts: np.ndarray  # (k, n_params)
    grid: np.ndarray  # (m, n_params)
    delta: float
    max_iter: int
    ftol: float
    xtol: float
    gtol: float
    keep: int
    scale: float  # the core fits y * scale (a power of two)

    def core_args(self) -> dict:
        """Keyword arguments of ``_core.fit_one`` / ``_core.fit_many`` (but ``threads``)."""
        return dict(
            inputs=[np.ascontiguousarray(c) for c in self.cols],
            y=np.ascontiguousarray(self.y if self.scale == 1.0 else self.y * self.scale),
            w=None if self.weights is None else np.ascontiguousarray(self.weights, dtype=float),
            **self.param_args(),
        )

    def param_args(self) -> dict:
        """The fitter's arguments besides the data (shared with the CUDA fitter), on the scaled losses."""
        lin = self.linear_mask == 1
        s = self.scale

        def scaled(a):  # parameter values: the linear ones scale with the losses
            return a if s == 1.0 else np.where(lin, a * s, a)

        return dict(
            lo=scaled(self.lo), hi=scaled(self.hi), fixed=self.fixed_mask, linear=self.linear_mask,
            starts=np.ascontiguousarray(scaled(self.starts)), grid=np.ascontiguousarray(scaled(self.grid)),
            objective=self.objective, delta=self.delta, max_iter=self.max_iter, ftol=self.ftol, xtol=self.xtol,
            gtol=self.gtol, keep=self.keep,
        )

    def unscale(self, params, objective):
        """The core's parameters and objective for the losses as given."""
        if self.scale == 1.0:
            return params, objective
        params = np.where(self.linear_mask == 1, params / self.scale, params)
        if self.objective == OBJECTIVES["least_squares"]:
            objective = objective / self.scale / self.scale
        return params, objective


def _tolerance(value, name):
    return _validate.real_scalar(value, name, lo=0.0)


def _count(value, name):
    v = _validate.integer(value, name, lo=1)
    if v > _INT32_MAX:
        raise ValueError(f"{name}: must be <= {_INT32_MAX}, got {v}")
    return v


def _objective_code(objective) -> int:
    return OBJECTIVES[_validate.choice(objective, "objective", tuple(OBJECTIVES))]


def _options(delta, max_iter, ftol, xtol, gtol, keep) -> dict:
    """The solver options, checked."""
    delta = _validate.real_scalar(delta, "delta", lo=0.0)
    if delta == 0.0:
        raise ValueError("delta: must be > 0 (the Huber threshold on log residuals)")
    return dict(delta=delta, max_iter=_count(max_iter, "max_iter"), ftol=_tolerance(ftol, "ftol"),
                xtol=_tolerance(xtol, "xtol"), gtol=_tolerance(gtol, "gtol"), keep=_count(keep, "keep"))


def _prepare(law, features, loss, weights, bounds, fixed, starts, grid, multistart, objective, nan_policy, batch,
             *, delta=1e-3, max_iter=500, ftol=1e-10, xtol=1e-10, gtol=1e-10, keep=1) -> _Problem:
    law_cls, start_law = _law_class(law)
    obj_code = _objective_code(objective)
    _validate.choice(nan_policy, "nan_policy", NAN_POLICIES)
    options = _options(delta, max_iter, ftol, xtol, gtol, keep)
    y = _validate.as_float_array(loss, "losses" if batch else "loss", min_ndim=1)
    if batch:
        if y.ndim != 2:
            raise ValueError(f"losses: expected a 2-D array (n_fits, n_points), got {y.ndim}-D")
    else:
        y = y.reshape(-1)
    cols = _features(law_cls, features, y.shape)
    w = None
    if weights is not None:
        w = _validate.as_float_array(weights, "weights")
        if w.shape != y.shape:
            w = np.broadcast_to(w, y.shape) if w.size == 1 else None
            if w is None:
                raise ValueError("weights: must have the shape of the loss")
        _validate.check_finite(w, "weights")
        if (w < 0).any():
            raise ValueError("weights: must be >= 0")
    bad = ~np.isfinite(y)
    for c in cols:
        bad |= ~np.isfinite(c)
    if bad.any():
        if nan_policy == "raise" or batch:
            which = "loss" if (~np.isfinite(y)).any() else "features"
            raise ValueError(f"{which}: contains NaN or infinite values (use nan_policy='omit' to drop those points)"
                             if not batch else f"{which}: contains NaN or infinite values")
        keep = ~bad
        y = y[keep]
        cols = [c[keep] for c in cols]
        w = None if w is None else w[keep]
    if obj_code != OBJECTIVES["least_squares"] and (y <= 0).any():
        raise ValueError("loss: must be > 0 for a log objective")
    return _setup(law_cls, start_law, obj_code, y, cols, w, bounds, fixed, starts, grid, multistart, batch, options)


def _setup(law_cls, start_law, obj_code, y, cols, w, bounds, fixed, starts, grid, multistart, batch, options, *,
           top=None, grid_features=None) -> _Problem:
    """The problem around checked data: bounds, fixed values, starts, the start grid and the loss scale.

    Device data (the CUDA fitter) give ``top`` (the largest ``|loss|``) and ``grid_features``
    (host arrays holding each input's largest value) instead of being read here."""
    fixed = _param_dict(fixed, "fixed", law_cls)
    for k, v in fixed.items():
        fixed[k] = _validate.real_scalar(v, f"fixed[{k!r}]")
    lo, hi = _bounds(law_cls, bounds)
    for k, v in fixed.items():
        i = law_cls.param_names.index(k)
        if not lo[i] <= v <= hi[i]:
            raise ValueError(f"fixed[{k!r}]: {v} lies outside its bounds [{lo[i]}, {hi[i]}] (widen them with bounds=)")
    n_free = len(law_cls.param_names) - len(fixed)
    if y.shape[-1] < n_free:
        raise ValueError(f"loss: {y.shape[-1]} points cannot determine {n_free} free parameters")
    if w is not None and not batch and np.count_nonzero(w) < n_free:
        raise ValueError(f"weights: only {np.count_nonzero(w)} points have a weight > 0; {n_free} free parameters "
                         "need at least as many")
    start_rows = _starts(law_cls, starts, start_law, fixed)
    if grid is None:
        feats = cols if grid_features is None else grid_features
        grid_rows = default_grid(law_cls, feats, fixed, coarse=batch) if multistart else np.zeros((0, len(lo)))
    else:
        grid_rows = _validate.as_float_array(grid, "grid", min_ndim=2)
        if grid_rows.ndim != 2 or grid_rows.shape[1] != len(lo):
            raise ValueError(f"grid: rows must have {len(lo)} values ({', '.join(law_cls.param_names)})")
    if len(start_rows) + len(grid_rows) == 0:
        raise ValueError("starts: multistart=False needs at least one start (starts=... or a law instance)")
    fixed_mask = np.array([n in fixed for n in law_cls.param_names], dtype=np.uint8)
    linear_mask = np.array([n in law_cls.linear_params for n in law_cls.param_names], dtype=np.uint8)
    if top is None:
        top = float(np.abs(y).max()) if y.size else 0.0
    scale = 1.0
    if top > 0.0 and not _UNSCALED[0] <= top <= _UNSCALED[1] and _LOSS_RANGE[0] <= top <= _LOSS_RANGE[1]:
        scale = float(2.0 ** -np.frexp(top)[1])  # top * scale in [0.5, 1)
    return _Problem(law_cls, obj_code, y, cols, w, lo, hi, fixed_mask, linear_mask, start_rows, grid_rows,
                    scale=scale, **options)


def _unfittable(y, w=None) -> list:
    """Per curve (rows of a 2-D ``y``; one curve if 1-D): why it cannot be fitted, or None."""
    y2 = np.atleast_2d(y)
    top = np.abs(y2).max(axis=1) if y2.shape[1] else np.zeros(y2.shape[0])
    weighted = None if w is None else np.any(np.atleast_2d(w) > 0, axis=1)
    return _unfittable_from(np.ptp(y2, axis=1), top, weighted)


def _unfittable_from(ptp, top, weighted=None) -> list:
    """:func:`_unfittable` from each curve's range and largest ``|loss|`` and whether any of its
    weights is > 0 (None: no weights), as the CUDA fitter measures them on the device."""
    flat = ptp <= 1e-12 * top
    scale = ~((top >= _LOSS_RANGE[0]) & (top <= _LOSS_RANGE[1]))
    unweighted = np.zeros(len(top), dtype=bool) if weighted is None else ~weighted
    why: list[str | None] = [None] * len(top)
    for i in np.flatnonzero(flat | scale | unweighted):
        if flat[i]:
            why[i] = "loss is constant: the law's parameters are not identifiable from a flat curve"
        elif scale[i]:
            why[i] = (f"loss: values of magnitude {top[i]:.3g} lie outside the range the fitter works in "
                      f"({_LOSS_RANGE[0]:g} to {_LOSS_RANGE[1]:g})")
        else:
            why[i] = "weights: all zero, so no point constrains the fit"
    return why
