"""Runs from whatever holds them: one file, several files (CSV or W&B, by extension) or a DataFrame."""

from __future__ import annotations

import os

from ._located import DataError
from .csv_runs import read_csv_runs, run_name_from_path, runs_from_dataframe
from .options import COMMON, TABLE_ONLY, canonical, checked
from .wandb import read_wandb_history

_JSON = (".json", ".jsonl")


def _is_dataframe(x):
    return hasattr(x, "columns") and hasattr(x, "to_dict") and hasattr(x, "index")


def _as_paths(paths):
    if isinstance(paths, (str, bytes, os.PathLike)):
        return [os.fsdecode(paths)]
    if not hasattr(paths, "__iter__") or hasattr(paths, "shape"):  # an array is no list of paths
        raise TypeError(f"paths: expected a path, a list of paths or a pandas DataFrame, got "
                        f"{type(paths).__name__}")
    out = []
    for i, p in enumerate(paths):  # one at a time: a huge iterable of non-paths stops at the first
        if not isinstance(p, (str, bytes, os.PathLike)):
            raise TypeError(f"paths[{i}]: expected a path (str or os.PathLike), got {type(p).__name__}")
        out.append(os.fsdecode(p))
    return out


def read_runs(paths, *, schedule=None, **options) -> list:
    """Runs from one file, several files, or a pandas DataFrame.

    ``paths``: a path, a list of paths (``.csv``/``.tsv``/``.txt`` read by
    :func:`read_csv_runs`, ``.json``/``.jsonl`` by :func:`read_wandb_history`; the other inputs
    are searched for the base of resumed W&B runs), or a DataFrame (:func:`runs_from_dataframe`).
    Runs are named after their files (or the ``run`` column / W&B name); names that repeat
    (e.g. ``A_cpt_cos/curve.csv``, ``A_pt_const/curve.csv``) get their folder prefixed.

    ``options``: those of the readers, spelled the same for every format: ``loss_columns``,
    ``lr_column``, ``step_column``, ``step_offset``, ``lr_shift``, ``pt_steps``, ``r_pt``,
    ``min_step``; ``base`` (W&B histories only), ``group_column`` (CSV files and DataFrames
    only: a column giving each run's :attr:`cptlaw.Run.group`) and ``name`` (a single input
    only). An unknown option is a ``TypeError``.
    """
    opts = checked(canonical(options, set(COMMON) | set(TABLE_ONLY) | {"base", "name"}, "read_runs"))
    name = opts.pop("name", None)
    base = opts.pop("base", None)
    group_column = opts.pop("group_column", None)
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name: expected a run name (str), got {type(name).__name__}")
    if _is_dataframe(paths):
        if base is not None:
            raise ValueError("base: names the base of a resumed W&B run; a DataFrame has none")
        return runs_from_dataframe(paths, schedule=schedule, name=name or "run", group_column=group_column, **opts)
    paths = _as_paths(paths)
    if not paths:
        raise DataError("paths: no input files")
    if name is not None and len(paths) > 1:
        raise ValueError(f"name: names one run, but {len(paths)} files are given (runs are named after their files)")
    if base is not None and not any(p.lower().endswith(_JSON) for p in paths):
        raise ValueError("base: names the base of a resumed W&B run, but no input is a W&B history (.json/.jsonl)")
    if group_column is not None:
        hist = [p for p in paths if p.lower().endswith(_JSON)]
        if hist:
            raise ValueError(f"group_column: names a column of CSV files, but {hist[0]} is a W&B history (give "
                             "its runs' groups another way, e.g. cptlaw.Run.group)")
    stems = [run_name_from_path(p) for p in paths]
    parents = [os.path.basename(os.path.dirname(os.path.abspath(p))) for p in paths]
    out = []
    for p, stem, parent in zip(paths, stems, parents):
        run_name = name or stem
        if stems.count(stem) > 1:  # e.g. A_pt_const/curve.csv, A_cpt_cos/curve.csv: name them by folder
            run_name = parent if parent and parents.count(parent) == 1 else f"{parent}/{stem}"
        if p.lower().endswith(_JSON):
            run = read_wandb_history(p, schedule=schedule, name=name, search=paths, base=base, **opts)
            if stems.count(stem) > 1 or not run.name:
                run.name = run_name
            out.append(run)
        else:
            out.extend(read_csv_runs(p, schedule=schedule, name=run_name, group_column=group_column, **opts))
    seen: dict = {}
    for r in out:
        if r.name in seen:
            seen[r.name] += 1
            r.name = f"{r.name}#{seen[r.name]}"
        else:
            seen[r.name] = 1
    return out


__all__ = ["read_runs"]


def __dir__():  # dir() and tab completion show the public names only
    return sorted(__all__)
