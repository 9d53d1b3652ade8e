"""Reading training runs and schedules from files: CSV logs, Weights & Biases history
exports, pandas DataFrames, schedule specs (JSON/YAML) and fit results.

Everything returns :class:`cptlaw.Run` objects (per-step learning rates plus observed
losses), ready for :func:`cptlaw.fit_runs` / :func:`cptlaw.predict_run`.

Step conventions
----------------
``step`` counts the optimizer updates done before the loss on that row was measured
(``cptlaw.Run``'s ``steps``), and ``lr`` on that row is the learning rate of update number
``step`` (the last update before the evaluation; updates are numbered from 1). Logs that
count differently are shifted with ``step_offset`` (added to every step: a log whose
``step`` is the 0-based index of the last update needs ``step_offset=1``) and ``lr_shift``
(the logged LR belongs to update ``step + lr_shift``: loops that log after
``scheduler.step()`` log the LR of the *next* update, ``lr_shift=1``). Rows with ``step < 1``
(after the offset) give no observation (the areas are 0 there).

Learning rates
--------------
The laws need the LR of *every* update. When the file logs it at every update, it is used
as is. When it is logged only every k updates, give the schedule (``schedule=``, a spec
read by :func:`read_schedule`) to rebuild it exactly, or the LRs are interpolated linearly
between the logged points, within each phase (PT, CPT) separately, holding the first /
last logged value at the phase's ends, with an :class:`InterpolatedLRWarning`.

Bad input raises :class:`DataError`, a ``ValueError`` whose message starts with
``file:line:column:`` (for DataFrames, the row label and column name). Inputs longer than
:data:`MAX_STEPS` updates are refused up front.

The readers take the same options, spelled the same way (``loss_columns``, ``lr_column``,
``step_column``, ``step_offset``, ``lr_shift``, ``pt_steps``, ``r_pt``, ``min_step``).

The package's modules, one job each: ``_located`` (located errors, JSON/YAML with positions),
``schedule_spec`` (schedule specs), ``lr_file`` (per-step LR files), ``tables`` (CSV tables and
DataFrames with cell positions), ``assemble`` (runs from table rows), ``csv_runs``, ``wandb``,
``sources`` (:func:`read_runs`), ``run_edit`` (:func:`select`, :func:`drop_shared_history`),
``options`` (the readers' shared option names) and ``fitfile`` (the fit file, written and read).
"""

from __future__ import annotations

from ._limits import MAX_STEPS
from ._located import DataError, DataWarning, InterpolatedLRWarning
from .csv_runs import read_csv_runs, runs_from_dataframe
from .fitfile import law_class  # noqa: F401  (cptlaw.io.law_class, as before; cptlaw.laws.law_class is its home)
from .fitfile import read_fit
from .lr_file import read_lr_file
from .run_edit import drop_shared_history, select
from .schedule_spec import PhaseSchedules, read_schedule, schedule_from_spec
from .sources import read_runs
from .wandb import read_wandb_history

__all__ = [
    "MAX_STEPS",
    "DataError",
    "DataWarning",
    "InterpolatedLRWarning",
    "PhaseSchedules",
    "drop_shared_history",
    "read_csv_runs",
    "read_fit",
    "read_lr_file",
    "read_runs",
    "read_schedule",
    "read_wandb_history",
    "runs_from_dataframe",
    "schedule_from_spec",
    "select",
]


def __dir__():  # dir() and tab completion show the public names only
    return sorted(__all__)
