"""The fit file: the JSON that ``cptlaw fit --json`` (and ``cptlaw demo``'s ``summary.json``)
writes and :func:`read_fit` reads back, in one place.

A fit file holds one fit (``law``, ``params``, ``area_options``, ``domain``, statistics) or
several under ``"valsets": {name: fit}``. Reading validates every field the predictions use:
the law and its parameters (finite numbers), the area options (with the API's own validators)
and the fitted domain; errors are located at the offending key.
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


def fit_record(res, law_cls, valset, runs, area_options, per_run_mae) -> dict:
    """The fit file's record of one fit (:func:`cptlaw.fit_runs` result ``res``) of ``law_cls``
    on ``runs`` for validation set ``valset``; ``per_run_mae``: {run name: MAE}."""
    dom = res.get("domain") or {}
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
        "area_options": area_options,
        "domain": {"peak_lr": list(dom["peak_lr"]), "max_step": dom["max_step"]} if dom else None,
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


def _domain(dom, doc, p):
    if not isinstance(dom, dict):
        raise doc.error("\"domain\" must be an object with peak_lr and max_step, or null", p)
    extra = [k for k in dom if k not in ("peak_lr", "max_step")]
    if extra:
        raise doc.error(f"unknown key {extra[0]!r} in \"domain\" (expected peak_lr, max_step)", p + (extra[0],), True)
    lrs = dom.get("peak_lr")
    if not (isinstance(lrs, list) and len(lrs) == 2 and all(_is_number(x) and math.isfinite(x) and x > 0
                                                            for x in lrs) and lrs[0] <= lrs[1]):
        raise doc.error("domain.peak_lr must be [low, high]: two finite learning rates > 0, low <= high",
                        p + (("peak_lr",) if "peak_lr" in dom else ()))
    step = dom.get("max_step")
    if not (_is_number(step) and math.isfinite(step) and step == int(step) and 1 <= step <= MAX_STEPS):
        raise doc.error(f"domain.max_step must be a whole number of steps in 1..{MAX_STEPS}",
                        p + (("max_step",) if "max_step" in dom else ()))
    return {"peak_lr": (float(lrs[0]), float(lrs[1])), "max_step": int(step)}


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


__all__ = ["AREA_DEFAULTS", "dumps", "fit_document", "fit_record", "law_class", "read_fit", "write_fit"]


def __dir__():  # dir() and tab completion show the public names only
    return sorted(__all__)
