"""The fit file: the JSON that ``cptlaw fit --json`` (and ``cptlaw demo``'s ``summary.json``)
writes and :func:`read_fit` reads back, in one place.

A fit file holds one fit (``law``, ``params``, ``area_options``, ``domain``, statistics) or
several under ``"valsets": {name: fit}``. Reading validates every field the predictions use:
the law and its parameters (finite numbers), the area options (with the API's own validators),
the fitted domain (per phase: PT and CPT peak LRs, lengths and the checkpoints' loss
potentials, which :func:`cptlaw.extrapolation_checks` judges predictions against), the
parameters the data did not determine (``unidentifiable``) and what intervals need
(``covariance``, ``residual_std``, ``residual_space``, ``dof``); errors are located at the
offending key. Files of earlier versions (a domain of ``peak_lr`` and ``max_step`` only, no
covariance) are still read.
"""

from __future__ import annotations

import json
import math
import os
import re
from typing import Any

import numpy as np

from .. import _validate
from ._limits import MAX_STEPS
from ._located import Doc

AREA_DEFAULTS = {"decay": 0.999, "split": "by_source", "warmup_as_peak": False}


# ======================================================================================
# writing
# ======================================================================================


def _finite_or_none(x):
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    return x


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k) if k is not None else "null": _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, np.bool_):
        return bool(obj)
    return _finite_or_none(obj)


_FLAT_LIST = re.compile(r"\[\n\s*([^\[\]{}]*?)\n\s*\]")


def dumps(obj) -> str:
    """JSON text with NaN/inf written as null (valid JSON); lists of plain values on one line."""
    text = json.dumps(_jsonable(obj), indent=2, allow_nan=False)
    # JSON strings hold no raw newlines: every newline inside such a list is layout
    return _FLAT_LIST.sub(lambda m: "[" + re.sub(r",\n\s*", ", ", m.group(1)) + "]", text)


def _domain_record(dom) -> dict | None:
    if not dom:
        return None
    out = {"peak_lr": list(dom["peak_lr"]), "max_step": dom["max_step"]}
    for phase in ("pt", "cpt"):
        if phase in dom:
            out[phase] = None if dom[phase] is None else {
                k: [int(x) for x in v] if k == "steps" else list(v) for k, v in dom[phase].items()}
    return out


def fit_record(res, law_cls, valset, runs, area_options, per_run_mae) -> dict:
    """The fit file's record of one fit (:func:`cptlaw.fit_runs` result ``res``) of ``law_cls``
    on ``runs`` for validation set ``valset``; ``per_run_mae``: {run name: MAE}."""
    dom = res.get("domain") or {}
    cov = res.get("covariance")
    return {
        "law": law_cls.__name__,
        "valset": valset,
        "params": res["params"],
        "stderr": res["stderr"],
        "objective": res["objective"],
        "r2": res["r2"],
        "mae": res["mae"],
        "mape": res["mape"],
        "n_points": res["n_points"],
        "success": res["success"],
        "status": res["status"],
        "message": res["message"],
        "at_bound": res.get("at_bound", []),
        "unidentifiable": dict(res.get("unidentifiable") or {}),
        "area_options": area_options,
        "domain": _domain_record(dom),
        "covariance": None if cov is None else np.asarray(cov, dtype=np.float64),
        "residual_std": res.get("residual_std"),
        "residual_space": res.get("residual_space"),
        "dof": res.get("dof"),
        "runs": [{"name": r.name, "n_points": int(np.sum(np.isfinite(r.losses(valset)))), "mae": per_run_mae[r.name]}
                 for r in runs],
    }


def fit_document(records: dict, area_options, **extra) -> dict:
    """The whole fit file: one record as is, or several under ``valsets``; ``extra`` fields added."""
    if len(records) == 1:
        out = dict(next(iter(records.values())))
    else:
        out = {"law": next(iter(records.values()))["law"], "area_options": area_options, "valsets": dict(records)}
    out.update(extra)
    return out


def write_fit(path, document) -> None:
    """Write a fit file (see :func:`fit_document`)."""
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(dumps(document) + "\n")


# ======================================================================================
# reading
# ======================================================================================


def law_class(name):
    """A law class from its short name or class name (see :func:`cptlaw.laws.law_class`)."""
    from .. import laws

    return laws.law_class(name)


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _area_options(opts, doc, p):
    if not isinstance(opts, dict):
        raise doc.error("\"area_options\" must be an object", p)
    from ..areas import SPLITS

    area = dict(AREA_DEFAULTS)
    for k, v in opts.items():
        if k not in area:
            raise doc.error(f"unknown area option {k!r} (expected {', '.join(AREA_DEFAULTS)})", p + (k,), True)
        try:
            if k == "decay":
                v = _validate.decay(v)
            elif k == "split":
                v = _validate.choice(v, "split", SPLITS)
            elif not isinstance(v, bool):
                if not isinstance(v, int):
                    raise TypeError(f"warmup_as_peak: expected true, false or a whole number of warmup steps, got "
                                    f"{v!r}")
                if not 0 <= v <= MAX_STEPS:
                    raise ValueError(f"warmup_as_peak: a number of warmup steps must lie in 0..{MAX_STEPS}, got {v}")
        except (TypeError, ValueError) as exc:
            raise doc.error(" ".join(str(exc).split()), p + (k,)) from None
        area[k] = v
    return area


def _span(v, doc, where, what, *, positive=False, integer=False, lo=None):
    if v == [None, None] and not positive and not integer:  # e.g. the loss potential of PT LRs all 0
        return (float("nan"), float("nan"))
    ok = isinstance(v, list) and len(v) == 2 and all(_is_number(x) and math.isfinite(x) for x in v)
    if ok:
        ok = v[0] <= v[1] and (not positive or v[0] > 0) and (lo is None or v[0] >= lo)
        ok = ok and (not integer or all(x == int(x) and x <= MAX_STEPS for x in v))
    if not ok:
        kind = "learning rates > 0" if positive else ("whole numbers of steps" if integer else "finite numbers")
        raise doc.error(f"{what} must be [low, high]: two {kind}, low <= high", where)
    return (int(v[0]), int(v[1])) if integer else (float(v[0]), float(v[1]))


#: the fitted domain of each phase: key -> (positive, integer, lowest value)
_PHASE_KEYS = {
    "pt": {"peak_lr": (True, False, None), "steps": (False, True, 0)},
    "cpt": {"peak_lr": (True, False, None), "steps": (False, True, 0), "loss_potential": (False, False, 0.0)},
}


def _phase_domain(phase, d, doc, p):
    keys = _PHASE_KEYS[phase]
    if d is None and phase == "cpt":
        return None
    if not isinstance(d, dict):
        raise doc.error(f"domain.{phase} must be an object with {', '.join(keys)}"
                        + (" (or null: no fitted run has a CPT phase)" if phase == "cpt" else ""), p)
    extra = [k for k in d if k not in keys]
    if extra:
        raise doc.error(f"unknown key {extra[0]!r} in domain.{phase} (expected {', '.join(keys)})", p + (extra[0],),
                        True)
    out = {}
    for k, (positive, integer, lo) in keys.items():
        if k not in d:
            raise doc.error(f"domain.{phase} lacks {k!r}", p)
        out[k] = _span(d[k], doc, p + (k,), f"domain.{phase}.{k}", positive=positive, integer=integer, lo=lo)
    return out


def _domain(dom, doc, p):
    """The fitted domain: ``peak_lr`` / ``max_step`` over both phases (all versions) and per phase
    ``pt`` / ``cpt`` (written since the extrapolation checks judge the phases apart)."""
    allowed = ("peak_lr", "max_step", "pt", "cpt")
    if not isinstance(dom, dict):
        raise doc.error("\"domain\" must be an object with peak_lr and max_step (and pt, cpt), or null", p)
    extra = [k for k in dom if k not in allowed]
    if extra:
        raise doc.error(f"unknown key {extra[0]!r} in \"domain\" (expected {', '.join(allowed)})", p + (extra[0],),
                        True)
    lrs = dom.get("peak_lr")
    if not (isinstance(lrs, list) and len(lrs) == 2 and all(_is_number(x) and math.isfinite(x) and x > 0
                                                            for x in lrs) and lrs[0] <= lrs[1]):
        raise doc.error("domain.peak_lr must be [low, high]: two finite learning rates > 0, low <= high",
                        p + (("peak_lr",) if "peak_lr" in dom else ()))
    step = dom.get("max_step")
    if not (_is_number(step) and math.isfinite(step) and step == int(step) and 1 <= step <= MAX_STEPS):
        raise doc.error(f"domain.max_step must be a whole number of steps in 1..{MAX_STEPS}",
                        p + (("max_step",) if "max_step" in dom else ()))
    out = {"peak_lr": (float(lrs[0]), float(lrs[1])), "max_step": int(step)}
    if "pt" in dom or "cpt" in dom:
        if "pt" not in dom:
            raise doc.error("\"domain\" has cpt but no pt", p)
        out["pt"] = _phase_domain("pt", dom["pt"], doc, p + ("pt",))
        out["cpt"] = _phase_domain("cpt", dom.get("cpt"), doc, p + ("cpt",))
    return out


def _statistics(fit, names, doc, p) -> dict:
    """``unidentifiable``, ``covariance``, ``residual_std``, ``residual_space``, ``dof``: validated
    (each may be missing: files of earlier versions)."""
    out: dict[str, Any] = {}
    un = fit.get("unidentifiable")
    if un is not None:
        if not isinstance(un, dict) or not all(isinstance(v, str) for v in un.values()):
            raise doc.error("\"unidentifiable\" must map parameter names to reasons (strings)", p + ("unidentifiable",))
        for k in un:
            if k not in names:
                raise doc.error(f"unknown parameter {k!r} in \"unidentifiable\"", p + ("unidentifiable", k), True)
        out["unidentifiable"] = dict(un)
    else:
        out["unidentifiable"] = {}
    cov = fit.get("covariance")
    if cov is not None:
        n = len(names)
        ok = isinstance(cov, list) and len(cov) == n and all(
            isinstance(row, list) and len(row) == n and all(x is None or (_is_number(x) and math.isfinite(x))
                                                             for x in row) for row in cov)
        if not ok:
            raise doc.error(f"\"covariance\" must be a {n} x {n} matrix (rows of numbers or null, in the order "
                            f"{', '.join(names)})", p + ("covariance",))
        out["covariance"] = np.array([[np.nan if x is None else float(x) for x in row] for row in cov])
    else:
        out["covariance"] = None
    std = fit.get("residual_std")
    if std is not None and not (_is_number(std) and math.isfinite(std) and std >= 0):
        raise doc.error("\"residual_std\" must be a finite number >= 0 or null", p + ("residual_std",))
    out["residual_std"] = float("nan") if std is None else float(std)
    space = fit.get("residual_space", "log")
    if space not in ("log", "loss"):
        raise doc.error("\"residual_space\" must be \"log\" or \"loss\"", p + ("residual_space",))
    out["residual_space"] = space
    dof = fit.get("dof")
    if dof is not None and not (_is_number(dof) and dof == int(dof) and 0 <= dof <= 10**12):
        raise doc.error("\"dof\" must be a whole number >= 0 or null", p + ("dof",))
    out["dof"] = 0 if dof is None else int(dof)
    return out


def interval_inputs(fit) -> str | None:
    """None when a fit read by :func:`read_fit` holds what prediction intervals and confidence
    bands need (:func:`cptlaw.intervals.predict_interval`), else what it lacks."""
    missing = []
    cov = fit.get("covariance")
    if cov is None or not np.isfinite(np.diag(np.asarray(cov))).any():
        missing.append("covariance")
    if not np.isfinite(fit.get("residual_std", np.nan)):
        missing.append("residual_std")
    if not fit.get("dof"):
        missing.append("dof")
    return ", ".join(missing) or None


def _one_fit(fit, doc, p, top_law, top_area):
    from ..fit import FitResult

    if not isinstance(fit, dict):
        raise doc.error("expected a fit object", p)
    law_name = fit.get("law", top_law)
    if law_name is None:
        raise doc.error("missing \"law\" (e.g. \"CPTLaw\")", p)
    where_law = p + ("law",) if "law" in fit else ("law",)
    if not isinstance(law_name, str):
        raise doc.error("\"law\" must be a law's name (e.g. \"CPTLaw\")", where_law)
    try:
        cls = law_class(law_name)
    except ValueError as exc:
        raise doc.error(" ".join(str(exc).split()), where_law) from None
    params = fit.get("params")
    if not isinstance(params, dict):
        raise doc.error("missing \"params\" (an object of parameter values)",
                        p + (("params",) if "params" in fit else ()))
    for k, v in params.items():
        if k not in cls.param_names:
            raise doc.error(f"unknown parameter {k!r} for {cls.__name__} (expected {', '.join(cls.param_names)})",
                            p + ("params", k), True)
        if not _is_number(v) or not math.isfinite(v):
            raise doc.error(f"parameter {k!r} must be a finite number, got {v!r}", p + ("params", k))
    missing = [n for n in cls.param_names if n not in params]
    if missing:
        raise doc.error(f"\"params\" lacks {', '.join(missing)} for {cls.__name__}", p + ("params",))
    try:
        law = cls(**params)
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise doc.error(" ".join(str(exc).split()), p + ("params",)) from None
    if "area_options" in fit:
        area = _area_options(fit["area_options"] if fit["area_options"] is not None else {}, doc, p + ("area_options",))
    else:
        area = top_area
    res = FitResult(fit)
    res["law"] = law
    res["params"] = law.params
    res.update(_statistics(fit, cls.param_names, doc, p))
    dom = fit.get("domain")
    if dom is not None:
        res["domain"] = dict(_domain(dom, doc, p + ("domain",)), area_options=area)
    else:
        res["domain"] = None
        res["area_options"] = area
    return res


def read_fit(path: str | os.PathLike[str]) -> dict[str | None, dict[str, Any]]:
    """Read a fit written by ``cptlaw fit --json``.

    Returns ``{valset: fit}`` (key None for a single validation set) where each fit is a
    dict usable by :func:`cptlaw.predict_run`: ``law`` (instance), ``params``, ``domain``
    (with ``area_options``) and the rest of the JSON fields. Every field used for
    predictions is validated; errors are :class:`cptlaw.io.DataError` located in the file.
    """
    doc = Doc(path)
    data = doc.data
    if not isinstance(data, dict):
        raise doc.error("expected a fit object written by `cptlaw fit --json`")
    top_law = data.get("law")
    top_area = _area_options(data.get("area_options") or {}, doc, ("area_options",))
    if "valsets" in data:
        if not isinstance(data["valsets"], dict) or not data["valsets"]:
            raise doc.error("\"valsets\" must map validation-set names to fits", ("valsets",))
        items: list[tuple[Any, Any, tuple[str, ...]]] = [(k, v, ("valsets", k)) for k, v in data["valsets"].items()]
    else:
        vs = data.get("valset")
        if vs is not None and not isinstance(vs, str):
            raise doc.error("\"valset\" must be a validation set's name or null", ("valset",))
        items = [(vs, data, ())]
    return {vs: _one_fit(fit, doc, p, top_law, top_area) for vs, fit, p in items}


__all__ = ["AREA_DEFAULTS", "dumps", "fit_document", "fit_record", "interval_inputs", "law_class", "read_fit",
           "write_fit"]


def __dir__():  # dir() and tab completion show the public names only
    return sorted(__all__)
