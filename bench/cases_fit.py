"""Fitting benchmarks: the compiled LM fitter against the papers' procedure and SciPy."""

from __future__ import annotations

import time

import numpy as np

from _timing import Case, Context, race, speedup_row, with_threads

# P2's fixture (docs/laws.md#published-parameters), shared with the tests.
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from p2_fixture import features_and_loss  # noqa: E402


def _once(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def case_fit_annealing(ctx: Context) -> list:
    import cptlaw
    from cptlaw import reference, reference_fit
    from cptlaw.fit import default_grid

    feats, loss = features_and_loss(cptlaw.areas)
    ref_feats, _ = features_and_loss(reference.areas)
    # The reference procedure takes seconds: time it once (and once more outside --quick).
    t_ref, (ref_params, ref_obj) = _once(lambda: reference_fit.fit("annealing", ref_feats, loss))
    if not ctx.quick:
        t_ref = min(t_ref, _once(lambda: reference_fit.fit("annealing", ref_feats, loss))[0])
    t = race({"cpt": with_threads(1, lambda: cptlaw.fit(cptlaw.AnnealingLaw, feats, loss))}, ctx.repeat)
    res = cptlaw.fit(cptlaw.AnnealingLaw, feats, loss)
    cptlaw.set_num_threads(0)
    note = (f"objective {res.objective:.6g} vs reference {ref_obj:.6g}; R^2 {res.r2:.5f}; "
            f"{res.starts_tried} LM runs from a {len(default_grid(cptlaw.AnnealingLaw))}-point grid; reference: 54 L-BFGS-B starts (P2's grid)")
    row = speedup_row("fit AnnealingLaw, P2 example (40 points), full multistart", "P2's L-BFGS-B procedure",
                      t_ref, t["cpt"], 100.0, note=note)
    if res.objective > ref_obj * (1 + 1e-6):
        row.status = "FAIL"
        row.note += " -- objective worse than the reference"
    return [row]


def _cpt_problem(n_every=500):
    import cptlaw

    params = dict(L0=3.024, A=0.412, alpha=0.677, C1=0.278, C2=0.324, B=-0.666, E=5662.0, beta=0.146)
    pt = np.r_[np.full(8000, 2e-4), np.linspace(2e-4, 2e-5, 2000)]
    t = np.arange(6000)
    rng = np.random.default_rng(0)
    feats = {k: [] for k in ("s1_pt", "s2_pt", "s1_cpt", "s2_cpt")}
    law = cptlaw.CPTLaw(**params)
    loss = []
    for j, cpt in enumerate([np.full(6000, 2e-4), 1e-4 * (1 + np.cos(np.pi * t / 6000))]):
        a = cptlaw.cpt_areas(pt, cpt)
        idx = np.arange(n_every - 1, 16000, n_every) if j == 0 else np.arange(10000 + n_every - 1, 16000, n_every)
        f = {k: getattr(a, k)[idx] for k in feats}
        for k in feats:
            feats[k].append(f[k])
        loss.append(law(**f) * (1 + 0.002 * rng.standard_normal(idx.size)))
    return {k: np.concatenate(v) for k, v in feats.items()}, np.concatenate(loss)


def case_fit_cpt(ctx: Context) -> list:
    import cptlaw
    from cptlaw import reference_fit

    feats, loss = _cpt_problem(1000 if ctx.quick else 500)
    grid = reference_fit.P1_GRID
    if ctx.quick:
        grid = dict(grid, L0=[3.0], alpha=[0.5], E=[10.0, 1000.0])
    n_ref = int(np.prod([len(v) for v in grid.values()]))
    t_ref, (_, ref_obj) = _once(lambda: reference_fit.fit("cpt", feats, loss, grid=grid))
    t = race({"cpt": with_threads(1, lambda: cptlaw.fit(cptlaw.CPTLaw, feats, loss))}, max(3, ctx.repeat // 3))
    res = cptlaw.fit(cptlaw.CPTLaw, feats, loss)
    cptlaw.set_num_threads(0)
    row = speedup_row(f"fit CPTLaw joint ({loss.size} points, 2 CPT runs + PT), full multistart",
                      f"L-BFGS-B from {n_ref} starts (P1-style grid)", t_ref, t["cpt"], 100.0,
                      note=f"objective {res.objective:.6g} vs reference {ref_obj:.6g}; {res.message}")
    if res.objective > ref_obj * (1 + 1e-6):
        row.status = "FAIL"
        row.note += " -- objective worse than the reference"
    return [row]


def case_fit_many(ctx: Context) -> list:
    import cptlaw
    from scipy.optimize import least_squares

    n_fits = ctx.size(2000, 200)
    n = 200
    rng = ctx.rng()
    s1 = np.cumsum(np.full((n_fits, n), 2e-3), axis=1) + 0.02
    s2 = np.clip(np.linspace(-0.05, 0.3, n) + rng.uniform(-0.02, 0.02, (n_fits, 1)), 0, None)
    truth = np.column_stack([rng.uniform(2.0, 3.0, n_fits), rng.uniform(0.3, 0.6, n_fits),
                             rng.uniform(0.3, 0.8, n_fits), rng.uniform(0.2, 0.5, n_fits)])
    losses = (truth[:, :1] + truth[:, 1:2] * s1 ** -truth[:, 2:3] - truth[:, 3:4] * s2) * (
        1 + 0.002 * rng.standard_normal((n_fits, n)))
    x0 = np.array([2.5, 0.5, 0.5, 0.3])

    def scipy_loop(count):
        out = []
        for i in range(count):
            a, b, y = s1[i], s2[i], losses[i]

            def resid(p):
                return p[0] + p[1] * a ** -p[2] - p[3] * b - y

            def jac(p):
                P = a ** -p[2]
                return np.column_stack([np.ones_like(a), P, -p[1] * np.log(a) * P, -b])

            out.append(least_squares(resid, x0, jac=jac, method="lm"))
        return out

    sub = min(n_fits, ctx.size(300, 50))  # the loop is timed on a subset and scaled per fit
    t_loop, sols = _once(lambda: scipy_loop(sub))
    t_loop_all = t_loop * n_fits / sub
    feats = {"s1": s1, "s2": s2}

    def ours():
        return cptlaw.fit_many(cptlaw.AnnealingLaw, feats, losses, objective="least_squares")

    t = race({"cpt": with_threads(0, ours)}, max(3, ctx.repeat // 3))
    res = ours()
    ok = float(res.success.mean())
    scipy_ok = float(np.mean([s.success for s in sols]))
    row = speedup_row(f"fit_many AnnealingLaw, {n_fits} curves x {n} points", "loop of scipy least_squares "
                      "(lm, analytic jac, one start)", t_loop_all, t["cpt"], 20.0,
                      note=(f"scipy timed on {sub} curves, scaled; converged: cptlaw {ok:.1%} (with multistart), "
                            f"scipy {scipy_ok:.1%}; all threads"))
    if ok < 0.99:
        row.status = "FAIL"
        row.note += " -- under 99% converged"
    return [row]


CASES = [
    Case("annealing", case_fit_annealing, "one annealing-law fit with full multistart vs P2's procedure"),
    Case("cpt", case_fit_cpt, "one joint CPT-law fit with full multistart vs L-BFGS-B from a grid"),
    Case("many", case_fit_many, "fit_many over thousands of curves vs a loop of scipy least_squares"),
]
