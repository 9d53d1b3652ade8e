"""Streaming learning-rate areas for training loops (:ref:`areas`, :ref:`s2-split`).

A :class:`Tracker` is fed the learning rate of each optimizer step as training runs and
keeps the four areas the CPT law takes as inputs, ``s1_pt, s2_pt, s1_cpt, s2_cpt``, in
O(1) time and memory per step. It runs the recurrences of the compiled core in the same
order, so after any history of steps its areas equal what :func:`cptlaw.cpt_areas` (or,
before the transfer, :func:`cptlaw.areas`) gives offline at the last index, for every
split mode.

Typical use::

    tracker = cptlaw.Tracker(decay=0.999, split="by_source")
    for batch in pt_data:
        ...; optimizer.step(); tracker.step(lr_used); scheduler.step()
    tracker.start_cpt()
    for batch in cpt_data:
        ...; optimizer.step(); tracker.step(lr_used); scheduler.step()
    loss_now = law(**tracker.as_dict())   # a fitted CPTLaw evaluated at the current step

:func:`cptlaw.integrations.torch.track_optimizer` and
``cptlaw.integrations.hf.CPTLawCallback`` do the ``tracker.step`` calls for PyTorch
optimizers and the Hugging Face ``Trainer``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from . import _core, _validate, _warnings
from .areas import SPLITS, cpt_areas

__all__ = ["Tracker"]


def __dir__():  # dir() and tab completion show the public names only
    return sorted(__all__)

_INF = math.inf
_STATE_FORMAT = "cptlaw.Tracker/1"
_BIG = 1 << 62  # "every PT step takes the slow path" (warmup on)


def _coerce_lr(value) -> float:
    """A step's learning rate as a Python float (slow path for non-float inputs)."""
    if isinstance(value, float):  # float subclasses, e.g. np.float64
        return float(value)
    if isinstance(value, (bool, np.bool_, str, bytes)):
        raise TypeError(f"lr: expected a real number, got {type(value).__name__}")
    try:  # ints, NumPy scalars and 0-d arrays, one-element tensors, ...
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"lr: expected a real number, got {type(value).__name__}") from None
    except OverflowError:  # an int beyond the float range
        raise ValueError(f"lr: learning rates must be finite and >= 0, got {_validate.describe(value)}") from None


def _bad_lr(lr: float):
    raise ValueError(f"lr: learning rates must be finite and >= 0, got {lr!r}")


class Tracker:
    """Learning-rate areas S1/S2 of a PT run and its CPT continuation, updated per step.

    Parameters
    ----------
    decay : float in [0, 1]
        Momentum factor lambda of S2 (P1 uses 0.999).
    split : {"by_source", "by_time", "restart"}
        How S2 is shared between PT and CPT after the transfer (:ref:`s2-split`).
    warmup_as_peak : False or int
        P2's warmup convention for the PT schedule. ``False`` (default): LRs are taken
        literally. An int ``W``: the first ``W`` PT steps count as if the LR were
        already at ``peak_lr`` (they add ``peak_lr`` to S1 and nothing to S2).
        ``True`` is not accepted: offline it means "the steps before the first
        maximum of the whole PT schedule", and neither that maximum nor where it first
        occurs is known while PT is still running (a later step may exceed every LR
        seen so far). The offline functions likewise lift the first ``W`` steps to the
        schedule's *maximum*, which is only known once PT is over, so online you pass
        that peak as ``peak_lr``; the tracker then equals
        ``cpt_areas(..., warmup_as_peak=W)`` whenever ``peak_lr`` is the maximum PT LR
        (a PT step above ``peak_lr`` triggers a ``RuntimeWarning``). CPT re-warmup is
        always literal.
    peak_lr : float, optional
        Required with an int ``warmup_as_peak`` (and only then).
    record : bool
        Keep every LR passed to :meth:`step` in :attr:`lr_history` (O(steps) memory).

    Notes
    -----
    Call :meth:`step` once after each optimizer step with the LR that step used, and
    :meth:`start_cpt` once between the last PT step and the first CPT step. Areas are
    in raw LR units, like the offline functions. The state is a handful of Python
    floats; :meth:`state_dict` / :meth:`load_state_dict` save and restore it exactly,
    so a resumed run continues bit-identically.
    """

    __slots__ = (
        "_lam",
        "_split",
        "_pt_continues",
        "_warm",
        "_peak",
        "_slow",
        "_cpt",
        "_n",
        "_T",
        "_s1p",
        "_s2p",
        "_s1c",
        "_s2c",
        "_mp",
        "_mc",
        "_prev",
        "_rec",
        "_warned",
    )

    def __init__(self, decay: float = 0.999, split: str = "by_source", warmup_as_peak: bool | int = False, *,
                 peak_lr: float | None = None, record: bool = False) -> None:
        lam = _validate.decay(decay)
        split = _validate.choice(split, "split", SPLITS)
        warm, peak = _warmup_config(warmup_as_peak, peak_lr)
        if not isinstance(record, bool):
            raise TypeError(f"record: expected a bool, got {type(record).__name__}")
        self._lam = lam
        self._split = split
        self._pt_continues = False  # set at the transfer (start_cpt)
        self._warm = warm
        self._peak = peak
        self._slow = _BIG if warm else 1
        self._rec: list[float] | None = [] if record else None
        self._cpt = False
        self._n = 0
        self._T = 0
        self._s1p = self._s2p = self._s1c = self._s2c = 0.0
        self._mp = self._mc = self._prev = 0.0
        self._warned = False

    # -- the hot path ------------------------------------------------------------------
    def step(self, lr: float) -> None:
        """Account for one optimizer step that used learning rate ``lr`` (>= 0, finite)."""
        if type(lr) is not float:
            lr = _coerce_lr(lr)
        if not 0.0 <= lr < _INF:  # also rejects NaN
            _bad_lr(lr)
        rec = self._rec
        if rec is not None:
            rec.append(lr)
        n = self._n
        self._n = n + 1
        lam = self._lam
        if self._cpt:
            prev = self._prev
            self._prev = lr
            self._s1c += lr
            if self._pt_continues:  # by_source: PT momentum keeps decaying into S2_pt
                mp = lam * self._mp
                self._mp = mp
                self._s2p += mp
            mc = lam * self._mc + (prev - lr)
            self._mc = mc
            self._s2c += mc
            return
        if n < self._slow:
            lr = self._pt_slow(n, lr)
        self._s1p += lr
        m = lam * self._mp + (self._prev - lr)
        self._mp = m
        self._s2p += m
        self._prev = lr

    def _pt_slow(self, n: int, lr: float) -> float:
        """First PT step, and every PT step while the warmup convention is on."""
        if self._warm:
            peak = self._peak
            if lr > peak and not self._warned:
                self._warned = True
                _warnings.warn(
                    f"lr: {lr!r} exceeds peak_lr={peak!r}; the first {self._warm} steps are counted at "
                    "peak_lr, whereas cptlaw.cpt_areas(warmup_as_peak=W) counts them at the PT schedule's "
                    "maximum, so the two no longer agree",
                    RuntimeWarning,
                )
            if n < self._warm:
                lr = peak
        if n == 0:
            self._prev = lr
        return lr

    # -- phases ------------------------------------------------------------------------
    def start_cpt(self) -> None:
        """Mark the transfer: every later :meth:`step` is a CPT step."""
        if self._cpt:
            raise RuntimeError(f"start_cpt: CPT already started (at step {self._T}); call it once per run")
        if self._n == 0:
            raise RuntimeError("start_cpt: no PT step recorded yet; call step(lr) for the PT steps first")
        self._cpt = True
        self._T = self._n
        # The split mode's transfer rule, from the compiled core (the one definition).
        t = _core.cpt_transfer(SPLITS.index(self._split), self._mp, self._prev, self._s2p)
        self._mc = t["momentum_cpt"]
        self._prev = t["prev_lr"]
        self._s2c = t["s2_cpt"]
        self._pt_continues = t["pt_continues"]
        self._mp = t["momentum_pt"]

    # -- read-only views ---------------------------------------------------------------
    @property
    def s1_pt(self) -> float:
        """Forward area of the PT steps (frozen after the transfer)."""
        return self._s1p

    @property
    def s2_pt(self) -> float:
        """Annealing area attributed to PT (see ``split``)."""
        return self._s2p

    @property
    def s1_cpt(self) -> float:
        """Forward area of the CPT steps (0 during PT)."""
        return self._s1c

    @property
    def s2_cpt(self) -> float:
        """Annealing area attributed to CPT (0 during PT)."""
        return self._s2c

    @property
    def step_count(self) -> int:
        """Steps recorded so far, PT and CPT together."""
        return self._n

    @property
    def phase(self) -> str:
        """``"pt"`` before :meth:`start_cpt`, ``"cpt"`` after."""
        return "cpt" if self._cpt else "pt"

    @property
    def transfer_step(self):
        """Index of the first CPT step on the whole timeline (the PT length), or None during PT."""
        return self._T if self._cpt else None

    @property
    def decay(self) -> float:
        return self._lam

    @property
    def split(self) -> str:
        return self._split

    @property
    def warmup_as_peak(self):
        """The warmup length W, or False when the convention is off."""
        return self._warm if self._warm else False

    @property
    def peak_lr(self):
        return self._peak if self._warm else None

    @property
    def lr_history(self) -> list:
        """Every LR passed to :meth:`step`, as given (not lifted by the warmup convention).

        Only with ``record=True``. PT steps are ``lr_history[:transfer_step]``. The list is
        the tracker's own: read it, do not modify it.
        """
        if self._rec is None:
            raise AttributeError("lr_history: not recorded; construct the Tracker with record=True")
        return self._rec

    def as_dict(self) -> dict:
        """The four areas by the names the CPT laws take: ``law(**tracker.as_dict())``."""
        return {"s1_pt": self._s1p, "s2_pt": self._s2p, "s1_cpt": self._s1c, "s2_cpt": self._s2c}

    def __repr__(self) -> str:
        return (
            f"Tracker(decay={self._lam!r}, split={self._split!r}, phase={self.phase!r}, "
            f"step_count={self._n}, s1_pt={self._s1p:.6g}, s2_pt={self._s2p:.6g}, "
            f"s1_cpt={self._s1c:.6g}, s2_cpt={self._s2c:.6g})"
        )

    # -- checkpointing -----------------------------------------------------------------
    def state_dict(self) -> dict:
        """The complete state as a plain dict of floats, ints, strs and bools.

        ``lr_history`` (a list of floats) is included only with ``record=True``. The dict
        survives ``torch.save``, pickle and JSON unchanged (floats round-trip exactly).
        """
        state = {
            "format": _STATE_FORMAT,
            "decay": self._lam,
            "split": self._split,
            "warmup_as_peak": self._warm,
            "peak_lr": self._peak,
            "record": self._rec is not None,
            "step_count": self._n,
            "phase": self.phase,
            "transfer_step": self._T if self._cpt else -1,
            "s1_pt": self._s1p,
            "s2_pt": self._s2p,
            "s1_cpt": self._s1c,
            "s2_cpt": self._s2c,
            "momentum_pt": self._mp,
            "momentum_cpt": self._mc,
            "prev_lr": self._prev,
        }
        if self._rec is not None:
            state["lr_history"] = list(self._rec)
        return state

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore a state from :meth:`state_dict`, configuration included.

        The settings saved in the dict (decay, split, warmup, record) replace the ones
        this tracker was constructed with, as for PyTorch optimizers. The state is checked
        first, each field and the fields against each other (with ``record=True`` the areas
        against ``lr_history``); a state the tracker cannot have saved raises a ValueError
        or TypeError naming the field and leaves the tracker as it was.
        """
        s = _checked_state(state_dict)
        self._lam = s["decay"]
        self._split = s["split"]
        self._pt_continues = s["phase"] == "cpt" and _core.cpt_transfer(SPLITS.index(s["split"]), 0.0, 0.0)[
            "pt_continues"]
        self._warm = s["warmup_as_peak"]
        self._peak = s["peak_lr"]
        self._slow = _BIG if self._warm else 1
        self._cpt = s["phase"] == "cpt"
        self._n = s["step_count"]
        self._T = s["transfer_step"] if self._cpt else 0
        self._s1p = s["s1_pt"]
        self._s2p = s["s2_pt"]
        self._s1c = s["s1_cpt"]
        self._s2c = s["s2_cpt"]
        self._mp = s["momentum_pt"]
        self._mc = s["momentum_cpt"]
        self._prev = s["prev_lr"]
        self._rec = list(s["lr_history"]) if s["record"] else None
        self._warned = False

    @classmethod
    def from_state_dict(cls, state_dict) -> "Tracker":
        """A new tracker restored from :meth:`state_dict`."""
        tracker = cls()
        tracker.load_state_dict(state_dict)
        return tracker


def _warmup_config(warmup_as_peak, peak_lr):
    if warmup_as_peak is True:
        raise ValueError(
            "warmup_as_peak: True (steps before the first maximum) cannot be known while training runs; "
            "pass the warmup length as an int W together with peak_lr="
        )
    if warmup_as_peak is False or warmup_as_peak is None:
        warm = 0
    else:
        warm = _validate.integer(warmup_as_peak, "warmup_as_peak", lo=0)
    if warm == 0:
        if peak_lr is not None:
            raise ValueError("peak_lr: only used with an int warmup_as_peak > 0")
        return 0, 0.0
    if peak_lr is None:
        raise ValueError(
            "peak_lr: required with warmup_as_peak=W (the warmup steps count at the PT peak LR, "
            "which is not known online)"
        )
    peak = _validate.real_scalar(peak_lr, "peak_lr", lo=0.0)
    return warm, peak


_FLOAT_KEYS = ("decay", "peak_lr", "s1_pt", "s2_pt", "s1_cpt", "s2_cpt", "momentum_pt", "momentum_cpt", "prev_lr")
_INT_KEYS = ("warmup_as_peak", "step_count", "transfer_step")
_STATE_KEYS = ("format", "split", "phase", "record") + _FLOAT_KEYS + _INT_KEYS
_INT64_MAX = (1 << 63) - 1  # counts are int64 everywhere else in the library
_AREA_RTOL = 1e-9  # areas vs their recomputation from lr_history (plus n * eps, see _check_history)


def _field(key) -> str:
    return f"state_dict[{key!r}]"


def _state_float(state_dict, key, *, lo=None, hi=None) -> float:
    value = state_dict[key]
    try:
        return _validate.real_scalar(value, _field(key), lo=lo, hi=hi)
    except OverflowError:  # an int too large for a float
        raise ValueError(f"{_field(key)}: must be finite, got a number too large for a float") from None


def _state_int(state_dict, key, *, lo) -> int:
    v = _validate.integer(state_dict[key], _field(key), lo=lo)
    if v > _INT64_MAX:
        raise ValueError(f"{_field(key)}: must be <= {_INT64_MAX}, got {v}")
    return v


def _checked_state(state_dict) -> dict:
    """The fields of a saved state, each checked on its own and against the others.

    A state the tracker cannot have reached (CPT areas during PT, a negative LR, areas that
    disagree with the recorded LRs, ...) is rejected with an error naming the field, so that
    a corrupted or hand-edited checkpoint never continues silently with wrong areas.
    """
    if not isinstance(state_dict, dict):
        raise TypeError(f"state_dict: expected a dict, got {type(state_dict).__name__}")
    fmt = state_dict.get("format")
    if not isinstance(fmt, str) or fmt != _STATE_FORMAT:
        raise ValueError(f"state_dict['format']: not a Tracker state (expected {_STATE_FORMAT!r}, "
                         f"got {_validate.describe(fmt)})")
    for key in _STATE_KEYS:
        if key not in state_dict:
            raise ValueError(f"{_field(key)}: missing")
    s: dict[str, Any] = {}
    s["decay"] = _state_float(state_dict, "decay", lo=0.0, hi=1.0)
    s["split"] = _validate.choice(state_dict["split"], _field("split"), SPLITS)
    s["phase"] = _validate.choice(state_dict["phase"], _field("phase"), ("pt", "cpt"))
    record = state_dict["record"]
    if not isinstance(record, bool):
        raise TypeError(f"{_field('record')}: expected a bool, got {type(record).__name__}")
    s["record"] = record
    if not record and "lr_history" in state_dict:
        raise ValueError(f"{_field('lr_history')}: saved only with record=True, but record is False")
    extra = sorted(map(repr, set(state_dict) - set(_STATE_KEYS) - {"lr_history"}))
    if extra:
        raise ValueError(f"state_dict: unknown key(s) {', '.join(extra)}")
    s["warmup_as_peak"] = warm = _state_int(state_dict, "warmup_as_peak", lo=0)
    s["peak_lr"] = peak = _state_float(state_dict, "peak_lr", lo=0.0)
    if not warm and peak != 0.0:
        raise ValueError(f"{_field('peak_lr')}: must be 0.0 when warmup_as_peak is 0 (off), got {peak!r}")
    s["step_count"] = n = _state_int(state_dict, "step_count", lo=0)
    cpt = s["phase"] == "cpt"
    t = _state_int(state_dict, "transfer_step", lo=-1)
    if not cpt and t != -1:
        raise ValueError(f"{_field('transfer_step')}: must be -1 in the PT phase, got {t}")
    if cpt and not 1 <= t <= n:
        raise ValueError(f"{_field('transfer_step')}: must lie in [1, step_count={n}] in the CPT phase, got {t}")
    s["transfer_step"] = t
    for key in ("s1_pt", "s1_cpt", "prev_lr"):
        s[key] = _state_float(state_dict, key, lo=0.0)
    for key in ("s2_pt", "s2_cpt", "momentum_pt", "momentum_cpt"):
        s[key] = _state_float(state_dict, key)
    _check_phase(s)
    if record:
        if "lr_history" not in state_dict:
            raise ValueError(f"{_field('lr_history')}: missing (record is True)")
        s["lr_history"] = _check_history(state_dict["lr_history"], s)
    return s


def _check_phase(s) -> None:
    """What the phase, the step count and the warmup imply for the areas and momenta."""
    n, cpt, t = s["step_count"], s["phase"] == "cpt", s["transfer_step"]
    zero: tuple[str, ...] = ("s1_cpt", "s2_cpt", "momentum_cpt") if not cpt else ()
    if n == 0:
        zero = ("s1_pt", "s2_pt", "momentum_pt", "prev_lr") + zero
    elif cpt and n == t:  # at the transfer: no CPT step yet
        zero = ("s1_cpt", "s2_cpt")
    for key in zero:
        if s[key] != 0.0:
            why = "before the first step" if n == 0 else "in the PT phase" if not cpt else "before the first CPT step"
            raise ValueError(f"{_field(key)}: must be 0.0 {why}, got {s[key]!r}")
    if n and s["prev_lr"] > (s["s1_cpt"] if cpt and n > t else s["s1_pt"]):
        which = "s1_cpt" if cpt and n > t else "s1_pt"
        raise ValueError(f"{_field('prev_lr')}: {s['prev_lr']!r} exceeds {which}={s[which]!r}, which includes it")
    warm, pt_steps = s["warmup_as_peak"], t if cpt else n
    if warm and 0 < pt_steps <= warm and (not cpt or n == t):
        # every step so far was a warmup step, counted at peak_lr: no drop, no S2
        if s["prev_lr"] != s["peak_lr"]:
            raise ValueError(
                f"{_field('prev_lr')}: must equal peak_lr={s['peak_lr']!r} during the warmup_as_peak steps, "
                f"got {s['prev_lr']!r}"
            )
        for key in ("s2_pt", "momentum_pt"):
            if s[key] != 0.0:
                raise ValueError(f"{_field(key)}: must be 0.0 during the warmup_as_peak steps, got {s[key]!r}")
    if cpt:
        # The transfer rule (the core's one definition) says which momenta the split zeroes:
        # a frozen S2_pt keeps no PT momentum; a fresh CPT recursion starts from none.
        probe = _core.cpt_transfer(SPLITS.index(s["split"]), 1.0, 0.0, 0.0)
        zeroed = [] if probe["momentum_pt"] else ["momentum_pt"]
        if n == t and not probe["momentum_cpt"]:
            zeroed.append("momentum_cpt")
        for key in zeroed:
            if s[key] != 0.0:
                where = "at the transfer" if key == "momentum_cpt" else "in the CPT phase"
                raise ValueError(f"{_field(key)}: must be 0.0 {where} with split={s['split']!r}, got {s[key]!r}")


def _check_history(hist, s) -> list:
    """The recorded LRs, and the saved areas, momenta and previous LR checked against them."""
    n = s["step_count"]
    name = _field("lr_history")
    if not isinstance(hist, (list, tuple)):
        raise TypeError(f"{name}: expected a list of learning rates, got {type(hist).__name__}")
    if len(hist) != n:
        raise ValueError(f"{name}: expected step_count={n} learning rates, got {len(hist)}")
    values = []
    for i, v in enumerate(hist):  # element by element, so that an error names the bad one
        if type(v) is not float:
            try:
                v = _validate.real_scalar(v, f"{name}[{i}]")
            except OverflowError:
                raise ValueError(f"{name}[{i}]: must be finite, got a number too large for a float") from None
        values.append(v)
    lr = np.array(values, dtype=np.float64)
    bad = np.flatnonzero(~(np.isfinite(lr) & (lr >= 0.0)))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{name}[{i}]: learning rates must be finite and >= 0, got {float(lr[i])!r}")
    if n == 0:
        return []
    cpt, t = s["phase"] == "cpt", s["transfer_step"]
    pt_steps = t if cpt else n
    used = lr.copy()  # the LRs the areas count: PT warmup steps at peak_lr
    used[: min(s["warmup_as_peak"], pt_steps)] = s["peak_lr"]
    if s["prev_lr"] != used[-1]:
        raise ValueError(
            f"{_field('prev_lr')}: {s['prev_lr']!r} differs from the last recorded learning rate "
            f"{float(used[-1])!r}" + (" (counted at peak_lr)" if used[-1] != lr[-1] else "")
        )
    a = cpt_areas(used[:pt_steps], used[pt_steps:], s["decay"], s["split"])
    rtol = _AREA_RTOL + 8 * n * np.finfo(np.float64).eps  # summation orders may differ
    scale1 = float(used.sum())
    for key in ("s1_pt", "s1_cpt"):
        ref = float(getattr(a, key)[-1])
        _close(s, key, ref, rtol * scale1)
    for key, mkey in (("s2_pt", "momentum_pt"), ("s2_cpt", "momentum_cpt")):
        s2 = getattr(a, key)
        m = np.diff(s2, prepend=0.0)  # per-step increments: the momentum each step added
        scale2 = float(np.abs(m).sum())
        _close(s, key, float(s2[-1]), rtol * scale2)
        if key == "s2_pt":
            # by_source keeps decaying the PT momentum in CPT; the other splits freeze S2_pt and
            # keep no PT momentum (checked in _check_phase)
            if not cpt or s["split"] == "by_source":
                _close(s, mkey, float(m[n - 1]), rtol * scale2)
        elif cpt and n > t:
            _close(s, mkey, float(m[-1]), rtol * scale2)
    return lr.tolist()


def _close(s, key, ref, tol) -> None:
    if not abs(s[key] - ref) <= tol:
        raise ValueError(
            f"{_field(key)}: {s[key]!r} disagrees with {ref!r} recomputed from lr_history "
            "(the saved state is inconsistent)"
        )
