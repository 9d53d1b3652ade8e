"""Runs read from the command line's files: the options ``cptlaw fit`` and ``cptlaw compare``
share (readers, area options, objective), parsed and applied in one place."""

from __future__ import annotations

import numpy as np

from .. import io
from ..io import MAX_STEPS
from ._common import UsageError, number_type, whole_type


def add_run_arguments(p, valset_help):
    """FILE... and the options that say how to read runs and compute their areas."""
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--valset", help=valset_help)
    p.add_argument("--schedule", metavar="SPEC", help="schedule spec (JSON/YAML) giving the per-step LRs")
    p.add_argument("--decay", type=number_type(0.0, 1.0), default=0.999,
                   help="momentum factor lambda of S2 (default 0.999)")
    p.add_argument("--split", choices=("by_source", "by_time", "restart"), default="by_source",
                   help="how S2 is split at the transfer (default by_source)")
    p.add_argument("--warmup-as-peak", action="store_true",
                   help="count the PT warmup (the steps before the first peak) at the peak LR (P2's convention)")
    p.add_argument("--warmup-steps", type=whole_type(0, MAX_STEPS), metavar="N",
                   help="like --warmup-as-peak, for the first N steps")
    p.add_argument("--min-step", type=whole_type(-MAX_STEPS, MAX_STEPS), default=1,
                   help="ignore observations before this step (default 1)")
    p.add_argument("--step-offset", type=whole_type(-MAX_STEPS, MAX_STEPS), default=0,
                   help="added to every logged step to get the updates done (1 if steps are 0-based indices)")
    p.add_argument("--lr-shift", type=whole_type(-MAX_STEPS, MAX_STEPS), default=0,
                   help="the LR logged at step s is that of update s + LR_SHIFT (1 if logged after scheduler.step())")
    p.add_argument("--pt-steps", type=whole_type(1, MAX_STEPS),
                   help="updates of the PT phase, for files without a phase column")
    p.add_argument("--loss-column", action="append", metavar="NAME", help="loss column / W&B key (repeatable)")
    p.add_argument("--lr-column", metavar="NAME", help="learning-rate column / W&B key")
    p.add_argument("--step-column", metavar="NAME", help="step column / W&B key")
    p.add_argument("--replay", type=number_type(0.0, 1.0), default=None,
                   help="replay ratio r_pt of runs without an r_pt column")
    p.add_argument("--base", metavar="FILE", help="W&B history of the run a resumed run started from")
    p.add_argument("--objective", choices=("huber_log", "log_least_squares", "least_squares"), default="huber_log")
    p.add_argument("--delta", type=number_type(0.0, strict_lo=True), default=1e-3,
                   help="Huber threshold on log residuals (default 1e-3)")
    p.add_argument("--keep-duplicates", action="store_true",
                   help="keep the PT points of CPT runs that repeat a PT run among the inputs")


def area_options(args) -> dict:
    """``decay``, ``split``, ``warmup_as_peak`` from --decay, --split, --warmup-as-peak / --warmup-steps."""
    wap = bool(args.warmup_as_peak)
    if args.warmup_steps is not None:
        if args.warmup_as_peak:
            raise UsageError("--warmup-as-peak and --warmup-steps: give one of them")
        wap = args.warmup_steps
    return {"decay": args.decay, "split": args.split, "warmup_as_peak": wap}


def input_paths(args) -> dict:
    """The input files by option (for the outputs-never-overwrite-inputs check)."""
    return {"FILE": args.files, "--schedule": args.schedule, "--base": args.base}


def read_input_runs(args, group_column=None):
    """``(runs, dropped)``: the runs of FILE... (with --schedule and the reader options), the PT
    points of CPT runs that repeat a PT run among the inputs left out unless --keep-duplicates
    (``dropped`` of them). ``group_column``: a CSV column giving each run's group."""
    schedule = io.read_schedule(args.schedule) if args.schedule else None
    runs = io.read_runs(
        args.files, schedule=schedule, loss_columns=args.loss_column or None, step_column=args.step_column,
        lr_column=args.lr_column, step_offset=args.step_offset, lr_shift=args.lr_shift, pt_steps=args.pt_steps,
        r_pt=args.replay, min_step=args.min_step, base=args.base,
        **({"group_column": group_column} if group_column is not None else {}),
    )
    if schedule is not None:
        names = {r.name for r in runs}
        unknown = [k for k in schedule if k is not None and k not in names]
        if unknown:
            raise UsageError(f"--schedule: run {unknown[0]!r} of the spec is not among the inputs "
                             f"({', '.join(sorted(names))})")
    dropped = 0
    if not args.keep_duplicates:
        runs, dropped = io.drop_shared_history(runs)
    return runs, dropped


def literal_warmup_note(runs, args, results):
    """A note when a fit ends with an annealing coefficient at its bound while PT learning rates
    warm up from below half their peak, counted as given (neither --warmup-as-peak nor
    --warmup-steps chosen): S2 turns negative after such a warmup, which the laws read as a loss
    offset, a likely cause. (Many runs fit well either way: only the symptom triggers it.)"""
    if args.warmup_as_peak or args.warmup_steps is not None:
        return None
    stuck = sorted({p for res in results for p in (res.get("at_bound") or ()) if p in ("C", "C1", "C2")})
    if not stuck:
        return None
    warm = []
    for r in runs:
        lr = np.asarray(r._lr_pt, dtype=float)
        top = int(np.argmax(lr)) if lr.size else 0
        if top >= 2 and lr[0] < 0.5 * lr[top]:
            warm.append((r.name, top, lr[0] / lr[top]))
    if not warm:
        return None
    name, top, start = warm[0]
    which = f"run {name!r}" if len(warm) == 1 else f"{len(warm)} runs (e.g. {name!r})"
    return (f"{', '.join(stuck)} ended at a bound, and the PT learning rates of {which} warm up (from "
            f"{start:.0%} of the peak over {top} steps), counted as given: S2 turns negative after such a warmup, "
            "which the law reads as a loss offset; try --warmup-as-peak (the warmup counted at the peak LR, "
            "P2's convention) and keep the better fit (--warmup-steps 0 keeps the count as given and drops "
            "this note)")


def valsets_of(runs, wanted):
    """The validation sets the runs share (all must have the same), or ``[wanted]`` (--valset)."""
    first = runs[0]
    keys = list(first.loss) if isinstance(first.loss, dict) else [None]
    for r in runs[1:]:
        k = list(r.loss) if isinstance(r.loss, dict) else [None]
        if set(k) != set(keys):
            def show(ks):
                return ", ".join("loss" if x is None else x for x in ks)
            raise UsageError(f"runs {first.name!r} and {r.name!r} have different validation sets "
                             f"({show(keys)} vs {show(k)}); pick one with --valset or --loss-column")
    if wanted is not None:
        if keys == [None]:
            raise UsageError(f"--valset {wanted!r}: the runs have a single loss column (drop --valset)")
        if wanted not in keys:
            raise UsageError(f"--valset {wanted!r}: not among the runs' validation sets ({', '.join(keys)})")
        return [wanted]
    return keys


__all__ = ["add_run_arguments", "area_options", "input_paths", "literal_warmup_note", "read_input_runs",
           "valsets_of"]


def __dir__():  # dir() and tab completion show the public names only
    return sorted(__all__)
