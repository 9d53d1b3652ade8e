"""Live prediction while a run trains: refit the law as validation losses arrive.

A :class:`LivePredictor` knows the planned learning-rate schedule of the whole run (PT and,
optionally, the CPT that follows) and receives observed validation losses as training
goes. After each observation it refits the law for that validation set, warm-started from
the previous fit (about a millisecond), and reports the predicted loss at the final
planned step (or any planned step) with a band. When a new observation falls outside the
band the previous fit predicted for its step (a wider one, ``warn_level=0.999``, than the
reported band, so that normal scatter rarely triggers it), it issues a
:class:`BandWarning` (once per validation set until the observations come back inside):
the run diverged, or the law no longer describes it.

Typical use with a :class:`cptlaw.Tracker` that records the LRs actually used::

    tracker = cptlaw.Tracker()
    live = cptlaw.live.LivePredictor(tracker, planned_lr_pt=pt_schedule, planned_lr_cpt=cpt_schedule)
    for step in ...:                               # training, tracker.step(lr) after each update
        if step % 100 == 0:
            live.observe({"pt": eval_loss(pt_val), "cpt": eval_loss(cpt_val)})
            p = live.prediction("cpt")             # a Prediction at the final planned step
            if p.available:
                print(f"final D_cpt loss {p.loss:.3f} in [{p.lower:.3f}, {p.upper:.3f}]")

Without a tracker, pass the step (updates done so far) to :meth:`LivePredictor.observe`;
the observation's areas then come from the planned timeline. The PyTorch hook
:func:`cptlaw.integrations.torch.observe_every` and the Hugging Face callback
``cptlaw.integrations.hf.LivePredictionCallback`` call :meth:`LivePredictor.observe` for you.

Steps count optimizer updates on the PT ++ CPT timeline, as in :class:`cptlaw.Run` and
:attr:`cptlaw.Tracker.step_count`: an observation at step ``s`` was measured after ``s``
updates, so its areas are those of ``lr[:s]``; the final planned step is
``len(planned_lr_pt) + len(planned_lr_cpt)``.

The band: a prediction interval
-------------------------------
``lower``/``upper`` are a *prediction interval*: they bound the loss one would *observe* at
the step with probability ``level`` (:mod:`cptlaw.intervals` explains how it differs from a
confidence band of the curve, which :meth:`Prediction.interval` also gives). They combine
the uncertainty of the fitted curve (its standard error) with the scatter of single
observations about it (the fit's residual scale), on the log scale the fit works on, with a
Student-t quantile on the residual degrees of freedom, as
:func:`cptlaw.intervals.predict_interval` does::

    lower, upper = loss * exp(-+t_{dof}((1 + level) / 2) * sqrt(var + s**2))

with ``var`` the variance of the log of the fitted curve and ``s`` the residual scale of the
log losses (``stderr ~ loss * sqrt(var)`` and ``noise = loss * s`` in loss units).

``band="delta"`` (default) takes ``var`` from the delta method: the gradient of the log law
with respect to its parameters at the step and the Gauss-Newton covariance of the fit on
log residuals, ``inv(J'J) * s**2``, computed as :func:`cptlaw.fit` computes it (columns of
J scaled to unit norm, so that E ~ 1e3 and alpha ~ 0.5 do not make J'J look singular), but
on the singular values above 1e-9 of the largest and *including parameters that ended on a
bound*: held at the bound they would carry no uncertainty, whereas early in a run they are
often there only because the data cannot yet tell (C2 = 0 before the CPT schedule anneals),
and their curvature is what widens the band. ``band="bootstrap"``, and the fallback when
the delta variance is not finite, refits ``n_boot`` resamples of :func:`cptlaw.bootstrap`'s
residual bootstrap (log residuals, rescaled by ``sqrt(n/dof)``) warm-started from the fit
and takes the spread of their log predictions; it stays in the fit's basin and tends to be
narrower than the delta band early in a run.

When a prediction is available
------------------------------
A fit needs more points than free parameters (one residual degree of freedom at least).
Parameters that do not act on any observation yet (for :class:`cptlaw.CPTLaw`, ``C2, B,
E, beta`` while only PT losses have been seen) are held at their values during the fit;
a prediction at a step where they matter is *not available* until observations from the
CPT phase arrive (or you fix them with ``fixed=``), and likewise when the observations do
not determine the combination of parameters the prediction needs. A prediction that is
not available is a :class:`Prediction` with ``available=False`` and a ``reason``, not an
exception.

Limits
------
The band is a local (linearised) statement about a nonlinear, nearly degenerate law
(:ref:`bounds`: the B-beta direction). With only a handful of CPT observations the
distribution-shift term is extrapolated far beyond them and the band can be too narrow:
on synthetic P1 runs (0.2% noise, an observation every 1000 of 20k CPT updates) the 95%
band covered the final loss in 90-100% of runs from 5 CPT observations on, and in about
70-80% with 2-4 of them. The bootstrap band covers less than the delta band early on.
The residual scale is a sum of squares with each residual clipped at three robust
standard deviations, so that a single bad evaluation does not widen every later band.

Observations where the law is not defined (S1 = 0: no learning rate > 0 applied yet, e.g.
after the first update of a warmup from 0) are skipped with a ``RuntimeWarning``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from collections.abc import Mapping, Sequence
from typing import Any, Callable, Optional

import numpy as np
from numpy.typing import ArrayLike

from . import _validate, _warnings
from .areas import SPLITS, cpt_areas
from .bootstrap import _refits
from .fit import FitResult, _Linearization, _residual_scale2, fit
from .intervals import _bounds, _t_two_sided, make_interval
from .results import Fields, Result, Table, Text, fmt
from .laws import CPTLaw, Law
from .schedules import Schedule
from .tracker import Tracker

__all__ = ["BandWarning", "Excursion", "LivePredictor", "PlanWarning", "Prediction"]


def __dir__():  # dir() and tab completion show the public names only
    return sorted(__all__)

_AREAS = ("s1_pt", "s2_pt", "s1_cpt", "s2_cpt")
_STATE_FORMAT = "cptlaw.LivePredictor/1"
_RCOND = 1e-9  # relative singular-value cut of the scaled Jacobian
_ESTIMABLE_TOL = 1e-6  # relative part of a target gradient outside the row space of J
_NOMINAL = 0.5  # parameter value used to find which parameters act on the observations


class BandWarning(UserWarning):
    """An observed loss left the band the previous fit predicted for its step.

    Raised through :func:`warnings.warn` by :meth:`LivePredictor.observe` (once per
    validation set until an observation is back inside the band) and for non-finite losses.
    The :class:`Excursion` is in ``warning.excursion``.
    """

    def __init__(self, message: str, excursion: Excursion | None = None):
        super().__init__(message)
        self.excursion = excursion


class PlanWarning(UserWarning):
    """The run does not follow the planned schedule (the tracker's areas differ from the plan's).

    The fit keeps using the areas the tracker measured; predictions at planned steps still
    use the plan, so call :meth:`LivePredictor.set_plan` with the schedule actually run.
    """


@dataclass(frozen=True, repr=False)
class Prediction(Result):
    """A predicted loss with its prediction interval, for one validation set.

    Fields are floats for one step, arrays for several (:meth:`LivePredictor.predict`).
    ``lower`` / ``upper`` are a *prediction interval*: they bound the loss one will observe
    (curve uncertainty and observation noise), not the mean curve, which the narrower
    confidence band bounds (:meth:`interval`, :mod:`cptlaw.intervals`).

    Attributes
    ----------
    valset : str
    step : int or ndarray
        Updates done (the final planned step for :meth:`LivePredictor.prediction`).
    loss : float or ndarray
        The fitted law's loss at ``step`` (NaN where not available).
    lower, upper : float or ndarray
        The prediction interval: an observed loss at ``step`` lies inside with probability
        ``level`` (see the module documentation). NaN where not available.
    stderr : float or ndarray
        Standard error of the fitted curve at ``step`` (delta method or bootstrap; loss units,
        ``loss`` times that of the log loss).
    noise : float or ndarray
        Scatter of a single observation about the curve (residual scale, loss units).
    level : float
    method : str or None
        ``"delta"``, ``"bootstrap"``, or ``"delta+bootstrap"`` (the bootstrap filled steps where
        the delta variance was not finite); None when not available.
    n_points : int
        Observations the fit used.
    available : bool
        False before the observations determine the prediction; ``reason`` says why.
    reason : str
        Empty when available.
    dof : int or None
        Residual degrees of freedom of the Student-t quantile (None when not available).
    """

    valset: str
    step: Any
    loss: Any
    lower: Any
    upper: Any
    stderr: Any
    noise: Any
    level: float
    method: Optional[str]
    n_points: int
    available: bool
    reason: str = ""
    dof: Optional[int] = None

    #: ``lower`` / ``upper`` bound an observation (:data:`cptlaw.intervals.KINDS`).
    kind = "prediction"

    def interval(self, kind: str = "prediction"):
        """The prediction interval (``lower``, ``upper``) or, with ``kind="confidence"``, the
        confidence band of the fitted curve (``stderr`` alone, with the same Student-t
        quantile, on the log scale), as a :class:`cptlaw.intervals.Interval`."""
        _validate.choice(kind, "kind", ("prediction", "confidence"))
        loss = np.asarray(self.loss, dtype=float)
        if kind == "prediction":
            low, high = np.asarray(self.lower, dtype=float), np.asarray(self.upper, dtype=float)
        else:
            t = _t_two_sided(self.level, int(self.dof)) if self.dof is not None else math.nan
            with np.errstate(divide="ignore", invalid="ignore"):
                half = t * np.asarray(self.stderr, dtype=float) / loss
            low, high = loss * np.exp(-half), loss * np.exp(half)
        return make_interval(kind, self.level, self.method or "delta", loss, low, high)

    def _title(self) -> str:
        where = f"step {self.step}" if np.ndim(self.step) == 0 else f"{np.size(self.step)} steps"
        state = "" if self.available else " (not available)"
        return f"Prediction: valset {self.valset!r}, {where}{state}"

    def _blocks(self) -> list:
        info = [("level", self.level), ("method", self.method), ("n_points", self.n_points)]
        if not self.available and np.all(np.isnan(np.asarray(self.loss, dtype=float))):
            return [Text(self.reason), Fields(info)]
        if np.ndim(self.loss) == 0:
            return [Fields([("loss", fmt(self.loss, ".6g")),
                            ("prediction interval", f"[{fmt(self.lower, '.6g')}, {fmt(self.upper, '.6g')}]"),
                            ("stderr", fmt(self.stderr, ".3g")), ("noise", fmt(self.noise, ".3g"))] + info)]
        steps = np.asarray(self.step).reshape(-1)
        shown = min(steps.size, 8)
        cols = [np.asarray(getattr(self, n)).reshape(-1) for n in ("loss", "lower", "upper", "stderr", "noise")]
        rows = [[int(steps[i])] + [fmt(c[i], ".6g" if k < 3 else ".3g") for k, c in enumerate(cols)]
                for i in range(shown)]
        note = f"... and {steps.size - shown} more steps" if steps.size > shown else ""
        blocks = [Table(["step", "loss", "lower", "upper", "stderr", "noise"], rows, note=note), Fields(info)]
        return blocks + ([Text(self.reason)] if self.reason else [])


@dataclass(frozen=True, repr=False)
class Excursion(Result):
    """An observation outside the band predicted for its step (or a non-finite loss)."""

    valset: str
    step: int
    loss: float
    predicted: float
    lower: float
    upper: float
    warned: bool  # True for the first excursion of a streak (the one that issued a BandWarning)


# -- helpers -----------------------------------------------------------------------------------


def _schedule_values(value, name, allow_none=False):
    if value is None:
        if allow_none:
            return np.zeros(0)
        raise ValueError(f"{name}: the planned per-step learning rates are required")
    if hasattr(value, "values") and callable(value.values) and not isinstance(value, (dict, np.ndarray)):
        value = value.values()
    arr = _validate.learning_rates(value, name, allow_empty=allow_none)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected one schedule (1-D), got shape {arr.shape}")
    return np.array(arr, dtype=np.float64)


def _law_class(law, name="law"):
    if isinstance(law, type) and issubclass(law, Law) and law is not Law:
        return law
    if isinstance(law, Law):
        return type(law)
    raise TypeError(f"{name}: expected a law class such as cptlaw.CPTLaw, got {_validate.describe(law)}")


def _per_valset(value, valsets, name, kind):
    """A setting given once for all validation sets, or as {valset: setting}."""
    if isinstance(value, dict) and value and all(k in valsets for k in value):
        if kind == "law" or all(v is None or isinstance(v, dict) for v in value.values()):
            return {v: value.get(v) for v in valsets}
    return {v: value for v in valsets}


class _Valset:
    """Observations, fit and band machinery of one validation set."""

    def __init__(self, name, law_cls, fixed, bounds):
        self.name = name
        self.law_cls = law_cls
        self.fixed = dict(fixed or {})
        self.bounds = bounds
        self.steps: list = []
        self.loss: list = []
        self.areas: list = []  # tuples of the four areas
        self.from_plan: list = []
        self.result: Optional[FitResult] = None
        self.start: Optional[Law] = None  # a law instance given as `law`: first start, held values
        self.fit_n = 0  # points in the current fit
        self.full_n = 0  # informative points at the last multistart fit (see _refit)
        self.active: tuple = ()  # free parameters acting on the observations
        self.held: dict = {}  # free parameters held (not acting yet) -> value
        self.pending = 0  # observations since the last refit
        self.outside = False
        self.band_cache = None  # (_Linearization of J, free indices, sigma2, dof, log residuals)
        self.boot = None  # bootstrap parameter vectors of the current fit
        self.reason = "no observations yet"
        self.fit_seconds = 0.0
        self.n_fits = 0
        self.n_refits = 0
        self.n_full_fits = 0


class LivePredictor:
    """Refit a law to validation losses as they arrive; predict the final loss with a band.

    Parameters
    ----------
    tracker : cptlaw.Tracker, optional
        The run's tracker. With one, :meth:`observe` can be called without a step: the
        observation is taken at ``tracker.step_count`` with the areas the tracker measured
        (the LRs really used), and ``decay``, ``split`` and ``warmup_as_peak`` come from it.
    law : law class or instance, or dict {valset: law class or instance}
        Default :class:`cptlaw.CPTLaw`. An instance (e.g. the law fitted on an earlier
        run) is the first fit's extra start and supplies the values of the parameters
        held while no observation determines them. Laws whose inputs are the areas
        ``s1_pt, s2_pt, s1_cpt, s2_cpt`` (or a subset) work directly;
        :class:`cptlaw.AnnealingLaw` gets ``s1 = s1_pt + s1_cpt``, ``s2 = s2_pt + s2_cpt``
        (the whole timeline's areas for the ``by_source`` and ``by_time`` splits); other
        inputs (``r_pt``, ``N``) are given as ``constants``.
    planned_lr_pt : array_like or cptlaw.schedules.Schedule
        Per-step LRs of the whole planned PT phase (an object with ``.values()`` is
        accepted). Required: the final-step prediction needs the areas at the final step.
    planned_lr_cpt : array_like or Schedule, optional
        Per-step LRs of the planned CPT phase; None for a run without CPT.
    valsets : sequence of str
        Names of the validation sets, each fitted with its own parameters (P1 fits the D_pt
        and D_cpt losses separately). Default ``("pt", "cpt")``.
    refit_every : int
        Refit a validation set after every ``refit_every``-th observation of it (1: each).
    band : {"delta", "bootstrap"}
        How the uncertainty of the fitted curve is estimated (module documentation).
    level : float in (0, 1)
        Coverage of the band (default 0.95).
    warn_level : float in (0, 1)
        Coverage of the band that observations are checked against (default 0.999). A
        band of coverage ``level`` is left by a fraction ``1 - level`` of perfectly normal
        observations (one in twenty at 0.95), so the check uses a wider band: with
        0.999, a run that follows the law warns about once per thousand observations.
    fixed : dict, optional
        ``{param: value}`` held constant in every fit (e.g. known from the PT run), or
        ``{valset: {param: value}}``.
    bounds : dict, optional
        Passed to :func:`cptlaw.fit` (``{param: (low, high)}``), or per valset. E.g.
        ``{"pt": {"B": (0, None)}, "cpt": {"B": (None, 0)}}`` imposes P1's signs of B.
    constants : dict, optional
        Values of law inputs that are not areas (``{"r_pt": 0.25}``), constant over the run.
    decay, split, warmup_as_peak :
        Area options (as in :func:`cptlaw.cpt_areas`) when no tracker is given; default
        0.999, ``"by_source"``, False. With a tracker they must match it or be None.
    n_boot : int
        Bootstrap resamples (``band="bootstrap"`` or the fallback); default 32.
    full_refit_growth : float
        Besides the first fit, after a failed warm fit and when the set of parameters the
        observations act on changes, a multistart fit (the default grid of
        :func:`cptlaw.fit`, plus the previous fit as a start; the better of it and the
        warm fit is kept) is run whenever the number of informative points has grown by
        this factor since the last one (default 1.5), so that local minima found on few
        points are left behind. Informative points are those on which every free
        parameter acts: after the transfer, the CPT observations. That makes O(log n)
        multistart fits per phase; all other refits are warm-started only.
    on_excursion : callable, optional
        Called with each :class:`Excursion` (every observation outside its band, not only
        the first of a streak), e.g. to stop training.
    seed : int
        Seed of the bootstrap resampling.
    fit_options : dict, optional
        Extra keyword arguments for :func:`cptlaw.fit` (``objective``, ``delta``, ...).

    Attributes
    ----------
    excursions : list of Excursion
        Every observation that left its band, in order.
    history : dict {valset: list of (step, Prediction)}
        The final-step prediction after each refit, with the step of the last observation.
    """

    def __init__(
        self,
        tracker: Optional[Tracker] = None,
        law: type[Law] | Law | Mapping[str, type[Law] | Law] = CPTLaw,
        *,
        planned_lr_pt: ArrayLike | Schedule,
        planned_lr_cpt: ArrayLike | Schedule | None = None,
        valsets: Sequence[str] = ("pt", "cpt"),
        refit_every: int = 1,
        band: str = "delta",
        level: float = 0.95,
        warn_level: float = 0.999,
        fixed: Mapping[str, Any] | None = None,
        bounds: Mapping[str, Any] | None = None,
        constants: Mapping[str, Any] | None = None,
        decay: float | None = None,
        split: str | None = None,
        warmup_as_peak: bool | int | None = None,
        n_boot: int = 32,
        full_refit_growth: float = 1.5,
        on_excursion: Optional[Callable[[Excursion], Any]] = None,
        seed: int = 0,
        fit_options: Mapping[str, Any] | None = None,
    ) -> None:
        if tracker is not None and not isinstance(tracker, Tracker):
            raise TypeError(f"tracker: expected a cptlaw.Tracker or None, got {type(tracker).__name__}")
        self.tracker = tracker
        if isinstance(valsets, str):
            valsets = (valsets,)
        if not isinstance(valsets, (tuple, list)):
            raise TypeError(f"valsets: expected a sequence of names, got {type(valsets).__name__}")
        valsets = tuple(valsets)
        if not valsets or not all(isinstance(v, str) and v for v in valsets):
            raise ValueError("valsets: expected a non-empty sequence of names")
        if len(set(valsets)) != len(valsets):
            raise ValueError(f"valsets: names must be distinct, got {valsets}")
        self.valsets = valsets
        self.refit_every = _validate.integer(refit_every, "refit_every", lo=1)
        self.band = _validate.choice(band, "band", ("delta", "bootstrap"))
        self.level = _validate.real_scalar(level, "level", lo=0.0, hi=1.0)
        if not 0.0 < self.level < 1.0:
            raise ValueError(f"level: must lie strictly between 0 and 1, got {self.level}")
        self.warn_level = _validate.real_scalar(warn_level, "warn_level", lo=0.0, hi=1.0)
        if not 0.0 < self.warn_level < 1.0:
            raise ValueError(f"warn_level: must lie strictly between 0 and 1, got {self.warn_level}")
        self.n_boot = _validate.integer(n_boot, "n_boot", lo=4)
        self.full_refit_growth = _validate.real_scalar(full_refit_growth, "full_refit_growth", lo=1.0)
        if on_excursion is not None and not callable(on_excursion):
            raise TypeError("on_excursion: expected a callable or None")
        self.on_excursion = on_excursion
        self._rng = np.random.default_rng(_validate.integer(seed, "seed", lo=0))
        self.fit_options = _validate.mapping(fit_options, "fit_options")
        for key in ("starts", "multistart", "fixed", "bounds", "nan_policy", "weights"):
            if key in self.fit_options:
                raise ValueError(f"fit_options: {key!r} is set by LivePredictor (use its own arguments)")
        self.constants = {}
        for k, v in _validate.mapping(constants, "constants").items():
            if k in _AREAS or k in ("s1", "s2"):
                raise ValueError(f"constants: {k!r} is an area, computed from the schedule")
            self.constants[k] = _validate.real_scalar(v, f"constants[{k!r}]")

        # Area options: from the tracker, or given, or the defaults.
        opts: dict[str, Any] = {"decay": 0.999, "split": "by_source", "warmup_as_peak": False}
        given = {"decay": decay, "split": split, "warmup_as_peak": warmup_as_peak}
        if tracker is not None:
            have = {"decay": tracker.decay, "split": tracker.split, "warmup_as_peak": tracker.warmup_as_peak}
            for key, val in given.items():
                if val is not None and val != have[key]:
                    raise ValueError(f"{key}: {val!r} differs from the tracker's {have[key]!r}")
            opts = have
        else:
            for key, val in given.items():
                if val is not None:
                    opts[key] = val
            opts["decay"] = _validate.decay(opts["decay"])
            _validate.choice(opts["split"], "split", SPLITS)
        self.decay, self.split, self.warmup_as_peak = opts["decay"], opts["split"], opts["warmup_as_peak"]

        laws = _per_valset(law, valsets, "law", "law")
        fixeds = _per_valset(fixed, valsets, "fixed", "params")
        boundss = _per_valset(bounds, valsets, "bounds", "params")
        self._vs: dict[str, _Valset] = {}
        for v in valsets:
            law_cls = _law_class(laws[v], "law" if not isinstance(law, dict) else f"law[{v!r}]")
            self._check_inputs(law_cls)
            fx = fixeds[v] or {}
            if not isinstance(fx, dict):
                raise TypeError("fixed: expected a dict {param: value} or {valset: {param: value}}")
            fx = dict(fx)
            for key, val in fx.items():
                if key not in law_cls.param_names:
                    raise ValueError(
                        f"fixed: unknown parameter {key!r} of {law_cls.__name__}; "
                        f"expected one of {', '.join(law_cls.param_names)}"
                    )
                fx[key] = _validate.real_scalar(val, f"fixed[{key!r}]")
            self._vs[v] = _Valset(v, law_cls, fx, boundss[v])
            if isinstance(laws[v], Law):
                self._vs[v].start = laws[v]
        self.excursions: list = []
        self.history: dict[str, list] = {v: [] for v in valsets}
        self.set_plan(planned_lr_pt, planned_lr_cpt)

    # -- configuration -------------------------------------------------------------------------
    def _check_inputs(self, law_cls):
        known = set(_AREAS) | {"s1", "s2"} | set(self.constants)
        missing = [n for n in law_cls.input_names if n not in known]
        if missing:
            raise ValueError(
                f"law: {law_cls.__name__} needs input(s) {', '.join(missing)}; give constant ones in constants="
            )

    def set_plan(self, planned_lr_pt: ArrayLike | Schedule, planned_lr_cpt: ArrayLike | Schedule | None = None) -> None:
        """Replace the planned schedule (e.g. the run was extended or its CPT schedule changed).

        Observations whose areas came from the old plan (observed without a tracker) get
        the new plan's areas; those measured by the tracker keep theirs. Fits are redone.
        """
        lr_pt = _schedule_values(planned_lr_pt, "planned_lr_pt")
        lr_cpt = _schedule_values(planned_lr_cpt, "planned_lr_cpt", allow_none=True)
        a = cpt_areas(lr_pt, lr_cpt, self.decay, self.split, warmup_as_peak=self.warmup_as_peak)
        total = len(lr_pt) + len(lr_cpt)
        for st in getattr(self, "_vs", {}).values():
            for i, (s, src) in enumerate(zip(st.steps, st.from_plan)):
                if src and s > total:
                    raise ValueError(f"planned_lr_*: the new plan has {total} steps, but an observation is at step {s}")
        self._plan = np.stack([a.s1_pt, a.s2_pt, a.s1_cpt, a.s2_cpt], axis=1)  # (total, 4)
        self.transfer_step = len(lr_pt) if len(lr_cpt) else None
        self.final_step = total
        self._plan_warned = False
        for st in self._vs.values():
            for i, (s, src) in enumerate(zip(st.steps, st.from_plan)):
                if src:
                    st.areas[i] = tuple(self._plan[s - 1])
            if st.steps:
                st.pending = max(st.pending, 1)
                self._refit(st, force_full=True)

    # -- observations ----------------------------------------------------------------------------
    def observe(self, *args: Any, **losses: Any) -> list[Excursion]:
        """Record observed validation losses and refit.

        Call forms: ``observe(losses)`` (with a tracker: the step is
        ``tracker.step_count``), ``observe(step, losses)``, and keyword forms
        ``observe(pt=3.1, cpt=2.7)`` / ``observe(step, pt=3.1)``. ``losses`` is a dict
        ``{valset: loss}`` (any subset of :attr:`valsets`) or, with a single validation
        set, a number. Losses may be Python/NumPy numbers or one-element tensors.

        Before a refit, each loss is compared with the band the current fit predicts at
        its step; one outside is recorded in :attr:`excursions`, passed to
        ``on_excursion`` and, if it starts a streak for its validation set, warned about
        with a :class:`BandWarning`. A NaN or infinite loss (a diverged run) is always an
        excursion and is not fitted.

        Returns
        -------
        list of Excursion
            The excursions of this call (empty when every loss was inside its band).
        """
        step, mapping = self._parse_observe(args, losses)
        for name, value in mapping.items():
            if value <= 0:  # NaN passes: a diverged run is reported, not rejected
                raise ValueError(f"losses[{name!r}]: must be > 0, got {value}")
        step, areas, from_plan = self._areas_at(step)
        new = []
        for name, value in mapping.items():
            st = self._vs[name]
            if not self._defined(st, areas):
                _warnings.warn(
                    f"step {step}: {st.law_cls.__name__} is not defined at this observation's areas "
                    f"(S1 = {areas[0] + areas[2]:g}: no learning rate > 0 applied yet, e.g. after the first step of a "
                    f"warmup from 0); the loss of {name!r} is not used", RuntimeWarning)
                continue
            exc = self._check_band(st, step, areas, value)
            if exc is not None:
                new.append(exc)
            if not math.isfinite(value):
                continue
            st.steps.append(step)
            st.loss.append(value)
            st.areas.append(areas)
            st.from_plan.append(from_plan)
            st.pending += 1
            if st.pending >= self.refit_every:
                self._refit(st)
        return new

    def _parse_observe(self, args, losses):
        if len(args) > 2:
            raise TypeError(
                f"observe: takes (losses), (step, losses) or keywords, got {len(args)} positional arguments"
            )
        step = None
        if len(args) == 2:
            step, mapping = args
        elif len(args) == 1:
            if losses:
                step, mapping = args[0], dict(losses)
            else:
                mapping = args[0]
        else:
            mapping = dict(losses)
            if not mapping:
                raise TypeError("observe: no losses given")
        if losses and len(args) == 2:
            raise TypeError("observe: give the losses either as a dict or as keywords, not both")
        if not isinstance(mapping, dict):
            if len(self.valsets) != 1:
                raise ValueError(
                    f"losses: a single number, but this predictor has validation sets {self.valsets}; "
                    "pass a dict {valset: loss}"
                )
            mapping = {self.valsets[0]: mapping}
        if not mapping:
            raise ValueError("losses: empty")
        out = {}
        for k, v in mapping.items():
            if k not in self._vs:
                raise ValueError(f"losses: unknown validation set {k!r}; expected one of {', '.join(self.valsets)}")
            out[k] = self._loss_value(v, k)
        return step, out

    @staticmethod
    def _loss_value(v, name):
        if isinstance(v, (bool, np.bool_, str, bytes)):
            raise TypeError(f"losses[{name!r}]: expected a number, got {type(v).__name__}")
        try:
            return float(v)
        except (TypeError, ValueError):
            raise TypeError(f"losses[{name!r}]: expected a number, got {type(v).__name__}") from None
        except OverflowError:
            raise ValueError(f"losses[{name!r}]: {_validate.describe(v)} is too large for a float") from None

    def _areas_at(self, step):
        """(step, areas tuple, from_plan) for an observation."""
        tr = self.tracker
        if step is not None:
            step = _validate.integer(step, "step", lo=1)
        if tr is not None and (step is None or step == tr.step_count):
            step = tr.step_count
            if step < 1:
                raise ValueError("step: the tracker has recorded no step yet (an observation needs >= 1 update)")
            areas = (tr.s1_pt, tr.s2_pt, tr.s1_cpt, tr.s2_cpt)
            if step > self.final_step and not self._plan_warned:
                self._plan_warned = True
                _warnings.warn(
                    f"step {step}: the run is past the planned final step {self.final_step}; "
                    "call set_plan() with the schedule actually run",
                    PlanWarning,
                )
            elif step <= self.final_step:
                planned = self._plan[step - 1]
                tol = 1e-9 * max(planned[0] + planned[2], 1e-300)
                if not self._plan_warned and np.max(np.abs(np.asarray(areas) - planned)) > tol:
                    self._plan_warned = True
                    _warnings.warn(
                        f"step {step}: the tracker's areas {np.round(areas, 10).tolist()} differ from the planned "
                        f"schedule's {np.round(planned, 10).tolist()}; the run does not follow the plan (check "
                        "start_cpt() and the schedule), so predictions at planned steps may be off; "
                        "call set_plan() with the schedule actually run",
                        PlanWarning,
                    )
            return step, areas, False
        if step is None:
            raise TypeError("observe: without a tracker, pass the step (updates done): observe(step, losses)")
        if step > self.final_step:
            raise ValueError(
                f"step: {step} is past the planned run ({self.final_step} steps); extend it with set_plan()"
            )
        return step, tuple(self._plan[step - 1]), True

    # -- fitting --------------------------------------------------------------------------------
    def _features(self, law_cls, areas):
        """The law's inputs from an (m, 4) array of areas."""
        a = np.asarray(areas, dtype=np.float64).reshape(-1, 4)
        cols = dict(zip(_AREAS, a.T))
        feats = {}
        for n in law_cls.input_names:
            if n in cols:
                feats[n] = cols[n]
            elif n == "s1":
                feats[n] = cols["s1_pt"] + cols["s1_cpt"]
            elif n == "s2":
                feats[n] = cols["s2_pt"] + cols["s2_cpt"]
            else:
                feats[n] = np.full(len(a), self.constants[n])
        return feats

    def _defined(self, st, areas) -> bool:
        """Whether the law has a finite value at these areas (not where S1 = 0: every fit
        would be NaN there)."""
        with np.errstate(all="ignore"):
            return bool(np.all(np.isfinite(self._nominal(st)(**self._features(st.law_cls, [areas])))))

    def _nominal(self, st):
        law_cls = st.law_cls
        return law_cls(**{n: st.fixed.get(n, _NOMINAL) for n in law_cls.param_names})

    def refit(self, valset: str | None = None) -> None:
        """Refit now (all validation sets, or one), even if ``refit_every`` has not come round."""
        for st in self._select(valset):
            if st.steps:
                st.pending = max(st.pending, 1)
                self._refit(st)

    def _refit(self, st, force_full=False):
        law_cls = st.law_cls
        names = law_cls.param_names
        feats = self._features(law_cls, st.areas)
        y = np.asarray(st.loss, dtype=np.float64)
        n = len(y)
        # Which free parameters act on the observations (structurally: at a nominal point).
        g = self._nominal(st).grad(**feats)
        acting = np.any(g != 0, axis=0) & np.isfinite(g).all(axis=0)
        active = tuple(nm for i, nm in enumerate(names) if nm not in st.fixed and acting[i])
        # Informative points: observations on which the least-observed active parameter acts
        # (after the transfer, the CPT points for C2, B, E, beta).
        act_idx = [names.index(nm) for nm in active]
        n_info = int(np.min(np.count_nonzero(g[:, act_idx], axis=0))) if act_idx else n
        prev = st.result.law if st.result is not None else st.start
        ref = prev if prev is not None else self._nominal(st)
        held = {nm: ref.params[nm] for nm in names if nm not in st.fixed and nm not in active}
        st.pending = 0
        distinct = len(set(st.steps))
        if distinct < len(active) + 1:
            st.reason = (
                f"{distinct} observed step(s) of {st.name!r} for {len(active)} free parameter(s): "
                f"need at least {len(active) + 1}"
            )
            st.result, st.band_cache, st.boot = None, None, None
            st.active, st.held = active, held
            return
        if float(np.ptp(y)) <= 1e-12 * float(np.abs(y).max()):
            st.reason = f"the observations of {st.name!r} are all equal; the law is not identifiable yet"
            st.result, st.band_cache, st.boot = None, None, None
            st.active, st.held = active, held
            return
        fixed = {**st.fixed, **held}
        opts = dict(self.fit_options)
        if st.bounds is not None:
            opts["bounds"] = st.bounds
        t0 = time.perf_counter()
        st.n_refits += 1
        full = (
            force_full
            or st.result is None
            or active != st.active
            or n_info >= self.full_refit_growth * max(st.full_n, 1)
        )
        res = None
        if not full:
            with _warnings.quiet():  # what the data cannot tell is the band's business here
                res = fit(law_cls, feats, y, starts=prev, multistart=False, fixed=fixed, **opts)
            st.n_fits += 1
            # A warm fit fails when the solver fails, or when it stops at the iteration limit
            # although the previous fit converged (when that one stopped too, typically with a
            # parameter on a bound, stopping again is no sign of a lost minimum).
            if res.law is None or res.status < 0 or (res.status == 0 and st.result.get("status", 1) > 0):
                full = True
        if full:
            with _warnings.quiet():
                res_full = fit(law_cls, feats, y, starts=prev, multistart=True, fixed=fixed, **opts)
            st.n_fits += 1
            st.n_full_fits += 1
            st.full_n = n_info
            if res is None or (res_full.law is not None and (res.law is None or res_full.objective <= res.objective)):
                res = res_full
        st.fit_seconds += time.perf_counter() - t0
        if res.law is None:
            # keep the previous fit (if any): stale, but a usable prediction
            if st.result is None:
                st.reason = f"the fit of {st.name!r} failed: {res.message}"
                st.active, st.held = active, held
            return
        st.active, st.held = active, held
        st.result = res
        st.fit_n = n
        st.boot = None
        st.band_cache = self._jacobian_svd(st, feats, y)
        st.reason = ""
        final = self._predict_areas(st, self._plan[-1:], np.int64(self.final_step))
        self.history[st.name].append((st.steps[-1], final))

    def _jacobian_svd(self, st, feats, y):
        """The linearised fit over the active free parameters (those on a bound included, see
        the module documentation) and the robust scale of its log residuals."""
        law = st.result.law
        names = st.law_cls.param_names
        free = np.array([names.index(nm) for nm in st.active], dtype=np.int64)
        pred, g = law.value_and_grad(**feats)
        dof = len(y) - len(free)
        r = np.log(pred) - np.log(y)
        sigma2 = _residual_scale2(r, dof, robust=True)
        lin = _Linearization.of(g[:, free] / pred[:, None], rcond=_RCOND)
        if lin is None or not math.isfinite(sigma2):
            return None
        return lin, free, sigma2, dof, r

    def _bootstrap(self, st):
        """Parameter vectors of ``n_boot`` residual-bootstrap refits (cached per fit): see
        :func:`cptlaw.bootstrap` (its ``method="residuals"``); refits stopped at the iteration
        limit are kept."""
        if st.boot is not None:
            return st.boot
        law_cls = st.law_cls
        feats = self._features(law_cls, st.areas)
        opts = dict(self.fit_options)
        opts.setdefault("max_iter", 100)
        if st.bounds is not None:
            opts["bounds"] = st.bounds
        y = np.asarray(st.loss, dtype=np.float64)
        samples, _, _ = _refits(st.result.law, [feats[n] for n in law_cls.input_names], y, method="residuals",
                                n_boot=self.n_boot, rng=self._rng, accept_iteration_limit=True,
                                fixed={**st.fixed, **st.held}, **opts)
        st.boot = np.asarray(samples).reshape(-1, len(law_cls.param_names))
        return st.boot

    # -- prediction -----------------------------------------------------------------------------
    def _predict_areas(self, st, areas, steps, level=None) -> Prediction:
        level = self.level if level is None else level
        law_cls = st.law_cls
        steps = np.asarray(steps)
        m = int(steps.size)
        nan = np.full(m, np.nan)

        def out(loss, lower, upper, stderr, noise, method, available, reason, dof=None):
            if steps.ndim == 0:
                loss, lower, upper, stderr, noise = (float(np.asarray(x).reshape(-1)[0]) for x in
                                                     (loss, lower, upper, stderr, noise))
                step = int(steps)
            else:
                step = steps.copy()
            return Prediction(st.name, step, loss, lower, upper, stderr, noise, level, method,
                              st.fit_n if st.result is not None else len(st.steps), available, reason, dof)

        if st.result is None:
            return out(nan, nan, nan, nan, nan, None, False, st.reason)
        feats = self._features(law_cls, areas)
        law = st.result.law
        pred, g = law.value_and_grad(**feats)
        names = law_cls.param_names
        held_idx = [names.index(nm) for nm in st.held]
        ok = np.ones(m, dtype=bool)
        reason = ""
        if held_idx:
            acts = np.any(g[:, held_idx] != 0, axis=1)
            if acts.any():
                ok &= ~acts
                which = [nm for nm, i in zip(st.held, held_idx) if np.any(g[:, i] != 0)]
                reason = (
                    f"{', '.join(which)} act(s) on this prediction but on none of the {len(st.steps)} observations "
                    f"of {st.name!r} yet (for CPTLaw: observations after the transfer are needed); "
                    "wait for them or fix those parameters with fixed="
                )
        cache = st.band_cache
        method = self.band
        var = np.full(m, np.nan)  # of the log loss
        with np.errstate(divide="ignore", invalid="ignore"):
            glog = g / pred[:, None]
        if cache is not None:
            lin, free, sigma2, dof, _ = cache
            inside = lin.in_row_space(glog[:, free], _ESTIMABLE_TOL)
            if not inside[ok].all() and not reason:
                reason = (
                    f"the {len(st.steps)} observations of {st.name!r} do not determine the parameters this "
                    "prediction depends on yet; wait for more or fix some with fixed="
                )
            ok &= inside
            if method == "delta":
                gf = glog[:, free]
                var = np.einsum("ni,ij,nj->n", gf, lin.covariance(sigma2), gf)
        else:
            dof = len(st.steps) - len(st.active)
            r = np.log(law(**self._features(law_cls, st.areas))) - np.log(np.asarray(st.loss))
            sigma2 = _residual_scale2(r, dof, robust=True)
            method = "bootstrap"
        if method == "bootstrap" or not np.all(np.isfinite(var[ok])):
            boot = self._bootstrap(st)
            if len(boot) >= 4:
                with np.errstate(divide="ignore", invalid="ignore"):
                    bvar = np.var(np.log(np.stack([law_cls.from_vector(v)(**feats) for v in boot])), axis=0, ddof=1)
                fill = ~np.isfinite(var) if method == "delta" else np.ones(m, dtype=bool)
                var = np.where(fill, bvar, var)
                method = "bootstrap" if fill.all() or method == "bootstrap" else "delta+bootstrap"
        finite = np.isfinite(var) & np.isfinite(pred)
        if not (finite | ~ok).all() and not reason:
            reason = "the band is not finite (the fit's Jacobian and its bootstrap failed)"
        ok &= finite
        lower, upper = _bounds(pred, np.where(ok, var, np.nan), sigma2, level, int(dof))
        loss = np.where(ok, pred, np.nan)
        lower, upper = np.where(ok, lower, np.nan), np.where(ok, upper, np.nan)
        stderr = np.where(ok, np.sqrt(np.maximum(var, 0.0)) * np.abs(pred), np.nan)
        noise = np.where(ok, math.sqrt(sigma2) * np.abs(pred), np.nan)
        available = bool(ok.all())
        return out(loss, lower, upper, stderr, noise, method if available or ok.any() else None,
                   available, "" if available else (reason or "not available"), int(dof))

    def _select(self, valset):
        if valset is None:
            return list(self._vs.values())
        if not isinstance(valset, str) or valset not in self._vs:
            raise ValueError(f"valset: unknown validation set {_validate.describe(valset)}; "
                             f"expected one of {', '.join(self.valsets)}")
        return [self._vs[valset]]

    def prediction(self, valset: str | None = None) -> Prediction | dict[str, Prediction]:
        """The predicted loss at the final planned step with its band.

        Returns a :class:`Prediction` for ``valset``, or, without it, a dict
        ``{valset: Prediction}`` over all validation sets. A prediction that is not
        available yet has ``available=False`` and a ``reason``; nothing is raised.
        """
        return self._predict_steps(valset, self.final_step)

    def predict(self, steps: int | ArrayLike, valset: str | None = None) -> Prediction | dict[str, Prediction]:
        """Predicted losses and bands at planned steps (updates done, 1..final_step).

        ``steps`` is an int (fields are floats) or an array of ints (fields are arrays,
        NaN where not available). Returns a :class:`Prediction`, or a dict of them
        without ``valset``.
        """
        return self._predict_steps(valset, steps)

    def _predict_steps(self, valset, steps):
        try:
            idx = np.asarray(steps)
        except (TypeError, ValueError):  # ragged lists and the like
            raise TypeError("steps: expected integer step counts") from None
        if idx.dtype.kind not in "iu":
            raise TypeError("steps: expected integer step counts")
        if idx.size and (idx.min() < 1 or idx.max() > self.final_step):
            raise ValueError(f"steps: must lie in 1..{self.final_step} (the planned run)")
        areas = self._plan[idx.reshape(-1) - 1]
        preds = {st.name: self._predict_areas(st, areas, idx) for st in self._select(valset)}
        return preds[valset] if valset is not None else preds

    # -- the band check ------------------------------------------------------------------------
    def _check_band(self, st, step, areas, value):
        finite = math.isfinite(value)
        if st.result is not None:
            p = self._predict_areas(st, np.asarray(areas)[None], np.int64(step), self.warn_level)
            if not p.available:
                if finite:
                    return None
                p = None
        else:
            if finite:
                return None
            p = None
        if p is not None and finite and p.lower <= value <= p.upper:
            st.outside = False
            return None
        first = not st.outside
        st.outside = True
        exc = Excursion(st.name, int(step), value, p.loss if p else math.nan, p.lower if p else math.nan,
                        p.upper if p else math.nan, first)
        self.excursions.append(exc)
        if first:
            if finite:
                msg = (
                    f"valset {st.name!r}: observed loss {value:.6g} at step {step} is outside the "
                    f"{self.warn_level:.1%} band "
                    f"[{p.lower:.6g}, {p.upper:.6g}] predicted from {p.n_points} earlier observations "
                    f"(predicted {p.loss:.6g}); the run may have diverged or the law no longer holds"
                )
            else:
                msg = f"valset {st.name!r}: observed loss {value} at step {step} is not finite; the run diverged"
            _warnings.warn(BandWarning(msg, exc))
        if self.on_excursion is not None:
            self.on_excursion(exc)
        return exc

    # -- introspection --------------------------------------------------------------------------
    def fit_result(self, valset: str) -> Optional[FitResult]:
        """The current :class:`cptlaw.FitResult` of a validation set (None before the first fit)."""
        return self._select(valset)[0].result

    def observations(self, valset: str) -> dict:
        """The observations of a validation set: ``steps``, ``loss`` and the four areas, as arrays."""
        st = self._select(valset)[0]
        a = np.asarray(st.areas, dtype=np.float64).reshape(-1, 4)
        out = {"steps": np.asarray(st.steps, dtype=np.int64), "loss": np.asarray(st.loss, dtype=np.float64)}
        out.update(zip(_AREAS, a.T.copy()))
        return out

    def outside(self, valset: str) -> bool:
        """Whether the latest observation of ``valset`` was outside its band."""
        return self._select(valset)[0].outside

    def stats(self) -> dict:
        """Per validation set: observations, refits, fits run (a refit whose warm fit fails runs a
        multistart one too; ``n_full_fits`` counts the multistart ones) and seconds spent fitting."""
        return {
            st.name: {
                "n_points": len(st.steps),
                "n_refits": st.n_refits,
                "n_fits": st.n_fits,
                "n_full_fits": st.n_full_fits,
                "fit_seconds": st.fit_seconds,
            }
            for st in self._vs.values()
        }

    def __repr__(self) -> str:
        parts = []
        for st in self._vs.values():
            parts.append(f"{st.name}: {len(st.steps)} obs, {'fitted' if st.result is not None else st.reason}")
        return f"LivePredictor(final_step={self.final_step}, " + "; ".join(parts) + ")"

    # -- checkpointing ----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Observations, current parameters and band-warning state, as plain Python values.

        The configuration (plan, law, options) is not saved: rebuild the predictor the same
        way and call :meth:`load_state_dict`; the fits are redone from the observations
        (with the saved parameters as a start).
        """
        out: dict[str, Any] = {"format": _STATE_FORMAT, "valsets": {}}
        for st in self._vs.values():
            out["valsets"][st.name] = {
                "law": st.law_cls.__name__,
                "steps": [int(s) for s in st.steps],
                "loss": [float(v) for v in st.loss],
                "areas": [[float(x) for x in a] for a in st.areas],
                "from_plan": [bool(b) for b in st.from_plan],
                "params": None if st.result is None else [float(x) for x in st.result.x],
                "outside": bool(st.outside),
            }
        return out

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore observations from :meth:`state_dict` and refit.

        Every field is checked first (an error names it, e.g.
        ``state_dict['valsets']['pt']['steps'][3]``); a rejected state leaves the predictor
        as it was. Observations whose areas came from the plan must match this predictor's
        plan: rebuild it with the same schedule (or call :meth:`set_plan` afterwards).
        """
        if not isinstance(state_dict, dict):
            raise TypeError(f"state_dict: expected a dict, got {type(state_dict).__name__}")
        fmt = state_dict.get("format")
        if not isinstance(fmt, str) or fmt != _STATE_FORMAT:
            raise ValueError(
                f"state_dict['format']: not a LivePredictor state (expected {_STATE_FORMAT!r}, "
                f"got {_validate.describe(fmt)})"
            )
        _no_extra_keys(state_dict, ("format", "valsets"), "state_dict")
        if "valsets" not in state_dict:
            raise ValueError("state_dict['valsets']: missing")
        saved = state_dict["valsets"]
        if not isinstance(saved, dict):
            raise TypeError(f"state_dict['valsets']: expected a dict, got {type(saved).__name__}")
        if set(saved) != set(self.valsets):
            names = sorted(map(repr, saved))
            raise ValueError(
                f"state_dict['valsets']: validation sets {', '.join(names) or 'none'} differ from this "
                f"predictor's {', '.join(map(repr, self.valsets))}"
            )
        checked = {name: self._checked_valset_state(name, saved[name]) for name in self.valsets}
        for name, s in checked.items():
            st = self._vs[name]
            st.steps, st.loss, st.areas, st.from_plan = s["steps"], s["loss"], s["areas"], s["from_plan"]
            st.outside = s["outside"]
            st.result, st.band_cache, st.boot, st.active, st.held = None, None, None, (), {}
            st.full_n = 0
            params = s["params"]
            if params is not None:
                st.result = FitResult(law=st.law_cls.from_vector(params), x=np.asarray(params, dtype=float))
            if st.steps:
                st.pending = 1
                self._refit(st, force_full=True)
            else:
                st.result, st.reason = None, "no observations yet"

    def _checked_valset_state(self, name, s) -> dict:
        """One validation set's saved observations, each field checked (errors name it)."""
        st = self._vs[name]
        where = f"state_dict['valsets'][{name!r}]"
        if not isinstance(s, dict):
            raise TypeError(f"{where}: expected a dict, got {type(s).__name__}")
        keys = ("law", "steps", "loss", "areas", "from_plan", "params", "outside")
        _no_extra_keys(s, keys, where)
        for key in keys:
            if key not in s:
                raise ValueError(f"{where}[{key!r}]: missing")
        if not isinstance(s["law"], str) or s["law"] != st.law_cls.__name__:
            raise ValueError(f"{where}['law']: fitted with {s['law']!r}, but this predictor uses {st.law_cls.__name__}")
        lists = {key: _state_list(s[key], f"{where}[{key!r}]") for key in ("steps", "loss", "areas", "from_plan")}
        n = len(lists["steps"])
        for key, values in lists.items():
            if len(values) != n:
                raise ValueError(f"{where}[{key!r}]: {len(values)} entries, but {n} steps")
        out: dict[str, Any] = {"steps": [], "loss": [], "areas": [], "from_plan": []}
        for i in range(n):
            step = _state_int(lists["steps"][i], f"{where}['steps'][{i}]")
            src = _state_bool(lists["from_plan"][i], f"{where}['from_plan'][{i}]")
            loss = _state_float(lists["loss"][i], f"{where}['loss'][{i}]")
            if not loss > 0.0:
                raise ValueError(f"{where}['loss'][{i}]: must be > 0, got {loss!r}")
            area_name = f"{where}['areas'][{i}]"
            row = _state_list(lists["areas"][i], area_name)
            if len(row) != len(_AREAS):
                raise ValueError(
                    f"{area_name}: expected the {len(_AREAS)} areas {', '.join(_AREAS)}, got {len(row)} values"
                )
            area = tuple(_state_float(x, f"{area_name}[{k}]") for k, x in enumerate(row))
            for k in (0, 2):  # forward areas are sums of LRs
                if area[k] < 0.0:
                    raise ValueError(f"{area_name}[{k}]: {_AREAS[k]} must be >= 0, got {area[k]!r}")
            if not self._defined(st, area):  # observe() skips these; every fit would fail on one
                raise ValueError(f"{area_name}: {st.law_cls.__name__} is not defined at these areas (S1 = "
                                 f"{area[0] + area[2]:g}: no learning rate > 0 applied yet); drop this observation")
            if src:
                if step > self.final_step:
                    raise ValueError(
                        f"{where}['steps'][{i}]: {step} is past this predictor's plan ({self.final_step} steps); "
                        "rebuild it with the plan the state was saved with"
                    )
                planned = self._plan[step - 1]
                tol = 1e-9 * (float(np.abs(planned).max()) + 1e-300)
                if float(np.abs(np.asarray(area) - planned).max()) > tol:
                    raise ValueError(
                        f"{area_name}: {list(area)} differ from this predictor's planned areas at step {step} "
                        f"{planned.tolist()}; rebuild it with the plan the state was saved with"
                    )
            out["steps"].append(step)
            out["loss"].append(loss)
            out["areas"].append(area)
            out["from_plan"].append(src)
        out["outside"] = _state_bool(s["outside"], f"{where}['outside']")
        params = s["params"]
        if params is not None:
            pname = f"{where}['params']"
            params = _state_list(params, pname)
            names = st.law_cls.param_names
            if len(params) != len(names):
                raise ValueError(f"{pname}: expected {len(names)} values ({', '.join(names)}), got {len(params)}")
            params = [_state_float(x, f"{pname}[{k}]") for k, x in enumerate(params)]
        out["params"] = params
        return out


# -- checks of saved states (LivePredictor.load_state_dict) -------------------------------------------

_INT64_MAX = (1 << 63) - 1


def _no_extra_keys(d, keys, where) -> None:
    extra = [k for k in d if k not in keys]
    if extra:
        raise ValueError(f"{where}: unknown key(s) {', '.join(map(repr, extra))}")


def _state_list(value, name) -> list | tuple:
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{name}: expected a list, got {type(value).__name__}")
    return value


def _state_int(value, name) -> int:
    v = _validate.integer(value, name, lo=1)
    if v > _INT64_MAX:
        raise ValueError(f"{name}: must be <= {_INT64_MAX}, got {v}")
    return v


def _state_bool(value, name) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected a bool, got {type(value).__name__}")
    return bool(value)


def _state_float(value, name) -> float:
    try:
        return _validate.real_scalar(value, name)
    except OverflowError:  # an int too large for a float
        raise ValueError(f"{name}: must be finite, got a number too large for a float") from None
