"""Planning a CPT run with fitted laws (:ref:`derived-quantities`, :ref:`limits`).

Given a fitted law for the general validation loss (D_pt) and one for the domain loss (D_cpt)
(:class:`cptlaw.CPTLaw` instances, or the replay laws :class:`cptlaw.ReplayPTLaw` /
:class:`cptlaw.ReplayCPTLaw` when a replay ratio is asked for), this module answers the
questions of P1 sections 4-5 and a few beyond them:

- :func:`loss_potential` of a PT schedule, the :func:`critical_point` (the level the D_pt loss
  tends to under endless CPT) and the :func:`turning_length` (how many CPT steps until the D_pt
  loss, or a weighted loss, is back at its value at the transfer point);
- for a weight ``w`` on ``w * L_Dpt + (1 - w) * L_Dcpt``, the optimal CPT peak LR
  (:func:`optimal_peak_lr`), number of steps (:func:`optimal_cpt_steps`), schedule shape
  (:func:`optimal_decay_fraction`, :func:`optimal_rewarmup`, :func:`optimal_final_lr`), loss
  potential of the PT checkpoint (:func:`optimal_loss_potential`) and replay ratio
  (:func:`optimal_replay_ratio`); all are thin wrappers of :func:`optimize_cpt`;
- :func:`pareto_front` of (L_Dpt, L_Dcpt) over a family of CPT schedules;
- :func:`optimize_schedule`, a free-form per-step CPT schedule (re-warmup, then K knots joined
  linearly, optionally non-increasing) minimising the weighted final loss.

Everything is evaluated at the *final* CPT step from the closed-form areas of
:mod:`cptlaw.schedules` (no per-step arrays, except in :func:`optimize_schedule`, which works on
two linear functionals of the per-step LRs).

Conventions shared by every function
------------------------------------
- A CPT schedule is built by :func:`cpt_schedule` from the parameters of a CPT family
  (:mod:`cptlaw.families`, the grid's and the command line's vocabulary too): a linear
  re-warmup of ``warmup`` steps from ``start_lr`` (default ``"pt"``: the PT schedule's final
  LR, as P1 does) to ``peak_lr``, then the decay ``shape``. ``warmup = 0`` jumps straight to
  the peak at the first CPT step. A WSD schedule decays over ``decay_frac`` of the steps
  after the re-warmup.
- Area options ``decay`` (lambda), ``split`` and ``warmup_as_peak`` (P2's convention for the PT
  warmup) are passed to :func:`cptlaw.schedules.batch_cpt_areas`; the defaults are the
  package's (``0.999``, ``"by_source"``, ``False``).
- Laws that take a replay ratio receive ``r_pt``; other extra inputs (the model size ``N``)
  go in ``inputs={"N": ...}``.
- The laws keep rewarding a larger learning rate (and, for the domain loss, more steps):
  :ref:`limits`. Every optimiser therefore searches inside explicit ``bounds``; an optimum on
  a bound is reported with ``at_bound=True`` and means "as far as the bound allows", not a
  property of real training. Predictions far outside the peak LRs and lengths the laws were
  fitted on deserve little trust.

Only NumPy is needed, except :func:`optimize_schedule`, which uses SciPy's L-BFGS-B.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from . import _limits, _validate
from . import families as _families
from . import schedules as _S
from .families import cpt_schedule
from .areas import SPLITS
from .laws import Law
from .results import Fields, Result, Table, fmt

__all__ = [
    "CPT_SHAPES",
    "CriticalPoint",
    "Optimum",
    "ParetoFront",
    "ScheduleOptimum",
    "TurningLength",
    "critical_point",
    "cpt_schedule",
    "evaluate",
    "loss_potential",
    "optimal_cpt_steps",
    "optimal_decay_fraction",
    "optimal_final_lr",
    "optimal_loss_potential",
    "optimal_peak_lr",
    "optimal_replay_ratio",
    "optimal_rewarmup",
    "optimize_cpt",
    "optimize_schedule",
    "pareto_front",
    "turning_length",
    "wsd_pt_family",
]


def __dir__():  # dir() and tab completion show the public names only
    return sorted(__all__)


#: The CPT shapes (:data:`cptlaw.families.SHAPES`).
CPT_SHAPES = _families.SHAPES
_AREA_NAMES = ("s1_pt", "s2_pt", "s1_cpt", "s2_cpt")
_EXTRA_NAMES = ("r_pt", "N")
_CHUNK = 8192  # schedules per batch_cpt_areas call


# -- shared helpers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _AreaOpts:
    decay: float
    split: str
    warmup_as_peak: bool | int

    @classmethod
    def make(cls, decay, split, warmup_as_peak) -> "_AreaOpts":
        return cls(_validate.decay(decay), _validate.choice(split, "split", SPLITS), warmup_as_peak)


def _check_law(law, name: str, required: bool) -> Optional[Law]:
    if law is None:
        if required:
            raise ValueError(f"{name}: a fitted law is needed here")
        return None
    if not isinstance(law, Law):
        raise TypeError(f"{name}: expected a fitted law instance such as cptlaw.CPTLaw(...), "
                        f"got {_validate.describe(law)}")
    bad = [n for n in law.input_names if n not in _AREA_NAMES + _EXTRA_NAMES]
    if bad:
        raise TypeError(f"{name}: {type(law).__name__} takes {', '.join(bad)}; the planner needs a CPT law "
                        "whose inputs are the PT/CPT areas (plus r_pt or N)")
    if "s1_cpt" not in law.input_names:
        raise TypeError(f"{name}: {type(law).__name__} has no CPT inputs; use a CPT law")
    return law


def _check_schedule(value, name: str) -> _S.Schedule:
    if not isinstance(value, _S.Schedule):
        raise TypeError(f"{name}: expected a cptlaw.schedules.Schedule, got {type(value).__name__}")
    return value


class _Target:
    """The two laws and the weight: losses of (many) candidates from their areas."""

    def __init__(self, law_pt, law_cpt, w, r_pt=0.0, inputs=None):
        self.w = _validate.real_scalar(w, "w", lo=0.0, hi=1.0)
        self.law_pt = _check_law(law_pt, "law_pt", self.w > 0)
        self.law_cpt = _check_law(law_cpt, "law_cpt", self.w < 1)
        self.r_pt = _validate.real_scalar(r_pt, "r_pt", lo=0.0, hi=1.0)
        extra = _validate.mapping(inputs, "inputs")
        for key in extra:
            if key not in _EXTRA_NAMES or key == "r_pt":
                raise ValueError(f"inputs: unknown extra input {key!r}; expected 'N' (give the replay ratio as r_pt)")
        self.extra = extra

    def _one(self, law, areas, r_pt):
        if law is None:
            return None
        vals = {}
        for n in law.input_names:
            if n in _AREA_NAMES:
                vals[n] = areas[n]
            elif n == "r_pt":
                vals[n] = self.r_pt if r_pt is None else r_pt
            elif n in self.extra:
                vals[n] = self.extra[n]
            else:
                raise ValueError(f"inputs: {type(law).__name__} needs {n!r}; pass inputs={{{n!r}: ...}}")
        return law(**vals)

    def losses(self, areas, r_pt=None):
        """(loss_pt, loss_cpt, objective); a missing law gives NaN losses (weight 0)."""
        lp = self._one(self.law_pt, areas, r_pt)
        lc = self._one(self.law_cpt, areas, r_pt)
        if lp is None:
            return np.full_like(lc, np.nan), lc, lc
        if lc is None:
            return lp, np.full_like(lp, np.nan), lp
        return lp, lc, self.w * lp + (1.0 - self.w) * lc


def _areas_at(pts, cpts, steps, opts: _AreaOpts) -> dict:
    """Areas of (PT, CPT) pairs at per-pair global steps ``steps`` (count, k), in chunks."""
    single_pt = isinstance(pts, _S.Schedule)
    single_cpt = isinstance(cpts, _S.Schedule)
    steps = np.asarray(steps, dtype=np.int64)
    count = steps.shape[0]
    out = {n: np.empty(steps.shape) for n in _AREA_NAMES}
    for lo in range(0, count, _CHUNK):
        hi = min(count, lo + _CHUNK)
        p = pts if single_pt else pts[lo:hi]
        c = cpts if single_cpt else cpts[lo:hi]
        if single_pt and single_cpt:
            c = [c] * (hi - lo)
        a = _S.batch_cpt_areas(p, c, steps[lo:hi], opts.decay, opts.split, warmup_as_peak=opts.warmup_as_peak)
        for n in _AREA_NAMES:
            out[n][lo:hi] = getattr(a, n)
    return out


def _final_and_transfer(target: _Target, pts, cpts, opts, r_pt=None):
    """Losses at the transfer point (last PT step) and at the final CPT step of each pair."""
    n = len(cpts) if not isinstance(cpts, _S.Schedule) else (1 if isinstance(pts, _S.Schedule) else len(pts))
    pt_len = np.array([p.steps for p in pts]) if not isinstance(pts, _S.Schedule) else np.full(n, pts.steps)
    cpt_len = np.array([c.steps for c in cpts]) if not isinstance(cpts, _S.Schedule) else np.full(n, cpts.steps)
    steps = np.stack([pt_len - 1, pt_len + cpt_len - 1], axis=1)
    areas = _areas_at(pts, cpts, steps, opts)
    if r_pt is not None:
        r_pt = np.asarray(r_pt, dtype=float).reshape(-1, 1)
    return target.losses(areas, r_pt)


# -- schedules -----------------------------------------------------------------------------------


def _resolve_start(p: dict, pt: _S.Schedule) -> None:
    """A plan's ``start_lr`` as the LR it means (None and "pt": the PT checkpoint's final LR)."""
    start = p.get("start_lr")
    if start is None or isinstance(start, str):
        floor = _families._min_lr_value(p.get("min_lr"), p.get("min_lr_ratio"), _families._peak_value(p["peak_lr"]))
        p["start_lr"] = _families._start_lr_value("pt" if start is None else start, p.get("shape", "cosine"), floor,
                                                 float(pt.lr(pt.steps - 1)))


def wsd_pt_family(peak_lr: float, steps: int, decay_steps: int, warmup: int = 0, decay: str = "linear"):
    """PT checkpoints of one WSD run annealed to different final LRs: ``lp -> Schedule``.

    ``family(lp)`` is :func:`cptlaw.schedules.wsd` over ``steps - 1`` steps with ``min_lr =
    lp * peak_lr``, plus one last step at ``lp * peak_lr`` (HF's decay reaches ``min_lr`` one
    step past its end; this way the last PT step is exactly there), so its
    :func:`loss_potential` is exactly ``lp``: the ``loss_potential`` of a PT family of
    :mod:`cptlaw.families` (and :func:`cptlaw.grid`), with ``decay_steps`` given in steps.
    Use with :func:`optimal_loss_potential`. (HF's WSD
    warmup starts at ``min_lr``; with ``warmup_as_peak=warmup`` the warmup counts at the peak,
    P2's convention.)
    """
    peak = _validate.real_scalar(peak_lr, "peak_lr", lo=0.0)
    if peak <= 0:
        raise ValueError(f"peak_lr: must be > 0, got {peak}")
    n = _validate.integer(steps, "steps", lo=2)
    d = _validate.integer(decay_steps, "decay_steps", lo=1)
    wu = _validate.integer(warmup, "warmup", lo=0)
    _S.wsd(peak, n - 1, d, wu, 0.0, decay)  # validates the combination once

    def family(lp: float) -> _S.Schedule:
        lp = _validate.real_scalar(lp, "loss_potential", lo=0.0, hi=1.0)
        return _families._anneal_exactly(lambda m, floor: _S.wsd(peak, m, d, wu, floor, decay), n, lp * peak)

    family.peak_lr, family.steps, family.decay_steps, family.warmup = peak, n, d, wu  # type: ignore[attr-defined]
    return family


# -- loss potential, critical point, turning length ---------------------------------------------


def loss_potential(pt_schedule: _S.Schedule) -> float:
    """Loss potential of the checkpoint at the end of ``pt_schedule`` (P1 section 4.1):
    final PT LR / peak PT LR. 1 = not annealed at all, 0 = annealed to zero."""
    pt = _check_schedule(pt_schedule, "pt_schedule")
    if pt.peak <= 0:
        raise ValueError("pt_schedule: has a zero peak LR; the loss potential is undefined")
    return float(pt.lr(pt.steps - 1)) / pt.peak


@dataclass(repr=False)
class CriticalPoint(Result):
    """Result of :func:`critical_point`.

    Attributes
    ----------
    level : float
        The asymptote of the loss under endless CPT at ``cpt_lr`` (P1's critical point).
    loss_at_transfer : float
        The loss at the last PT step.
    pre_critical : bool
        ``loss_at_transfer > level``: in the long run the loss ends below its value at the
        transfer point (a finite turning length at constant LR is guaranteed); otherwise the
        degradation is permanent in the long run (the loss may still dip below its start for a
        while before settling above it; :func:`turning_length` finds such dips).
    margin : float
        ``loss_at_transfer - level``.
    cpt_lr : float
        The LR the endless CPT settles at.
    s2_pt, s2_cpt : float
        The annealing areas in the limit.
    """

    level: float
    loss_at_transfer: float
    pre_critical: bool
    margin: float
    cpt_lr: float
    s2_pt: float
    s2_cpt: float

    def describe(self, loss: str = "D_pt") -> str:
        """One line: the level, the LR and which side of it the checkpoint is on."""
        side = (f"pre-critical (the {loss} loss at transfer lies above it: it returns in the long run)"
                if self.pre_critical else
                f"post-critical (the {loss} loss at transfer lies below it: the forgetting stays in the long run)")
        return f"{fmt(self.level, '.5f')} under endless CPT at LR {fmt(self.cpt_lr, '.4g')}: {side}"

    def _title(self) -> str:
        return f"CriticalPoint: {self.describe()}"


def _limit_steps(lam: float) -> int:
    """CPT steps after which lam**steps < 1e-22 (the momentum has died out)."""
    if lam >= 1.0:
        raise ValueError("decay: the critical point needs decay < 1 (with decay = 1 the momentum never dies out "
                         "and S2 grows without bound)")
    if lam <= 0.0:
        return 2
    return int(min(10**15, math.ceil(-50.0 / math.log(lam)) + 2))


def _law_at_infinity(law: Law) -> Law:
    """The same law with the power-law exponents replaced so that the A-term and the shift term
    take their limits exactly at s1_cpt = 1e300 (alpha, beta appear nowhere else)."""
    p = law.params
    for key in ("alpha", "beta"):
        if key in p:
            p[key] = 1e4
    return type(law)(**p)


def critical_point(
    law_pt,
    pt_schedule: _S.Schedule,
    cpt_lr: Optional[float] = None,
    *,
    r_pt: float = 0.0,
    inputs=None,
    decay: float = 0.999,
    split: str = "by_source",
    warmup_as_peak=False,
) -> CriticalPoint:
    """The critical point of a PT checkpoint (:ref:`critical-point`): the level the D_pt loss tends
    to under endless CPT, and whether the checkpoint is pre- or post-critical.

    The endless CPT settles at LR ``cpt_lr`` (default: the PT peak). Only that final LR matters
    in the limit: every LR drop's momentum has died out, so ``S2_cpt -> (lr_T-1 - cpt_lr) /
    (1 - lambda)`` (plus, for ``split="by_time"``, the PT momentum still running at the
    transfer) whatever the path; ``S2_pt`` tends to its limit under the chosen split; and for
    ``cpt_lr > 0``, ``S1_cpt -> inf``, so the A-term vanishes and the shift term reaches ``B``.
    For P1's law this is ``L0 + B - C1*S2_pt - C2*S2_cpt`` (the replay laws multiply their
    terms by the replay factors). With ``cpt_lr = 0`` nothing is learnt and the level is the
    loss with the limiting annealing areas at ``S1_cpt = 0``.
    """
    target_law = _check_law(law_pt, "law_pt", True)
    pt = _check_schedule(pt_schedule, "pt_schedule")
    opts = _AreaOpts.make(decay, split, warmup_as_peak)
    eta = pt.peak if cpt_lr is None else _validate.real_scalar(cpt_lr, "cpt_lr", lo=0.0)
    n_lim = _limit_steps(opts.decay)
    T = pt.steps
    cpt = _S.constant(eta, n_lim)
    a = _S.cpt_areas_at(pt, cpt, [T - 1, T + n_lim - 1], opts.decay, opts.split, warmup_as_peak=opts.warmup_as_peak)
    areas = {n: np.asarray(getattr(a, n), dtype=float) for n in _AREA_NAMES}
    target = _Target(target_law, None, 1.0, r_pt, inputs)
    at_transfer = float(target.losses({n: v[:1] for n, v in areas.items()})[0][0])
    lim = {n: v[1:] for n, v in areas.items()}
    if eta > 0:
        lim["s1_cpt"] = np.array([1e300])
        target = _Target(_law_at_infinity(target_law), None, 1.0, r_pt, inputs)  # type: ignore[arg-type]
    else:
        lim["s1_cpt"] = np.array([0.0])
    level = float(target.losses(lim)[0][0])
    return CriticalPoint(
        level=level,
        loss_at_transfer=at_transfer,
        pre_critical=bool(at_transfer > level),
        margin=at_transfer - level,
        cpt_lr=float(eta),
        s2_pt=float(lim["s2_pt"][0]),
        s2_cpt=float(lim["s2_cpt"][0]),
    )


@dataclass(repr=False)
class TurningLength(Result):
    """Result of :func:`turning_length`.

    Attributes
    ----------
    steps : int or math.inf
        The fewest CPT steps after which the loss, having risen above its value at the
        transfer point, is back at (or below) it; 0 if it never rises above it (within
        ``horizon``); ``math.inf`` if it rises and never comes back (see :func:`turning_length`
        for when that is exact). A first dip (e.g. zero-LR re-warmup steps harvesting the PT
        annealing momentum) before the rise does not count as a return.
    loss_at_transfer : float
        The loss at the last PT step.
    max_loss, max_step : float, int
        The highest loss seen before the return (or over the whole search) and the CPT step
        count where it was seen (on the search grid).
    horizon : float
        The number of CPT steps searched.
    mode : str
        ``"constant"``, ``"schedule"`` or ``"family"``.
    critical : CriticalPoint or None
        For ``"constant"``: the asymptote at that LR.
    """

    steps: float
    loss_at_transfer: float
    max_loss: float
    max_step: int
    horizon: float
    mode: str
    critical: Optional[CriticalPoint] = None

    @property
    def finite(self) -> bool:
        return not math.isinf(self.steps)

    def __float__(self) -> float:
        return float(self.steps)

    def describe(self, loss: str = "D_pt", cpt_lr: Optional[float] = None) -> str:
        """One line: the turning length, or why there is none (``cpt_lr``: the constant LR of
        ``mode="constant"``, default the critical point's)."""
        if cpt_lr is None and self.critical is not None:
            cpt_lr = self.critical.cpt_lr
        where = {"constant": f"at constant LR {fmt(cpt_lr, '.4g')}" if cpt_lr is not None else "at constant LR",
                 "schedule": "within the CPT schedule", "family": "over the CPT lengths searched"}[self.mode]
        if self.finite and self.steps:
            what = "CPT steps" if self.mode != "family" else "CPT steps (the shortest run of the family)"
            return f"{int(self.steps)} {what} {where}"
        if self.finite:
            return f"0 (the {loss} loss never rises above its transfer value {where})"
        return (f"infinite ({where} the {loss} loss rises to {fmt(self.max_loss, '.5f')} and does not return "
                f"within {fmt(self.horizon, '.3g')} steps)")

    def _title(self) -> str:
        return f"TurningLength: {self.describe()}"

    def _blocks(self) -> list:
        return [Fields([(n, getattr(self, n)) for n in ("steps", "loss_at_transfer", "max_loss", "max_step", "horizon",
                                                         "mode")]
                       + ([("critical", self.critical.describe())] if self.critical is not None else []))]


def _first_crossing(evaluate, level, a, b, dense_limit=200_000):
    """Smallest integer n in (a, b] with evaluate(n) <= level, given evaluate(a) > level >=
    evaluate(b): bisection down to a short bracket, then every integer of it."""
    while b - a > dense_limit:
        mid = (a + b) // 2
        if evaluate(np.array([mid]))[0] <= level:
            b = mid
        else:
            a = mid
    ns = np.arange(a + 1, b + 1)
    vals = evaluate(ns)
    return int(ns[np.flatnonzero(vals <= level)[0]])


def _step_grid(max_steps: int) -> np.ndarray:
    dense = np.arange(1, min(max_steps, 512) + 1)
    if max_steps <= 512:
        return dense
    geo = np.unique(np.round(np.geomspace(512, max_steps, 4000)).astype(np.int64))
    return np.unique(np.concatenate([dense, geo]))


def turning_length(
    law,
    pt_schedule: _S.Schedule,
    cpt=None,
    *,
    law_cpt=None,
    w: float = 1.0,
    cpt_lr: Optional[float] = None,
    max_steps: int = 10**9,
    r_pt: float = 0.0,
    inputs=None,
    decay: float = 0.999,
    split: str = "by_source",
    warmup_as_peak=False,
) -> TurningLength:
    """The turning length (P1 section 4): the fewest CPT steps after which the D_pt loss (or,
    with ``law_cpt`` and ``w < 1``, the weighted loss ``w*L_Dpt + (1-w)*L_Dcpt``) is back at
    its value at the transfer point, after having risen above it (the forgetting bump). 0 if it
    never rises; ``math.inf`` if it never comes back. Returns a :class:`TurningLength`.

    Parameters
    ----------
    law : CPTLaw
        The law of the D_pt loss.
    pt_schedule : Schedule
        The PT run; the transfer point is its last step.
    cpt : None, Schedule or callable
        What "CPT steps" means:

        - ``None`` (default): endless CPT at the constant LR ``cpt_lr`` (default the PT peak),
          starting at the first CPT step (no re-warmup). The loss is scanned on a grid of step
          counts (every count up to 512, then 4000 geometric points up to ``max_steps``) and the
          first return is pinned to the exact step by bisection and a dense scan. If no return
          is found, the horizon is extended 1000-fold (up to 1e18 steps) while the checkpoint is
          pre-critical (the asymptote lies below the transfer loss, so a return must exist) or
          the loss is still falling at the horizon. Otherwise the answer is ``math.inf``. Why
          that is exact for P1's law: once the momentum of the LR drop at the transfer has died
          out, ``dL/dS1_cpt = -alpha*A*(S1_pt+S1_cpt)**(-alpha-1) +
          beta*B*E*(1+E*S1_cpt)**(-beta-1)`` changes sign at most twice (the log-ratio of the
          two terms has a single extremum), so a loss rising at the horizon after its fall keeps
          rising. A post-critical checkpoint can still have a finite turning length: the loss
          may dip below its start before rising to the asymptote from below (when beta <
          alpha the shift term is the slower one). For a weighted loss the same rule is a
          heuristic.
        - a ``Schedule``: one CPT run; every step of it is evaluated (exact); ``math.inf`` means
          "not within this run".
        - a callable ``n -> Schedule`` (e.g. ``lambda n: cpt_schedule(2e-4, n, "cosine")``):
          the smallest CPT *length* ``n`` whose final loss is back at the transfer value
          (P1's reading with a schedule family); scanned on the grid above up to ``max_steps``
          and pinned by bisection, assuming the final loss crosses the level once per grid
          interval.
    law_cpt, w : optional
        The D_cpt law and the weight of the D_pt loss (default 1: the D_pt loss alone).
    r_pt, inputs, decay, split, warmup_as_peak
        As everywhere in this module.
    """
    target = _Target(law, law_cpt, w, r_pt, inputs)
    if target.law_pt is None:
        raise ValueError("law: the D_pt law is needed (w > 0)")
    pt = _check_schedule(pt_schedule, "pt_schedule")
    opts = _AreaOpts.make(decay, split, warmup_as_peak)
    T = pt.steps
    max_steps = _validate.integer(max_steps, "max_steps", lo=1, hi=_limits.MAX_EXACT_INT - T)

    def obj(areas):
        return target.losses(areas)[2]

    crit = None
    if cpt is None or isinstance(cpt, _S.Schedule):
        if cpt is None:
            mode = "constant"
            eta = pt.peak if cpt_lr is None else _validate.real_scalar(cpt_lr, "cpt_lr", lo=0.0)
            if target.law_cpt is None:
                crit = critical_point(target.law_pt, pt, eta, r_pt=target.r_pt, inputs=inputs, decay=opts.decay,
                                      split=opts.split, warmup_as_peak=opts.warmup_as_peak)
        else:
            mode = "schedule"
            if cpt_lr is not None:
                raise ValueError("cpt_lr: only used with cpt=None (constant CPT LR)")

        def run_eval(ns, horizon):
            sched = cpt if cpt is not None else _S.constant(eta, int(horizon))
            a = _S.cpt_areas_at(pt, sched, T - 1 + np.asarray(ns, dtype=np.int64), opts.decay, opts.split,
                                warmup_as_peak=opts.warmup_as_peak)
            return obj({n: getattr(a, n) for n in _AREA_NAMES})

        horizon = cpt.steps if cpt is not None else max_steps
        level = float(run_eval(np.array([0]), max(horizon, 1))[0])
        while True:
            if mode == "schedule":
                ns = np.arange(1, horizon + 1)
                vals = np.concatenate([run_eval(ns[i:i + 1_000_000], horizon) for i in range(0, ns.size, 1_000_000)])
            else:
                ns = _step_grid(horizon)
                vals = run_eval(ns, horizon)
            up = np.flatnonzero(vals > level)
            if not up.size:
                return TurningLength(0, level, level, 0, float(horizon), mode, crit)
            back = np.flatnonzero(vals[up[0]:] <= level)
            if back.size:
                i = up[0] + back[0]
                top = int(np.argmax(vals[:i]))
                if mode == "schedule":
                    n = int(ns[i])
                else:
                    n = _first_crossing(lambda m: run_eval(m, horizon), level, int(ns[i - 1]), int(ns[i]))
                return TurningLength(n, level, float(vals[top]), int(ns[top]), float(horizon), mode, crit)
            top = int(np.argmax(vals))
            result = TurningLength(math.inf, level, float(vals[top]), int(ns[top]), float(horizon), mode, crit)
            still_falling = ns.size > 1 and vals[-1] < vals[-2]
            pre = crit is not None and crit.pre_critical
            if mode == "constant" and (pre or still_falling) and horizon < 10**18:
                horizon = min(horizon * 1000, 10**18)
                continue
            return result

    if not callable(cpt):
        raise TypeError("cpt: expected None, a Schedule or a callable n -> Schedule")
    if cpt_lr is not None:
        raise ValueError("cpt_lr: only used with cpt=None (constant CPT LR)")

    def family_eval(ns):
        scheds = [_check_schedule(cpt(int(n)), "cpt(n)") for n in ns]
        for n, s in zip(ns, scheds):
            if s.steps != int(n):
                raise ValueError(f"cpt: cpt({int(n)}) has {s.steps} steps, expected {int(n)}")
        return _final_and_transfer(target, pt, scheds, opts)[2][:, 1]

    a0 = _S.cpt_areas_at(pt, _S.constant(0.0, 1), [T - 1], opts.decay, opts.split, warmup_as_peak=opts.warmup_as_peak)
    level = float(obj({n: getattr(a0, n) for n in _AREA_NAMES})[0])
    ns = _step_grid(max_steps)
    vals = family_eval(ns)
    up = np.flatnonzero(vals > level)
    if not up.size:
        return TurningLength(0, level, level, 0, float(max_steps), "family")
    back = np.flatnonzero(vals[up[0]:] <= level)
    if not back.size:
        top = int(np.argmax(vals))
        return TurningLength(math.inf, level, float(vals[top]), int(ns[top]), float(max_steps), "family")
    i = up[0] + back[0]
    top = int(np.argmax(vals[:i]))
    a, b = int(ns[i - 1]), int(ns[i])
    while b - a > 1:
        mid = (a + b) // 2
        if family_eval([mid])[0] <= level:
            b = mid
        else:
            a = mid
    return TurningLength(b, level, float(vals[top]), int(ns[top]), float(max_steps), "family")


# -- one-parameter optimisation of a CPT plan ---------------------------------------------------


@dataclass(repr=False)
class Optimum(Result):
    """Result of :func:`optimize_cpt` and the ``optimal_*`` functions.

    Attributes
    ----------
    name : str
        The optimised quantity ("peak_lr", "steps", "decay_frac", "warmup",
        "min_lr_ratio", "loss_potential", "r_pt").
    value : float
        Its optimal value (an int for steps and warmup).
    objective, loss_pt, loss_cpt : float
        ``w*L_Dpt + (1-w)*L_Dcpt`` and the two losses at the final CPT step there.
    at_bound : bool
        The optimum lies on a bound of the search (the law wants to go further; :ref:`limits`).
    bounds : tuple
        The search interval.
    w : float
    plan : dict
        The full CPT plan at the optimum (the keyword arguments of :func:`cpt_schedule`, plus
        ``r_pt``).
    cpt_schedule, pt_schedule : Schedule
        The schedules at the optimum.
    grid, grid_objective : ndarray
        The first (coarse) search grid and its objective values, for plots.
    """

    name: str
    value: float
    objective: float
    loss_pt: float
    loss_cpt: float
    at_bound: bool
    bounds: tuple
    w: float
    plan: dict
    cpt_schedule: _S.Schedule = field(repr=False)
    pt_schedule: _S.Schedule = field(repr=False)
    grid: np.ndarray = field(repr=False)
    grid_objective: np.ndarray = field(repr=False)

    @property
    def bound(self) -> Optional[str]:
        """``"low"`` or ``"high"``: the bound the optimum lies on (None inside the bounds)."""
        if not self.at_bound:
            return None
        lo, hi = self.bounds
        v = float(self.value)
        if lo > 0 and hi > 0 and self.name in ("peak_lr", "steps"):
            return "low" if abs(math.log(v / lo)) <= abs(math.log(hi / v)) else "high"
        return "low" if abs(v - lo) <= abs(hi - v) else "high"

    def _title(self) -> str:
        where = f" (on the {self.bound} bound)" if self.at_bound else ""
        return f"Optimum: {self.name} = {fmt(self.value, '.6g')}{where} at w = {fmt(self.w)}"

    @staticmethod
    def table(entries) -> Table:
        """The optima of several weights as one table: ``entries`` are ``(w, {name: Optimum})``;
        a column gives the peak LR each optimum was found at, unless only the peak LR is
        optimised."""
        entries = list(entries)
        names = {q for _, optima in entries for q in optima}
        at_peak = names != {"peak_lr"}
        rows = []
        for w, optima in entries:
            for q, o in optima.items():
                row = [fmt(w, ".3g"), q, fmt(o.value, ".4g"), o.bound or "-", fmt(o.loss_pt, ".5f"),
                       fmt(o.loss_cpt, ".5f"), fmt(o.objective, ".5f")]
                if at_peak:
                    row.append("" if q == "peak_lr" else fmt(o.plan.get("peak_lr"), ".4g"))
                rows.append(row)
        heads = ["w", "optimum", "value", "bound", "L_Dpt", "L_Dcpt", "weighted"] + (["at peak LR"] if at_peak else [])
        return Table(heads, rows, right=(0, 2, 3, 4, 5, 6, 7))


_VARY = {
    # name: (scale, integer): the family parameters of cptlaw.families, and the PT checkpoint's
    # loss potential and the replay ratio
    **_families.SEARCHABLE,
    "loss_potential": ("linear", False),
    "r_pt": ("linear", False),
}
_PLAN_KEYS = _families.CPT_KEYS
_FRACTIONS = ("decay_frac", "min_lr_ratio", "loss_potential", "r_pt")


def _scan(f, lo, hi, scale, integer, n_grid, rtol):
    """Minimise f (vectorised over candidates) on [lo, hi]: a grid, then zooming grids around
    the best point. Returns (x, fx, first grid, its values, at_bound)."""

    def grid(a, b, n):
        if scale == "log":
            xs = np.geomspace(a, b, n)
        else:
            xs = np.linspace(a, b, n)
        if integer:
            xs = np.unique(np.clip(np.round(xs), lo, hi)).astype(np.int64)
        return xs

    def safe(v):
        v = np.asarray(v, dtype=float)
        return np.where(np.isfinite(v), v, np.inf)

    xs = grid(lo, hi, n_grid)
    ys = safe(f(xs))
    first_x, first_y = xs.copy(), ys.copy()
    best_i = int(np.argmin(ys))
    bx, by = xs[best_i], ys[best_i]
    for _ in range(60):
        a = xs[max(best_i - 1, 0)]
        b = xs[min(best_i + 1, xs.size - 1)]
        if integer and b - a <= 4096:  # every integer of the bracket (jagged objectives)
            xs = np.arange(int(a), int(b) + 1)
            ys = safe(f(xs))
            i = int(np.argmin(ys))
            if ys[i] <= by:
                bx, by = xs[i], ys[i]
            break
        width = (math.log(b) - math.log(a)) if (scale == "log" and a > 0) else (b - a) / max(hi - lo, 1e-300)
        if width <= rtol:
            break
        xs = grid(a, b, 17)
        ys = safe(f(xs))
        best_i = int(np.argmin(ys))
        if ys[best_i] <= by:
            bx, by = xs[best_i], ys[best_i]
    span = (math.log(hi) - math.log(lo)) if (scale == "log" and lo > 0) else (hi - lo)
    near = (lambda x, e: abs(math.log(x) - math.log(e)) <= 1e-3 * span) if (scale == "log" and lo > 0) \
        else (lambda x, e: abs(x - e) <= 1e-3 * span)
    at_bound = bool(near(bx, lo) or near(bx, hi))
    return bx, by, first_x, first_y, at_bound


def optimize_cpt(
    law_pt,
    law_cpt,
    w: float,
    pt_schedule,
    vary: str,
    bounds=None,
    *,
    r_pt: float = 0.0,
    inputs=None,
    decay: float = 0.999,
    split: str = "by_source",
    warmup_as_peak=False,
    grid: int = 49,
    rtol: float = 1e-6,
    **plan,
) -> Optimum:
    """Minimise ``w*L_Dpt + (1-w)*L_Dcpt`` at the final CPT step over one quantity.

    Parameters
    ----------
    law_pt, law_cpt : fitted laws of the D_pt and D_cpt losses (replay laws for ``r_pt``).
    w : float in [0, 1]
        Weight of the D_pt loss. ``w = 1`` needs only ``law_pt``, ``w = 0`` only ``law_cpt``.
    pt_schedule : Schedule, or for ``vary="loss_potential"`` a callable ``lp -> Schedule``
        (e.g. :func:`wsd_pt_family`).
    vary : str
        "peak_lr" (log scale), "steps" (log, integer), "decay_frac" (the share of the steps
        after the re-warmup a WSD schedule spends decaying; needs ``shape="wsd"``), "warmup"
        (re-warmup steps, integer), "min_lr_ratio" (final LR / peak), "loss_potential" (of the
        PT checkpoint) or "r_pt" (replay ratio). "decay_fraction" (a share of all CPT steps)
        is deprecated.
    bounds : (low, high), optional
        Defaults: peak_lr ``(pt_peak / 100, pt_peak)`` (the law keeps rewarding LR: the PT peak
        is the largest LR it was fitted on in P1's setting); steps ``(max(1, warmup),
        10 * pt_steps)``;
        warmup ``(0, steps // 2)``; fractions and ratios ``(0, 1)``.
    grid, rtol : the first grid's size and the relative width at which zooming stops.
    **plan
        The fixed CPT plan, keys of a CPT family (:mod:`cptlaw.families`): ``peak_lr``,
        ``steps``, ``shape`` (default "cosine"), ``warmup``, ``start_lr`` (default ``"pt"``, the
        PT checkpoint's final LR), ``decay_frac``, ``decay_type``, ``min_lr`` or
        ``min_lr_ratio`` (see :func:`cpt_schedule`).

    The search is a grid (log or linear), then zooming grids of 17 points around the best
    point until the bracket is narrower than ``rtol``; integer quantities end with every
    integer of a bracket of at most 4096 (step counts make the objective slightly jagged, e.g.
    through the rounding of a WSD decay length). It finds the global optimum of a unimodal
    objective and a local one near the best grid point otherwise.
    """
    if vary == "decay_fraction":
        _families._warn_deprecated("decay_fraction", "vary")
        scale, integer = _VARY["decay_frac"]
    else:
        _validate.choice(vary, "vary", tuple(_VARY) + ("decay_fraction",))
        scale, integer = _VARY[vary]
    target = _Target(law_pt, law_cpt, w, r_pt, inputs)
    opts = _AreaOpts.make(decay, split, warmup_as_peak)
    unknown = [k for k in plan if k not in _PLAN_KEYS + tuple(_families.DEPRECATED_KEYS)]
    if unknown:
        raise TypeError(f"optimize_cpt: unknown plan argument(s) {', '.join(unknown)}; "
                        f"expected {', '.join(_PLAN_KEYS)}")
    if "decay_fraction" in plan:
        _families._warn_deprecated("decay_fraction", "optimize_cpt")
    same = ("decay_frac", "decay_fraction") if vary in ("decay_frac", "decay_fraction") else (vary,)
    if any(k in plan for k in same):
        raise TypeError(f"{vary}: is the quantity optimised; do not fix it")
    if vary == "loss_potential":
        if not callable(pt_schedule) or isinstance(pt_schedule, _S.Schedule):
            raise TypeError("pt_schedule: for vary='loss_potential' pass a callable lp -> Schedule "
                            "(e.g. cptlaw.planner.wsd_pt_family(...))")
        pt_family = pt_schedule
        pt_ref = _check_schedule(pt_family(1.0), "pt_schedule(1.0)")
    else:
        pt_ref = _check_schedule(pt_schedule, "pt_schedule")
        pt_family = None
    plan = dict(plan)
    plan.setdefault("shape", "cosine")
    _validate.choice(plan["shape"], "shape", CPT_SHAPES)
    if vary in ("decay_frac", "decay_fraction") and plan["shape"] != "wsd":
        raise ValueError(f"shape: vary={vary!r} needs shape='wsd'")
    for key in ("peak_lr", "steps"):
        if key != vary and key not in plan:
            raise TypeError(f"optimize_cpt: the plan needs {key}")
    for key, least in (("steps", 1), ("warmup", 0)):  # used below before cpt_schedule checks them
        if key in plan:
            _validate.integer(plan[key], key, lo=least)
    if bounds is None:
        if vary == "peak_lr":
            bounds = (pt_ref.peak / 100.0, pt_ref.peak)
        elif vary == "steps":
            bounds = (max(1, int(plan.get("warmup", 0))), 10 * pt_ref.steps)
        elif vary == "warmup":
            bounds = (0, plan["steps"] // 2)
        else:
            bounds = (0.0, 1.0)
    try:
        lo, hi = (float(bounds[0]), float(bounds[1]))
    except (TypeError, ValueError, IndexError, KeyError):
        raise TypeError("bounds: expected a (low, high) pair") from None
    except OverflowError:
        raise ValueError(f"bounds: need finite low <= high, got {_validate.describe(bounds)}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
        raise ValueError(f"bounds: need finite low <= high, got {_validate.describe(bounds)}")
    if scale == "log" and lo <= 0:
        raise ValueError(f"bounds: {vary} is searched on a log scale; the low bound must be > 0")
    if vary in _FRACTIONS + ("decay_fraction",) and (lo < 0 or hi > 1):
        raise ValueError(f"bounds: {vary} lies in [0, 1], got {bounds}")
    if integer:
        lo, hi = math.ceil(lo), math.floor(hi)
        if lo > hi:
            raise ValueError(f"bounds: no integer in {bounds}")
    if vary == "steps" and lo < int(plan.get("warmup", 0)):
        raise ValueError(f"bounds: the CPT length must be >= the re-warmup ({plan['warmup']} steps), got low {lo}")
    if vary == "warmup" and hi > plan["steps"]:
        raise ValueError(f"bounds: the re-warmup must be <= the CPT length ({plan['steps']}), got high {hi}")

    def build(x):
        p = dict(plan)
        pt = pt_ref
        if vary == "loss_potential":
            pt = _check_schedule(pt_family(float(x)), "pt_schedule(lp)")
        elif vary != "r_pt":
            p[vary] = int(x) if integer else float(x)
        _resolve_start(p, pt)
        return pt, _families._build_cpt(**p), p

    def f(xs):
        built = [build(x) for x in xs]
        pts = [b[0] for b in built] if vary == "loss_potential" else pt_ref
        r = np.asarray(xs, dtype=float) if vary == "r_pt" else None
        return _final_and_transfer(target, pts, [b[1] for b in built], opts, r)[2][:, 1]

    bx, by, gx, gy, at_bound = _scan(f, lo, hi, scale, integer, grid, rtol)
    pt, cpt, p = build(bx)
    r = np.array([float(bx)]) if vary == "r_pt" else None
    lp, lc, ob = _final_and_transfer(target, pt, [cpt], opts, r)
    p["r_pt"] = float(bx) if vary == "r_pt" else target.r_pt
    value = int(bx) if integer else float(bx)
    if vary == "loss_potential":
        p["loss_potential"] = value
    return Optimum(
        name=vary, value=value, objective=float(ob[0, 1]), loss_pt=float(lp[0, 1]), loss_cpt=float(lc[0, 1]),
        at_bound=at_bound, bounds=(lo, hi), w=target.w, plan=p, cpt_schedule=cpt, pt_schedule=pt,
        grid=gx, grid_objective=gy,
    )


def optimal_peak_lr(law_pt, law_cpt, w, pt_schedule, cpt_steps, shape="cosine", bounds=None, **kw) -> Optimum:
    """The CPT peak LR minimising ``w*L_Dpt + (1-w)*L_Dcpt`` after ``cpt_steps`` steps of
    ``shape`` (P1 section 5). Default bounds: PT peak / 100 .. PT peak. Other keywords as in
    :func:`optimize_cpt` (``warmup``, ``min_lr_ratio``, ``decay_frac``, ``r_pt``, area
    options...)."""
    return optimize_cpt(law_pt, law_cpt, w, pt_schedule, "peak_lr", bounds, steps=cpt_steps, shape=shape, **kw)


def optimal_cpt_steps(law_pt, law_cpt, w, pt_schedule, peak_lr, shape="cosine", bounds=None, **kw) -> Optimum:
    """The number of CPT steps (each length gets its own full ``shape`` schedule) minimising the
    weighted final loss. Default bounds ``(1, 10 * pt_steps)``. The D_cpt loss keeps falling
    with more steps under the law, so small ``w`` usually ends on the upper bound."""
    return optimize_cpt(law_pt, law_cpt, w, pt_schedule, "steps", bounds, peak_lr=peak_lr, shape=shape, **kw)


def optimal_decay_fraction(law_pt, law_cpt, w, pt_schedule, peak_lr, cpt_steps, bounds=(0.0, 1.0), **kw) -> Optimum:
    """The share of a WSD CPT schedule's steps after the re-warmup spent decaying (``decay_frac``;
    ``decay_type`` linear by default)."""
    return optimize_cpt(law_pt, law_cpt, w, pt_schedule, "decay_frac", bounds, peak_lr=peak_lr,
                        steps=cpt_steps, shape="wsd", **kw)


def optimal_rewarmup(law_pt, law_cpt, w, pt_schedule, peak_lr, cpt_steps, shape="cosine", bounds=None,
                     **kw) -> Optimum:
    """The re-warmup length (steps from the checkpoint's final LR up to the peak)."""
    return optimize_cpt(law_pt, law_cpt, w, pt_schedule, "warmup", bounds, peak_lr=peak_lr, steps=cpt_steps,
                        shape=shape, **kw)


def optimal_final_lr(law_pt, law_cpt, w, pt_schedule, peak_lr, cpt_steps, shape="cosine", bounds=(0.0, 1.0),
                     **kw) -> Optimum:
    """The final CPT LR as a fraction of the peak (``min_lr_ratio``)."""
    return optimize_cpt(law_pt, law_cpt, w, pt_schedule, "min_lr_ratio", bounds, peak_lr=peak_lr,
                        steps=cpt_steps, shape=shape, **kw)


def optimal_loss_potential(law_pt, law_cpt, w, pt_family, peak_lr, cpt_steps, shape="cosine",
                           bounds=(0.0, 1.0), **kw) -> Optimum:
    """The loss potential of the PT checkpoint (``pt_family(lp)`` is the PT run annealed to
    ``lp * peak``, e.g. :func:`wsd_pt_family`). The CPT re-warms from each checkpoint's final LR
    unless ``start_lr`` is given."""
    return optimize_cpt(law_pt, law_cpt, w, pt_family, "loss_potential", bounds, peak_lr=peak_lr,
                        steps=cpt_steps, shape=shape, **kw)


def optimal_replay_ratio(law_pt, law_cpt, w, pt_schedule, peak_lr, cpt_steps, shape="cosine",
                         bounds=(0.0, 1.0), **kw) -> Optimum:
    """The replay ratio ``r_pt`` (share of PT data mixed into CPT) under the replay laws
    (:class:`cptlaw.ReplayPTLaw`, :class:`cptlaw.ReplayCPTLaw`, P1 Eq. 8)."""
    for name, law in (("law_pt", law_pt), ("law_cpt", law_cpt)):
        if law is not None and "r_pt" not in getattr(law, "input_names", ()):
            raise TypeError(f"{name}: the replay ratio needs the replay laws (ReplayPTLaw / ReplayCPTLaw)")
    return optimize_cpt(law_pt, law_cpt, w, pt_schedule, "r_pt", bounds, peak_lr=peak_lr, steps=cpt_steps,
                        shape=shape, **kw)


# -- evaluation of a family, Pareto front ---------------------------------------------------------


def _expand_family(family, pt: _S.Schedule):
    """(list of CPT schedules, list of descriptions, r_pt array or None)."""
    if isinstance(family, _S.Schedule):
        family = [family]
    if isinstance(family, dict):
        keys = list(family)
        bad = [k for k in keys if k not in _PLAN_KEYS + ("r_pt",) + tuple(_families.DEPRECATED_KEYS)]
        if bad:
            raise ValueError(f"family: unknown key(s) {', '.join(map(repr, bad))}; "
                             f"expected {', '.join(_PLAN_KEYS)}, r_pt")
        if "decay_fraction" in keys:
            _families._warn_deprecated("decay_fraction", "family")
        axes = []
        for k in keys:
            v = family[k]
            if isinstance(v, (str, bytes)) or not hasattr(v, "__iter__"):
                v = [v]
            v = list(v)
            if not v:
                raise ValueError(f"family[{k!r}]: is empty")
            axes.append(v)
        configs = [dict(zip(keys, combo)) for combo in itertools.product(*axes)]
        scheds, rs = [], []
        for c in configs:
            p = {k: v for k, v in c.items() if k != "r_pt"}
            if "peak_lr" not in p or "steps" not in p:
                raise ValueError("family: needs peak_lr and steps (as values or lists)")
            scheds.append(_families._build_cpt(**p, pt=pt))
            rs.append(c.get("r_pt"))
        r = None if all(x is None for x in rs) else np.array([np.nan if x is None else x for x in rs], dtype=float)
        return scheds, configs, r
    if isinstance(family, (str, bytes)) or not hasattr(family, "__iter__"):
        raise TypeError("family: expected a sequence of CPT Schedules or a dict of lists of cpt_schedule arguments")
    scheds = [_check_schedule(s, f"family[{i}]") for i, s in enumerate(family)]
    if not scheds:
        raise ValueError("family: is empty")
    return scheds, scheds, None


def evaluate(law_pt, law_cpt, pt_schedule, family, *, w: float = 0.5, r_pt: float = 0.0, inputs=None,
             decay: float = 0.999, split: str = "by_source", warmup_as_peak=False) -> dict:
    """Final-step losses of every CPT schedule of ``family`` after ``pt_schedule``.

    ``family``: a sequence of CPT Schedules, or a dict of lists of :func:`cpt_schedule`
    arguments (the keys of a CPT family, :mod:`cptlaw.families`, and ``r_pt``) whose Cartesian
    product is taken (``start_lr`` defaults to ``"pt"``, the PT final LR). Returns a dict of
    arrays ``loss_pt``, ``loss_cpt``, ``objective`` (weight ``w``),
    ``transfer_pt``, ``transfer_cpt`` (losses at the transfer point) and ``candidates`` (the
    schedules, or the config dicts).
    """
    pt = _check_schedule(pt_schedule, "pt_schedule")
    target = _Target(law_pt, law_cpt, w, r_pt, inputs)
    opts = _AreaOpts.make(decay, split, warmup_as_peak)
    scheds, cands, r = _expand_family(family, pt)
    if r is not None:
        r = np.where(np.isnan(r), target.r_pt, r)
    lp, lc, ob = _final_and_transfer(target, pt, scheds, opts, r)
    return {"loss_pt": lp[:, 1], "loss_cpt": lc[:, 1], "objective": ob[:, 1], "transfer_pt": lp[:, 0],
            "transfer_cpt": lc[:, 0], "candidates": cands}


@dataclass(repr=False)
class ParetoFront(Result):
    """Result of :func:`pareto_front`: the non-dominated (L_Dpt, L_Dcpt) points.

    ``loss_pt`` rises and ``loss_cpt`` falls along the front. ``index`` points into the
    evaluated family (``candidates``, ``all_loss_pt``, ``all_loss_cpt``).
    """

    loss_pt: np.ndarray
    loss_cpt: np.ndarray
    index: np.ndarray
    candidates: list = field(repr=False)
    all_loss_pt: np.ndarray = field(repr=False)
    all_loss_cpt: np.ndarray = field(repr=False)

    def __len__(self) -> int:
        return int(self.index.size)

    def _title(self) -> str:
        return f"ParetoFront: {len(self)} of {np.size(self.all_loss_pt)} schedules"

    def _blocks(self) -> list:
        shown = min(len(self), 10)
        rows = [[int(self.index[i]), fmt(self.loss_pt[i], ".5f"), fmt(self.loss_cpt[i], ".5f")] for i in range(shown)]
        note = f"... and {len(self) - shown} more points" if len(self) > shown else ""
        return [Table(["index", "loss_pt", "loss_cpt"], rows, note=note)]

    def best(self, w: float) -> int:
        """Index (into the family) of the front point minimising ``w*L_Dpt + (1-w)*L_Dcpt``."""
        w = _validate.real_scalar(w, "w", lo=0.0, hi=1.0)
        return int(self.index[int(np.argmin(w * self.loss_pt + (1 - w) * self.loss_cpt))])


def pareto_front(law_pt, law_cpt, pt_schedule, family, *, r_pt: float = 0.0, inputs=None, decay: float = 0.999,
                 split: str = "by_source", warmup_as_peak=False) -> ParetoFront:
    """The Pareto front of (final D_pt loss, final D_cpt loss) over a family of CPT schedules.

    ``family`` as in :func:`evaluate`, e.g.
    ``{"peak_lr": np.geomspace(2e-5, 2e-4, 20), "steps": [10_000, 20_000, 40_000],
    "shape": ["cosine", "wsd"]}``. A point is kept if no other point is at least as good on
    both losses and better on one (exact ties keep the first).
    """
    ev = evaluate(law_pt, law_cpt, pt_schedule, family, w=0.5, r_pt=r_pt, inputs=inputs, decay=decay, split=split,
                  warmup_as_peak=warmup_as_peak)
    lp, lc = ev["loss_pt"], ev["loss_cpt"]
    order = np.lexsort((lc, lp))
    keep, best = [], np.inf
    for i in order:
        if lc[i] < best:
            keep.append(i)
            best = lc[i]
    idx = np.array(keep, dtype=np.int64)
    return ParetoFront(lp[idx], lc[idx], idx, ev["candidates"], lp, lc)


# -- free-form schedule ---------------------------------------------------------------------------


@dataclass(repr=False)
class ScheduleOptimum(Result):
    """Result of :func:`optimize_schedule`.

    Attributes
    ----------
    values : ndarray
        The per-step CPT learning rates.
    knot_steps, knot_lrs : ndarray
        The knots (CPT step index, LR); the LR is linear between knots.
    objective, loss_pt, loss_cpt : float
        Predicted at the final step (recomputed from ``values`` with :func:`cptlaw.cpt_areas`).
    success : bool
    message : str
        From SciPy's L-BFGS-B (the best of the starts).
    max_lr_active : bool
        Some knot sits at ``max_lr``: the bound is doing the work (:ref:`limits`).
    """

    values: np.ndarray = field(repr=False)
    knot_steps: np.ndarray
    knot_lrs: np.ndarray
    objective: float
    loss_pt: float
    loss_cpt: float
    success: bool
    message: str
    max_lr_active: bool

    @property
    def schedule(self) -> _S.Schedule:
        return _S.from_values(self.values)

    def _title(self) -> str:
        return f"ScheduleOptimum: {self.values.size} CPT steps, objective {fmt(self.objective, '.6g')}"

    def _blocks(self) -> list:
        return [Fields([(n, getattr(self, n)) for n in ("objective", "loss_pt", "loss_cpt", "success", "message",
                                                         "max_lr_active")]),
                Table(["knot step", "LR"], [[int(t), fmt(v, ".4g")] for t, v in zip(self.knot_steps, self.knot_lrs)])]


def _s2_weights(n: int, lam: float) -> np.ndarray:
    """c_t = sum_{j=t}^{n-1} lam**(j-t): the weight of the LR drop into CPT step t in S2_cpt at
    the last CPT step (c_n = 0)."""
    k = np.arange(n, 0, -1, dtype=float)  # n - t
    if lam >= 1.0:
        c = k
    elif lam <= 0.0:
        c = np.ones(n)
    else:
        c = -np.expm1(k * math.log(lam)) / (1.0 - lam)
    return np.append(c, 0.0)


def optimize_schedule(
    law_pt,
    law_cpt,
    w: float,
    pt_schedule: _S.Schedule,
    steps: int,
    max_lr: float,
    *,
    knots: int = 8,
    warmup: int = 0,
    start_lr: Optional[float] = None,
    min_lr: float = 0.0,
    monotone: bool = True,
    r_pt: float = 0.0,
    inputs=None,
    decay: float = 0.999,
    split: str = "by_source",
    warmup_as_peak=False,
    maxiter: int = 1000,
) -> ScheduleOptimum:
    """A free-form CPT schedule minimising ``w*L_Dpt + (1-w)*L_Dcpt`` at the last of ``steps``
    CPT steps.

    The schedule: a linear re-warmup over ``warmup`` steps from ``start_lr`` (default the PT
    final LR) to the first knot, then ``knots`` knots evenly spaced from step ``warmup`` to the
    last step, joined linearly. With ``monotone=True`` the knots are non-increasing:
    ``lr_k = min_lr + (max_lr - min_lr) * f_0 * f_1 * ... * f_k`` with ``f`` in [0, 1]; with
    ``monotone=False`` each knot is free in ``[min_lr, max_lr]``. SciPy's L-BFGS-B optimises the
    box-bounded parameters with an exact gradient, from several starts (constant, linear,
    cosine-like, step-down), and keeps the best.

    ``max_lr`` is essential: the laws reward ever larger learning rates (:ref:`limits`), so
    without it the optimum runs off to infinity; expect the optimum to use ``max_lr`` for a
    long stretch (``max_lr_active``) and to anneal near the end, over a span set by the momentum
    decay ``lambda``. Treat ``max_lr`` as the largest LR known to train stably (e.g. the PT
    peak), not as a free parameter.

    Under these laws the final loss depends on the CPT LRs only through ``S1_cpt`` (their sum)
    and ``S2_cpt`` (a fixed weighted sum of the LR drops), both linear in the LRs; the
    optimiser uses that, so each evaluation costs O(knots) after an O(steps) setup.
    """
    from scipy.optimize import minimize

    target = _Target(law_pt, law_cpt, w, r_pt, inputs)
    pt = _check_schedule(pt_schedule, "pt_schedule")
    opts = _AreaOpts.make(decay, split, warmup_as_peak)
    n = _validate.integer(steps, "steps", lo=2)
    _limits.check_fits(n, 64, "steps", "a free-form schedule (a few arrays of steps)")
    top = _validate.real_scalar(max_lr, "max_lr", lo=0.0)
    floor = _validate.real_scalar(min_lr, "min_lr", lo=0.0)
    if not top > floor:
        raise ValueError(f"max_lr: must be > min_lr ({floor}), got {top}")
    K = _validate.integer(knots, "knots", lo=1)
    wu = _validate.integer(warmup, "warmup", lo=0)
    if wu > n - 1:
        raise ValueError(f"warmup: must be < steps ({n}), got {wu}")
    if K > n - wu:
        raise ValueError(f"knots: at most steps - warmup = {n - wu}, got {K}")
    x_last = float(pt.lr(pt.steps - 1))
    start = x_last if start_lr is None else _validate.real_scalar(start_lr, "start_lr", lo=0.0)
    T = pt.steps

    # x = P v + q (per-step LRs from knot LRs v). Only 1.x and g.x matter: keep P.T @ 1 and P.T @ g.
    t = np.arange(n, dtype=float)
    pos = np.round(np.linspace(wu, n - 1, K)).astype(np.int64) if K > 1 else np.array([n - 1], dtype=np.int64)
    if K > 1 and np.unique(pos).size < K:
        raise ValueError(f"knots: {K} knots do not fit in {n - wu} steps")
    c = _s2_weights(n, opts.decay)
    g = c[1:] - c[:-1]  # d S2_cpt / d x_t
    P = np.zeros((n, K))
    q = np.zeros(n)
    if wu > 0:
        ramp = t[:wu] / wu
        P[:wu, 0] = ramp
        q[:wu] = start * (1.0 - ramp)
    tail = t[wu:]
    if K == 1:
        P[wu:, 0] = 1.0
    else:
        seg = np.clip(np.searchsorted(pos, tail, side="right") - 1, 0, K - 2)
        left, right = pos[seg], pos[seg + 1]
        frac = (tail - left) / (right - left)
        P[wu + np.arange(tail.size), seg] += 1.0 - frac
        P[wu + np.arange(tail.size), seg + 1] += frac
    u1, ug = P.sum(axis=0), g @ P
    q1, qg = q.sum(), g @ q

    # Reference areas at the last step with x = 0; S1_cpt and S2_cpt are affine in x from there.
    zero = _S.from_values(np.zeros(n))
    ref = _S.cpt_areas_at(pt, zero, [T + n - 1], opts.decay, opts.split, warmup_as_peak=opts.warmup_as_peak)
    base = {k: float(getattr(ref, k)[0]) for k in _AREA_NAMES}

    def areas_of(v):
        a = dict(base)
        a["s1_cpt"] = base["s1_cpt"] + q1 + u1 @ v
        a["s2_cpt"] = base["s2_cpt"] + qg + ug @ v
        return a

    def loss_and_grad_s(a):
        # objective and its derivatives in s1_cpt, s2_cpt (central differences on the law inputs)
        h1 = 1e-6 * max(abs(a["s1_cpt"]), 1e-6)
        h2 = 1e-6 * max(abs(a["s2_cpt"]), abs(a["s1_cpt"]) * 1e-3, 1e-9)
        s1 = np.array([a["s1_cpt"], a["s1_cpt"] + h1, a["s1_cpt"] - h1, a["s1_cpt"], a["s1_cpt"]])
        s2 = np.array([a["s2_cpt"], a["s2_cpt"], a["s2_cpt"], a["s2_cpt"] + h2, a["s2_cpt"] - h2])
        pts = {"s1_pt": np.full(5, a["s1_pt"]), "s2_pt": np.full(5, a["s2_pt"]), "s1_cpt": s1, "s2_cpt": s2}
        ob = target.losses(pts)[2]
        return ob[0], (ob[1] - ob[2]) / (2 * h1), (ob[3] - ob[4]) / (2 * h2)

    span = top - floor
    if monotone:
        def knots_of(f):
            return floor + span * np.cumprod(f)

        def dknots(f):
            D = np.zeros((K, K))
            for j in range(K):
                fm = f.copy()
                fm[j] = 1.0
                cp = span * np.cumprod(fm)
                D[j:, j] = cp[j:]
            return D
    else:
        def knots_of(f):
            return floor + span * f

        def dknots(f):
            return span * np.eye(K)

    def fun(f):
        v = knots_of(f)
        a = areas_of(v)
        val, d1, d2 = loss_and_grad_s(a)
        dv = d1 * u1 + d2 * ug
        return val, dknots(f).T @ dv

    frac_pos = (pos - pos[0]) / max(pos[-1] - pos[0], 1)
    if monotone:
        shapes = [np.ones(K), 1 - frac_pos, 0.5 * (1 + np.cos(np.pi * frac_pos)), np.where(frac_pos < 0.8, 1.0, 0.0)]
        inits = []
        for s in shapes:
            s = np.clip(s, 1e-3, 1.0)
            inits.append(np.concatenate([[s[0]], s[1:] / s[:-1]]))
    else:
        inits = [np.ones(K), 1 - frac_pos, 0.5 * (1 + np.cos(np.pi * frac_pos)), np.full(K, 0.5)]
    best: Any = None
    for f0 in inits:
        res = minimize(fun, np.clip(f0, 0.0, 1.0), jac=True, method="L-BFGS-B", bounds=[(0.0, 1.0)] * K,
                       options={"maxiter": _validate.integer(maxiter, "maxiter", lo=1), "ftol": 1e-15, "gtol": 1e-12})
        if best is None or res.fun < best.fun:
            best = res
    v = knots_of(np.clip(best.x, 0.0, 1.0))
    values = np.maximum(P @ v + q, 0.0)
    a = _S.cpt_areas_at(pt, _S.from_values(values), [T + n - 1], opts.decay, opts.split,
                        warmup_as_peak=opts.warmup_as_peak)
    lp, lc, ob = target.losses({k: getattr(a, k) for k in _AREA_NAMES})
    return ScheduleOptimum(
        values=values, knot_steps=pos.copy(), knot_lrs=v, objective=float(ob[0]), loss_pt=float(lp[0]),
        loss_cpt=float(lc[0]), success=bool(best.success), message=str(best.message),
        max_lr_active=bool(np.any(v >= top * (1 - 1e-9))),
    )
