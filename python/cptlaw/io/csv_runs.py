"""Runs from CSV files and pandas DataFrames (one-run ``step,lr,loss`` or the long format)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ._located import file_path
from .assemble import build_runs, parse_table
from .options import checked
from .tables import dataframe_table, read_text_table

if TYPE_CHECKING:
    from ..runs import Run


def read_csv_runs(path: str | os.PathLike[str], *, schedule: Any = None, name: str | None = None, loss_columns: Any = None,
                  step_column: str | None = None, lr_column: str | None = None, step_offset: int = 0, lr_shift: int = 0,
                  pt_steps: int | None = None, r_pt: float | None = None, min_step: int = 1,
                  group_column: str | None = None) -> list[Run]:
    """Runs from a CSV file (``,`` ``;`` or tab separated, with a header).

    Formats:

    * ``step,lr,loss``: one run (named ``name`` or after the file);
    * long format: ``run`` (optional: one run without it), ``phase`` (``pt``/``cpt``),
      ``step`` (or ``global_step``), ``lr``, and one or more loss columns, e.g.
      ``loss_pt, loss_cpt`` (validation sets ``"pt"``, ``"cpt"``). Optional ``r_pt`` /
      ``replay`` (replay ratio, constant per run) and ``source`` (the PT run a CPT run
      continues, when its file has only CPT rows). ``step`` may restart at 0 in the CPT
      phase (it then counts within the phase). Cells may be empty (LR and losses logged at
      different steps).

    ``group_column`` names a column whose value (one per run; rows may leave it empty) becomes
    the run's :attr:`cptlaw.Run.group`, e.g. ``source`` (the checkpoint a run starts from),
    which :func:`cptlaw.compare` can hold out group by group.

    Loss columns are found by name (``loss``, ``loss_<set>``, ``val_loss``,
    ``val/loss_<set>``...) unless ``loss_columns`` lists them (or maps them to set names).
    ``lr`` may be missing when ``schedule`` (from :func:`read_schedule`, a
    :class:`PhaseSchedules`, or a dict by run name) gives it; if both are there, they are
    compared and a :class:`DataWarning` says where they disagree. Duplicated steps: the
    last row wins. See the module docs for ``step_offset``, ``lr_shift``; ``pt_steps`` puts
    the transfer after that many updates when the file has no phase column. Observations
    before ``min_step`` are dropped. Steps beyond ``cptlaw.io.MAX_STEPS`` are refused.
    """
    opts = _options(loss_columns, step_column, lr_column, step_offset, lr_shift, pt_steps, r_pt, min_step,
                    group_column)
    table = read_text_table(file_path(path))
    default = name or run_name_from_path(path)
    return _runs(table, default, schedule, opts)


def runs_from_dataframe(df: Any, *, schedule: Any = None, name: str = "run", loss_columns: Any = None,
                        step_column: str | None = None, lr_column: str | None = None, step_offset: int = 0,
                        lr_shift: int = 0, pt_steps: int | None = None, r_pt: float | None = None,
                        min_step: int = 1, group_column: str | None = None) -> list[Run]:
    """Runs from a pandas DataFrame with the columns of :func:`read_csv_runs` (long or
    one-run format; the index is ignored). Errors name the row label and column."""
    opts = _options(loss_columns, step_column, lr_column, step_offset, lr_shift, pt_steps, r_pt, min_step,
                    group_column)
    return _runs(dataframe_table(df), name, schedule, opts)


def _options(loss_columns, step_column, lr_column, step_offset, lr_shift, pt_steps, r_pt, min_step, group_column):
    return checked(dict(loss_columns=loss_columns, step_column=step_column, lr_column=lr_column,
                        step_offset=step_offset, lr_shift=lr_shift, pt_steps=pt_steps, r_pt=r_pt, min_step=min_step,
                        group_column=group_column))


def _runs(table, name, schedule, o):
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name: expected a run name (str), got {type(name).__name__}")
    parsed, _, has_lr = parse_table(table, step_column=o["step_column"], lr_column=o["lr_column"],
                                    loss_columns=o["loss_columns"], step_offset=o["step_offset"], run_name=name,
                                    group_column=o["group_column"])
    return build_runs(parsed, has_lr=has_lr, schedule=schedule, lr_shift=o["lr_shift"], pt_steps=o["pt_steps"],
                      r_pt=o["r_pt"], min_step=o["min_step"])


def run_name_from_path(path) -> str:
    """A run's default name: its file name without the extension."""
    return os.path.splitext(os.path.basename(str(path)))[0]


__all__ = ["read_csv_runs", "run_name_from_path", "runs_from_dataframe"]


def __dir__():  # dir() and tab completion show the public names only
    return sorted(__all__)
