"""Is a prediction inside the data the law was fitted on? PT and CPT judged separately.

The laws keep lowering the loss for larger learning rates and for extra steps, and a CPT
law fitted on runs from one PT checkpoint says little about a checkpoint annealed much
deeper, so a prediction far outside the fitted runs deserves a warning. A run is judged
phase by phase:

- PT: its peak LR against the fitted runs' PT peak LRs, its PT length against theirs;
- CPT (when the prediction reaches the CPT phase): the CPT peak LR, the CPT length and the
  checkpoint's loss potential (final PT LR / PT peak LR, 1 = not annealed) against the fitted
  runs that have a CPT phase.

A PT peak LR cannot hide a CPT peak LR 100x below every fitted one (the maximum over both
phases would). :func:`extrapolation_checks` returns every judgement as data;
:func:`cptlaw.predict_run` warns about the failed ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional

from ._run import Run


#: a peak LR is inside when within this factor of the fitted range
PEAK_LR_FACTOR = 1.5
#: a length is inside up to this multiple of the longest fitted one
LENGTH_FACTOR = 3.0
#: a loss potential is inside when within this distance of the fitted range
LOSS_POTENTIAL_MARGIN = 0.1


class ExtrapolationWarning(UserWarning):
    """A prediction goes far outside the data the law was fitted on (see
    :func:`cptlaw.extrapolation_checks` for what is judged)."""


@dataclass(frozen=True)
class ExtrapolationCheck:
    """One judgement of a predicted run against the fitted runs.

    ``phase`` ("pt" or "cpt"), ``quantity`` ("peak LR", "length" in updates, "loss potential"
    or "phase" when no fitted run has that phase), the run's ``value``, the ``fitted`` range
    (low, high) over the fitted runs (None when none has the phase), the ``allowed`` range
    judged inside, ``inside`` and a one-line ``message``.
    """

    phase: str
    quantity: str
    value: float
    fitted: Optional[tuple]
    allowed: Optional[tuple]
    inside: bool
    message: str

    def as_dict(self) -> dict:
        return {"phase": self.phase, "quantity": self.quantity, "value": self.value,
                "fitted": None if self.fitted is None else list(self.fitted),
                "allowed": None if self.allowed is None else list(self.allowed),
                "inside": self.inside, "message": self.message}


def _phases(run) -> dict:
    """What the law sees of each phase of ``run`` up to its last step."""
    n_pt = len(run._lr_pt)
    last = int(run.steps.max())
    pt_steps = min(last, n_pt)
    out = {"pt": {"peak_lr": float(run._lr_pt[:pt_steps].max()), "steps": pt_steps}}
    cpt_steps = last - n_pt
    if run._lr_cpt is not None and cpt_steps > 0:
        top = float(run._lr_pt.max())
        out["cpt"] = {"peak_lr": float(run._lr_cpt[:cpt_steps].max()), "steps": cpt_steps,
                      "loss_potential": float(run._lr_pt[-1] / top) if top > 0 else float("nan")}
    return out


def _span(values):
    return [float(min(values)), float(max(values))]


def run_domain(runs) -> dict:
    """The fitted domain recorded by :func:`cptlaw.fit_runs` (JSON-friendly): per phase the
    ranges of peak LR and length, and for CPT the checkpoints' loss potentials."""
    phases = [_phases(r) for r in runs]
    pt = [p["pt"] for p in phases]
    cpt = [p["cpt"] for p in phases if "cpt" in p]
    return {
        "pt": {"peak_lr": _span([p["peak_lr"] for p in pt]), "steps": _span([p["steps"] for p in pt])},
        "cpt": None if not cpt else {
            "peak_lr": _span([p["peak_lr"] for p in cpt]),
            "steps": _span([p["steps"] for p in cpt]),
            "loss_potential": _span([p["loss_potential"] for p in cpt]),
        },
    }


def _check(name, phase, quantity, value, fitted, allowed, fmt, why):
    lo, hi = allowed
    inside = bool(lo <= value <= hi)
    label = {"pt": "PT", "cpt": "CPT"}[phase]
    fitted_txt = f"[{fitted[0]:{fmt}}, {fitted[1]:{fmt}}]"
    if inside:
        msg = f"run {name!r}: {label} {quantity} {value:{fmt}} is inside the fitted runs' range {fitted_txt}"
        if not fitted[0] <= value <= fitted[1]:
            msg += f" (or near it: judged inside [{lo:{fmt}}, {hi:{fmt}}])"
    else:
        msg = (f"run {name!r}: {label} {quantity} {value:{fmt}} is outside the fitted {label} runs' range "
               f"{fitted_txt} (judged inside [{lo:{fmt}}, {hi:{fmt}}]); {why}")
    return ExtrapolationCheck(phase, quantity, float(value), tuple(fitted), (float(lo), float(hi)), inside, msg)


def extrapolation_checks(fitted: Mapping[str, Any], run: Run) -> list[ExtrapolationCheck]:
    """Judge ``run`` against the runs ``fitted`` (a :func:`cptlaw.fit_runs` result) was fitted on.

    Returns a list of :class:`ExtrapolationCheck`, inside or not (empty when ``fitted`` records
    no domain, e.g. a bare law). Fit results from before the per-phase domain was recorded
    (``domain`` with only ``peak_lr`` and ``max_step``) are judged on those two.
    """
    domain = fitted.get("domain") if isinstance(fitted, dict) else None
    if not domain:
        return []
    if not isinstance(run, Run):
        raise TypeError(f"run: expected a cptlaw.Run, got {type(run).__name__}")
    if "pt" not in domain:  # judged on the peak over both phases and the total length
        return phase_checks(fitted, {"pt": {"peak_lr": run.peak_lr, "steps": int(run.steps.max())}}, run.name)
    return phase_checks(fitted, _phases(run), run.name)


def phase_checks(fitted, seen, name="") -> list:
    """:func:`extrapolation_checks` of a run described by its phases alone: ``seen`` is
    ``{"pt": {"peak_lr", "steps"}, "cpt": {"peak_lr", "steps", "loss_potential"}}`` (no
    ``"cpt"`` for a PT run; the steps the prediction reaches in each phase), e.g. a planned
    schedule too long to spell out step by step."""
    domain = fitted.get("domain") if isinstance(fitted, dict) else None
    if not domain:
        return []
    if "pt" not in domain:  # an older fit file: the peak over both phases and the total length
        lo, hi = domain["peak_lr"]
        peak = max(p["peak_lr"] for p in seen.values())
        length = sum(p["steps"] for p in seen.values())
        return [
            _check(name, "pt", "peak LR", peak, (lo, hi), (lo / PEAK_LR_FACTOR, hi * PEAK_LR_FACTOR),
                   ".3g", "the law extrapolates poorly in peak LR"),
            _check(name, "pt", "length", int(length), (1, domain["max_step"]),
                   (0, LENGTH_FACTOR * domain["max_step"]), ".6g",
                   f"over {LENGTH_FACTOR:g}x the longest fitted run"),
        ]
    pt_dom = domain["pt"]
    out = [
        _check(name, "pt", "peak LR", seen["pt"]["peak_lr"], pt_dom["peak_lr"],
               (pt_dom["peak_lr"][0] / PEAK_LR_FACTOR, pt_dom["peak_lr"][1] * PEAK_LR_FACTOR), ".3g",
               "the law extrapolates poorly in peak LR"),
        _check(name, "pt", "length", seen["pt"]["steps"], pt_dom["steps"], (0, LENGTH_FACTOR * pt_dom["steps"][1]), ".6g",
               f"over {LENGTH_FACTOR:g}x the longest fitted PT phase: extra steps keep lowering the predicted loss"),
    ]
    if "cpt" not in seen:
        return out
    cpt = domain.get("cpt")
    if not cpt:
        out.append(ExtrapolationCheck(
            "cpt", "phase", float(seen["cpt"]["steps"]), None, None, False,
            f"run {name!r}: no fitted run has a CPT phase; all {seen['cpt']['steps']} CPT steps of the prediction "
            "are extrapolated (the CPT parameters were not determined by the fit)"))
        return out
    lp_lo, lp_hi = cpt["loss_potential"]
    out += [
        _check(name, "cpt", "peak LR", seen["cpt"]["peak_lr"], cpt["peak_lr"],
               (cpt["peak_lr"][0] / PEAK_LR_FACTOR, cpt["peak_lr"][1] * PEAK_LR_FACTOR), ".3g",
               "the law extrapolates poorly in peak LR"),
        _check(name, "cpt", "length", seen["cpt"]["steps"], cpt["steps"], (0, LENGTH_FACTOR * cpt["steps"][1]), ".6g",
               f"over {LENGTH_FACTOR:g}x the longest fitted CPT phase"),
        _check(name, "cpt", "loss potential", seen["cpt"]["loss_potential"], cpt["loss_potential"],
               (max(0.0, lp_lo - LOSS_POTENTIAL_MARGIN), lp_hi + LOSS_POTENTIAL_MARGIN), ".3g",
               "the checkpoint is annealed unlike any fitted CPT run's (final PT LR / PT peak LR)"),
    ]
    return out


__all__ = ["ExtrapolationCheck", "ExtrapolationWarning", "LENGTH_FACTOR", "LOSS_POTENTIAL_MARGIN", "PEAK_LR_FACTOR",
           "extrapolation_checks", "phase_checks", "run_domain"]


def __dir__():  # dir() and tab completion show the public names only
    return sorted(__all__)
