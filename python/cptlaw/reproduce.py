"""Recompute P1's qualitative findings from its published parameter tables.

``cptlaw reproduce p1 [--json]`` (or ``python -m cptlaw.reproduce p1 --json``) evaluates the
CPT law with P1's fitted D_pt and D_cpt parameter sets (:ref:`published-parameters`, Fig. 3: 106M model,
FineWeb -> Knowledge-Pile) in P1's setting (WSD PT, then cosine or WSD CPT, peak LR 2e-4) and
prints four findings: the effect of the PT checkpoint's loss potential, of the CPT peak LR, the
turning length for several PT lengths, and the optimal CPT peak LR for weights w = 0.1..0.9.

Nothing is fitted here: the numbers are what the formulas give with the published parameters,
in the setting pinned in :data:`P1_SETTING` (P1 does not state every detail; the choices are
documented in the output). Each finding carries a ``trend_holds`` flag computed from the
numbers, and ``notes`` says where the formulas do not give the paper's picture cleanly.

JSON has no infinity: an infinite turning length is written as ``null`` (and ``finite: false``).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Optional, Sequence

import numpy as np

from . import _warnings, planner
from . import schedules as S
from .laws import CPTLaw

__all__ = ["P1_PARAMS", "P1_SETTING", "main", "p1_laws", "reproduce_p1"]


def __dir__():  # dir() and tab completion show the public names only
    return sorted(__all__)


#: P1 Fig. 3 (:ref:`published-parameters`): 106M model, FineWeb (D_pt) -> Knowledge-Pile (D_cpt).
P1_PARAMS = {
    "D_pt": {"L0": 3.057, "A": 0.490, "alpha": 0.497, "C1": 0.299, "C2": 0.298, "B": 0.366, "E": 28.0,
             "beta": 0.189},
    "D_cpt": {"L0": 3.024, "A": 0.412, "alpha": 0.677, "C1": 0.278, "C2": 0.324, "B": -0.666, "E": 5662.0,
              "beta": 0.146},
}

#: The setting the findings are computed in (P1 leaves some of it unstated; these are our picks).
P1_SETTING = {
    "peak_lr": 2e-4,
    "pt_steps": 50_000,
    "pt_warmup": 500,
    "pt_decay_fraction": 0.1,
    "pt_decay": "linear",
    "cpt_rewarmup": 500,
    "cpt_wsd_decay_frac": 0.1,
    "cpt_wsd_decay": "linear",
    "decay": 0.999,
    "split": "by_source",
    "cpt_steps": [20_000, 40_000],
    "loss_potentials": [0.0, 0.1, 0.3, 0.5, 1.0],
    "peak_lrs": [2.5e-5, 5e-5, 7.5e-5, 1e-4, 1.25e-4, 1.5e-4, 1.75e-4, 2e-4],
    "turning_pt_steps": [2_000, 5_000, 10_000, 20_000, 50_000],
    "weights": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
    "optimal_peak_lr_bounds": [2e-6, 2e-4],
}

_SHAPES = ("cosine", "wsd")


def p1_laws():
    """``(law_pt, law_cpt)``: :class:`cptlaw.CPTLaw` with P1's Fig. 3 parameters."""
    return CPTLaw(**P1_PARAMS["D_pt"]), CPTLaw(**P1_PARAMS["D_cpt"])


def _pt(steps: int, lp: float, setting: dict) -> S.Schedule:
    """WSD PT: linear warmup, stable at the peak, decay over the last 10% to exactly lp * peak
    at the last PT step (:func:`cptlaw.planner.wsd_pt_family`)."""
    d = max(1, int(round(setting["pt_decay_fraction"] * steps)))
    return planner.wsd_pt_family(setting["peak_lr"], steps, d, _warmup(steps, setting), setting["pt_decay"])(lp)


def _warmup(steps: int, setting: dict) -> int:
    return min(setting["pt_warmup"], steps // 10)


def _cpt(pt: S.Schedule, peak: float, steps: int, shape: str, setting: dict) -> S.Schedule:
    return planner.cpt_schedule(peak, steps, shape, warmup=setting["cpt_rewarmup"], start_lr=pt.lr(pt.steps - 1),
                                decay_frac=setting["cpt_wsd_decay_frac"],
                                decay_type=setting["cpt_wsd_decay"])


def _final(law_pt, law_cpt, pt, cpts, setting):
    """Final D_pt and D_cpt losses of CPT schedules after ``pt``."""
    ev = planner.evaluate(law_pt, law_cpt, pt, cpts, decay=setting["decay"], split=setting["split"],
                          warmup_as_peak=_warmup(pt.steps, setting))
    return ev["loss_pt"], ev["loss_cpt"], ev["transfer_pt"][0], ev["transfer_cpt"][0]


def _r(x, nd=5):
    return [round(float(v), nd) for v in x]


def _monotone(values, direction: str) -> bool:
    d = np.diff(np.asarray(values, dtype=float))
    return bool(np.all(d < 0)) if direction == "down" else bool(np.all(d > 0)) if direction == "up" else \
        bool(np.all(d <= 0))


def _loss_potential(law_pt, law_cpt, setting) -> dict:
    lps = setting["loss_potentials"]
    out = {"loss_potentials": lps, "what": "final D_cpt loss after CPT from PT checkpoints annealed to "
           "loss_potential * peak (lower is better); D_pt losses for reference", "D_cpt": {}, "D_pt": {}}
    holds = True
    for shape in _SHAPES:
        out["D_cpt"][shape], out["D_pt"][shape] = {}, {}
        for n in setting["cpt_steps"]:
            cpt_l, pt_l = [], []
            for lp in lps:
                pt = _pt(setting["pt_steps"], lp, setting)
                a, b, _, _ = _final(law_pt, law_cpt, pt, [_cpt(pt, setting["peak_lr"], n, shape, setting)], setting)
                pt_l.append(a[0])
                cpt_l.append(b[0])
            out["D_cpt"][shape][str(n)] = _r(cpt_l)
            out["D_pt"][shape][str(n)] = _r(pt_l)
            holds &= _monotone(cpt_l, "down")
    out["trend"] = "D_cpt falls as the loss potential rises"
    out["trend_holds"] = holds
    return out


def _peak_lr(law_pt, law_cpt, setting) -> dict:
    lrs = setting["peak_lrs"]
    pt = _pt(setting["pt_steps"], 0.0, setting)
    out = {"peak_lrs": lrs, "what": "final D_pt and D_cpt losses after CPT at each peak LR (PT annealed to 0)",
           "D_pt": {}, "D_cpt": {}}
    holds = True
    for shape in _SHAPES:
        out["D_pt"][shape], out["D_cpt"][shape] = {}, {}
        for n in setting["cpt_steps"]:
            a, b, t_pt, t_cpt = _final(law_pt, law_cpt, pt, [_cpt(pt, lr, n, shape, setting) for lr in lrs], setting)
            out["D_pt"][shape][str(n)] = _r(a)
            out["D_cpt"][shape][str(n)] = _r(b)
            holds &= _monotone(a, "up") and _monotone(b, "down")
    out["loss_at_transfer"] = {"D_pt": round(float(t_pt), 5), "D_cpt": round(float(t_cpt), 5)}
    out["trend"] = "D_cpt falls and D_pt rises as the CPT peak LR rises"
    out["trend_holds"] = holds
    return out


def _inf_to_null(x):
    return None if math.isinf(x) else int(x)


def _turning(law_pt, law_cpt, setting) -> dict:
    peak = setting["peak_lr"]
    rows = {"pt_steps": setting["turning_pt_steps"], "constant": [], "cosine_family": [], "critical_point": [],
            "loss_at_transfer": [], "pre_critical": [], "max_loss_constant": []}
    for tp in setting["turning_pt_steps"]:
        pt = _pt(tp, 0.0, setting)
        opts = dict(decay=setting["decay"], split=setting["split"], warmup_as_peak=_warmup(tp, setting))
        tl = planner.turning_length(law_pt, pt, None, cpt_lr=peak, **opts)
        assert tl.critical is not None  # always set for a constant CPT LR
        fam = planner.turning_length(
            law_pt, pt, lambda n, pt=pt: planner.cpt_schedule(peak, n, "cosine", warmup=min(setting["cpt_rewarmup"], n),
                                                               start_lr=pt.lr(pt.steps - 1)),
            max_steps=10**8, **opts)
        rows["constant"].append(_inf_to_null(tl.steps))
        rows["cosine_family"].append(_inf_to_null(fam.steps))
        rows["critical_point"].append(round(tl.critical.level, 5))
        rows["loss_at_transfer"].append(round(tl.loss_at_transfer, 5))
        rows["pre_critical"].append(tl.critical.pre_critical)
        rows["max_loss_constant"].append(round(tl.max_loss, 5))
    finite = [x is not None for x in rows["constant"]]
    rows["finite"] = finite
    rows["what"] = (
        "CPT steps until the D_pt loss is back at its value at the transfer point; PT = WSD annealed to 0 "
        "(loss potential 0). 'constant': CPT at a constant 2e-4 from the first CPT step (the steps of one "
        "endless run); 'cosine_family': the shortest length n of a re-warmup + cosine CPT schedule whose "
        "final D_pt loss is back (searched up to 1e8 steps). null = never (infinite)."
    )
    rows["trend"] = "short PT: finite turning length; long PT: infinite (the D_pt loss never recovers)"
    rows["trend_holds"] = bool(any(finite) and not all(finite) and finite == sorted(finite, reverse=True))
    return rows


def _optimal(law_pt, law_cpt, setting) -> dict:
    pt = _pt(setting["pt_steps"], 0.0, setting)
    n = setting["cpt_steps"][0]
    lo, hi = setting["optimal_peak_lr_bounds"]
    out = {"w": setting["weights"], "cpt_steps": n, "bounds": [lo, hi],
           "what": f"CPT peak LR minimising w*L_Dpt + (1-w)*L_Dcpt after {n} CPT steps (PT annealed to 0), "
                   "searched on a log grid with zooming inside the bounds; at_bound: the optimum is a bound",
           "peak_lr": {}, "at_bound": {}, "objective": {}, "loss_pt": {}, "loss_cpt": {}}
    holds = True
    for shape in _SHAPES:
        res = [planner.optimal_peak_lr(law_pt, law_cpt, w, pt, n, shape, bounds=(lo, hi),
                                       warmup=setting["cpt_rewarmup"], decay_frac=setting["cpt_wsd_decay_frac"],
                                       decay_type=setting["cpt_wsd_decay"], decay=setting["decay"],
                                       split=setting["split"], warmup_as_peak=_warmup(pt.steps, setting))
               for w in setting["weights"]]
        vals = [r.value for r in res]
        out["peak_lr"][shape] = [float(f"{v:.4g}") for v in vals]
        out["at_bound"][shape] = [r.at_bound for r in res]
        out["objective"][shape] = _r([r.objective for r in res])
        out["loss_pt"][shape] = _r([r.loss_pt for r in res])
        out["loss_cpt"][shape] = _r([r.loss_cpt for r in res])
        holds &= all(b <= a * (1 + 1e-6) for a, b in zip(vals[:-1], vals[1:]))
    out["trend"] = "the optimal peak LR does not increase with w"
    out["trend_holds"] = bool(holds)
    return out


def reproduce_p1(setting: Optional[dict] = None) -> dict:
    """All four findings as a JSON-ready dict (see the module docstring).

    ``setting`` overrides entries of :data:`P1_SETTING` (e.g. ``{"pt_steps": 40_000}``).
    """
    st = dict(P1_SETTING)
    if setting and "cpt_wsd_decay_fraction" in setting:  # the planner's old spelling
        _warnings.warn("setting: 'cpt_wsd_decay_fraction' is deprecated, use 'cpt_wsd_decay_frac' (now the share of "
                       "the CPT steps after the re-warmup)", DeprecationWarning)
        setting = dict(setting)
        setting.setdefault("cpt_wsd_decay_frac", setting.pop("cpt_wsd_decay_fraction"))
    if setting:
        unknown = [k for k in setting if k not in st]
        if unknown:
            raise ValueError(f"setting: unknown key(s) {', '.join(unknown)}; expected {', '.join(st)}")
        st.update(setting)
    law_pt, law_cpt = p1_laws()
    out = {
        "paper": "P1: Wang, Tissue et al., Learning Dynamics in Continual Pre-Training for LLMs (ICML 2025)",
        "params": P1_PARAMS,
        "setting": {
            **st,
            "description": (
                f"PT: WSD, peak {st['peak_lr']}, {st['pt_steps']} steps, {st['pt_warmup']} warmup steps counted at "
                f"the peak (P2's convention), linear decay over the last {st['pt_decay_fraction']:.0%} to "
                f"loss_potential * peak (0 unless varied). CPT: linear re-warmup over {st['cpt_rewarmup']} steps "
                f"from the PT's final LR to the CPT peak, then 'cosine' (cosine to 0 over the remaining steps) or "
                f"'wsd' (stable, then linear decay to 0 over the last {st['cpt_wsd_decay_frac']:.0%} of the steps "
                f"after the re-warmup). "
                f"Areas with lambda = {st['decay']}, S2 split '{st['split']}'. Losses at the last CPT step."
            ),
        },
        "conventions": {
            "null": "an infinite turning length (the loss never returns); JSON has no infinity",
            "losses": "predicted validation losses (nats/token) from the laws; nothing is fitted here",
        },
        "loss_potential": _loss_potential(law_pt, law_cpt, st),
        "peak_lr": _peak_lr(law_pt, law_cpt, st),
        "turning_length": _turning(law_pt, law_cpt, st),
        "optimal_peak_lr": _optimal(law_pt, law_cpt, st),
    }
    out["notes"] = _notes(out)
    return out


def _notes(out: dict) -> list:
    notes = []
    for key in ("loss_potential", "peak_lr", "turning_length", "optimal_peak_lr"):
        if not out[key]["trend_holds"]:
            notes.append(f"{key}: the expected trend ({out[key]['trend']}) does NOT come out of the formulas in "
                         "this setting; the numbers are reported as computed.")
    tl = out["turning_length"]
    post_finite = [tp for tp, pre, s in zip(tl["pt_steps"], tl["pre_critical"], tl["constant"])
                   if not pre and s is not None]
    if post_finite:
        notes.append(
            "turning_length: PT length(s) " + ", ".join(map(str, post_finite)) + ": post-critical (the D_pt "
            "asymptote under endless CPT lies above the transfer loss) yet a finite constant-LR turning "
            "length: the loss dips below its start before rising to the asymptote from below (beta < alpha in "
            "the D_pt fit, so the shift term saturates last). The D_pt loss is back only temporarily."
        )
    opt = out["optimal_peak_lr"]
    for shape in _SHAPES:
        if any(opt["at_bound"][shape]):
            ws = [w for w, b in zip(opt["w"], opt["at_bound"][shape]) if b]
            notes.append(
                f"optimal_peak_lr ({shape}): for w in {ws} the optimum lies on a search bound. The laws reward "
                "ever larger LRs for the domain loss (see docs/fitting.md#limits) and, with P1's very large E on D_cpt "
                "(5662), a tiny LR already captures most of the domain gain; the weighted loss can then be "
                "bimodal in the peak LR (best at a very small or at the largest allowed LR) and the optimum "
                "jumps between the bounds as w grows."
            )
    notes.append(
        "Beyond cosine/WSD: cptlaw.planner.optimize_schedule (not run here) searches free-form CPT schedules "
        "under a maximum LR. Under these laws its optimum tends to hold the maximum LR, then drop to ~0 early "
        "enough for zero-LR steps to harvest the annealing momentum, which the laws reward (see docs/fitting.md#limits); "
        "treat such schedules as a statement about the formulas, not a recipe."
    )
    return notes


def _text(out: dict) -> str:
    lines = [out["paper"], "", out["setting"]["description"], ""]
    lp = out["loss_potential"]
    lines.append("Loss potential -> final D_cpt loss")
    lines.append("  shape   steps  " + "  ".join(f"lp={v:<5}" for v in lp["loss_potentials"]))
    for shape, by_n in lp["D_cpt"].items():
        for n, vals in by_n.items():
            lines.append(f"  {shape:<7} {n:>6}  " + "  ".join(f"{v:.4f}  " for v in vals))
    lines.append(f"  trend holds: {lp['trend_holds']}")
    pk = out["peak_lr"]
    lines += ["", "CPT peak LR -> final D_pt / D_cpt losses"]
    for shape in pk["D_pt"]:
        for n in pk["D_pt"][shape]:
            lines.append(f"  {shape} {n} steps")
            for lr, a, b in zip(pk["peak_lrs"], pk["D_pt"][shape][n], pk["D_cpt"][shape][n]):
                lines.append(f"    {lr:8.2e}  D_pt {a:.4f}  D_cpt {b:.4f}")
    lines.append(f"  trend holds: {pk['trend_holds']}")
    tl = out["turning_length"]
    lines += ["", "Turning length of the D_pt loss (inf = never)",
              "  PT steps  constant  cosine-family  critical  transfer  pre-critical"]
    for i, tp in enumerate(tl["pt_steps"]):
        c = tl["constant"][i]
        f = tl["cosine_family"][i]
        lines.append(f"  {tp:>8}  {('inf' if c is None else c):>8}  {('inf' if f is None else f):>13}  "
                     f"{tl['critical_point'][i]:.4f}    {tl['loss_at_transfer'][i]:.4f}    {tl['pre_critical'][i]}")
    lines.append(f"  trend holds: {tl['trend_holds']}")
    op = out["optimal_peak_lr"]
    lines += ["", f"Optimal CPT peak LR for w*L_Dpt + (1-w)*L_Dcpt ({op['cpt_steps']} steps, bounds {op['bounds']})"]
    for shape in op["peak_lr"]:
        lines.append(f"  {shape:<7} " + "  ".join(f"w={w}: {v:.3g}{'*' if b else ''}" for w, v, b in
                                                  zip(op["w"], op["peak_lr"][shape], op["at_bound"][shape])))
    lines.append(f"  (* = on a bound)  trend holds: {op['trend_holds']}")
    lines += ["", "Notes:"] + [f"  - {n}" for n in out["notes"]]
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``cptlaw reproduce p1 [--json]``: print P1's findings recomputed from its parameters."""
    parser = argparse.ArgumentParser(prog="cptlaw reproduce",
                                     description="Recompute a paper's findings from its published law parameters.")
    parser.add_argument("paper", choices=["p1"], help="p1: Wang, Tissue et al. 2025 (continual pre-training)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument("--indent", type=int, default=2, help="JSON indentation (default 2)")
    args = parser.parse_args(argv)
    out = reproduce_p1()
    if args.json:
        print(json.dumps(out, indent=args.indent, allow_nan=False))
    else:
        print(_text(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
