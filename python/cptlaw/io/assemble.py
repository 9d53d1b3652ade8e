"""Runs assembled from table rows: which columns hold steps, LRs and losses; per-step learning
rates from the logged ones (or a schedule); CPT runs joined to the PT run they continue.

Shared by the CSV, DataFrame and W&B readers (see :mod:`cptlaw.io` for the step conventions).
"""

from __future__ import annotations

import math
import re

import numpy as np

from ..runs import Run
from ..schedules import Schedule
from ._located import DataError, InterpolatedLRWarning, warn
from .schedule_spec import PhaseSchedules

_STEP_COLS = ("global_step", "trainer/global_step", "train/global_step", "step", "iter", "iteration", "_step")
LR_COLUMNS = ("lr", "learning_rate", "train_lr", "train/lr", "train/learning_rate", "lr-adamw", "lr_0")
_RUN_COLS = ("run", "run_name", "run_id")
_SOURCE_COLS = ("source", "source_run", "source_pt_run")
_REPLAY_COLS = ("r_pt", "replay")
VAL_LOSS = re.compile(r"^(?:val|eval|valid|validation)[_/\-]?loss(?:[_/\-](?P<name>.+))?$", re.I)
_LOSS = re.compile(r"^loss(?:[_/\-](?P<name>.+))?$", re.I)


def loss_columns_of(names, loss_columns, path):
    """Map loss columns to validation-set names (None: the only one)."""
    if loss_columns is not None:
        if isinstance(loss_columns, str):
            loss_columns = [loss_columns]
        if isinstance(loss_columns, dict):
            mapping = dict(loss_columns)
        else:
            mapping = {}
            for c in loss_columns:
                m = VAL_LOSS.match(c) or _LOSS.match(c)
                mapping[c] = (m.group("name") if m else None) or c
            if len(mapping) == 1:
                mapping = {c: None for c in mapping}
        low = {n.lower(): n for n in names}
        out = {}
        for c, v in mapping.items():
            if c.lower() not in low:
                raise DataError(f"no loss column {c!r}; the columns are {', '.join(names)}", path, 1, 1)
            out[low[c.lower()]] = v
        return out
    val = [(n, VAL_LOSS.match(n)) for n in names]
    val = [(n, m.group("name")) for n, m in val if m]
    plain = [(n, m.group("name")) for n, m in ((n, _LOSS.match(n)) for n in names) if m]
    chosen = val or plain
    if not chosen:
        raise DataError(f"no loss column: expected 'loss', 'loss_<set>' or 'val_loss' among {', '.join(names)}",
                        path, 1, 1)
    named = [(n, v) for n, v in chosen if v]
    if len(chosen) == 1:
        n, v = chosen[0]
        return {n: v}
    if named and len(named) < len(chosen):
        # e.g. "loss" (training) next to "loss_pt", "loss_cpt": use the named sets only
        chosen = named
    names_ = [v or n for n, v in chosen]
    if len(set(names_)) < len(names_):
        return {n: n for n, _ in chosen}
    return {n: v or n for n, v in chosen}


class _RunRows:
    """The rows of one run, parsed."""

    def __init__(self, name):
        self.name = name
        self.steps = []  # after offset
        self.rows = []  # table row index
        self.phase = []  # "pt"/"cpt"/None
        self.lr = []
        self.loss = []  # dict per row
        self.r_pt = math.nan
        self.source = None
        self.group = None
        self.table = None


def parse_table(table, *, step_column=None, lr_column=None, loss_columns=None, step_offset=0, run_name=None,
                group_column=None):
    names = table.names
    group_col = None
    if group_column is not None:  # a label per run (cptlaw.Run.group), e.g. the checkpoint it starts from
        group_col = table.find((group_column.lower(),))
        if group_col is None:
            raise DataError(f"no group column {group_column!r}; the columns are {', '.join(names)}", table.path, 1, 1)
    step_col = None
    if step_column is not None:
        step_col = table.find((step_column.lower(),))
        if step_col is None:
            raise DataError(f"no step column {step_column!r}; the columns are {', '.join(names)}", table.path, 1, 1)
    else:
        step_col = table.find(_STEP_COLS)
        if step_col is None:
            raise DataError(f"no step column: expected one of {', '.join(_STEP_COLS[:6])} among {', '.join(names)}",
                            table.path, 1, 1)
    if lr_column is not None:
        lr_col = table.find((lr_column.lower(),))
        if lr_col is None:
            raise DataError(f"no learning-rate column {lr_column!r}; the columns are {', '.join(names)}",
                            table.path, 1, 1)
    else:
        lr_col = table.find(LR_COLUMNS)
    losses = loss_columns_of([n for n in names if n not in (step_col, lr_col, group_col)], loss_columns, table.path)
    run_col = table.find(_RUN_COLS)
    phase_col = table.find(("phase",))
    source_col = table.find(_SOURCE_COLS)
    replay_col = table.find(_REPLAY_COLS)
    runs = {}
    for i in range(table.n):
        name = table.text(i, run_col) if run_col else (run_name or "run")
        if run_col and not name:
            raise table.error(i, run_col, "empty run name")
        r = runs.get(name)
        if r is None:
            r = runs[name] = _RunRows(name)
            r.table = table
        r.steps.append(table.step(i, step_col, step_offset))
        r.rows.append(i)
        r.phase.append(table.phase(i, phase_col) if phase_col else None)
        r.lr.append(table.number(i, lr_col, lo=0.0) if lr_col else math.nan)
        r.loss.append({v: table.number(i, c, lo=0.0) for c, v in losses.items()})
        for v, c in zip(r.loss[-1].values(), losses):
            if v == 0.0:
                raise table.error(i, c, "loss must be > 0")
        if replay_col:
            x = table.number(i, replay_col, lo=0.0)
            if not math.isnan(x):
                if x > 1:
                    raise table.error(i, replay_col, f"replay ratio must lie in [0, 1], got {x:g}")
                if not math.isnan(r.r_pt) and x != r.r_pt:
                    raise table.error(i, replay_col, f"replay ratio changes within run {name!r} ({r.r_pt:g} -> {x:g})")
                r.r_pt = x
        if source_col:
            src = table.text(i, source_col)
            if src:
                if r.source is not None and src != r.source:
                    raise table.error(i, source_col, f"source run changes within run {name!r}")
                r.source = src
        if group_col:
            g = table.text(i, group_col)
            if g:
                if r.group is not None and g != r.group:
                    raise table.error(i, group_col, f"group changes within run {name!r} ({r.group!r} -> {g!r})")
                r.group = g
    return list(runs.values()), list(losses.values()), lr_col is not None


def _lr_from_points(points, lo, hi):
    """Per-step LRs for updates lo..hi (1-based, inclusive) from {update: lr}; None if no point."""
    n = hi - lo + 1
    if n <= 0:
        return np.zeros(0), False
    us = np.array(sorted(u for u in points if lo <= u <= hi), dtype=np.int64)
    if us.size == 0:
        return None, False
    vals = np.array([points[u] for u in us])
    if us.size == n:
        return vals, False
    grid = np.arange(lo, hi + 1)
    return np.interp(grid, us, vals), True


def build_runs(parsed, *, has_lr, schedule=None, lr_shift=0, pt_steps=None, r_pt=None, min_step=1,
                check_lr=True):
    """Turn parsed rows into Runs (resolving CPT runs whose PT history is another run)."""
    built = {}
    pending = []
    for r in parsed:
        sched = _schedule_for(schedule, r.name)
        steps = np.array(r.steps, dtype=np.int64)
        phase = np.array([p or "" for p in r.phase])
        has_phase = any(p for p in r.phase)
        t_pt = None
        if sched is not None and sched.cpt is not None:
            t_pt = sched.pt_steps
        elif pt_steps is not None:
            t_pt = int(pt_steps)
        if has_phase:
            is_pt, is_cpt = phase == "pt", phase == "cpt"
            if is_cpt.any():
                if not is_pt.any():
                    pending.append((r, steps, sched))
                    continue
                last_pt = int(steps[is_pt].max())
                if t_pt is None:
                    t_pt = last_pt
                if int(steps[is_cpt].min()) < last_pt:  # CPT steps restart: they count within the phase
                    steps = np.where(is_cpt, steps + t_pt, steps)
        built[r.name] = _finish_run(r, steps, t_pt, sched, has_lr, lr_shift, r_pt, min_step, check_lr)
    for r, steps, sched in pending:
        src_name = r.source
        if src_name is None:
            pt_only = [n for n, b in built.items() if b[1] is None]
            if len(pt_only) != 1:
                i = r.rows[0]
                raise r.table.error(i, "phase", f"run {r.name!r} has only cpt rows: name the PT run it continues in "
                                    "a 'source' column (or give its PT rows)")
            src_name = pt_only[0]
        if src_name not in built:
            raise r.table.error(r.rows[0], "source", f"source run {src_name!r} of run {r.name!r} not found in the file")
        src_run, src_tpt = built[src_name]
        lr_src = np.asarray(src_run.lr_pt, dtype=np.float64)
        t_pt = len(lr_src) if src_tpt is None else src_tpt
        if int(steps.min()) < t_pt:  # steps count within the CPT phase
            steps = steps + t_pt
        built[r.name] = _finish_run(r, steps, t_pt, sched, has_lr, lr_shift, r_pt, min_step, check_lr,
                                    pt_lr=lr_src[:t_pt])
    return [built[r.name][0] for r in parsed if r.name in built]


def _schedule_for(schedule, name):
    where = "schedule"
    if isinstance(schedule, dict):
        if "kind" in schedule:
            raise TypeError("schedule: a schedule spec; build it with cptlaw.io.schedule_from_spec(spec)")
        where = f"schedule[{name!r}]"
        schedule = schedule[name] if name in schedule else schedule.get(None)
    if schedule is None or isinstance(schedule, PhaseSchedules):
        return schedule
    if isinstance(schedule, Schedule):
        return PhaseSchedules(schedule)
    try:
        lr = np.asarray(schedule, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{where}: expected a Schedule, PhaseSchedules or per-step learning rates, "
                        f"got {type(schedule).__name__}") from None
    if lr.ndim != 1 or lr.size == 0:
        raise ValueError(f"{where}: expected per-step learning rates (1-D, not empty), got shape {lr.shape}")
    return PhaseSchedules(lr)


def _finish_run(r, steps, t_pt, sched, has_lr, lr_shift, r_pt, min_step, check_lr, pt_lr=None):
    table = r.table
    order = np.argsort(steps, kind="stable")
    # observations: last occurrence of each step wins, per validation set
    obs = {}
    for k in order:
        s = int(steps[k])
        for v, x in r.loss[k].items():
            if not math.isnan(x):
                obs.setdefault(s, {})[v] = x
    valsets = list(r.loss[0].keys()) if r.loss else [None]
    keep = sorted(s for s in obs if s >= max(1, min_step))
    if not keep:
        raise (table.error(r.rows[0], None, f"run {r.name!r} has no loss observation at step >= {max(1, min_step)}")
               if table is not None else DataError(f"run {r.name!r} has no loss observations"))
    t_total = int(steps.max())
    if sched is not None:
        lr_pt, lr_cpt = sched.lr()
        if t_pt is not None and sched.cpt is None and t_pt < len(lr_pt):
            lr_pt, lr_cpt = lr_pt[:t_pt], lr_pt[t_pt:]
        total = len(lr_pt) + (0 if lr_cpt is None else len(lr_cpt))
        if keep[-1] > total:
            k = int(np.flatnonzero(steps == keep[-1])[-1])
            raise table.error(r.rows[k], None, f"run {r.name!r}: step {keep[-1]} is beyond the schedule's "
                              f"{total} steps")
        if has_lr and check_lr:
            full = np.concatenate([lr_pt] + ([] if lr_cpt is None else [lr_cpt]))
            worst, where = 0.0, None
            for k in range(len(steps)):
                u = int(steps[k]) + lr_shift
                x = r.lr[k]
                if 1 <= u <= total and not math.isnan(x):
                    d = abs(full[u - 1] - x)
                    if d > worst:
                        worst, where = d, k
            if where is not None and worst > 1e-6 * max(float(full.max()), 1e-300):
                line = table.lines[r.rows[where]] if table is not None and table.lines else None
                warn(f"{table.path if table else ''}{':' + str(line) if line else ''}: run {r.name!r}: the logged "
                      f"lr {r.lr[where]:.6g} at step {int(steps[where])} differs from the schedule's "
                      f"{full[int(steps[where]) + lr_shift - 1]:.6g} (check the schedule spec or --lr-shift)")
    else:
        if not has_lr and pt_lr is None:
            raise DataError(f"run {r.name!r}: no learning-rate column (lr); give the schedule instead (--schedule)",
                            table.path if table else None, 1, 1)
        points = {}
        for k in order:
            x = r.lr[k]
            u = int(steps[k]) + lr_shift
            if not math.isnan(x) and 1 <= u <= t_total:
                points[u] = x
        if pt_lr is not None and t_total <= t_pt:
            raise DataError(f"run {r.name!r}: its cpt rows end at step {t_total}, within the PT phase of its "
                            f"source run ({t_pt} updates)", table.path if table else None)
        if t_pt is None or t_pt >= t_total:
            segments = [("the run", 1, t_total)]
        else:
            segments = ([("PT", 1, t_pt)] if pt_lr is None else []) + [("CPT", t_pt + 1, t_total)]
        parts, interp = [], []
        for label, lo, hi in segments:
            arr, was_interp = _lr_from_points(points, lo, hi)
            if arr is None:
                raise DataError(f"run {r.name!r}: no learning rate logged in {label if label != 'the run' else 'it'} "
                                f"(updates {lo}..{hi}); give the schedule (--schedule)",
                                table.path if table else None)
            parts.append(arr)
            if was_interp:
                got = sum(1 for u in points if lo <= u <= hi)
                interp.append(f"{got} of {hi - lo + 1} {'' if label == 'the run' else label + ' '}updates")
        if interp:
            warn(f"{table.path if table else ''}: run {r.name!r}: learning rate logged at only "
                  f"{'; '.join(interp)}; per-step LRs interpolated linearly between the logged values, "
                  f"the first/last value held before/after them (give the schedule with --schedule / schedule= "
                  f"for exact areas)", InterpolatedLRWarning)
        if pt_lr is not None:
            lr_pt, lr_cpt = pt_lr, parts[0]
        elif t_pt is None or t_pt >= t_total:
            lr_pt, lr_cpt = parts[0], None
        else:
            lr_pt, lr_cpt = parts[0], parts[1]
    keep_arr = np.array(keep, dtype=np.int64)
    if valsets == [None]:
        loss = np.array([obs[s].get(None, math.nan) for s in keep])
    else:
        loss = {v: np.array([obs[s].get(v, math.nan) for s in keep]) for v in valsets}
    rp = r.r_pt if not math.isnan(r.r_pt) else (0.0 if r_pt is None else float(r_pt))
    run = Run(lr_pt=lr_pt, steps=keep_arr, loss=loss, lr_cpt=lr_cpt if lr_cpt is None or len(lr_cpt) else None,
              r_pt=rp, name=r.name, group=r.group)
    return run, (None if lr_cpt is None else len(lr_pt))


__all__ = ["build_runs", "loss_columns_of", "parse_table"]


def __dir__():  # dir() and tab completion show the public names only
    return sorted(__all__)
