"""``cptlaw compare``: which law predicts the user's own runs best (:func:`cptlaw.compare` on runs
read as ``cptlaw fit`` reads them), as a table of held-out errors, the joint fits' statistics and
the recommendation line."""

from __future__ import annotations

import argparse
import math

from .. import io
from ..laws import law_class, law_names
from ._common import UsageError, Warnings, check_outputs, dumps, wrap
from .fit import _families, _law_key, fittable_laws
from .runs_input import add_run_arguments, area_options, input_paths, read_input_runs, valsets_of

#: --group-by values that are not column names
GROUPINGS = ("run", "checkpoint")

COMPARE_EPILOG = """\
Folds: --group-by run (default) holds out each run with a CPT phase in turn; --group-by
checkpoint holds out together the CPT runs that start from the same PT checkpoint (identical PT
learning rates), asking whether a law fitted on runs from one checkpoint carries over to
another; --group-by COLUMN does the same with the groups a column of long-format CSV files
gives (e.g. source). PT runs always stay in the fit set.

Each law is fitted on the other runs and predicts the held-out ones; the held-out MAE of a run
is the mean absolute error of its predicted loss over its CPT-phase observations (nats, as the
loss is logged). A law's score per validation set is the mean over folds. The law with the
lowest score averaged over the validation sets is recommended; within 10% the two are a tie,
and the one with fewer parameters (then the lower BIC) is preferred. The joint fit of each law
on all runs is reported beside (objective, R^2, AIC, BIC in-sample; curves' residuals are
correlated, so AIC/BIC overrate extra parameters: the recommendation rests on held-out error).

--json prints cptlaw.compare's result as JSON: recommendation, best, notes, scores, group_by,
folds {fold: [runs]}, rows [{law, valset, fold, run, n_points, mae, status, message,
extrapolation}] and summary [{law, valset, n_params, k, objective, r2, aic, bic, n_points,
status, score, folds, folds_failed}] (NaN as null).
"""


def _laws_arg(text):
    """--laws a,b -> law classes (names from the law registry; families such as replay refused)."""
    names = [s.strip() for s in str(text).split(",") if s.strip()]
    if not names:
        raise UsageError("--laws: expected law names separated by commas, e.g. cpt,cpt_shared_c")
    concrete = [n for n in fittable_laws() if n in law_names()]
    out = []
    classes = {law_class(n).__name__: n for n in law_names()}
    for name in names:
        key = classes.get(name, _law_key(name))  # a short name or a class name (CPTLaw)
        if key in _families(law_names()):
            raise UsageError(f"--laws: {key} is a family ({key}_pt for D_pt, {key}_cpt for D_cpt); compare fits one "
                             f"law on every validation set: name {key}_pt or {key}_cpt (with --valset)")
        if key not in concrete:
            if key in law_names():
                raise UsageError(f"--laws: {key} ({law_class(key).__name__}) needs inputs that runs read from files "
                                 f"do not provide; expected some of {', '.join(concrete)}")
            raise UsageError(f"--laws: unknown law {name!r}; expected some of {', '.join(concrete)}")
        cls = law_class(key)
        if cls in out:
            raise UsageError(f"--laws: {key} given twice")
        out.append(cls)
    return out


def _grouping(args):
    """(group_by for cptlaw.compare, CSV column to read the groups from or None)."""
    g = args.group_by
    if g is None or g == "run":
        return None, None
    if g == "checkpoint":
        return "checkpoint", None
    if not g.strip():
        raise UsageError("--group-by: expected run, checkpoint or a column name")
    return "group", g.strip()


def cmd_compare(args):
    from ..compare import compare

    laws = _laws_arg(args.laws)
    group_by, column = _grouping(args)
    area = area_options(args)
    check_outputs({"-o/--output": args.output}, input_paths(args))
    with Warnings() as w:
        if column is not None:
            jsons = [f for f in args.files if f.lower().endswith((".json", ".jsonl"))]
            if jsons:
                raise UsageError(f"--group-by {column}: names a column of CSV files, but {jsons[0]} is a W&B history; "
                                 "use --group-by checkpoint or run")
        runs, dropped = read_input_runs(args, group_column=column)
        valsets = valsets_of(runs, args.valset)
        if column is not None:
            missing = [r.name for r in runs if r.has_cpt and r.group is None]
            if missing:
                raise io.DataError(f"--group-by {column}: run {missing[0]!r} has a CPT phase but no value in the "
                                   f"column {column!r}")
        res = compare(laws, runs, valsets=valsets, group_by=group_by, **area, objective=args.objective,
                      delta=args.delta, nan_policy="omit")
    doc = res.to_dict()
    if args.output:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(dumps(doc) + "\n")
    if args.json:
        print(dumps(doc))
    else:
        print_compare(res, laws, runs, valsets, area, args, column, dropped)
        if args.output:
            print(f"wrote {args.output}")
    w.print(args.quiet)
    return 0


def _cell(x):
    return "-" if x is None or not math.isfinite(x) else f"{x:.4f}"


def _vs_name(vs):
    return "loss" if vs is None else vs


def print_compare(res, laws, runs, valsets, area, args, column, dropped):
    names = [c.__name__ for c in laws]
    held = [r for r in runs if r.has_cpt]
    how = {None: "leave one run out", "checkpoint": "leave one PT checkpoint out (runs with identical PT LRs)",
           "group": f"leave one group out (groups from the column {column!r})"}[res.group_by if res.group_by !=
                                                                                 "run" else None]
    print(f"compare {', '.join(names)} on {len(runs)} runs ({len(held)} with a CPT phase, held out): {how}, "
          f"{len(res.folds)} folds")
    print(f"  decay {area['decay']}, split {area['split']}, warmup_as_peak {area['warmup_as_peak']}; objective "
          f"{args.objective}")
    if dropped:
        print(f"  (left out {dropped} PT-phase points of CPT runs that repeat a PT run among the inputs; "
              "--keep-duplicates keeps them)")
    print()
    print("held-out MAE (nats): mean |predicted - observed| over each held-out run's CPT-phase observations")
    rows = {(r["law"], r["valset"], r["fold"], r["run"]): r for r in res.rows}
    width = [max(len(n), 7) for n in names]  # each cell: "  " + value + a mark column
    grouped = res.group_by not in (None, "run")
    label_w = max([len(r.name) for r in held] + [len(str(f)) for f in res.folds] + [24]) + (2 if grouped else 0)
    span = sum(w + 3 for w in width)
    head1 = " " * (label_w + 2) + "".join(f"{('validation set ' + _vs_name(vs)):^{span}}" for vs in valsets)
    head2 = f"  {'fold / run' if grouped else 'run':<{label_w}}" + "".join(
        "".join(f"  {n:>{w}} " for n, w in zip(names, width)) for _ in valsets)
    print(head1.rstrip())
    print(head2.rstrip())
    flagged, notes = {}, []
    for fold, members in res.folds.items():
        if grouped:
            print(f"  {fold}")
        for run in members:
            cells = []
            for vs in valsets:
                for n, w in zip(names, width):
                    r = rows.get((n, vs, fold, run))
                    if r is None:
                        cells.append(f"  {'':>{w}} ")
                        continue
                    if r["status"] != "ok":
                        notes.append(f"{n}, {_vs_name(vs)}, {run}: {r['status']}: {r['message']}")
                    text = _cell(r["mae"]) if r["status"] in ("ok", "not_converged") else r["status"]
                    mark = " "
                    if r["extrapolation"]:
                        for q in r["extrapolation"].split("; "):
                            flagged[q] = flagged.get(q, 0) + 1
                        mark = "*"
                    cells.append(f"  {text:>{w}}{mark}")
            label = ("  " if grouped else "") + run
            print((f"  {label:<{label_w}}" + "".join(cells)).rstrip())
    summ = {(s["law"], s["valset"]): s for s in res.summary_rows}
    print((f"  {'score (mean over folds)':<{label_w}}" + "".join(
        "".join(f"  {_cell(summ[(n, vs)]['score']):>{w}} " for n, w in zip(names, width)) for vs in valsets)).rstrip())
    if flagged:
        what = ", ".join(f"{q} ({k})" for q, k in flagged.items())
        print(f"  *: the held-out run lies outside the fold's fitted runs (the law extrapolates): {what} cells")
    for note in notes:
        print(f"  {' '.join(note.split())}")
    print()
    print("joint fit on all runs (in-sample)")
    law_w = max(len(n) for n in names)
    print(f"  {'law':<{law_w}}  {'valset':<8} {'k':>3} {'points':>7} {'objective':>10} {'R^2':>8} {'AIC':>10} "
          f"{'BIC':>10}  status")
    for s in res.summary_rows:
        print(f"  {s['law']:<{law_w}}  {_vs_name(s['valset']):<8} {s['k']:>3} {s['n_points']:>7} "
              f"{_g(s['objective'], '.4g'):>10} {_g(s['r2'], '.5f'):>8} {_g(s['aic'], '.1f'):>10} "
              f"{_g(s['bic'], '.1f'):>10}  {s['status']}")
    print()
    print(f"recommendation: {res.recommendation}")
    for note in res.notes:
        print(f"note: {note}")


def _g(x, spec):
    return "-" if x is None or not math.isfinite(x) else format(x, spec)


def add_compare_parser(sub, common):
    choices = [n for n in fittable_laws() if n in law_names()]
    c = sub.add_parser(
        "compare", parents=[common], help="cross-validate laws on your runs and recommend one",
        description=wrap("Which law predicts your CPT runs best: each law in --laws is fitted on all runs but the "
                         "held-out ones and predicts those (per validation set), runs read as `cptlaw fit` reads "
                         "them. Prints the held-out MAE per law, run and validation set, the joint fit's "
                         "objective, R^2, AIC and BIC, and a one-line recommendation."),
        epilog=wrap(COMPARE_EPILOG), formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("--laws", required=True, metavar="NAME[,NAME...]",
                   help=f"laws to compare, separated by commas, among {', '.join(choices)} ('-' for '_' and class "
                        "names such as CPTLaw accepted)")
    c.add_argument("--group-by", metavar="run|checkpoint|COLUMN",
                   help="the folds: run (default: leave one CPT run out), checkpoint (leave out the CPT runs of one "
                        "PT checkpoint together) or a column of the CSV files giving each run's group (e.g. source)")
    c.add_argument("--json", action="store_true", help="print the result as JSON (see below)")
    c.add_argument("-o", "--output", metavar="OUT.json", help="also write the JSON result to this file")
    add_run_arguments(c, "compare on this validation set only (default: each one)")
    c.set_defaults(func=cmd_compare)
    return c


__all__ = ["GROUPINGS", "add_compare_parser", "cmd_compare", "print_compare"]


def __dir__():  # dir() and tab completion show the public names only
    return sorted(__all__)
