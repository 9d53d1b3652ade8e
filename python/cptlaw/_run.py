"""A training run (:class:`Run`, public as ``cptlaw.Run``): per-step learning rates and
observed losses, checked, with the law's inputs at the observed steps.

Apart from :mod:`cptlaw.runs` (fitting and predicting from runs) so that
:mod:`cptlaw.extrapolation`, which judges runs and is used by it, can know the class too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import _validate
from .areas import areas, cpt_areas
from .laws import Law


def _per_step(value, name, required=False):
    if value is None:
        if required:
            raise TypeError(f"{name}: required (per-step learning rates or a schedule)")
        return None
    if hasattr(value, "values") and callable(value.values):
        value = value.values()
    arr = _validate.learning_rates(value, name)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected one schedule (1-D), got shape {arr.shape}")
    return arr


@dataclass
class Run:
    """One training run: learning rates and observed losses.

    Parameters
    ----------
    lr_pt : array_like or schedule
        Per-step LRs of the (pre-)training phase, or a ``cptlaw.schedules`` object.
    steps : array_like of int
        Updates done before each observation (>= 1).
    loss : array_like or dict
        Observed losses at ``steps``; a dict maps validation-set names (e.g. ``"pt"``,
        ``"cpt"``) to arrays.
    lr_cpt : array_like or schedule, optional
        Per-step LRs of a CPT phase that follows ``lr_pt``.
    r_pt : float
        Replay ratio (fraction of PT data mixed into CPT), for the replay laws.
    name : str
        A label for reports.
    group : hashable, optional
        A label shared by related runs, e.g. the PT checkpoint a CPT run starts from;
        :func:`cptlaw.compare` can hold out whole groups (``group_by="group"``).
    """

    lr_pt: Any
    steps: Any
    loss: Any = None
    lr_cpt: Any = None
    r_pt: float = 0.0
    name: str = ""
    group: object = None
    _lr_pt: np.ndarray = field(init=False, repr=False)
    _lr_cpt: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        self._lr_pt = _per_step(self.lr_pt, "lr_pt", required=True)
        self._lr_cpt = _per_step(self.lr_cpt, "lr_cpt")
        try:
            steps = np.asarray(self.steps)
        except (ValueError, TypeError) as exc:  # ragged lists and the like
            raise TypeError(f"steps: cannot be read as an array of update counts ({exc})") from None
        _validate.copyable(steps, "steps")
        if steps.dtype.kind not in "iu":
            if steps.dtype.kind == "f" and np.all(steps == np.round(steps)):
                steps = steps.astype(np.int64)
            else:
                raise TypeError("steps: expected integer update counts")
        steps = steps.reshape(-1).astype(np.int64)
        total = len(self._lr_pt) + (0 if self._lr_cpt is None else len(self._lr_cpt))
        if steps.size == 0:
            raise ValueError("steps: is empty")
        if steps.min() < 1 or steps.max() > total:
            raise ValueError(f"steps: must lie in 1..{total} (updates covered by the learning rates)")
        self.steps = steps
        self.r_pt = _validate.real_scalar(self.r_pt, "r_pt", lo=0.0, hi=1.0)
        if self.group is not None:
            try:
                hash(self.group)
            except TypeError:
                raise TypeError(f"group: expected a hashable label (a str or a number), got {type(self.group).__name__}") from None

    @property
    def has_cpt(self) -> bool:
        """Whether the run has a CPT phase with at least one observation in it."""
        return self._lr_cpt is not None and int(self.steps.max()) > len(self._lr_pt)

    @property
    def peak_lr(self) -> float:
        """The largest LR over both phases (see :func:`cptlaw.extrapolation_checks` for the
        phases judged apart)."""
        top = self._lr_pt.max()
        return float(top if self._lr_cpt is None or len(self._lr_cpt) == 0 else max(top, self._lr_cpt.max()))

    def losses(self, valset: str | None = None) -> NDArray[np.float64]:
        loss = self.loss
        if isinstance(loss, dict):
            if valset is None:
                raise ValueError(f"valset: run {self.name!r} has several validation sets {list(loss)}; pick one")
            try:
                known = valset in loss
            except TypeError:  # unhashable
                known = False
            if not known:
                raise ValueError(f"valset: {_validate.describe(valset)} not among {list(loss)} in run {self.name!r}")
            loss = loss[valset]
        if loss is None:
            raise ValueError(f"loss: run {self.name!r} has no observed losses")
        arr = _validate.as_float_array(loss, "loss").reshape(-1)
        if arr.shape != self.steps.shape:
            raise ValueError(f"loss: {arr.size} values for {self.steps.size} steps in run {self.name!r}")
        return arr

    def features(self, law: Law | type[Law], decay: float = 0.999, split: str = "by_source",
                 warmup_as_peak: bool | int = False) -> dict[str, np.ndarray]:
        """The law's inputs at ``steps``."""
        law_cls = law if isinstance(law, type) else type(law)
        if not issubclass(law_cls, Law):
            raise TypeError(f"law: expected a law class or instance such as cptlaw.CPTLaw, got {type(law).__name__}")
        idx = self.steps - 1
        if "s1" in law_cls.input_names:
            lr = self._lr_pt if self._lr_cpt is None else np.concatenate([self._lr_pt, self._lr_cpt])
            a: Any = areas(lr, decay, warmup_as_peak=warmup_as_peak)
            feats = {"s1": a.s1[idx], "s2": a.s2[idx]}
        else:
            lr_cpt = self._lr_cpt if self._lr_cpt is not None else np.zeros(0)
            a = cpt_areas(self._lr_pt, lr_cpt, decay, split, warmup_as_peak=warmup_as_peak)
            feats = {k: getattr(a, k)[idx] for k in ("s1_pt", "s2_pt", "s1_cpt", "s2_cpt")}
        if "r_pt" in law_cls.input_names:
            feats["r_pt"] = np.full(idx.shape, self.r_pt)
        missing = [n for n in law_cls.input_names if n not in feats]
        if missing:
            raise ValueError(f"law: {law_cls.__name__} needs {', '.join(missing)}, which a Run does not provide")
        return {n: feats[n] for n in law_cls.input_names}


def _runs(runs: Any) -> list[Run]:
    if isinstance(runs, Run):
        return [runs]
    if isinstance(runs, (str, bytes, dict, np.ndarray)) or not hasattr(runs, "__iter__"):
        raise TypeError(f"runs: expected a Run or a sequence of Runs, got {type(runs).__name__}")
    out = []
    for r in runs:  # one at a time: a huge iterable of non-Runs stops at the first
        if not isinstance(r, Run):
            raise TypeError(f"runs: expected cptlaw.Run objects, got {type(r).__name__}")
        out.append(r)
    if not out:
        raise ValueError("runs: no runs given")
    return out
