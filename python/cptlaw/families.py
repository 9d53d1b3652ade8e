"""One vocabulary of PT and CPT schedule families: the planner, the grid and the command line.

A *family* is a set of schedules named by a few parameters. :mod:`cptlaw.planner` builds one
schedule of a family at a time (:func:`cpt_schedule`), :func:`cptlaw.grid` evaluates the
Cartesian product of lists of parameter values in the compiled core, and ``cptlaw plan`` /
``cptlaw grid`` take the same parameters as options (``--decay-frac`` for ``decay_frac``). A
key means the same thing, with the same default, in all of them, and the planner and the grid
give the same schedule for the same parameters.

CPT families (:data:`CPT_KEYS`)
-------------------------------
``shape``
    One of :data:`SHAPES` (default ``"cosine"``), after a linear (re-)warmup of ``warmup`` steps from ``start_lr`` to
    ``peak_lr``: ``"constant"`` (stays at the peak), ``"linear"``, ``"cosine"``, ``"1-sqrt"``
    (decay over every step after the warmup towards the min LR) or ``"wsd"`` (stable at the
    peak, then a ``decay_type`` decay over the last :func:`wsd_decay_steps` steps). The
    formulas are Hugging Face's (:mod:`cptlaw.schedules`): a decay reaches the min LR one step
    past the end of the schedule.
``peak_lr``, ``steps``
    The peak LR (> 0) and the CPT length (>= 1).
``warmup``
    (Re-)warmup steps, default 0 (the first CPT step is at the peak).
``start_lr``
    The LR of the first warmup step: ``"pt"`` (the default: the PT checkpoint's final LR, a
    continuous re-warmup, as P1 does), ``"hf"`` (Hugging Face's own warmup: from 0, from the min
    LR for ``"wsd"`` and ``"1-sqrt"``, which are HF's WSD schedule) or an LR. Irrelevant without
    warmup.
``decay_frac``
    ``"wsd"`` only: the share of the steps **after the warmup** spent decaying, in [0, 1]
    (default 0.1): ``round(decay_frac * (steps - warmup))`` decay steps
    (:func:`wsd_decay_steps`, round half to even), the stable phase before them. Every value
    in [0, 1] gives a valid schedule, whatever the warmup.
``decay_type``
    ``"wsd"`` only: one of :data:`DECAY_TYPES` (default ``"linear"``).
``min_lr`` or ``min_lr_ratio``
    The LR the decay ends at, absolute or as a fraction of the peak (not both; default 0).

PT families (:data:`PT_KEYS`): the PT run whose last step is the checkpoint CPT starts from,
with the keys above but ``start_lr`` (PT warms up from 0, from the min LR for ``"wsd"`` and
``"1-sqrt"``, as Hugging Face does), plus ``loss_potential`` instead of a min LR: the
checkpoint's final LR over the peak LR (P1 section 4.1), exactly (:func:`pt_schedule`).

Deprecated spellings (:data:`DEPRECATED_KEYS`) still work with a :class:`DeprecationWarning`:
the planner's ``decay_fraction`` measured the WSD decay over *all* CPT steps (``round(f *
steps)``, at most ``steps - warmup``); under that name it keeps that meaning.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from . import _core, _limits, _validate, _warnings
from . import schedules as _S

__all__ = [
    "CPT_KEYS",
    "DECAY_TYPES",
    "DEFAULTS",
    "DEPRECATED_KEYS",
    "PT_KEYS",
    "SEARCHABLE",
    "SHAPES",
    "START_LRS",
    "cpt_schedule",
    "parse_family",
    "pt_schedule",
    "wsd_decay_steps",
]


def __dir__():  # dir() and tab completion show the public names only
    return sorted(__all__)

#: Schedule shapes, in the compiled grid's code order (Hugging Face names; "constant" is
#: ``constant_with_warmup``, "1-sqrt" is WSD with a 1-sqrt decay and no stable phase).
SHAPES = tuple(_core.grid_shapes)
#: WSD decay types (Hugging Face ``get_wsd_schedule``'s ``decay_type``), in code order.
DECAY_TYPES = tuple(_core.grid_decay_types)
#: Named ``start_lr`` values: the PT checkpoint's final LR, Hugging Face's warmup start.
START_LRS = ("pt", "hf")
#: Keys of a CPT family.
CPT_KEYS = ("shape", "peak_lr", "steps", "warmup", "start_lr", "decay_frac", "decay_type", "min_lr",
            "min_lr_ratio")
#: Keys of a PT family (the checkpoint's run).
PT_KEYS = ("shape", "peak_lr", "steps", "warmup", "decay_frac", "decay_type", "min_lr", "min_lr_ratio",
           "loss_potential")
#: Defaults of the optional keys of a CPT family (``min_lr`` / ``min_lr_ratio``: 0). A PT
#: family names its shape.
DEFAULTS = {"shape": "cosine", "warmup": 0, "start_lr": "pt", "decay_frac": 0.1, "decay_type": "linear"}
#: Old spelling -> key. ``decay_fraction`` (the planner's) keeps its old meaning: a share of
#: all CPT steps.
DEPRECATED_KEYS = {"decay_fraction": "decay_frac"}
#: Family parameters a one-dimensional search can vary: (scale of the search, integer).
SEARCHABLE = {
    "peak_lr": ("log", False),
    "steps": ("log", True),
    "decay_frac": ("linear", False),
    "warmup": ("linear", True),
    "min_lr_ratio": ("linear", False),
}

_HF_FROM_MIN = ("wsd", "1-sqrt")  # HF's WSD schedule warms up from the min LR


def wsd_decay_steps(decay_frac: float, steps: int, warmup: int = 0) -> int:
    """Decay steps of a WSD schedule of a family: ``round(decay_frac * (steps - warmup))``
    (round half to even, as ``numpy.rint``); the rest after the warmup is the stable phase."""
    return int(np.rint(float(decay_frac) * float(steps - warmup)))


def _warn_deprecated(key: str, where: str) -> None:
    """The DeprecationWarning of an old spelling, at the user's line."""
    new = DEPRECATED_KEYS[key]
    _warnings.warn(f"{where}: {key!r} is deprecated, use {new!r}: the share of the WSD steps *after the warmup* "
                   f"spent decaying (under the old name it is still the share of all CPT steps)", DeprecationWarning)


def _check_keys(spec: Mapping, name: str, keys, extra=()) -> None:
    """Refuse keys outside ``keys`` (and ``extra``), naming the argument."""
    allowed = tuple(keys) + tuple(extra)
    unknown = [k for k in spec if k not in allowed]
    if unknown:
        hint = "".join(f" ({k!r} is spelled {DEPRECATED_KEYS[k]!r} here)" for k in unknown if k in DEPRECATED_KEYS)
        raise ValueError(f"{name}: unknown key(s) {', '.join(map(repr, unknown))}{hint}; expected "
                         f"{', '.join(allowed)}")


# -- single schedules -----------------------------------------------------------------------------


def _shape_peak_steps_warmup(shape, peak_lr, steps, warmup) -> tuple:
    """The arguments every schedule of a family has, checked: ``(peak, steps, warmup)``."""
    _validate.choice(shape, "shape", SHAPES)
    peak = _peak_value(peak_lr)
    n = _validate.integer(steps, "steps", lo=1)
    wu = _validate.integer(warmup, "warmup", lo=0)
    if wu > n:
        raise ValueError(f"warmup: must be <= steps ({n}), got {wu}")
    return peak, n, wu


def _peak_value(peak_lr) -> float:
    peak = _validate.real_scalar(peak_lr, "peak_lr", lo=0.0)
    if peak <= 0:
        raise ValueError(f"peak_lr: must be > 0, got {peak}")
    return peak


def _min_lr_value(min_lr, min_lr_ratio, peak: float) -> float:
    """The absolute min LR from ``min_lr`` or ``min_lr_ratio`` (at most one given)."""
    if min_lr is not None and min_lr_ratio is not None:
        raise ValueError("min_lr, min_lr_ratio: give only one of them")
    if min_lr_ratio is not None:
        return _validate.real_scalar(min_lr_ratio, "min_lr_ratio", lo=0.0, hi=1.0) * peak
    if min_lr is None:
        return 0.0
    m = _validate.real_scalar(min_lr, "min_lr", lo=0.0)
    if m > peak:
        raise ValueError(f"min_lr: must be <= peak_lr ({peak}), got {m}")
    return m


def _start_lr_value(start_lr, shape: str, min_lr: float, pt_final_lr) -> float:
    """The LR of the first warmup step for a ``start_lr`` of a CPT family."""
    if isinstance(start_lr, str):
        _validate.choice(start_lr, "start_lr", START_LRS)
        if start_lr == "hf":
            return min_lr if shape in _HF_FROM_MIN else 0.0
        if pt_final_lr is None:
            raise ValueError("start_lr: 'pt' needs the PT checkpoint (pt=...)")
        return float(pt_final_lr)
    return _validate.real_scalar(start_lr, "start_lr", lo=0.0)


def cpt_schedule(
    peak_lr: float,
    steps: int,
    shape: str = "cosine",
    *,
    warmup: int = 0,
    start_lr=None,
    decay_frac=None,
    decay_type: str = "linear",
    min_lr=None,
    min_lr_ratio=None,
    pt=None,
    decay_fraction=None,
) -> _S.Schedule:
    """One CPT schedule of a family (the module documentation defines every parameter).

    ``pt`` is the PT checkpoint's schedule (or its final LR); ``start_lr=None`` means ``"pt"``
    when it is given and 0 otherwise. ``decay_fraction`` is deprecated (a share of all CPT
    steps; use ``decay_frac``, a share of the steps after the warmup).

    P1's CPT schedules are ``"cosine"`` and ``"wsd"`` re-warming from the checkpoint's final LR.
    """
    if decay_fraction is not None:
        _warn_deprecated("decay_fraction", "cpt_schedule")
    return _build_cpt(peak_lr, steps, shape, warmup=warmup, start_lr=start_lr, decay_frac=decay_frac,
                     decay_type=decay_type, min_lr=min_lr, min_lr_ratio=min_lr_ratio, pt=pt,
                     decay_fraction=decay_fraction)


def _build_cpt(peak_lr, steps, shape="cosine", *, warmup=0, start_lr=None, decay_frac=None, decay_type="linear",
              min_lr=None, min_lr_ratio=None, pt=None, decay_fraction=None) -> _S.Schedule:
    """:func:`cpt_schedule` without the deprecation warning (callers warn once themselves)."""
    peak, n, wu = _shape_peak_steps_warmup(shape, peak_lr, steps, warmup)
    floor = _min_lr_value(min_lr, min_lr_ratio, peak)
    final = pt.lr(pt.steps - 1) if isinstance(pt, _S.Schedule) else pt
    if start_lr is None:
        start_lr = "pt" if final is not None else 0.0
    start = _start_lr_value(start_lr, shape, floor, final)
    if shape == "constant":
        return _S.rewarmup(peak, n, wu, start, decay_steps=0)
    if shape != "wsd":
        return _S.rewarmup(peak, n, wu, start, decay="1-sqrt" if shape == "1-sqrt" else shape, min_lr=floor)
    _validate.choice(decay_type, "decay_type", DECAY_TYPES)
    if decay_fraction is not None:
        if decay_frac is not None:
            raise ValueError("decay_frac, decay_fraction: give only decay_frac (decay_fraction is deprecated)")
        frac = _validate.real_scalar(decay_fraction, "decay_fraction", lo=0.0, hi=1.0)
        d = min(int(round(frac * n)), n - wu)
    else:
        given = DEFAULTS["decay_frac"] if decay_frac is None else decay_frac
        d = wsd_decay_steps(_validate.real_scalar(given, "decay_frac", lo=0.0, hi=1.0), n, wu)
    return _S.rewarmup(peak, n, wu, start, decay=decay_type, min_lr=floor, decay_steps=d)


def _anneal_exactly(build, n: int, final_lr: float) -> _S.Schedule:
    """``build(n - 1, final_lr)`` then one step at ``final_lr``: HF's decays reach their min LR
    one step past their end; this way the last step is exactly there."""
    if n == 1:
        return _S.constant(final_lr, 1)
    return _S.concat(build(n - 1, final_lr), _S.constant(final_lr, 1))


def pt_schedule(
    shape: str,
    peak_lr: float,
    steps: int,
    *,
    warmup: int = 0,
    decay_frac=None,
    decay_type: str = "linear",
    min_lr=None,
    min_lr_ratio=None,
    loss_potential=None,
) -> _S.Schedule:
    """One PT schedule of a family (the checkpoint's run), as Hugging Face builds it.

    With ``loss_potential`` (in [0, 1]; not for ``"constant"``) the checkpoint's final LR is
    exactly ``loss_potential * peak_lr``: the schedule decays over ``steps - 1`` steps towards
    that LR (a WSD decay of ``wsd_decay_steps(decay_frac, steps - 1, warmup)`` steps), then
    holds it for the last step.
    """
    peak, n, wu = _shape_peak_steps_warmup(shape, peak_lr, steps, warmup)
    if shape == "constant":
        return _S.from_hf("constant_with_warmup", peak, wu, n) if wu else _S.constant(peak, n)
    frac = DEFAULTS["decay_frac"] if decay_frac is None else _validate.real_scalar(decay_frac, "decay_frac", lo=0.0,
                                                                                    hi=1.0)
    if shape == "wsd":
        _validate.choice(decay_type, "decay_type", DECAY_TYPES)

    def build(m, floor):
        w = min(wu, m)
        if shape == "cosine":
            return _S.cosine(peak, m, w, min_lr=floor)
        if shape == "linear":
            return _S.linear(peak, m, w, min_lr=floor)
        if shape == "1-sqrt":
            return _S.one_minus_sqrt(peak, m, None, w, min_lr=floor)
        return _S.wsd(peak, m, wsd_decay_steps(frac, m, w), w, min_lr=floor, decay=decay_type)

    if loss_potential is None:
        return build(n, _min_lr_value(min_lr, min_lr_ratio, peak))
    if min_lr is not None or min_lr_ratio is not None:
        raise ValueError("loss_potential: give it or a min LR (min_lr, min_lr_ratio), not both")
    lp = _validate.real_scalar(loss_potential, "loss_potential", lo=0.0, hi=1.0)
    return _anneal_exactly(build, n, lp * peak)


# -- families: lists of values, validated ---------------------------------------------------------


def _values(value, name: str) -> list:
    """A scalar or a 1-D sequence of values, as a non-empty list."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return [value.item()]
    if isinstance(value, (str, bytes)) or value is None or not hasattr(value, "__iter__"):
        return [value]
    if isinstance(value, np.ndarray) and value.ndim > 1:
        raise ValueError(f"{name}: expected a scalar or a 1-D sequence, got a {value.ndim}-D array")
    out = list(value)
    if not out:
        raise ValueError(f"{name}: is empty")
    return out


def _reals(value, name: str, lo=None, hi=None, strict_lo=False) -> list:
    out = []
    for v in _values(value, name):
        x = _validate.real_scalar(v, name, lo=lo, hi=hi)
        if strict_lo and not x > lo:
            raise ValueError(f"{name}: must be > {lo}, got {x}")
        out.append(x)
    return out


def _ints(value, name: str, lo: int) -> list:
    """Whole numbers (floats such as 1e4 accepted), at most 2**53 (exact as float64 levels)."""
    out = []
    for v in _values(value, name):
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            v = int(v)
        v = _validate.integer(v, name, lo=lo)
        if v > _limits.MAX_EXACT_INT:
            raise ValueError(f"{name}: must be <= 2**53, got {v}")
        out.append(v)
    return out


def _choices(value, name: str, options) -> list:
    return [_validate.choice(v, name, options) for v in _values(value, name)]


def parse_family(spec, name: str, pt: bool) -> dict:
    """Validated value lists of one family mapping (CPT, or PT with ``pt=True``).

    Returns ``shape``, ``peak_lr``, ``steps``, ``warmup``, ``start_lr`` (CPT only: ``"pt"``,
    ``"hf"`` or LRs), ``decay_frac`` and ``decay_type`` (when a shape is ``"wsd"``),
    ``min_key`` (``"min_lr"``, ``"min_lr_ratio"`` or ``"loss_potential"``) and ``min``.
    """
    if not isinstance(spec, Mapping):
        raise TypeError(f"{name}: expected a mapping of schedule parameters, got {type(spec).__name__}")
    _check_keys(spec, name, PT_KEYS if pt else CPT_KEYS)
    for k in ("peak_lr", "steps") if not pt else ("shape", "peak_lr", "steps"):
        if k not in spec:
            raise ValueError(f"{name}: missing {k!r}")
    d = dict(spec)
    f: dict[str, Any] = {
        "shape": _choices(d.get("shape", DEFAULTS["shape"]), f"{name}['shape']", SHAPES),
        "peak_lr": _reals(d["peak_lr"], f"{name}['peak_lr']", lo=0.0, strict_lo=True),
        "steps": _ints(d["steps"], f"{name}['steps']", lo=1),
        "warmup": _ints(d.get("warmup", DEFAULTS["warmup"]), f"{name}['warmup']", lo=0),
    }
    if not pt:
        starts: list[Any] = []
        for v in _values(d.get("start_lr", None), f"{name}['start_lr']"):
            if v is None:
                v = DEFAULTS["start_lr"]
            if isinstance(v, str):
                starts.append(_validate.choice(v, f"{name}['start_lr']", START_LRS))
            else:
                starts.append(_validate.real_scalar(v, f"{name}['start_lr']", lo=0.0))
        f["start_lr"] = starts
    if "wsd" in f["shape"]:
        f["decay_frac"] = _reals(d.get("decay_frac", DEFAULTS["decay_frac"]), f"{name}['decay_frac']", lo=0.0,
                                hi=1.0)
        f["decay_type"] = _choices(d.get("decay_type", DEFAULTS["decay_type"]), f"{name}['decay_type']",
                                  DECAY_TYPES)
    mins = [k for k in ("min_lr", "min_lr_ratio", "loss_potential") if k in d]
    if len(mins) > 1:
        raise ValueError(f"{name}: give only one of {', '.join(map(repr, mins))}")
    f["min_key"] = mins[0] if mins else "min_lr"
    if f["min_key"] == "min_lr":
        f["min"] = _reals(d.get("min_lr", 0.0), f"{name}['min_lr']", lo=0.0)
    else:
        f["min"] = _reals(d[f["min_key"]], f"{name}[{f['min_key']!r}]", lo=0.0, hi=1.0)
    return f


def _is_nan(v) -> bool:
    return isinstance(v, float) and math.isnan(v)
