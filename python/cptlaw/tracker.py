"""Streaming learning-rate areas for training loops (LAW.md sections 1 and 3).

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
import warnings

import numpy as np

from . import _core, _validate
from .areas import SPLITS

__all__ = ["Tracker"]

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


def _bad_lr(lr: float):
    raise ValueError(f"lr: learning rates must be finite and >= 0, got {lr!r}")


class Tracker:
    """Learning-rate areas S1/S2 of a PT run and its CPT continuation, updated per step.

    Parameters
    ----------
    decay : float in [0, 1]
        Momentum factor lambda of S2 (P1 uses 0.999).
    split : {"by_source", "by_time", "restart"}
        How S2 is shared between PT and CPT after the transfer (LAW.md section 3).
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

    def __init__(self, decay=0.999, split="by_source", warmup_as_peak=False, *, peak_lr=None, record=False):
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
        self._rec = [] if record else None
        self._cpt = False
        self._n = 0
        self._T = 0
        self._s1p = self._s2p = self._s1c = self._s2c = 0.0
        self._mp = self._mc = self._prev = 0.0
        self._warned = False

    # -- the hot path ------------------------------------------------------------------
    def step(self, lr) -> None:
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
                warnings.warn(
                    f"lr: {lr!r} exceeds peak_lr={peak!r}; the first {self._warm} steps are counted at "
                    "peak_lr, whereas cptlaw.cpt_areas(warmup_as_peak=W) counts them at the PT schedule's "
                    "maximum, so the two no longer agree",
                    RuntimeWarning,
                    stacklevel=3,
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

    def load_state_dict(self, state_dict) -> None:
        """Restore a state from :meth:`state_dict`, configuration included.

        The settings saved in the dict (decay, split, warmup, record) replace the ones
        this tracker was constructed with, as for PyTorch optimizers.
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


def _checked_state(state_dict) -> dict:
    if not isinstance(state_dict, dict):
        raise TypeError(f"state_dict: expected a dict, got {type(state_dict).__name__}")
    if state_dict.get("format") != _STATE_FORMAT:
        raise ValueError(f"state_dict: not a Tracker state (format {state_dict.get('format')!r})")
    s = {}
    for key in _FLOAT_KEYS:
        if key not in state_dict:
            raise ValueError(f"state_dict: missing key {key!r}")
        s[key] = _validate.real_scalar(state_dict[key], f"state_dict[{key!r}]")
    for key in _INT_KEYS:
        if key not in state_dict:
            raise ValueError(f"state_dict: missing key {key!r}")
        s[key] = _validate.integer(state_dict[key], f"state_dict[{key!r}]", lo=-1)
    _validate.decay(s["decay"])
    s["split"] = _validate.choice(state_dict.get("split"), "state_dict['split']", SPLITS)
    s["phase"] = _validate.choice(state_dict.get("phase"), "state_dict['phase']", ("pt", "cpt"))
    record = state_dict.get("record")
    if not isinstance(record, bool):
        raise TypeError("state_dict['record']: expected a bool")
    s["record"] = record
    n = s["step_count"]
    if n < 0 or s["warmup_as_peak"] < 0:
        raise ValueError("state_dict: step_count and warmup_as_peak must be >= 0")
    if s["phase"] == "cpt" and not 1 <= s["transfer_step"] <= n:
        raise ValueError(f"state_dict['transfer_step']: must lie in [1, step_count={n}] in the CPT phase")
    if record:
        hist = state_dict.get("lr_history")
        if not isinstance(hist, (list, tuple)) or len(hist) != n:
            raise ValueError(f"state_dict['lr_history']: expected a list of step_count={n} learning rates")
        try:
            values = [float(v) for v in hist]
        except (TypeError, ValueError):
            raise TypeError("state_dict['lr_history']: expected a list of numbers") from None
        if not all(0.0 <= v < math.inf for v in values):
            raise ValueError("state_dict['lr_history']: learning rates must be finite and >= 0")
        s["lr_history"] = values
    return s
