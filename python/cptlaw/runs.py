"""Fitting and predicting from training runs: learning rates plus observed losses.

A :class:`~cptlaw.Run` holds the per-step learning rates of a run (a PT schedule and
optionally a CPT schedule that follows it) and the losses observed at some steps.
``steps[i]`` counts the optimizer updates done before loss ``i`` was measured, so
its areas are those of ``lr[:steps[i]]`` (:ref:`step-counting`: "steps 0..s inclusive" is
``steps = s + 1``). For a CPT run, steps count on the concatenated PT ++ CPT timeline.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import _validate, _warnings
from ._run import Run, _runs
from .areas import SPLITS
from .extrapolation import ExtrapolationWarning, extrapolation_checks, run_domain
from .fit import FitResult, fit
from .laws import Law


def fit_runs(law: type[Law] | Law, runs: Run | Iterable[Run], *, valset: str | None = None, decay: float = 0.999,
             split: str = "by_source", warmup_as_peak: bool | int = False, **options: Any) -> FitResult:
    """Fit one parameter vector jointly over several runs of one validation set.

    Computes the areas of every run, concatenates the observations and calls
    :func:`cptlaw.fit` with ``options``. The result also records the fitted domain
    (``domain``: per phase the peak LRs and lengths, for CPT the checkpoints' loss
    potentials) so that :func:`predict_run` can warn about extrapolation.
    """
    runs = _runs(runs)
    _validate.choice(split, "split", SPLITS)
    feats = [r.features(law, decay, split, warmup_as_peak) for r in runs]
    names = feats[0].keys()
    features = {k: np.concatenate([f[k] for f in feats]) for k in names}
    loss = np.concatenate([r.losses(valset) for r in runs])
    res = fit(law, features, loss, **options)
    res["domain"] = {
        "peak_lr": (min(r.peak_lr for r in runs), max(r.peak_lr for r in runs)),
        "max_step": int(max(r.steps.max() for r in runs)),
        "area_options": {"decay": decay, "split": split, "warmup_as_peak": warmup_as_peak},
        **run_domain(runs),
    }
    return res


def predict_run(fitted: Law | Mapping[str, Any], run: Run, *, decay: float | None = None, split: str | None = None,
                warmup_as_peak: bool | int | None = None) -> NDArray[np.float64]:
    """Predicted losses of ``run`` at its steps, from a fitted law or a :func:`fit_runs` result.

    Warns (:class:`ExtrapolationWarning`) when the run lies far outside the fitted runs,
    judging PT and CPT apart (:func:`cptlaw.extrapolation_checks` lists what is judged): the
    law keeps lowering the loss for extra steps at zero LR and for larger LRs, which real
    training does not, and a checkpoint annealed unlike the fitted ones can behave unlike them.
    """
    if not isinstance(run, Run):
        raise TypeError(f"run: expected a cptlaw.Run, got {type(run).__name__}")
    opts: dict[str, Any] = {"decay": 0.999, "split": "by_source", "warmup_as_peak": False}
    law: Any = fitted
    if isinstance(fitted, dict):
        law = fitted.get("law")
        domain = fitted.get("domain")
        if domain:
            opts.update(domain["area_options"])
            for check in extrapolation_checks(fitted, run):
                if not check.inside:
                    _warnings.warn(check.message, ExtrapolationWarning)
    if not isinstance(law, Law):
        raise TypeError("fitted: expected a fitted law or a fit result with a law (was the fit successful?)")
    for key, val in (("decay", decay), ("split", split), ("warmup_as_peak", warmup_as_peak)):
        if val is not None:
            opts[key] = val
    return law(**run.features(law, **opts))


__all__ = ["ExtrapolationWarning", "Run", "extrapolation_checks", "fit_runs", "predict_run"]


def __dir__():  # dir() and tab completion show the public names only
    return sorted(__all__)
