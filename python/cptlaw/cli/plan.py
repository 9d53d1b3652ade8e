"""``cptlaw plan`` and ``cptlaw grid``: the planner's questions from the command line.

Both read a fit of the two validation sets (``--params FIT.json``: ``cptlaw fit --json`` over
runs with ``loss_pt`` and ``loss_cpt``, or ``cptlaw demo``'s ``summary.json``) and the PT
schedule of the checkpoint CPT starts from (``--pt SPEC``, a schedule spec file, see
:func:`cptlaw.io.read_schedule`). ``plan`` answers with :mod:`cptlaw.planner` (loss potential,
critical point, turning length, optimal CPT peak LR / steps / ... per weight w); ``grid``
evaluates :func:`cptlaw.grid` over a Cartesian product of CPT schedules and prints the best
rows or writes them all to CSV.

The area options (lambda, S2 split, warmup-as-peak) are the fit's, so predictions use the
areas the laws were fitted on. Errors are one line naming the argument or file.
"""

from __future__ import annotations

import argparse
import math
import re

import numpy as np

from .. import io
from ..families import CPT_KEYS, DEPRECATED_KEYS, SEARCHABLE, SHAPES
from ..io import MAX_STEPS
from ._common import (
    UsageError,
    Warnings,
    bounds_pair,
    check_outputs,
    dumps,
    parse_values,
    whole_type,
    wrap,
)

__all__ = ["add_grid_parser", "add_plan_parser", "cmd_grid", "cmd_plan", "parse_values"]


def __dir__():  # dir() and tab completion show the public names only
    return sorted(__all__)


#: Most rows `cptlaw grid` evaluates (streamed), and most it writes with --csv (held in memory).
MAX_GRID_ROWS = 1_000_000_000
MAX_CSV_ROWS = 5_000_000
#: Most weights w `cptlaw plan` optimises for (one search each).
MAX_PLAN_WEIGHTS = 1_000


# ======================================================================================
# inputs: the two fits and the PT schedule
# ======================================================================================

_PT_NAME = re.compile(r"(^|[^a-z])(pt|d_pt|general)$", re.I)
_CPT_NAME = re.compile(r"(^|[^a-z])(cpt|d_cpt|domain)$", re.I)


def _guess(names, pattern, exact):
    if exact in names:
        return exact
    hits = [n for n in names if pattern.search(n)]
    return hits[0] if len(hits) == 1 else None


def _plannable(law_cls):
    """A law of the PT/CPT areas (and the replay ratio) with a CPT term: what plan and grid evaluate."""
    ins = set(law_cls.input_names)
    return "s1_cpt" in ins and ins <= {"s1_pt", "s2_pt", "s1_cpt", "s2_cpt", "r_pt"}


def _read_laws(args):
    """(law_pt, law_cpt, area options, info) from --params and --pt-valset / --cpt-valset."""
    path = args.params
    fits = io.read_fit(path)
    names = [k for k in fits]
    if len(names) < 2:
        one = "" if names == [None] else f" ({names[0]!r})"
        raise io.DataError(f"holds the fit of a single validation set{one}; `cptlaw plan` / `cptlaw grid` need "
                           "the D_pt and D_cpt fits (`cptlaw fit --json` over runs with loss_pt and loss_cpt, or "
                           "`cptlaw demo`'s summary.json)", path)
    shown = ", ".join(repr(n) for n in names)
    picked = {}
    for role, opt, given, pattern in (("pt", "--pt-valset", args.pt_valset, _PT_NAME),
                                      ("cpt", "--cpt-valset", args.cpt_valset, _CPT_NAME)):
        if given is not None:
            if given not in fits:
                raise UsageError(f"{opt} {given!r}: not among the validation sets of {path} ({shown})")
            picked[role] = given
        else:
            name = _guess(names, pattern, role)
            if name is None:
                raise UsageError(f"{opt}: cannot tell which validation set of {path} ({shown}) is the "
                             f"{'general (D_pt)' if role == 'pt' else 'domain (D_cpt)'} one; name it with {opt}")
            picked[role] = name
    if picked["pt"] == picked["cpt"]:
        raise UsageError(f"--pt-valset, --cpt-valset: both name {picked['pt']!r}; the D_pt and D_cpt laws must differ")
    laws, opts, domains = {}, {}, {}
    for role, vs in picked.items():
        res = fits[vs]
        law = res["law"]
        if not _plannable(type(law)):
            from ..laws import LAWS

            ok = [cls.__name__ for cls in LAWS if _plannable(cls)]
            raise io.DataError(f"validation set {vs!r}: {type(law).__name__} is not a CPT law of the PT/CPT areas; "
                               f"plan and grid need fits of {', '.join(ok[:-1])} or {ok[-1]}", path)
        laws[role] = law
        dom = res.get("domain") or {}
        opts[role] = dict(dom.get("area_options") or res.get("area_options") or {})
        domains[role] = dom
    if opts["pt"] != opts["cpt"]:
        raise io.DataError(f"the fits of {picked['pt']!r} and {picked['cpt']!r} use different area options "
                           f"({opts['pt']} vs {opts['cpt']}); fit both with the same", path)
    area = {"decay": 0.999, "split": "by_source", "warmup_as_peak": False}
    area.update(opts["pt"])
    replay = [r for r, law in laws.items() if "r_pt" in law.input_names]
    info = {"file": path, "valsets": dict(picked), "laws": {r: type(l).__name__ for r, l in laws.items()},
            "area_options": area, "domain": _domain(domains["pt"], domains["cpt"]), "replay_laws": bool(replay),
            "_fits": {role: fits[vs] for role, vs in picked.items()}}
    return laws["pt"], laws["cpt"], area, info


def _public(info):
    """The fit information as the JSON output shows it."""
    return {k: v for k, v in info.items() if k != "replay_laws" and not k.startswith("_")}


def _domain(a, b):
    """Peak LRs and steps the fits saw (None when the fit file does not say)."""
    if not a.get("peak_lr") or not b.get("peak_lr"):
        return None
    lo = min(a["peak_lr"][0], b["peak_lr"][0])
    hi = max(a["peak_lr"][1], b["peak_lr"][1])
    return {"peak_lr": [float(lo), float(hi)], "max_step": int(max(a["max_step"], b["max_step"]))}


def _read_pt(args):
    """The PT Schedule of --pt SPEC (its pt phase; --pt-run picks a run of a multi-run spec)."""
    from .. import schedules as S

    specs = io.read_schedule(args.pt)
    if args.pt_run is not None:
        if args.pt_run not in specs:
            names = ", ".join(repr(k) for k in specs if k is not None) or "none: it is a single schedule"
            raise UsageError(f"--pt-run {args.pt_run!r}: not among the runs of {args.pt} ({names})")
        ph = specs[args.pt_run]
    elif len(specs) > 1:
        raise UsageError(f"--pt {args.pt}: the spec holds several runs ({', '.join(map(repr, specs))}); pick one with "
                     "--pt-run")
    else:
        ph = next(iter(specs.values()))
    pt = ph.pt if isinstance(ph.pt, S.Schedule) else S.from_values(np.asarray(ph.pt, dtype=np.float64))
    if not pt.peak > 0:
        raise io.DataError("the PT schedule's learning rates are all 0", args.pt)
    return pt


def _pt_json(pt):
    return {"schedule": repr(pt), "steps": int(pt.steps), "peak_lr": float(pt.peak),
            "final_lr": float(pt.lr(pt.steps - 1))}


def _g(x, spec=".4g"):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return format(x, spec)


# ======================================================================================
# plan
# ======================================================================================

# The family parameters a search can vary (cptlaw.families), and the replay ratio.
_OPTIMIZE = tuple(SEARCHABLE) + ("r_pt",)
_OPT_ALIASES = {"lr": "peak_lr", "peak": "peak_lr", "cpt_steps": "steps", "rewarmup": "warmup",
                "final_lr": "min_lr_ratio", "replay": "r_pt", **DEPRECATED_KEYS}

PLAN_EPILOG = """\
The CPT schedule of the plan (planner.cpt_schedule, the schedule families of cptlaw.families):
a linear re-warmup of --warmup steps from --start-lr (default: the PT checkpoint's final LR, as
P1 does) to the peak LR, then --shape: cosine / linear / 1-sqrt decay over the remaining steps
to --min-lr-ratio x peak, wsd (stable, then a linear decay over round(--decay-frac x
(--cpt-steps - --warmup)) steps: the share of the steps after the re-warmup, as in `cptlaw
grid`), or constant.

--optimize: each quantity is optimised alone, per w, with the rest of the plan fixed; the peak
LR of the other optimisations is --peak-lr, else the optimal peak LR of that w (when peak_lr is
optimised too), else --max-lr. Bounds: peak_lr [--max-lr / 100, --max-lr]; steps --steps-bounds
(default [max(1, warmup), 10 x PT steps]); warmup [0, steps / 2]; decay_frac, min_lr_ratio,
r_pt (the replay ratio; replay laws only) [0, 1]. An optimum on a bound (bound low/high)
means the law wants to go further (the laws reward ever larger LRs and extra steps: see
docs/fitting.md#limits).

Extrapolation: the PT checkpoint (peak LR, length) and each plan's CPT schedule (peak LR,
length, the checkpoint's loss potential) are judged against the runs each law was fitted on
(cptlaw.extrapolation_checks), printed after the table, and in JSON as "extrapolation" {pt: [...],
cpt: [...]} (judged against the D_pt and the D_cpt fit) in each optimum (or result).
With --peak-lr and no --optimize: the losses of that fixed plan.

--json prints one object: pt_schedule {schedule, steps, peak_lr, final_lr}; fits {file,
valsets, laws, area_options, domain}; loss_potential; loss_at_transfer {pt, cpt};
critical_point {level, loss_at_transfer, pre_critical, margin, cpt_lr}; turning_length {steps,
finite, cpt_lr, max_loss, max_step, horizon}; plan (the fixed CPT plan); optimize (the
quantities); peak_lr_bounds; and results, one per w: {w, optima: {QUANTITY: {value, at_bound,
bound, bounds, loss_pt, loss_cpt, objective,
plan}}} (or {w, loss_pt, loss_cpt, objective} for a fixed plan). objective =
w*loss_pt + (1-w)*loss_cpt at the final CPT step. JSON has no infinity: an infinite turning
length is null (finite: false); NaN is null too.
"""


def add_plan_parser(sub, common):
    p = sub.add_parser(
        "plan", parents=[common], help="answer the CPT planning questions with the fitted D_pt and D_cpt laws",
        description=wrap("Loss potential, critical point and turning length of a PT checkpoint, and the optimal "
                          "CPT peak LR (and optionally steps, WSD decay fraction, re-warmup, final LR, replay ratio) "
                          "for weights w of w*L_Dpt + (1-w)*L_Dcpt, with the fitted laws of both validation sets."),
        epilog=wrap(PLAN_EPILOG), formatter_class=argparse.RawDescriptionHelpFormatter)
    _common_inputs(p)
    p.add_argument("--w", nargs="+", default=["0.5"], metavar="W",
                   help="weights of the D_pt loss in [0, 1] (several, or a list/range like 0.1:0.9:5; default 0.5)")
    p.add_argument("--cpt-steps", type=whole_type(1, MAX_STEPS), metavar="N",
                   help="CPT length (default: the PT length)")
    p.add_argument("--shape", choices=SHAPES, default="cosine", help="CPT schedule shape (default cosine)")
    p.add_argument("--warmup", type=whole_type(0, MAX_STEPS), default=0, metavar="N",
                   help="re-warmup steps (default 0)")
    p.add_argument("--start-lr", type=float, metavar="LR",
                   help="LR the re-warmup starts from (default: the PT checkpoint's final LR)")
    p.add_argument("--decay-frac", type=float, default=0.1, metavar="F",
                   help="wsd: share of the CPT steps after the re-warmup spent decaying (default 0.1)")
    p.add_argument("--min-lr-ratio", type=float, default=0.0, metavar="R",
                   help="final LR of the decay as a fraction of the peak (default 0)")
    p.add_argument("--max-lr", type=float, metavar="LR",
                   help="the largest CPT peak LR searched (default: the PT peak); the search spans LR/100 .. LR")
    p.add_argument("--peak-lr", type=float, metavar="LR",
                   help="fix the CPT peak LR (for --optimize steps etc., or to predict one plan)")
    p.add_argument("--optimize", metavar="Q[,Q...]",
                   help=f"what to optimise, comma-separated: {', '.join(_OPTIMIZE)} (default peak_lr; none with "
                        "--peak-lr)")
    p.add_argument("--steps-bounds", metavar="LOW:HIGH", help="bounds of --optimize steps")
    p.add_argument("--replay", type=float, default=0.0, metavar="R", help="replay ratio r_pt (replay laws only)")
    p.add_argument("--cpt-lr", type=float, metavar="LR",
                   help="LR of the endless constant CPT of the critical point and turning length (default: the "
                        "PT peak)")
    p.add_argument("--json", action="store_true", help="print one JSON object (see below)")
    p.set_defaults(func=cmd_plan)
    return p


def _common_inputs(p):
    p.add_argument("--params", required=True, metavar="FIT.json",
                   help="fits of both validation sets (`cptlaw fit --json` over runs with loss_pt and loss_cpt, or "
                        "`cptlaw demo`'s summary.json)")
    p.add_argument("--pt", required=True, metavar="SPEC",
                   help='the PT schedule: a spec file (JSON/YAML), e.g. {"kind": "wsd", "peak_lr": 3e-3, '
                        '"steps": 5000, "decay_steps": 500, "warmup": 200}; of a {"pt": ..., "cpt": ...} spec, its '
                        "pt phase")
    p.add_argument("--pt-run", metavar="NAME", help="with a spec of several runs, the run to use")
    p.add_argument("--pt-valset", metavar="NAME",
                   help="the validation set of the general (D_pt) loss (default: the one named 'pt')")
    p.add_argument("--cpt-valset", metavar="NAME",
                   help="the validation set of the domain (D_cpt) loss (default: the one named 'cpt')")


def _ws(tokens, what="--w"):
    out = []
    for t in tokens:
        out.extend(parse_values(t, what, "frac"))
    seen = list(dict.fromkeys(out))
    if len(seen) > MAX_PLAN_WEIGHTS:
        raise UsageError(f"{what}: {len(seen):,} weights; cptlaw plan optimises for at most {MAX_PLAN_WEIGHTS:,} (each "
                         "is a search of its own)")
    return seen


def _optimize_list(args):
    if args.optimize is None:
        return [] if args.peak_lr is not None else ["peak_lr"]
    out = []
    for item in args.optimize.split(","):
        key = item.strip().lower().replace("-", "_")
        if key == "none":
            continue
        key = _OPT_ALIASES.get(key, key)
        if key not in _OPTIMIZE:
            raise UsageError(f"--optimize: unknown quantity {item.strip()!r}; expected some of {', '.join(_OPTIMIZE)}")
        if key not in out:
            out.append(key)
    return out


def _bound_side(o):
    return o.bound


def _optimum_json(o):
    plan = {k: v for k, v in o.plan.items()}
    return {"value": o.value, "at_bound": o.at_bound, "bound": _bound_side(o), "bounds": list(o.bounds),
            "loss_pt": o.loss_pt, "loss_cpt": o.loss_cpt, "objective": o.objective, "plan": plan}


def _judge(info, checkpoint, lpot, plan, name):
    """Extrapolation checks of the PT checkpoint and a planned CPT schedule (``plan``: the keyword
    arguments of planner.cpt_schedule) against each fit's runs: {role: [check dicts]}."""
    from ..extrapolation import phase_checks

    # the largest CPT LR: the peak, or the LR a re-warmup starts from when that is higher
    peak = max(plan["peak_lr"], plan.get("start_lr", 0.0) if plan.get("warmup", 0) > 0 else 0.0)
    seen = {"pt": checkpoint, "cpt": {"peak_lr": float(peak), "steps": int(plan["steps"]),
                                      "loss_potential": float(lpot)}}
    return {role: [c.as_dict() for c in phase_checks(res, seen, name)] for role, res in info["_fits"].items()}


def _outside_warning(results):
    """One line: how many plans lie outside the fitted runs, and in what."""
    plans = [r["_checks"][q] for r in results if "optima" in r for q in r["optima"]] + \
            [r["_checks"] for r in results if "optima" not in r]
    what, bad = {}, 0
    for checks in plans:
        outside = {f"{c['phase'].upper()} {c['quantity']}" for cs in checks.values() for c in cs if not c["inside"]}
        bad += bool(outside)
        for q in outside:
            what[q] = what.get(q, 0) + 1
    if not bad:
        return None
    return (f"{bad} of {len(plans)} plans lie outside the runs the laws were fitted on ("
            + ", ".join(f"{q}: {k}" for q, k in what.items()) + "): the laws extrapolate there (see 'extrapolation')")


def _result_json(r):
    out = {k: v for k, v in r.items() if not k.startswith("_")}
    if "optima" in r:
        out["optima"] = {q: dict(_optimum_json(o), extrapolation=r["_checks"][q]) for q, o in r["optima"].items()}
    else:
        out["extrapolation"] = r["_checks"]
    return out


def cmd_plan(args):
    from .. import planner

    ws = _ws(args.w)
    quantities = _optimize_list(args)
    if args.peak_lr is not None and "peak_lr" in quantities:
        raise UsageError("--peak-lr: fixes the peak LR; drop it, or drop peak_lr from --optimize")
    for name in ("peak_lr", "max_lr", "cpt_lr", "start_lr"):
        v = getattr(args, name)
        if v is not None and not (math.isfinite(v) and (v > 0 if name in ("peak_lr", "max_lr") else v >= 0)):
            sign = "> 0" if name in ("peak_lr", "max_lr") else ">= 0"
            raise UsageError(f"--{name.replace('_', '-')}: must be a finite number {sign}, got {v:g}")
    for name in ("decay_frac", "min_lr_ratio", "replay"):
        v = getattr(args, name)
        if not 0 <= v <= 1:
            raise UsageError(f"--{name.replace('_', '-')}: must lie in [0, 1], got {v:g}")
    if args.warmup < 0:
        raise UsageError(f"--warmup: must be >= 0, got {args.warmup}")
    if "decay_frac" in quantities and args.shape != "wsd":
        raise UsageError("--optimize decay_frac: needs --shape wsd")
    steps_bounds = None
    if args.steps_bounds is not None:
        if "steps" not in quantities:
            raise UsageError("--steps-bounds: only used with --optimize steps")
        steps_bounds = bounds_pair(args.steps_bounds, "--steps-bounds", integer=True)
        if steps_bounds[0] < max(1, args.warmup):
            raise UsageError(f"--steps-bounds: LOW must be >= {max(1, args.warmup)} (1 and the re-warmup)")

    with Warnings() as warn:
        law_pt, law_cpt, area, info = _read_laws(args)
        if (args.replay or "r_pt" in quantities) and not info["replay_laws"]:
            what = "--replay" if args.replay else "--optimize r_pt"
            raise UsageError(f"{what}: the fitted laws take no replay ratio (fit the replay laws: "
                             "cptlaw fit --law replay)")
        pt = _read_pt(args)
        cpt_steps = pt.steps if args.cpt_steps is None else args.cpt_steps
        if cpt_steps < 1:
            raise UsageError(f"--cpt-steps: must be >= 1, got {cpt_steps}")
        if args.warmup > cpt_steps:
            raise UsageError(f"--warmup: must be <= the CPT steps ({cpt_steps}), got {args.warmup}")
        max_lr = pt.peak if args.max_lr is None else args.max_lr
        cpt_lr = pt.peak if args.cpt_lr is None else args.cpt_lr
        final_lr = float(pt.lr(pt.steps - 1))
        common = dict(r_pt=args.replay, **area)
        plan = {"shape": args.shape, "warmup": args.warmup,
                "start_lr": final_lr if args.start_lr is None else args.start_lr,
                "min_lr_ratio": args.min_lr_ratio}
        if args.shape == "wsd":
            plan["decay_frac"] = args.decay_frac

        lpot = planner.loss_potential(pt)
        cp = planner.critical_point(law_pt, pt, cpt_lr, **common)
        transfer_cpt = planner.critical_point(law_cpt, pt, cpt_lr, **common).loss_at_transfer
        tl = planner.turning_length(law_pt, pt, cpt_lr=cpt_lr, **common)

        results = []
        for w in ws:
            entry = {"w": w}
            if not quantities:
                ev = planner.evaluate(law_pt, law_cpt, pt, {"peak_lr": [args.peak_lr], "steps": [cpt_steps],
                                                            **{k: [v] for k, v in plan.items()}}, w=w, **common)
                entry.update(loss_pt=float(ev["loss_pt"][0]), loss_cpt=float(ev["loss_cpt"][0]),
                             objective=float(ev["objective"][0]))
                results.append(entry)
                continue
            optima = {}
            peak = args.peak_lr
            if "peak_lr" in quantities:
                o = planner.optimal_peak_lr(law_pt, law_cpt, w, pt, cpt_steps, bounds=(max_lr / 100.0, max_lr),
                                            **plan, **common)
                optima["peak_lr"] = o
                peak = o.value
            if peak is None:
                peak = max_lr
            for q in quantities:
                if q == "peak_lr":
                    continue
                fixed = dict(plan, peak_lr=peak, steps=cpt_steps)
                fixed.pop(q, None)
                bounds = steps_bounds if q == "steps" else None
                optima[q] = planner.optimize_cpt(law_pt, law_cpt, w, pt, q, bounds, **fixed, **common)
            entry["optima"] = optima
            results.append(entry)

        checkpoint = {"peak_lr": float(pt.peak), "steps": int(pt.steps)}
        for r in results:
            if "optima" in r:
                for q, o in r["optima"].items():
                    r.setdefault("_checks", {})[q] = _judge(info, checkpoint, lpot, o.plan, f"w={r['w']:g} {q}")
            else:
                r["_checks"] = _judge(info, checkpoint, lpot, dict(plan, peak_lr=args.peak_lr, steps=cpt_steps),
                                      f"w={r['w']:g}")
        line = _outside_warning(results)
        if line:
            warn.add(line)

    out = {
        "pt_schedule": _pt_json(pt),
        "fits": _public(info),
        "loss_potential": lpot,
        "loss_at_transfer": {"pt": cp.loss_at_transfer, "cpt": transfer_cpt},
        "critical_point": {"level": cp.level, "loss_at_transfer": cp.loss_at_transfer,
                           "pre_critical": cp.pre_critical, "margin": cp.margin, "cpt_lr": cp.cpt_lr},
        "turning_length": {"steps": None if math.isinf(tl.steps) else int(tl.steps), "finite": tl.finite,
                           "cpt_lr": cpt_lr, "max_loss": tl.max_loss, "max_step": tl.max_step,
                           "horizon": tl.horizon},
        "plan": dict(plan, steps=cpt_steps, **({"peak_lr": args.peak_lr} if args.peak_lr is not None else {}),
                     r_pt=args.replay),
        "optimize": quantities,
        "peak_lr_bounds": [max_lr / 100.0, max_lr] if "peak_lr" in quantities else None,
        "results": [_result_json(r) for r in results],
    }
    if args.json:
        print(dumps(out))
    else:
        _print_plan(out, results, quantities, cp, tl)
        _print_extrapolation(results)
    warn.print(args.quiet)
    return 0


def _brief(c):
    fmt = ".0f" if c["quantity"] == "length" else ".3g"
    if c["fitted"] is None:
        return f"{c['quantity']}: OUTSIDE (no fitted run has this phase)"
    lo, hi = c["fitted"]
    return (f"{c['quantity']} {format(c['value'], fmt)} [fitted {format(lo, fmt)}..{format(hi, fmt)}] "
            + ("inside" if c["inside"] else "OUTSIDE"))


def _print_extrapolation(results):
    """What was judged about extrapolation: the PT checkpoint once, then each plan's CPT schedule."""
    entries = []
    for r in results:
        if "optima" in r:
            entries += [(f"w {r['w']:.3g} {q}", r["_checks"][q]) for q in r["optima"]]
        else:
            entries.append((f"w {r['w']:.3g}", r["_checks"]))
    if not entries or not any(entries[0][1].values()):
        print("extrapolation: not judged (the fit file records no fitted domain)")
        return
    print()
    print("extrapolation judged against the fitted runs (the PT checkpoint, and each plan's CPT schedule):")
    roles = list(entries[0][1])
    same = all(checks[roles[0]] == checks[r] for _, checks in entries for r in roles)
    for i, (label, checks) in enumerate(entries):
        for role in (roles[:1] if same else roles):
            tag = "" if same else f" (D_{role} fit)"
            cs = checks[role]
            if i == 0:
                pt = [c for c in cs if c["phase"] == "pt"]
                print(f"  {'PT checkpoint' + tag:<24} " + "; ".join(_brief(c) for c in pt))
            cpt = [c for c in cs if c["phase"] == "cpt"]
            print(f"  {label + tag:<24} CPT " + "; ".join(_brief(c) for c in cpt))


def _print_plan(out, results, quantities, cp, tl):
    from ..planner import Optimum

    pt = out["pt_schedule"]
    fits = out["fits"]
    plan = out["plan"]
    area = fits["area_options"]
    print(f"fits        {fits['file']}: D_pt = {fits['valsets']['pt']!r} ({fits['laws']['pt']}), "
          f"D_cpt = {fits['valsets']['cpt']!r} ({fits['laws']['cpt']}); decay {area['decay']}, split "
          f"{area['split']}, warmup_as_peak {area['warmup_as_peak']}")
    print(f"PT schedule {pt['schedule']}: {pt['steps']} steps, peak LR {_g(pt['peak_lr'])}, final LR "
          f"{_g(pt['final_lr'])}")
    print(f"loss potential          {_g(out['loss_potential'])}  (final PT LR / peak PT LR)")
    print(f"loss at transfer        D_pt {_g(out['loss_at_transfer']['pt'], '.5f')}   "
          f"D_cpt {_g(out['loss_at_transfer']['cpt'], '.5f')}")
    print(f"critical point (D_pt)   {cp.describe('D_pt')}")
    print(f"turning length (D_pt)   {tl.describe('D_pt', out['turning_length']['cpt_lr'])}")
    print()
    desc = f"CPT plan: {plan['shape']}, {plan['steps']} steps"
    if plan["shape"] == "wsd":
        desc += f", decay fraction {_g(plan['decay_frac'])} (of the steps after the re-warmup)"
    desc += (f", re-warmup {plan['warmup']} steps from LR {_g(plan['start_lr'])}" if plan["warmup"]
             else ", no re-warmup")
    if plan["shape"] != "constant":
        desc += (f", decay to {_g(plan['min_lr_ratio'])} x peak" if plan["min_lr_ratio"] else ", decay to 0")
    if plan.get("r_pt"):
        desc += f", replay {_g(plan['r_pt'])}"
    if "peak_lr" in plan:
        desc += f", peak LR {_g(plan['peak_lr'])}"
    if out["peak_lr_bounds"]:
        lo, hi = out["peak_lr_bounds"]
        desc += f"; peak LR searched in [{_g(lo)}, {_g(hi)}]"
    print(desc)
    if not quantities:
        print(f"{'w':>6} {'L_Dpt':>9} {'L_Dcpt':>9} {'weighted':>9}")
        for r in results:
            print(f"{r['w']:>6.3g} {r['loss_pt']:>9.5f} {r['loss_cpt']:>9.5f} {r['objective']:>9.5f}")
        return
    print(Optimum.table((r["w"], r["optima"]) for r in results).text())
    if any(o.at_bound for r in results for o in r["optima"].values()):
        dom = fits["domain"]
        note = ("bound low/high: the optimum lies on that bound of the search; the law wants to go further (the "
                "laws reward ever larger LRs and extra steps: see docs/fitting.md#limits)")
        if dom:
            note += (f"; the laws were fitted on peak LRs {_g(dom['peak_lr'][0])}..{_g(dom['peak_lr'][1])} "
                     f"and up to {dom['max_step']} steps")
        print(f"note: {note}")


# ======================================================================================
# grid
# ======================================================================================

GRID_EPILOG = """\
Values: a list separated by commas, each item a number or a range start:stop:count (count
values from start to stop, both included): log-spaced for learning rates (--peak-lr,
--start-lr), linear for step counts (--steps, --warmup; rounded, repeats dropped) and for
fractions (--decay-frac, --min-lr-ratio, --w, --replay). E.g. --peak-lr 1e-5:2e-4:8,
--steps 10000,20000, --warmup 0:1000:5.

CPT schedules are cptlaw.grid's (Hugging Face formulas; the schedule families of
cptlaw.families, as in `cptlaw plan`): a re-warmup of --warmup steps from --start-lr (default
pt: the PT checkpoint's final LR, as P1 does; hf: HF's own warmup from 0, from the min LR for
wsd and 1-sqrt; or an LR) to the peak, then --shape: cosine / linear / 1-sqrt decay to
--min-lr-ratio x peak, wsd (stable, then a --decay-type decay over round(--decay-frac x (steps
- warmup)) steps: the share of the steps after the warmup), or constant. Losses are predicted at the last CPT step; loss = w*loss_pt + (1-w)*loss_cpt.

The best --best rows (default 10) by --objective (default: loss with --w, else loss_cpt) are
printed, overall or per group of --by columns (e.g. --by steps: the best peak LR for each CPT
length); with several --w values the best rows are per w. --csv OUT.csv writes every row of the
grid (columns as in cptlaw.grid, minus pt and step). A row of NaN losses is an impossible
combination (warmup > steps).

--json prints one object: pt_schedule, fits, rows_total, objective, by, best (K), columns, csv
(the path or null) and rows: [{row, rank, COLUMN: value, ...}] (row: the combination's number in
the full grid; NaN as null).
"""

# The CPT family keys (cptlaw.families) as grid columns; the command gives min LRs as ratios.
_GRID_COLUMNS = tuple(k for k in CPT_KEYS if k != "min_lr")


def add_grid_parser(sub, common):
    from ..families import DECAY_TYPES

    p = sub.add_parser(
        "grid", parents=[common], help="evaluate the fitted laws over a grid of CPT schedules",
        description=wrap("Predict the final D_pt and D_cpt losses of every combination of CPT schedule "
                          "parameters (cptlaw.grid) after the PT checkpoint; print the best rows or write them all "
                          "to CSV."),
        epilog=wrap(GRID_EPILOG), formatter_class=argparse.RawDescriptionHelpFormatter)
    _common_inputs(p)
    p.add_argument("--shape", default="cosine", metavar="S[,S...]",
                   help=f"CPT shapes among {', '.join(SHAPES)} (default cosine)")
    p.add_argument("--peak-lr", required=True, metavar="VALUES", help="CPT peak LRs, e.g. 1e-5:2e-4:8")
    p.add_argument("--steps", required=True, metavar="VALUES", help="CPT lengths, e.g. 10000,20000")
    p.add_argument("--warmup", default="0", metavar="VALUES", help="re-warmup steps (default 0)")
    p.add_argument("--start-lr", default="pt", metavar="VALUES",
                   help="LR the re-warmup starts from: pt (default), hf, or LRs")
    p.add_argument("--decay-frac", default="0.1", metavar="VALUES",
                   help="wsd: share of the steps after the warmup spent decaying (default 0.1)")
    p.add_argument("--decay-type", default="linear", metavar="T[,T...]",
                   help=f"wsd decay: {', '.join(DECAY_TYPES)} (default linear)")
    p.add_argument("--min-lr-ratio", default="0", metavar="VALUES",
                   help="final LR of the decay / peak LR (default 0)")
    p.add_argument("--w", metavar="VALUES", help="weights of the D_pt loss: adds loss = w*loss_pt + (1-w)*loss_cpt")
    p.add_argument("--replay", metavar="VALUES", help="replay ratios r_pt (replay laws only)")
    p.add_argument("--objective", choices=("loss", "loss_pt", "loss_cpt"),
                   help="the loss ranked (default: loss with --w, else loss_cpt)")
    p.add_argument("--best", type=whole_type(1, 100_000), default=10, metavar="K",
                   help="rows printed (per group; default 10)")
    p.add_argument("--by", metavar="COL[,COL...]",
                   help=f"best rows per group of these columns: {', '.join(_GRID_COLUMNS)}, w, replay "
                        "(or their cpt_ names)")
    p.add_argument("--csv", metavar="OUT.csv", help="write the full grid to this CSV file")
    p.add_argument("--json", action="store_true", help="print one JSON object (see below)")
    p.set_defaults(func=cmd_grid)
    return p


def _choices_arg(text, what, options):
    out = []
    for item in str(text).split(","):
        item = item.strip()
        if item not in options:
            raise UsageError(f"{what}: unknown value {item!r}; expected some of {', '.join(options)}")
        if item not in out:
            out.append(item)
    return out


def _start_lrs(text):
    out = []
    for item in str(text).split(","):
        item = item.strip()
        if item in ("pt", "hf"):
            if item not in out:
                out.append(item)
        else:
            out.extend(v for v in parse_values(item, "--start-lr", "lr0") if v not in out)
    return out


def cmd_grid(args):
    import pandas as pd

    from ..families import DECAY_TYPES
    from ..grid import grid as run_grid

    shapes = _choices_arg(args.shape, "--shape", SHAPES)
    cpt = {
        "shape": shapes,
        "peak_lr": parse_values(args.peak_lr, "--peak-lr", "lr"),
        "steps": parse_values(args.steps, "--steps", "steps"),
        "warmup": parse_values(args.warmup, "--warmup", "count"),
        "start_lr": _start_lrs(args.start_lr),
        "min_lr_ratio": parse_values(args.min_lr_ratio, "--min-lr-ratio", "frac"),
    }
    if "wsd" in shapes:
        cpt["decay_frac"] = parse_values(args.decay_frac, "--decay-frac", "frac")
        cpt["decay_type"] = _choices_arg(args.decay_type, "--decay-type", DECAY_TYPES)
    ws = None if args.w is None else parse_values(args.w, "--w", "frac")
    replay = None if args.replay is None else parse_values(args.replay, "--replay", "frac")
    objective = args.objective or ("loss" if ws is not None else "loss_cpt")
    if objective == "loss" and ws is None:
        raise UsageError("--objective loss: the weighted loss needs --w")
    rows = math.prod(len(v) for v in cpt.values()) * len(ws or [0]) * len(replay or [0])
    limit, what = (MAX_CSV_ROWS, "with --csv (every row is held in memory)") if args.csv else (MAX_GRID_ROWS, "")
    if rows > limit:
        raise UsageError(f"the grid has up to {rows:,} rows; cptlaw grid evaluates at most {limit:,} {what}".rstrip()
                         + "; use fewer values in the ranges")
    check_outputs({"--csv": args.csv}, {"--params": args.params, "--pt": args.pt})

    # the columns cptlaw.grid will have (for --by)
    cols = ["cpt_shape", "cpt_peak_lr", "cpt_steps", "cpt_warmup"]
    if any(v > 0 for v in cpt["warmup"]):
        cols.append("cpt_start_lr")
    if "wsd" in shapes:
        cols += ["cpt_decay_type", "cpt_decay_frac"]
    if any(s != "constant" for s in shapes):
        cols.append("cpt_min_lr_ratio")

    with Warnings() as warn:
        law_pt, law_cpt, area, info = _read_laws(args)
        if info["replay_laws"]:
            cols.append("replay")
        elif replay is not None:
            raise UsageError("--replay: the fitted laws take no replay ratio (fit the replay laws: "
                             "cptlaw fit --law replay)")
        if ws is not None:
            cols.append("w")
        by = []
        for item in (args.by.split(",") if args.by else []):
            name = item.strip()
            full = name if name in ("w", "replay") or name.startswith("cpt_") else f"cpt_{name}"
            if full not in cols:
                raise UsageError(f"--by: no column {name!r} in this grid; expected some of "
                                 f"{', '.join(c.removeprefix('cpt_') for c in cols)}")
            if full not in by:
                by.append(full)
        if ws is not None and len(ws) > 1 and "w" not in by:
            by.append("w")
        pt = _read_pt(args)
        kw = dict(laws={"pt": law_pt, "cpt": law_cpt}, cpt=cpt, pt={"pt": pt}, w=ws, replay=replay,
                  decay=area["decay"], split=area["split"], warmup_as_peak=area["warmup_as_peak"])
        if args.csv:
            df = run_grid(**kw).drop(columns=["pt", "step"])
            rows_total = len(df)
            df.to_csv(args.csv)
            best = _best_of(df, objective, args.best, by)
        else:
            best = run_grid(**kw, reduce="min", objective=objective, k=args.best, group_by=by or None)
            rows_total = int(best.attrs["rows_total"])
            best = best.drop(columns=["pt", "step"])
            best.insert(0, "rank", best.groupby(by, sort=False, observed=True).cumcount().to_numpy() + 1 if by
                        else np.arange(1, len(best) + 1))
    columns = [c for c in best.columns if c != "rank"]
    rows = []
    for idx, rec in zip(best.index, best.to_dict("records")):
        r = {"row": int(idx)}
        for k, v in rec.items():
            if isinstance(v, (np.integer,)):
                v = int(v)
            elif isinstance(v, (float, np.floating)):
                v = float(v)
            elif v is not None and not isinstance(v, str) and pd.isna(v):
                v = None
            r[k] = v
        rows.append(r)
    out = {"pt_schedule": _pt_json(pt), "fits": _public(info),
           "rows_total": rows_total, "objective": objective, "by": by, "best": args.best, "columns": columns,
           "csv": args.csv, "rows": rows}
    if args.json:
        print(dumps(out))
    else:
        _print_grid(out, cpt)
    warn.print(args.quiet)
    return 0


def _best_of(df, objective, k, by):
    """The k smallest finite rows of ``objective`` (per group), ties to the earlier row, as cptlaw.grid."""
    ok = df[np.isfinite(df[objective].to_numpy())]
    ranked = ok.sort_values(objective, kind="stable")
    if by:
        ranked = ranked.groupby(by, sort=False, observed=True).head(k)
        ranked = ranked.sort_values(by, kind="stable", na_position="last")
        rank = ranked.groupby(by, sort=False, observed=True).cumcount() + 1
    else:
        ranked = ranked.head(k)
        rank = np.arange(1, len(ranked) + 1)
    ranked = ranked.copy()
    ranked.insert(0, "rank", rank)
    return ranked


_LOSS_COLS = ("loss_pt", "loss_cpt", "loss")


def _print_grid(out, cpt):
    pt = out["pt_schedule"]
    fits = out["fits"]
    obj = out["objective"]
    what = {"loss": "w*L_Dpt + (1-w)*L_Dcpt", "loss_pt": "the D_pt loss", "loss_cpt": "the D_cpt loss"}[obj]
    print(f"fits        {fits['file']}: D_pt = {fits['valsets']['pt']!r}, D_cpt = {fits['valsets']['cpt']!r}")
    print(f"PT schedule {pt['schedule']}: {pt['steps']} steps, peak LR {_g(pt['peak_lr'])}, final LR "
          f"{_g(pt['final_lr'])}")
    per = f" per {', '.join(c.removeprefix('cpt_') for c in out['by'])}" if out["by"] else ""
    print(f"best {out['best']}{per} of {out['rows_total']} rows by {obj} ({what} at the last CPT step)"
          + (f"; all rows written to {out['csv']}" if out["csv"] else ""))
    rows = out["rows"]
    if not rows:
        print("(no row with finite losses: is every warmup longer than the steps?)")
        return
    cols = ["rank"] + [c for c in out["columns"]]
    heads = {c: c.removeprefix("cpt_") for c in cols}
    cells = []
    for r in rows:
        line = []
        for c in cols:
            v = r.get(c)
            if v is None or (isinstance(v, float) and not math.isfinite(v)):
                s = "-"
            elif isinstance(v, str):
                s = v
            elif isinstance(v, int):
                s = str(v)
            elif c in _LOSS_COLS:
                s = f"{v:.5f}"
            else:
                s = f"{v:.4g}"
            line.append(s)
        cells.append(line)
    widths = [max(len(heads[c]), *(len(line[i]) for line in cells)) for i, c in enumerate(cols)]
    print("  ".join(heads[c].rjust(wd) for c, wd in zip(cols, widths)))
    for line in cells:
        print("  ".join(s.rjust(wd) for s, wd in zip(line, widths)))
    # the best row on the edge of a searched range: the law may want to go further
    top = min(rows, key=lambda r: (r[obj] if r[obj] is not None else math.inf))
    edges = []
    for key, col in (("peak_lr", "cpt_peak_lr"), ("steps", "cpt_steps"), ("warmup", "cpt_warmup"),
                     ("decay_frac", "cpt_decay_frac"), ("min_lr_ratio", "cpt_min_lr_ratio")):
        vals = [v for v in cpt.get(key, []) if isinstance(v, (int, float))]
        if len(vals) > 1 and col in top and top[col] is not None and top[col] in (min(vals), max(vals)):
            edges.append(f"{key} {_g(top[col])} ({'lowest' if top[col] == min(vals) else 'highest'} of the grid)")
    if edges:
        print(f"note: the best row lies on the edge of the grid: {', '.join(edges)}; the law may want to go further")
