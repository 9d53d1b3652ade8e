"""Parametric learning-rate schedules with closed-form areas (:ref:`areas`).

A :class:`Schedule` is the learning rate used at each optimizer step ``t = 0 .. steps-1``
(``lr(t)`` is the LR of optimizer step ``t``; with PyTorch's usual loop
``optimizer.step(); scheduler.step()`` that is the scheduler's value at ``last_epoch = t``).
The constructors reproduce PyTorch ``torch.optim.lr_scheduler`` and Hugging Face
``transformers`` schedules operation for operation (:ref:`schedule-families`), so ``values()`` matches the
LRs those libraries produce, and :meth:`Schedule.areas` gives the areas S1, S2 at any step
from closed forms (geometric sums in the decay factor) without materialising per-step arrays:
constant, linear, cosine and exponential pieces cost O(1) per step queried; 1-sqrt,
inverse-sqrt, polynomial (power != 1) pieces and :func:`from_values` arrays use the per-step
recurrence inside their piece.

Example
-------
>>> from cptlaw import schedules
>>> pt = schedules.wsd(2e-4, 20000, decay_steps=4000, warmup=500)
>>> cpt = schedules.rewarmup(2e-4, 10000, warmup=200, start_lr=pt.lr(19999))
>>> a = pt.areas([999, 19999])                       # S1, S2 at two steps
>>> c = schedules.cpt_areas_at(pt, cpt, [20000, 29999])
"""

from __future__ import annotations

import bisect
import math
import numbers
from collections.abc import Sequence
from typing import Any, Callable, NamedTuple, Optional

import numpy as np
from numpy.typing import ArrayLike

from . import _core, _limits, _validate
from ._threads import get_num_threads
from .areas import SPLITS, Areas, CPTAreas

__all__ = [
    "Schedule",
    "ScheduleState",
    "batch_areas",
    "batch_cpt_areas",
    "concat",
    "constant",
    "cosine",
    "cpt_areas_at",
    "cyclic_cosine",
    "exponential",
    "from_hf",
    "from_values",
    "inverse_sqrt",
    "linear",
    "multistep",
    "one_minus_sqrt",
    "polynomial",
    "rewarmup",
    "wsd",
]


def __dir__():  # dir() and tab completion show the public names only
    return sorted(__all__)


# Segment value formulas of the compiled core, by the codes it exports (enum Shape there).
# A segment row: len, shape, scale, floor, off, den, a, b; p = (j + off) / den, w = 1 - floor.
_SHAPE = _core.schedule_shapes
_CONSTANT = _SHAPE["constant"]  # scale
_LINEAR = _SHAPE["linear"]  # scale * (p * w + floor)
_ONE_MINUS = _SHAPE["one_minus"]  # scale * ((1 - p) * w + floor)
_RATIO_DOWN = _SHAPE["ratio_down"]  # scale * (((off - j) / den) * w + floor)
_COSINE = _SHAPE["cosine"]  # scale * (0.5 * (1 + cos(pi * a * 2 * p)) * w + floor)
_COSINE_UP = _SHAPE["cosine_up"]  # scale * (0.5 * (1 - cos(pi * p)) * w + floor)
_COSINE_HARD = _SHAPE["cosine_hard"]  # scale * (0.5 * (1 + cos(pi * ((a * p) % 1))) * w + floor), b = cycle
_COSINE_TORCH = _SHAPE["cosine_torch"]  # floor + (scale - floor) * (1 + cos(pi * (j + off) / den)) / 2
_POWER = _SHAPE["power"]  # scale * (a ** (j + off) * w + floor)
_SQRT_DOWN = _SHAPE["sqrt_down"]  # scale * ((1 - sqrt(p)) * w + floor)
_SQRT_UP = _SHAPE["sqrt_up"]  # scale * ((1 - sqrt(1 - p)) * w + floor)
_INV_SQRT = _SHAPE["inv_sqrt"]  # scale * ((1 / sqrt(p)) * w + floor)
_POLY = _SHAPE["poly"]  # scale * (((scale - floor) * (1 - p) ** a + floor) / scale)
_ARRAY = _SHAPE["array"]  # data[off + j]
_FIELDS = _core.schedule_fields
_NO_DATA = np.empty(0)
_NO_DATA.setflags(write=False)

DECAY_TYPES = ("linear", "cosine", "1-sqrt")
WARMUP_TYPES = ("linear", "cosine", "1-sqrt")
HF_NAMES = (
    "constant",
    "constant_with_warmup",
    "linear",
    "cosine",
    "cosine_with_restarts",
    "polynomial",
    "inverse_sqrt",
    "cosine_with_min_lr",
    "cosine_warmup_with_min_lr",
    "warmup_stable_decay",
)


class ScheduleState(NamedTuple):
    """Area state after a step: S1, S2, the momentum m and the LR of that step."""

    s1: float
    s2: float
    m: float
    lr: float


def _row(length, shape, scale, floor=0.0, off=0.0, den=1.0, a=0.0, b=0.0):
    return (float(length), float(shape), float(scale), float(floor), float(off), float(den), float(a), float(b))


class Schedule:
    """A learning-rate schedule over ``steps`` optimizer steps.

    Build one with the constructors of this module (:func:`cosine`, :func:`wsd`, ...),
    :func:`from_values` or :func:`from_hf`, and join them with ``+`` / :meth:`then` /
    :func:`concat`.

    Attributes
    ----------
    steps : int
        Number of optimizer steps.
    peak : float
        The largest LR of the schedule (the constructors' ``peak_lr``). :meth:`as_lambda`
        is ``lr(t) / peak``, so ``LambdaLR(SGD(params, lr=schedule.peak), schedule.as_lambda())``
        reproduces the schedule.
    """

    __slots__ = ("_rows", "_data", "_steps", "_peak", "_desc")

    def __init__(self, rows, data=None, *, peak: float | None, desc):
        # Internal: built by the constructors of this module. rows: segment rows (see _row),
        # desc: the repr, or a callable making it (formatted lazily: cheap construction).
        if isinstance(rows, np.ndarray):
            rows = np.ascontiguousarray(rows[rows[:, 0] > 0], dtype=np.float64)
            steps = int(rows[:, 0].sum())
        else:
            rows = [r for r in rows if r[0] > 0]
            steps = int(sum(r[0] for r in rows))
            rows = np.array(rows, dtype=np.float64).reshape(-1, _FIELDS)
        if steps == 0:
            raise ValueError("steps: a schedule needs at least one step")
        if steps > _limits.MAX_EXACT_INT:
            raise ValueError(f"steps: a schedule has at most 2**53 steps, got {steps}")
        rows.setflags(write=False)
        self._rows = rows
        if data is None:
            data = _NO_DATA
        else:
            data = np.ascontiguousarray(data, dtype=np.float64)
            data.setflags(write=False)
        self._data = data
        self._steps = steps
        self._peak = None if peak is None else float(peak)  # None: found from the values when asked
        self._desc = desc

    # -- basic properties -------------------------------------------------------------
    @property
    def steps(self) -> int:
        return self._steps

    @property
    def peak(self) -> float:
        if self._peak is None:
            self._peak = float(self.values().max())
        return self._peak

    def __len__(self) -> int:
        return self._steps

    def __repr__(self) -> str:
        if callable(self._desc):
            self._desc = self._desc()
        return self._desc

    @property
    def segments(self) -> int:
        """Number of pieces (each with its own formula) the schedule is made of."""
        return int(self._rows.shape[0])

    # -- values ----------------------------------------------------------------------
    def values(self) -> np.ndarray:
        """The LR of every step, float64 array of length ``steps``."""
        _limits.check_fits(self._steps, 8, "values", "a schedule",
                           "use lr(t) or areas(steps=...) at chosen steps")
        return _core.schedule_values(self._rows, self._data)

    def lr(self, t):
        """LR of optimizer step(s) ``t`` (0-based ints, any shape, any order).

        A scalar ``t`` gives a float, an array gives an array of the same shape.
        """
        idx = _steps_array(t, "t", self._steps)
        out = _core.schedule_lr(self._rows, self._data, idx.ravel())
        if idx.ndim == 0:
            return float(out[0])
        return out.reshape(idx.shape)

    def as_lambda(self) -> Callable[[int], float]:
        """A callable ``t -> lr(t) / peak`` for ``torch.optim.lr_scheduler.LambdaLR``.

        Use it with an optimizer whose ``lr`` is :attr:`peak`. Steps past the end hold the
        last LR (PyTorch evaluates the lambda once more after the final optimizer step).
        """
        _limits.check_fits(self._steps, 40, "as_lambda", "a per-step table (Python floats)")
        vals = self.values()
        peak = self.peak
        scaled = [float(v) / peak if peak > 0 else 0.0 for v in vals]
        last = len(scaled) - 1

        def lr_lambda(t: int) -> float:
            t = _validate.integer(t, "t")
            if t < 0:
                raise ValueError(f"t: must be >= 0, got {t}")
            return scaled[t if t <= last else last]

        return lr_lambda

    # -- areas -----------------------------------------------------------------------
    def areas(self, steps: ArrayLike | None = None, decay: float = 0.999, *,
              warmup_as_peak: bool | int = False) -> Areas:
        """Areas S1, S2 (:ref:`areas`) at the given steps, in closed form.

        Parameters
        ----------
        steps : int or array_like of int, optional
            0-based steps (any order, repeats allowed). Default: every step.
        decay : float in [0, 1]
            Momentum factor lambda of S2.
        warmup_as_peak : bool or int
            P2's convention, as in :func:`cptlaw.areas`: an int W counts the first W steps
            at the schedule's peak; True the steps before the first maximum (finding it
            materialises the values once).

        Returns
        -------
        Areas
            ``(s1, s2)``, float64, shaped like ``steps``. Equal (to ~1e-14 of max|S|) to
            ``cptlaw.areas(self.values(), decay, warmup_as_peak=...)`` at those steps.
        """
        lam = _validate.decay(decay)
        if steps is None:
            _limits.check_fits(self._steps, 24, "steps", "every step's areas (steps=None)",
                               "pass the steps you need")
            idx = np.arange(self._steps, dtype=np.int64)
        else:
            idx = _steps_array(steps, "steps", self._steps)
        sched = self._warmup_view(warmup_as_peak)
        s1, s2 = _core.schedule_areas(sched._rows[None], sched._data, idx.ravel(), lam, 1)
        return Areas(s1.reshape(idx.shape), s2.reshape(idx.shape))

    def _warmup_view(self, warmup_as_peak) -> "Schedule":
        """This schedule with its first W steps lifted to the peak (P2's warmup convention)."""
        if warmup_as_peak is False or warmup_as_peak is None:
            return self
        if warmup_as_peak is True:
            _limits.check_fits(self._steps, 8, "warmup_as_peak", "finding the first maximum (True) scans a schedule",
                               "give the warmup length as an int")
            vals = self.values()
            w, peak = int(np.argmax(vals)), float(vals.max())
        else:
            w, peak = min(_count(warmup_as_peak, "warmup_as_peak"), self._steps), self.peak
        if w == 0:
            return self
        head = Schedule([_row(w, _CONSTANT, peak)], peak=peak, desc="")
        return head if w == self._steps else concat(head, self[w:])

    def __getitem__(self, key) -> "Schedule":
        """``schedule[a:b]``: steps a..b-1 as a schedule of their own (its t = 0 is step a)."""
        if not isinstance(key, slice):
            raise TypeError("Schedule indices must be slices; use lr(t) for the LR of a step")
        a, b, step = key.indices(self._steps)
        if step != 1:
            raise ValueError("key: slices of a schedule must have step 1")
        if b <= a:
            raise ValueError(f"key: the slice [{key.start}:{key.stop}] of {self._steps} steps is empty")
        rows = self._rows.copy()
        ends = np.cumsum(rows[:, 0])
        starts = ends - rows[:, 0]
        keep = (ends > a) & (starts < b)
        rows, starts, ends = rows[keep], starts[keep], ends[keep]
        front = np.maximum(a - starts, 0.0)
        rows[:, 0] = np.minimum(ends, b) - np.maximum(starts, a)
        # Every formula reads j + off, except HF's linear decay (off - j) / den.
        rows[:, 4] += np.where(rows[:, 1] == _RATIO_DOWN, -front, front)
        return Schedule(rows, self._data if self._data.size else None, peak=None, desc=lambda: f"{self!r}[{a}:{b}]")

    def final_state(self, decay: float = 0.999) -> ScheduleState:
        """State after the last step: S1, S2, momentum m and final LR."""
        lam = _validate.decay(decay)
        s1, s2, m, _ = _core.schedule_final_state(self._rows, self._data, lam)
        return ScheduleState(s1, s2, m, self.lr(self._steps - 1))

    # -- composition -----------------------------------------------------------------
    def then(self, *others: "Schedule") -> "Schedule":
        """This schedule followed by ``others`` (step counts add up)."""
        return concat(self, *others)

    def __add__(self, other):
        if not isinstance(other, Schedule):
            return NotImplemented
        return concat(self, other)

    def __radd__(self, other):
        if isinstance(other, numbers.Number) and other == 0:  # sum(list_of_schedules)
            return self
        return NotImplemented


# -- validation helpers -----------------------------------------------------------------


def _steps_array(value, name: str, n: int) -> np.ndarray:
    if type(value) is int:  # fast path for one plain step
        if not 0 <= value < n:
            raise ValueError(f"{name}: steps must be in [0, {n}), got {value}")
        return np.array(value, dtype=np.int64)
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected integer steps, got bool")
    try:
        arr = np.asarray(value)
    except Exception as exc:
        raise TypeError(f"{name}: cannot be read as an array of steps ({exc})") from None
    if arr.dtype.kind not in "iu":
        if arr.size == 0 and arr.dtype.kind == "f":
            arr = arr.astype(np.int64)
        else:
            raise TypeError(f"{name}: expected integer steps, got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() >= n):
        raise ValueError(f"{name}: steps must be in [0, {n}), got values in [{arr.min()}, {arr.max()}]")
    return np.asarray(arr, dtype=np.int64)


def _lr(value, name: str) -> float:
    return _validate.real_scalar(value, name, lo=0.0)


def _count(value, name: str, lo: int = 0) -> int:
    if type(value) is not int:
        value = _validate.integer(value, name, lo=lo)
    if value < lo:
        raise ValueError(f"{name}: must be >= {lo}, got {value}")
    if value > _limits.MAX_EXACT_INT:  # segment tables hold lengths as float64
        raise ValueError(f"{name}: must be <= 2**53, got {value}")
    return value


def _steps_arg(steps, name: str = "steps") -> int:
    return _count(steps, name, lo=1)


def _warmup_arg(warmup, steps: int, names=("warmup", "steps")) -> int:
    w = _count(warmup, names[0], lo=0)
    if w > steps:
        raise ValueError(f"{names[0]}: must be <= {names[1]} ({steps}), got {w}")
    return w


def _min_ratio(min_lr, peak: float) -> float:
    m = _lr(min_lr, "min_lr")
    if m > peak:
        raise ValueError(f"min_lr: must be <= peak_lr ({peak}), got {m}")
    return m / peak if peak > 0 else 0.0


def _fmt(**kw) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kw.items())


def _lazy(name: str, *args, **kw):
    """A repr made only when asked for: name(args..., k=v, ...)."""
    return lambda: f"{name}({', '.join([repr(a) for a in args] + ([_fmt(**kw)] if kw else []))})"


def _warmup_rows(peak: float, warmup: int, floor: float = 0.0, kind: str = "linear"):
    """HF warmup: f(t / max(1, W)) blended from floor*peak up to peak."""
    if warmup <= 0:
        return []
    shape = {"linear": _LINEAR, "cosine": _COSINE_UP, "1-sqrt": _SQRT_UP}[kind]
    return [_row(warmup, shape, peak, floor, 0.0, max(1, warmup))]


# -- constructors -----------------------------------------------------------------------


def constant(lr: float, steps: int) -> Schedule:
    """A constant LR ``lr`` for ``steps`` steps (HF ``get_constant_schedule``)."""
    v = _lr(lr, "lr")
    n = _steps_arg(steps)
    return Schedule([_row(n, _CONSTANT, v)], peak=v, desc=_lazy("constant", lr=v, steps=n))


def cosine(peak_lr: float, steps: int, warmup: int = 0, min_lr: float = 0.0, *, num_cycles: float = 0.5) -> Schedule:
    """Linear warmup then cosine decay, exactly as Hugging Face computes it.

    ``lr(t) = peak * t / max(1, W)`` for ``t < W``; then with ``p = (t - W) / max(1, T - W)``,
    ``lr = peak * (f * (1 - r) + r)``, ``f = 0.5 * (1 + cos(pi * num_cycles * 2 * p))``,
    ``r = min_lr / peak``. This is ``get_cosine_schedule_with_warmup`` (min_lr = 0),
    ``get_cosine_with_min_lr_schedule_with_warmup(min_lr=...)``, and PyTorch
    ``CosineAnnealingLR(T_max=steps, eta_min=min_lr)`` when ``warmup = 0``. The LR reaches
    ``min_lr`` at ``t = steps`` (one past the last step), as in those libraries.
    """
    peak = _lr(peak_lr, "peak_lr")
    n = _steps_arg(steps)
    w = _warmup_arg(warmup, n)
    r = _min_ratio(min_lr, peak)
    nc = _validate.real_scalar(num_cycles, "num_cycles", lo=0.0)
    rows = _warmup_rows(peak, w) + [_row(n - w, _COSINE, peak, r, 0.0, max(1, n - w), nc)]
    extra = {} if nc == 0.5 else {"num_cycles": nc}
    desc = _lazy("cosine", peak_lr=peak, steps=n, warmup=w, min_lr=float(min_lr), **extra)
    return Schedule(rows, peak=peak, desc=desc)


def linear(peak_lr: float, steps: int, warmup: int = 0, min_lr: float = 0.0) -> Schedule:
    """Linear warmup then linear decay (HF ``get_linear_schedule_with_warmup`` when min_lr = 0).

    ``lr(t) = peak * t / max(1, W)`` for ``t < W``, then
    ``peak * (((T - t) / max(1, T - W)) * (1 - r) + r)``, ``r = min_lr / peak``: the LR
    reaches ``min_lr`` at ``t = steps``.
    """
    peak = _lr(peak_lr, "peak_lr")
    n = _steps_arg(steps)
    w = _warmup_arg(warmup, n)
    r = _min_ratio(min_lr, peak)
    rows = _warmup_rows(peak, w) + [_row(n - w, _RATIO_DOWN, peak, r, n - w, max(1, n - w))]
    return Schedule(rows, peak=peak, desc=_lazy("linear", peak_lr=peak, steps=n, warmup=w, min_lr=float(min_lr)))


def wsd(
    peak_lr: float,
    steps: int,
    decay_steps: int,
    warmup: int = 0,
    min_lr: float = 0.0,
    decay: str = "linear",
    *,
    warmup_type: str = "linear",
    num_cycles: float = 0.5,
) -> Schedule:
    """Warmup-stable-decay, exactly as HF ``get_wsd_schedule``.

    With ``r = min_lr / peak`` (HF's ``min_lr_ratio``), ``W = warmup``, ``D = decay_steps`` and
    ``S = steps - W - D`` stable steps:

    - ``t < W``: ``p = t / max(1, W)``, ``f = p`` / ``0.5 (1 - cos(pi p))`` / ``1 - sqrt(1 - p)``
      for ``warmup_type`` linear / cosine / 1-sqrt; ``lr = peak (f (1 - r) + r)`` (HF's warmup
      starts at ``min_lr``, not 0);
    - ``W <= t < W + S``: ``peak``;
    - then ``p = (t - W - S) / max(1, D)``, ``f = 1 - p`` / ``0.5 (1 + cos(2 pi num_cycles p))``
      / ``1 - sqrt(p)`` for ``decay`` linear / cosine / 1-sqrt, ``lr = peak (f (1 - r) + r)``.

    Note HF's own default ``decay_type`` is "cosine"; here it is "linear".
    """
    peak = _lr(peak_lr, "peak_lr")
    n = _steps_arg(steps)
    w = _warmup_arg(warmup, n)
    d = _count(decay_steps, "decay_steps")
    if d > n:
        raise ValueError(f"decay_steps: must be <= steps ({n}), got {d}")
    if w + d > n:
        raise ValueError(f"decay_steps: warmup + decay_steps must be <= steps ({n}), got {w} + {d}")
    _validate.choice(decay, "decay", DECAY_TYPES)
    _validate.choice(warmup_type, "warmup_type", WARMUP_TYPES)
    r = _min_ratio(min_lr, peak)
    nc = _validate.real_scalar(num_cycles, "num_cycles", lo=0.0)
    rows = _wsd_rows(peak, n, w, n - w - d, d, r, r, warmup_type, decay, nc)
    extra: dict[str, Any] = {}
    if warmup_type != "linear":
        extra["warmup_type"] = warmup_type
    if nc != 0.5:
        extra["num_cycles"] = nc
    desc = _lazy("wsd", peak_lr=peak, steps=n, decay_steps=d, warmup=w, min_lr=float(min_lr), decay=decay, **extra)
    return Schedule(rows, peak=peak, desc=desc)


def _wsd_rows(peak, n, w, s, d, start_ratio, end_ratio, warmup_type, decay, nc):
    """Warmup (from start_ratio*peak), stable, decay (to end_ratio*peak), tail at end_ratio*peak."""
    rows = _warmup_rows(peak, w, start_ratio, warmup_type)
    rows.append(_row(s, _CONSTANT, peak))
    shape = {"linear": _ONE_MINUS, "cosine": _COSINE, "1-sqrt": _SQRT_DOWN}[decay]
    rows.append(_row(d, shape, peak, end_ratio, 0.0, max(1, d), nc))
    tail = n - w - s - d
    if tail > 0:
        rows.append(_row(tail, _CONSTANT, peak * end_ratio))
    # Truncate to n steps (HF's num_stable_steps may overshoot num_training_steps).
    out, left = [], n
    for row in rows:
        take = min(int(row[0]), left)
        if take > 0:
            out.append((float(take),) + tuple(row[1:]))
        left -= take
    return out


def one_minus_sqrt(
    peak_lr: float, steps: int, decay_steps: Optional[int] = None, warmup: int = 0, min_lr: float = 0.0
) -> Schedule:
    """WSD with a 1-sqrt cooldown (Hägele et al. 2024; HF ``decay_type="1-sqrt"``).

    ``decay_steps`` defaults to every step after the warmup (no stable phase). Same formulas
    as :func:`wsd` with ``decay="1-sqrt"``.
    """
    n = _steps_arg(steps)
    w = _warmup_arg(warmup, n)
    d = n - w if decay_steps is None else decay_steps
    s = wsd(peak_lr, n, d, w, min_lr, "1-sqrt")
    s._desc = _lazy("one_minus_sqrt", peak_lr=s.peak, steps=n, decay_steps=d, warmup=w, min_lr=float(min_lr))
    return s


def exponential(peak_lr: float, steps: int, gamma: float, warmup: int = 0) -> Schedule:
    """Linear warmup (HF) then ``peak * gamma ** (t - W)`` (PyTorch ``ExponentialLR`` when W = 0)."""
    peak = _lr(peak_lr, "peak_lr")
    n = _steps_arg(steps)
    w = _warmup_arg(warmup, n)
    g = _validate.real_scalar(gamma, "gamma")
    if g <= 0:
        raise ValueError(f"gamma: must be > 0, got {g}")
    rows = _warmup_rows(peak, w) + [_row(n - w, _POWER, peak, 0.0, 0.0, 1.0, g)]
    top = peak * max(1.0, g ** max(0, n - w - 1))  # a growing exponential peaks at the end
    return Schedule(rows, peak=top, desc=_lazy("exponential", peak_lr=peak, steps=n, gamma=g, warmup=w))


def inverse_sqrt(peak_lr: float, steps: int, warmup: int = 0, timescale: Optional[int] = None) -> Schedule:
    """HF ``get_inverse_sqrt_schedule``: warmup ``t / max(1, W)``, then
    ``1 / sqrt((t + timescale - W) / timescale)``; ``timescale`` defaults to ``W or 10000``."""
    peak = _lr(peak_lr, "peak_lr")
    n = _steps_arg(steps)
    w = _warmup_arg(warmup, n)
    ts = (w or 10_000) if timescale is None else _count(timescale, "timescale", lo=1)
    rows = _warmup_rows(peak, w) + [_row(n - w, _INV_SQRT, peak, 0.0, ts, ts)]
    return Schedule(rows, peak=peak, desc=_lazy("inverse_sqrt", peak_lr=peak, steps=n, warmup=w, timescale=ts))


def polynomial(peak_lr: float, steps: int, warmup: int = 0, min_lr: float = 0.0, power: float = 1.0) -> Schedule:
    """HF ``get_polynomial_decay_schedule_with_warmup`` (with ``lr_end = min_lr``; HF's default
    lr_end is 1e-7) and PyTorch ``PolynomialLR(total_iters=steps, power)`` when min_lr = warmup = 0:
    ``lr = (peak - min_lr) * (1 - (t - W) / (T - W)) ** power + min_lr`` after the warmup."""
    peak = _lr(peak_lr, "peak_lr")
    n = _steps_arg(steps)
    w = _warmup_arg(warmup, n)
    lo = _lr(min_lr, "min_lr")
    if peak > 0 and lo >= peak or peak == 0 and lo > 0:
        raise ValueError(f"min_lr: must be < peak_lr ({peak}), got {lo}")
    pw = _validate.real_scalar(power, "power", lo=0.0)
    rows = _warmup_rows(peak, w)
    if n > w:
        rows.append(_row(n - w, _POLY if peak > 0 else _CONSTANT, peak, lo, 0.0, n - w, pw))
    return Schedule(rows, peak=peak, desc=_lazy("polynomial", peak_lr=peak, steps=n, warmup=w, min_lr=lo, power=pw))


def multistep(peak_lr: float, steps: int, milestones: Sequence[int], gamma: float = 0.1, warmup: int = 0) -> Schedule:
    """Step decay: ``peak * gamma ** (number of milestones <= t)`` after an HF linear warmup.

    PyTorch ``MultiStepLR(milestones, gamma)`` when ``warmup = 0`` (repeated milestones
    compound, as PyTorch's Counter does); DeepSeek LLM's schedule is
    ``multistep(peak, T, [int(0.8 * T), int(0.9 * T)], gamma=0.316, warmup=2000)``.
    Milestones are absolute optimizer steps, at or after the warmup; those >= steps do nothing.
    """
    peak = _lr(peak_lr, "peak_lr")
    n = _steps_arg(steps)
    w = _warmup_arg(warmup, n)
    g = _validate.real_scalar(gamma, "gamma", lo=0.0)
    if (isinstance(milestones, (str, bytes)) or not hasattr(milestones, "__iter__")
            or (isinstance(milestones, np.ndarray) and milestones.ndim != 1)):
        raise TypeError("milestones: expected a sequence of integer steps")
    if hasattr(milestones, "__len__") and len(milestones) > n:
        raise ValueError(f"milestones: more milestones ({len(milestones)}) than steps ({n})")
    ms = sorted(_count(m, "milestones") for m in milestones)
    if ms and ms[0] < w:
        raise ValueError(f"milestones: must be >= warmup ({w}), got {ms[0]}")
    rows = _warmup_rows(peak, w)
    cuts = sorted(set([w] + [m for m in ms if m < n] + [n]))
    for a, b in zip(cuts[:-1], cuts[1:]):
        k = bisect.bisect_right(ms, a)
        rows.append(_row(b - a, _CONSTANT, peak * g**k))
    desc = _lazy("multistep", peak_lr=peak, steps=n, milestones=ms, gamma=g, warmup=w)
    return Schedule(rows, peak=peak, desc=desc)


def cyclic_cosine(
    peak_lr: float,
    steps: int,
    cycle_steps: Optional[int] = None,
    *,
    num_cycles: Optional[float] = None,
    cycle_mult: int = 1,
    min_lr: float = 0.0,
    warmup: int = 0,
) -> Schedule:
    """Cosine with restarts, in one of two conventions (give exactly one of them):

    - ``cycle_steps`` (PyTorch ``CosineAnnealingWarmRestarts(T_0=cycle_steps, T_mult=cycle_mult,
      eta_min=min_lr)``): cycle i lasts ``cycle_steps * cycle_mult**i`` steps,
      ``lr = min_lr + (peak - min_lr) * (1 + cos(pi * T_cur / T_i)) / 2``.
    - ``num_cycles`` (HF ``get_cosine_with_hard_restarts_schedule_with_warmup``): with
      ``p = (t - W) / max(1, T - W)``, ``lr = peak * (0.5 (1 + cos(pi ((num_cycles p) % 1))) (1 - r) + r)``,
      ``r = min_lr / peak`` (HF has r = 0).

    Either after an HF linear warmup of ``warmup`` steps (the cycles start at ``t = W``).
    """
    peak = _lr(peak_lr, "peak_lr")
    n = _steps_arg(steps)
    w = _warmup_arg(warmup, n)
    lo = _lr(min_lr, "min_lr")
    if lo > peak:
        raise ValueError(f"min_lr: must be <= peak_lr ({peak}), got {lo}")
    if (cycle_steps is None) == (num_cycles is None):
        raise ValueError("cycle_steps, num_cycles: give exactly one of them")
    rows = _warmup_rows(peak, w)
    left = n - w
    if cycle_steps is not None:
        t0 = _count(cycle_steps, "cycle_steps", lo=1)
        mult = _count(cycle_mult, "cycle_mult", lo=1)
        ti = t0
        while left > 0:
            rows.append(_row(min(ti, left), _COSINE_TORCH, peak, lo, 0.0, ti))
            left -= ti
            ti *= mult
        desc = _lazy("cyclic_cosine", peak_lr=peak, steps=n, cycle_steps=t0, cycle_mult=mult, min_lr=lo, warmup=w)
    else:
        nc = _validate.real_scalar(num_cycles, "num_cycles")
        if nc <= 0:
            raise ValueError(f"num_cycles: must be > 0, got {nc}")
        r = lo / peak if peak > 0 else 0.0
        den = float(max(1, n - w))
        starts = _hard_restart_starts(nc, den, left)
        bounds = starts + [left]
        for c, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
            if b > a:
                cyc = math.floor(nc * (float(a) / den))
                rows.append(_row(b - a, _COSINE_HARD, peak, r, a, den, nc, cyc))
        desc = _lazy("cyclic_cosine", peak_lr=peak, steps=n, num_cycles=nc, min_lr=lo, warmup=w)
    return Schedule(rows, peak=peak, desc=desc)


def _hard_restart_starts(nc: float, den: float, n: int):
    """First step of each cycle: the smallest j with floor(nc * (j / den)) >= c, in the
    floating-point arithmetic HF uses (so every step lands in the cycle HF puts it in)."""

    def cycle(j):
        return math.floor(nc * (float(j) / den))

    starts = [0]
    last = cycle(n - 1) if n > 0 else 0
    c = cycle(0) + 1
    while c <= last:
        j = min(n - 1, max(0, math.ceil(c * den / nc)))
        while j > 0 and cycle(j - 1) >= c:
            j -= 1
        while cycle(j) < c:
            j += 1
        starts.append(j)
        c = cycle(j) + 1
    return starts


def rewarmup(
    peak_lr: float,
    steps: int,
    warmup: int,
    start_lr: float = 0.0,
    decay: str = "cosine",
    min_lr: float = 0.0,
    *,
    decay_steps: Optional[int] = None,
    num_cycles: float = 0.5,
) -> Schedule:
    """A CPT schedule: re-warmup from ``start_lr`` to ``peak_lr``, then decay to ``min_lr``.

    ``lr(t) = peak * ((t / W) * (1 - s) + s)``, ``s = start_lr / peak``, for ``t < W`` (so
    ``lr(0) = start_lr``, typically the PT checkpoint's final LR); then ``peak`` for
    ``steps - W - decay_steps`` steps; then a :func:`wsd`-style decay (``decay`` linear / cosine /
    1-sqrt over ``decay_steps``, default all remaining steps) towards ``min_lr``.
    """
    peak = _lr(peak_lr, "peak_lr")
    n = _steps_arg(steps)
    w = _warmup_arg(warmup, n)
    s0 = _lr(start_lr, "start_lr")
    _validate.choice(decay, "decay", DECAY_TYPES)
    r = _min_ratio(min_lr, peak)
    d = n - w if decay_steps is None else _count(decay_steps, "decay_steps")
    if w + d > n:
        raise ValueError(f"decay_steps: warmup + decay_steps must be <= steps ({n}), got {w} + {d}")
    nc = _validate.real_scalar(num_cycles, "num_cycles", lo=0.0)
    if peak == 0 and s0 > 0:
        raise ValueError("start_lr: must be 0 when peak_lr is 0")
    s = s0 / peak if peak > 0 else 0.0
    rows = _wsd_rows(peak, n, w, n - w - d, d, s, r, "linear", decay, nc)
    desc = _lazy(
        "rewarmup", peak_lr=peak, steps=n, warmup=w, start_lr=s0, decay=decay, min_lr=float(min_lr), decay_steps=d
    )
    return Schedule(rows, peak=max(peak, s0), desc=desc)


def concat(*schedules: Schedule) -> Schedule:
    """The schedules one after the other (like PyTorch ``SequentialLR``: each restarts at its
    own t = 0)."""
    if len(schedules) == 1 and not isinstance(schedules[0], Schedule) and isinstance(schedules[0], Sequence):
        schedules = tuple(schedules[0])
    if not schedules:
        raise ValueError("schedules: need at least one schedule")
    for i, s in enumerate(schedules):
        if not isinstance(s, Schedule):
            raise TypeError(f"schedules[{i}]: expected a Schedule, got {type(s).__name__}")
    rows, data = _merge_rows(schedules)
    desc = lambda: "concat(" + ", ".join(repr(s) for s in schedules) + ")"
    lazy = any(s._peak is None for s in schedules)  # a slice's peak is only found when asked
    return Schedule(rows, data, peak=None if lazy else max(s.peak for s in schedules), desc=desc)


def _merge_rows(schedules):
    """Row tables and data buffers joined (array segments re-pointed into the joined data)."""
    rows, data, offset = [], [], 0
    for s in schedules:
        r = s._rows.copy()
        if s._data.size:
            r[r[:, 1] == _ARRAY, 4] += offset
            data.append(s._data)
            offset += s._data.size
        rows.append(r)
    return np.concatenate(rows), (np.concatenate(data) if data else None)


def from_values(values: ArrayLike) -> Schedule:
    """Wrap any per-step LR array (1-D, finite, >= 0). Its areas use the per-step recurrence."""
    x = _validate.learning_rates(values, "values")
    if x.ndim != 1:
        raise ValueError(f"values: expected a 1-D array, got {x.ndim} dimensions")
    x = np.array(x, dtype=np.float64)
    return Schedule([_row(x.size, _ARRAY, 0.0)], x, peak=float(x.max()), desc=lambda: f"from_values(<{x.size} steps>)")


def from_hf(name: str, peak_lr: float, num_warmup_steps: int, num_training_steps: Optional[int],
            **kwargs: Any) -> Schedule:
    """The schedule ``transformers.get_scheduler(name, ...)`` would produce, as a Schedule.

    ``name`` is a ``SchedulerType`` value ("linear", "cosine", "cosine_with_restarts",
    "polynomial", "constant", "constant_with_warmup", "inverse_sqrt", "cosine_with_min_lr",
    "cosine_warmup_with_min_lr", "warmup_stable_decay"); ``kwargs`` are the
    ``scheduler_specific_kwargs`` (``num_cycles``, ``lr_end``, ``power``, ``timescale``,
    ``min_lr``, ``min_lr_rate``, ``warmup_lr_rate``, ``num_decay_steps``, ``num_stable_steps``,
    ``warmup_type``, ``decay_type``, ``min_lr_ratio``). ``num_training_steps`` is the length of
    the schedule (for "warmup_stable_decay" it may be None, then W + S + D).
    """
    key = getattr(name, "value", name)
    key = _validate.choice(key, "name", HF_NAMES + ("reduce_lr_on_plateau", "greedy"))
    if key in ("reduce_lr_on_plateau", "greedy"):
        raise ValueError(f"name: {key!r} depends on the metric, not on the step; it has no fixed schedule")
    peak = _lr(peak_lr, "peak_lr")
    w = _count(num_warmup_steps, "num_warmup_steps")

    def take(*names):
        unknown = set(kwargs) - set(names)
        if unknown:
            raise TypeError(f"kwargs: unexpected argument(s) for {key!r}: {', '.join(sorted(unknown))}")
        return kwargs

    if key == "warmup_stable_decay":
        kw = take("num_decay_steps", "num_stable_steps", "warmup_type", "decay_type", "min_lr_ratio", "num_cycles")
        if "num_decay_steps" not in kw:
            raise TypeError("kwargs: 'warmup_stable_decay' needs num_decay_steps")
        d = _count(kw["num_decay_steps"], "num_decay_steps")
        ratio = _validate.real_scalar(kw.get("min_lr_ratio", 0.0), "min_lr_ratio", lo=0.0, hi=1.0)
        wt = _validate.choice(kw.get("warmup_type", "linear"), "warmup_type", WARMUP_TYPES)
        dt = _validate.choice(kw.get("decay_type", "cosine"), "decay_type", DECAY_TYPES)
        nc = _validate.real_scalar(kw.get("num_cycles", 0.5), "num_cycles", lo=0.0)
        if kw.get("num_stable_steps") is not None:
            s = _count(kw["num_stable_steps"], "num_stable_steps")
            n = w + s + d if num_training_steps is None else _steps_arg(num_training_steps, "num_training_steps")
        elif num_training_steps is None:
            raise ValueError("num_training_steps: needed unless num_stable_steps is given")
        else:
            n = _steps_arg(num_training_steps, "num_training_steps")
            s = n - w - d
            if s < 0:
                raise ValueError(f"num_decay_steps: warmup + decay must be <= num_training_steps ({n})")
        rows = _wsd_rows(peak, n, w, s, d, ratio, ratio, wt, dt, nc)
        desc = _lazy("from_hf", "warmup_stable_decay", peak_lr=peak, num_warmup_steps=w, num_training_steps=n, **kw)
        return Schedule(rows, peak=peak, desc=desc)

    if num_training_steps is None:
        raise ValueError(f"num_training_steps: {key!r} needs the number of steps")
    n = _steps_arg(num_training_steps, "num_training_steps")
    w = _warmup_arg(w, n, ("num_warmup_steps", "num_training_steps"))
    if key == "constant":
        take()
        return constant(peak, n)
    if key == "constant_with_warmup":
        take()
        rows = _wsd_rows(peak, n, w, n - w, 0, 0.0, 0.0, "linear", "linear", 0.5)
        desc = _lazy("from_hf", "constant_with_warmup", peak_lr=peak, num_warmup_steps=w, num_training_steps=n)
        return Schedule(rows, peak=peak, desc=desc)
    if key == "linear":
        take()
        return linear(peak, n, w)
    if key == "cosine":
        kw = take("num_cycles")
        return cosine(peak, n, w, num_cycles=kw.get("num_cycles", 0.5))
    if key == "cosine_with_restarts":
        kw = take("num_cycles")
        return cyclic_cosine(peak, n, num_cycles=kw.get("num_cycles", 1), warmup=w)
    if key == "polynomial":
        kw = take("lr_end", "power")
        lr_end = _lr(kw.get("lr_end", 1e-7), "lr_end")
        if not lr_end < peak:
            raise ValueError(f"lr_end: must be < peak_lr ({peak}), got {lr_end}")
        return polynomial(peak, n, w, min_lr=lr_end, power=kw.get("power", 1.0))
    if key == "inverse_sqrt":
        kw = take("timescale")
        return inverse_sqrt(peak, n, w, timescale=kw.get("timescale"))
    # cosine_with_min_lr, cosine_warmup_with_min_lr
    names: tuple[str, ...] = ("num_cycles", "min_lr", "min_lr_rate")
    if key == "cosine_warmup_with_min_lr":
        names += ("warmup_lr_rate",)
    kw = take(*names)
    if (kw.get("min_lr") is None) == (kw.get("min_lr_rate") is None):
        raise ValueError("kwargs: give exactly one of min_lr, min_lr_rate")
    if kw.get("min_lr") is not None:
        lo = _lr(kw["min_lr"], "min_lr")
        r = lo / peak if peak > 0 else 0.0
    else:
        r = _validate.real_scalar(kw["min_lr_rate"], "min_lr_rate", lo=0.0, hi=1.0)
    nc = _validate.real_scalar(kw.get("num_cycles", 0.5), "num_cycles", lo=0.0)
    if key == "cosine_with_min_lr":
        rows = _warmup_rows(peak, w) + [_row(n - w, _COSINE, peak, r, 0.0, max(1, n - w), nc)]
    else:
        # HF's "_lr_rate" variant: warmup (t + 1) / max(1, W) or wr + (1 - wr) t / max(1, W - 1),
        # then p = (t - W + 1) / max(1, T - W).
        wr = kw.get("warmup_lr_rate")
        rows = []
        if w > 0:
            if wr is None:
                rows.append(_row(w, _LINEAR, peak, 0.0, 1.0, max(1, w)))
            else:
                wr = _validate.real_scalar(wr, "warmup_lr_rate", lo=0.0, hi=1.0)
                rows.append(_row(w, _LINEAR, peak, wr, 0.0, max(1, w - 1)))
        rows.append(_row(n - w, _COSINE, peak, r, 1.0, max(1, n - w), nc))
    desc = _lazy("from_hf", key, peak_lr=peak, num_warmup_steps=w, num_training_steps=n, **kw)
    return Schedule(rows, peak=peak, desc=desc)


# -- areas of many schedules, PT + CPT --------------------------------------------------


def _as_schedules(value, name: str):
    if isinstance(value, Schedule):
        return [value], True
    if isinstance(value, (str, bytes, np.ndarray)) or not hasattr(value, "__iter__"):
        raise TypeError(f"{name}: expected a Schedule or a sequence of Schedules, got {type(value).__name__}")
    out = []
    for i, s in enumerate(value):  # one at a time: a huge iterable of non-Schedules stops at the first
        if not isinstance(s, Schedule):
            raise TypeError(f"{name}[{i}]: expected a Schedule, got {type(s).__name__}")
        out.append(s)
    if not out:
        raise ValueError(f"{name}: is empty")
    return out, False


def _stack(schedules):
    """(count, nseg, 8) table, zero-length rows padding shorter schedules, and joined data."""
    counts = np.fromiter((s._rows.shape[0] for s in schedules), dtype=np.int64, count=len(schedules))
    nseg = int(counts.max())
    table = np.zeros((len(schedules), nseg, _FIELDS))
    table[:, :, 5] = 1.0
    rows = np.concatenate([s._rows for s in schedules])
    # Row r of schedule i goes to table[i, r]: flat index i * nseg + r.
    first = np.cumsum(counts) - counts
    flat = np.arange(rows.shape[0]) - np.repeat(first, counts) + np.repeat(np.arange(len(schedules)) * nseg, counts)
    data, offset = [], 0
    if any(s._data.size for s in schedules):
        for i, s in enumerate(schedules):
            if s._data.size:
                lo = first[i]
                sel = np.flatnonzero(rows[lo : lo + counts[i], 1] == _ARRAY) + lo
                rows[sel, 4] += offset
                data.append(s._data)
                offset += s._data.size
    table.reshape(-1, _FIELDS)[flat] = rows
    return table, (np.concatenate(data) if data else np.empty(0))


def _batch_steps(steps, name: str, lengths, count: int) -> np.ndarray:
    n_min = min(lengths)
    if steps is None:
        if len(set(lengths)) != 1:
            raise ValueError(f"{name}: required when the schedules have different lengths")
        _limits.check_fits(n_min * count, 24, name, "every step's areas (steps=None)", "pass the steps you need")
        return np.arange(n_min, dtype=np.int64)
    idx = _steps_array(steps, name, max(lengths))
    if idx.ndim == 2:
        if idx.shape[0] != count:
            raise ValueError(f"{name}: a 2-D array needs one row per schedule ({count}), got {idx.shape[0]}")
        for i, n in enumerate(lengths):
            if idx[i].size and idx[i].max() >= n:
                raise ValueError(f"{name}: row {i} reaches step {idx[i].max()} but that schedule has {n} steps")
    elif idx.ndim == 1:
        if idx.size and idx.max() >= n_min:
            raise ValueError(f"{name}: steps must be < {n_min} (the shortest schedule), got {idx.max()}")
    else:
        raise ValueError(f"{name}: expected a 1-D (shared) or 2-D (per schedule) array, got {idx.ndim} dimensions")
    return idx


def batch_areas(schedules: Sequence[Schedule], steps: ArrayLike | None = None, decay: float = 0.999, *,
                warmup_as_peak: bool | int = False) -> Areas:
    """Areas of many schedules at once (C++ loop over schedules on all threads, GIL released).

    Parameters
    ----------
    schedules : sequence of Schedule
    steps : array_like of int, optional
        1-D: the same steps for every schedule; 2-D ``(len(schedules), k)``: per schedule.
        Default: every step (all schedules must then have the same length).
    warmup_as_peak : bool or int
        As in :meth:`Schedule.areas`, per schedule.

    Returns
    -------
    Areas
        ``s1``, ``s2`` of shape ``(len(schedules), k)``.
    """
    items, _ = _as_schedules(schedules, "schedules")
    items = [s._warmup_view(warmup_as_peak) for s in items]
    lam = _validate.decay(decay)
    idx = _batch_steps(steps, "steps", [s.steps for s in items], len(items))
    table, data = _stack(items)
    s1, s2 = _core.schedule_areas(table, data, idx, lam, get_num_threads())
    return Areas(s1, s2)


def _cpt_common(pt, cpt, steps, decay, split, warmup_as_peak=False, names=("pt_schedules", "cpt_schedules")):
    pts, _ = _as_schedules(pt, names[0])
    pts = [p._warmup_view(warmup_as_peak) for p in pts]
    cpts, _ = _as_schedules(cpt, names[1])
    if len(pts) != 1 and len(cpts) != 1 and len(pts) != len(cpts):
        raise ValueError(f"{names[0]}, {names[1]}: {len(pts)} and {len(cpts)} schedules do not broadcast")
    count = max(len(pts), len(cpts))
    lam = _validate.decay(decay)
    mode = SPLITS.index(_validate.choice(split, "split", SPLITS))
    pl = [s.steps for s in pts] * (count if len(pts) == 1 else 1)
    cl = [s.steps for s in cpts] * (count if len(cpts) == 1 else 1)
    lengths = [a + b for a, b in zip(pl, cl)]
    idx = _batch_steps(steps, "steps", lengths, count)
    pt_table, pt_data = _stack(pts)
    cpt_table, cpt_data = _stack(cpts)
    out = _core.schedule_cpt_areas(pt_table, pt_data, cpt_table, cpt_data, idx, lam, mode, get_num_threads())
    return out


def cpt_areas_at(pt_schedule: Schedule, cpt_schedule: Schedule, steps: ArrayLike | None = None, decay: float = 0.999,
                 split: str = "by_source", *, warmup_as_peak: bool | int = False) -> CPTAreas:
    """PT/CPT areas (:ref:`s2-split`) at global steps of the PT ++ CPT timeline, in closed form.

    Equal to ``cptlaw.cpt_areas(pt.values(), cpt.values(), decay, split)`` at those indices,
    without materialising either schedule.

    Parameters
    ----------
    pt_schedule, cpt_schedule : Schedule
    steps : int or array_like of int, optional
        0-based steps on the concatenated timeline (``pt.steps`` is the first CPT step).
        Default: every step.
    split : {"by_source", "by_time", "restart"}
    warmup_as_peak : bool or int
        As in :meth:`Schedule.areas`, applied to the PT schedule only (CPT re-warmup is
        always literal).

    Returns
    -------
    CPTAreas
        ``s1_pt, s2_pt, s1_cpt, s2_cpt`` shaped like ``steps``.
    """
    if not isinstance(pt_schedule, Schedule):
        raise TypeError(f"pt_schedule: expected a Schedule, got {type(pt_schedule).__name__}")
    if not isinstance(cpt_schedule, Schedule):
        raise TypeError(f"cpt_schedule: expected a Schedule, got {type(cpt_schedule).__name__}")
    n = pt_schedule.steps + cpt_schedule.steps
    if steps is None:
        _limits.check_fits(n, 40, "steps", "every step's areas (steps=None)", "pass the steps you need")
        idx = np.arange(n, dtype=np.int64)
    else:
        idx = _steps_array(steps, "steps", n)
    out = _cpt_common(pt_schedule, cpt_schedule, idx.ravel(), decay, split, warmup_as_peak,
                      ("pt_schedule", "cpt_schedule"))
    return CPTAreas(*(a.reshape(idx.shape) for a in out))


def batch_cpt_areas(pt_schedules: Schedule | Sequence[Schedule], cpt_schedules: Schedule | Sequence[Schedule],
                    steps: ArrayLike | None = None, decay: float = 0.999,
                    split: str = "by_source", *, warmup_as_peak: bool | int = False) -> CPTAreas:
    """:func:`cpt_areas_at` for many (PT, CPT) pairs; either side may be a single Schedule
    (shared: a shared PT is prepared once). Steps as in :func:`batch_areas`; results are
    ``(count, k)``."""
    return CPTAreas(*_cpt_common(pt_schedules, cpt_schedules, steps, decay, split, warmup_as_peak))
