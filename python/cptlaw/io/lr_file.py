"""Per-step learning rates from a file: a NumPy ``.npy`` array or a text/CSV column."""

from __future__ import annotations

import os

import numpy as np

from .. import _validate
from ._limits import MAX_STEPS, steps_text
from ._located import DataError, file_path
from .schedule_spec import PhaseSchedules
from .tables import read_text_table

_LR_NAMES = ("lr", "learning_rate", "train_lr", "train/lr")


def read_lr_file(path: str | os.PathLike[str], *, pt_steps: int | None = None) -> PhaseSchedules:
    """Per-step learning rates from a file: ``.npy`` (1-D), or a text/CSV file with one LR per
    line or an ``lr`` column (and optionally a ``phase`` column, pt/cpt, splitting the
    schedule). ``pt_steps`` splits a single schedule into PT (the first ``pt_steps`` updates)
    and CPT. Row k is the LR of update k+1. Files of more than ``cptlaw.io.MAX_STEPS``
    updates are refused."""
    path = file_path(path)
    if pt_steps is not None:
        pt_steps = _validate.integer(pt_steps, "pt_steps", lo=1)
    if path.lower().endswith(".npy"):
        lr = _read_npy(path)
        phase = None
    else:
        table = read_text_table(path, header_optional=True)
        if table.n > MAX_STEPS:
            raise DataError(f"{table.n:,} learning rates; cptlaw reads at most {steps_text()} updates", path)
        lr_col = table.find(_LR_NAMES) or (table.names[0] if len(table.names) == 1 else None)
        if lr_col is None:
            raise DataError(f"no learning-rate column: expected 'lr' among {', '.join(table.names)}", path, 1, 1)
        lr = np.array([table.number(i, lr_col, lo=0.0) for i in range(table.n)], dtype=np.float64)
        bad = np.flatnonzero(np.isnan(lr))
        if bad.size:
            raise table.error(bad[0], lr_col, "missing learning rate (every update needs one in an LR file)")
        pcol = table.find(("phase",))
        phase = None if pcol is None else [table.phase(i, pcol) for i in range(table.n)]
    if lr.size == 0:
        raise DataError("no learning rates in the file", path)
    if phase is not None:
        ph = np.array(phase)
        n_pt = int(np.sum(ph == "pt"))
        if not np.all(ph[:n_pt] == "pt") or not np.all(ph[n_pt:] == "cpt"):
            raise DataError("the phase column must list all pt rows before the cpt rows", path)
        if pt_steps is not None and pt_steps != n_pt:
            raise DataError(f"--pt-steps {pt_steps} disagrees with the file's {n_pt} pt rows", path)
        pt_steps = n_pt
    if pt_steps is not None:
        if not 1 <= pt_steps <= lr.size:
            raise DataError(f"pt_steps {pt_steps} is outside 1..{lr.size} (the file's updates)", path)
        return PhaseSchedules(lr[:pt_steps], lr[pt_steps:] if pt_steps < lr.size else None)
    return PhaseSchedules(lr)


def _read_npy(path):
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)  # the header first: no huge allocation
    except FileNotFoundError:
        raise DataError("file not found", path) from None
    except IsADirectoryError:
        raise DataError("is a directory, expected a file", path) from None
    except Exception as exc:  # any malformed header or body
        raise DataError(f"cannot read as a NumPy .npy file ({' '.join(str(exc).split())})", path) from None
    if not isinstance(arr, np.ndarray) or arr.ndim != 1 or arr.dtype.kind not in "iuf":
        shape = getattr(arr, "shape", "?")
        raise DataError(f"expected a 1-D numeric array, got shape {shape} dtype {getattr(arr, 'dtype', '?')}", path)
    if arr.size > MAX_STEPS:
        raise DataError(f"{arr.size:,} learning rates; cptlaw reads at most {steps_text()} updates", path)
    try:
        lr = np.array(arr, dtype=np.float64)
    except Exception as exc:
        raise DataError(f"cannot read as a NumPy .npy file ({' '.join(str(exc).split())})", path) from None
    bad = np.flatnonzero(~np.isfinite(lr) | (lr < 0))
    if bad.size:
        raise DataError(f"learning rate at index {bad[0]} is {lr[bad[0]]!r}, expected a finite number >= 0", path)
    return lr


__all__ = ["read_lr_file"]


def __dir__():  # dir() and tab completion show the public names only
    return sorted(__all__)
