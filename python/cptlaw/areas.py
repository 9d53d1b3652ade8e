"""Learning-rate areas S1 and S2 (:ref:`areas`) and their PT/CPT split (:ref:`s2-split`)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _core, _validate
from ._threads import get_num_threads

#: S2 split modes at the PT/CPT transfer, in the compiled core's code order.
SPLITS = tuple(_core.splits)


class Areas(NamedTuple):
    """Forward area S1 and annealing area S2, each shaped like the input."""

    s1: np.ndarray
    s2: np.ndarray


class CPTAreas(NamedTuple):
    """Areas on the PT ++ CPT timeline, each of length len(lr_pt) + len(lr_cpt).

    During PT, ``s1_cpt`` and ``s2_cpt`` are 0; after the transfer ``s1_pt`` is frozen.
    """

    s1_pt: np.ndarray
    s2_pt: np.ndarray
    s1_cpt: np.ndarray
    s2_cpt: np.ndarray


def _warmup_option(value) -> int:
    if value is True:
        return -1
    if value is False or value is None:
        return 0
    # Any W beyond the row length lifts every step: cap it to what the core's int64 holds.
    return min(_validate.integer(value, "warmup_as_peak", lo=0), 2**62)


def _exponent_option(value) -> float:
    if value is None:
        return float("nan")
    return _validate.real_scalar(value, "s2_lr_exponent")


def _outputs(out, shape):
    """Validate ``out=(s1, s2)``: writeable C-contiguous float64 arrays shaped like ``lr``."""
    if out is None:
        return None, None
    if not (isinstance(out, tuple) and len(out) == 2):
        raise TypeError("out: expected a tuple of two arrays (s1, s2)")
    for k, a in enumerate(out):
        _validate.output_array(a, f"out[{k}]", shape)
    if np.shares_memory(out[0], out[1]):
        raise ValueError("out: the two arrays overlap")
    return out


def areas(lr: ArrayLike, decay: float = 0.999, *, warmup_as_peak: bool | int = False,
          s2_lr_exponent: float | None = None,
          out: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None) -> Areas:
    """Cumulative LR areas of per-step learning rates.

    Parameters
    ----------
    lr : array_like, shape (..., steps)
        Learning rate used at each optimizer step (raw units), steps on the last axis.
    decay : float in [0, 1]
        Momentum factor lambda of S2 (P1 uses 0.999).
    warmup_as_peak : bool or int
        P2's convention: count warmup steps as if already at the peak (the row's
        maximum). True: the steps before the first maximum; an int W: the first W
        steps. Off by default (LRs taken literally).
    s2_lr_exponent : float, optional
        P1 Eq. 9: weight each step's momentum by ``lr**eps`` in S2.
    out : tuple of two ndarrays, optional
        Write S1 and S2 into these (float64, C-contiguous, shaped like ``lr``, not
        overlapping ``lr``): saves allocating and page-faulting fresh outputs when
        areas are recomputed in a loop.

    Returns
    -------
    Areas
        ``(s1, s2)``, float64, shaped like ``lr``.
    """
    x = _validate.learning_rates(lr, "lr", check_values=False)
    lam = _validate.decay(decay)
    warm = _warmup_option(warmup_as_peak)
    eps = _exponent_option(s2_lr_exponent)
    shape = x.shape
    o1, o2 = _outputs(out, shape)
    if o1 is not None and (np.shares_memory(o1, x) or np.shares_memory(o2, x)):
        raise ValueError("out: must not overlap lr")
    rows = np.ascontiguousarray(x.reshape(-1, shape[-1]))
    s1, s2 = _core.areas(rows, lam, warm, eps, get_num_threads(), o1, o2)
    if o1 is not None:
        return Areas(o1, o2)
    return Areas(s1.reshape(shape), s2.reshape(shape))


def cpt_areas(
    lr_pt: ArrayLike, lr_cpt: ArrayLike, decay: float = 0.999, split: str = "by_source", *,
    warmup_as_peak: bool | int = False, s2_lr_exponent: float | None = None
) -> CPTAreas:
    """Areas of a PT schedule followed by a CPT schedule, on the concatenated timeline.

    Parameters
    ----------
    lr_pt, lr_cpt : array_like, shape (..., steps_pt) and (..., steps_cpt)
        Per-step learning rates of the two phases; leading axes broadcast.
        ``lr_cpt`` may have zero steps (then the result is PT only).
    split : {"by_source", "by_time", "restart"}
        How S2 is shared between the phases (:ref:`s2-split`).
    warmup_as_peak : bool or int
        As in :func:`areas`, applied to the PT schedule only.
    """
    x_pt = _validate.learning_rates(lr_pt, "lr_pt", check_values=False)
    x_cpt = _validate.learning_rates(lr_cpt, "lr_cpt", check_values=False, allow_empty=True)
    lam = _validate.decay(decay)
    mode = SPLITS.index(_validate.choice(split, "split", SPLITS))
    warm = _warmup_option(warmup_as_peak)
    eps = _exponent_option(s2_lr_exponent)
    try:
        lead = np.broadcast_shapes(x_pt.shape[:-1], x_cpt.shape[:-1])
    except ValueError:
        raise ValueError(
            f"lr_pt, lr_cpt: leading shapes {x_pt.shape[:-1]} and {x_cpt.shape[:-1]} do not broadcast"
        ) from None
    n_pt, n_cpt = x_pt.shape[-1], x_cpt.shape[-1]
    rows = int(np.prod(lead, dtype=np.int64))
    rows_pt = np.ascontiguousarray(np.broadcast_to(x_pt, lead + (n_pt,)).reshape(rows, n_pt))
    rows_cpt = np.ascontiguousarray(np.broadcast_to(x_cpt, lead + (n_cpt,)).reshape(rows, n_cpt))
    out = _core.cpt_areas(rows_pt, rows_cpt, lam, mode, warm, eps, get_num_threads())
    shape = lead + (n_pt + n_cpt,)
    return CPTAreas(*(a.reshape(shape) for a in out))


__all__ = ["Areas", "CPTAreas", "SPLITS", "areas", "cpt_areas"]


def __dir__():  # dir() and tab completion show the public names only
    return sorted(__all__)
