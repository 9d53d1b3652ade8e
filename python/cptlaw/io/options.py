"""The options of the run readers, spelled one way for CSV files, DataFrames and W&B histories,
and checked before any file is read.

``loss_columns``, ``lr_column``, ``step_column`` name columns of a CSV file, a DataFrame or a W&B
history alike (the W&B reader's former ``loss_keys``, ``lr_key``, ``step_key`` still work, with
a ``DeprecationWarning``).
"""

from __future__ import annotations


from .. import _validate, _warnings
from ._limits import MAX_STEPS

#: former spelling -> current spelling
DEPRECATED = {"loss_keys": "loss_columns", "lr_key": "lr_column", "step_key": "step_column"}

#: options every reader takes, with their defaults
COMMON = {
    "loss_columns": None,
    "lr_column": None,
    "step_column": None,
    "step_offset": 0,
    "lr_shift": 0,
    "pt_steps": None,
    "r_pt": None,
    "min_step": 1,
}
#: options of the CSV / DataFrame readers only
TABLE_ONLY = {"group_column": None}
#: options of the W&B reader only (resumed runs)
WANDB_ONLY = {"base": None, "search": None}


def canonical(options: dict, allowed, where: str) -> dict:
    """``options`` with deprecated spellings renamed (warning once each); unknown options are a
    TypeError naming them."""
    out = {}
    for key, value in options.items():
        new = DEPRECATED.get(key)
        if new is not None:
            _warnings.warn(f"{where}: {key}= is deprecated; use {new}= (the same name for CSV files, DataFrames "
                           "and W&B histories)", DeprecationWarning)
            if new in options and options[new] != value:
                raise TypeError(f"{where}: {key}= and {new}= name the same option; give {new}= only")
            key = new
        if key not in allowed:
            raise TypeError(f"{where}: unknown option {key!r}; expected some of {', '.join(sorted(allowed))}")
        out[key] = value
    return out


def _int(value, name, lo, hi):
    v = _validate.integer(value, name)
    if not lo <= v <= hi:
        raise ValueError(f"{name}: must lie in {lo}..{hi}, got {v}")
    return v


def checked(opts: dict) -> dict:
    """Validate the numeric options (step counts within +-MAX_STEPS, r_pt in [0, 1]) and column names."""
    out = dict(opts)
    for name in ("step_offset", "lr_shift"):
        if name in out:
            out[name] = _int(out[name], name, -MAX_STEPS, MAX_STEPS)
    if "min_step" in out:
        out["min_step"] = _int(out["min_step"], "min_step", -MAX_STEPS, MAX_STEPS)
    if out.get("pt_steps") is not None:
        out["pt_steps"] = _int(out["pt_steps"], "pt_steps", 1, MAX_STEPS)
    if out.get("r_pt") is not None:
        out["r_pt"] = _validate.real_scalar(out["r_pt"], "r_pt", lo=0.0, hi=1.0)
    for name in ("lr_column", "step_column", "group_column"):
        if out.get(name) is not None and not isinstance(out[name], str):
            raise TypeError(f"{name}: expected a column name (str), got {type(out[name]).__name__}")
    cols = out.get("loss_columns")
    if cols is not None:
        if isinstance(cols, str):
            cols = [cols]
        elif isinstance(cols, dict):
            bad = [k for k, v in cols.items() if not isinstance(k, str) or not (v is None or isinstance(v, str))]
            if bad:
                raise TypeError("loss_columns: a dict must map column names (str) to validation-set names (str)")
            cols = dict(cols)
        else:
            if not hasattr(cols, "__iter__") or getattr(cols, "ndim", 1) == 0:
                raise TypeError(f"loss_columns: expected a column name, a list of them or a dict, got "
                                f"{type(cols).__name__}")
            names = []
            for c in cols:  # one at a time: a huge array of non-names stops at the first
                if not isinstance(c, str):
                    raise TypeError("loss_columns: expected column names (str)")
                names.append(c)
            if not names:
                raise TypeError("loss_columns: expected column names (str)")
            cols = names
        out["loss_columns"] = cols
    return out


__all__ = ["COMMON", "DEPRECATED", "TABLE_ONLY", "WANDB_ONLY", "canonical", "checked"]


def __dir__():  # dir() and tab completion show the public names only
    return sorted(__all__)
