"""CPTSharedCLaw against CPTLaw on the same work: evaluation, one joint fit, the grid.

The shared-coefficient law is CPTLaw with C1 = C2 = C (one parameter fewer), so each row's target
is "at least as fast as CPTLaw" (ratio = CPTLaw's time / CPTSharedCLaw's time >= 1, within noise).
"""

from __future__ import annotations

import numpy as np

from _timing import Case, Context, race, speedup_row, with_threads
import cases_fit  # noqa: F401  (puts tests/ on sys.path for _tinycpt)
from cases_grid import D_CPT, D_PT, STEPS, W, _family, _schedules_per_peak


def _shared(params):
    """CPTSharedCLaw parameters from CPTLaw ones: C = the mean of C1 and C2."""
    L0, A, alpha, C1, C2, B, E, beta = params
    return (L0, A, alpha, 0.5 * (C1 + C2), B, E, beta)


def case_law(ctx: Context) -> list:
    import cptlaw

    n = ctx.size(10_000_000, 1_000_000)
    rng = ctx.rng()
    x = {"s1_pt": rng.uniform(1.0, 5.0, n), "s2_pt": rng.uniform(0.0, 0.5, n),
         "s1_cpt": rng.uniform(0.0, 2.0, n), "s2_cpt": rng.uniform(-0.2, 0.3, n)}
    split, shared = cptlaw.CPTLaw(*D_CPT), cptlaw.CPTSharedCLaw(*_shared(D_CPT))
    t = race({"split": with_threads(0, lambda: split(**x)), "shared": with_threads(0, lambda: shared(**x))},
             ctx.repeat)
    return [speedup_row(f"CPTSharedCLaw {n / 1e6:g}M points", "CPTLaw, same points", t["split"], t["shared"], 1.0,
                        note=f"default threads; {n / t['shared'] / 1e6:.0f} M points/s")]


def case_fit(ctx: Context) -> list:
    """Both laws on the same real runs (tinycpt set A: PT, its annealing branch, two CPT runs;
    the README's protocol), both validation sets: a synthetic set drawn from one law would
    favour that law's conditioning."""
    import warnings

    import cptlaw
    from _tinycpt import AREA_OPTIONS, tiny_runs

    runs = list(tiny_runs(("pt_const", "pt_anneal", "cpt_const", "cpt_cos")).values())

    def fit_both(law):
        def run():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # identifiability notes are not what is timed
                return [cptlaw.fit_runs(law, runs, valset=v, **AREA_OPTIONS) for v in ("pt", "cpt")]
        return run

    repeat = max(3, ctx.repeat // 2)
    t = race({"split": with_threads(1, fit_both(cptlaw.CPTLaw)),
              "shared": with_threads(1, fit_both(cptlaw.CPTSharedCLaw))}, repeat)
    cptlaw.set_num_threads(0)
    res = fit_both(cptlaw.CPTSharedCLaw)()
    n = sum(r.n_points for r in res)
    return [speedup_row(f"fit CPTSharedCLaw on tinycpt set A ({n} points, 2 validation sets), full multistart, "
                        "1 thread", "fit CPTLaw, same runs", t["split"], t["shared"], 1.0,
                        note="; ".join(f"D_{v}: R^2 {r.r2:.4f}, {r.nit} LM iterations" for v, r in zip(("pt", "cpt"), res)))]


def case_grid(ctx: Context) -> list:
    import cptlaw

    pt = cptlaw.schedules.wsd(2e-4, 40_000, decay_steps=8_000, warmup=500, min_lr=2e-5)
    lengths = np.arange(10_000, 42_000, 2_000)
    n_peak = ctx.size(131, 10)
    family = _family(n_peak, lengths)
    n_rows = n_peak * _schedules_per_peak(len(lengths)) * len(STEPS)
    laws = {
        "split": {"pt": cptlaw.CPTLaw(*D_PT), "cpt": cptlaw.CPTLaw(*D_CPT)},
        "shared": {"pt": cptlaw.CPTSharedCLaw(*_shared(D_PT)), "cpt": cptlaw.CPTSharedCLaw(*_shared(D_CPT))},
    }

    def run(which):
        return lambda: cptlaw.grid(laws[which], pt=pt, cpt=family, w=W, steps=STEPS, reduce="min",
                                   group_by="step", progress=False)

    repeat = max(1, min(ctx.repeat, 5))
    t = race({k: with_threads(1, run(k)) for k in laws}, repeat)
    cptlaw.set_num_threads(0)
    return [speedup_row(f"grid with CPTSharedCLaw, {n_rows / 1e6:.3g}M rows, 1 thread", "the same grid with CPTLaw",
                        t["split"], t["shared"], 1.0,
                        note=f"closed-form areas; {n_rows / t['shared'] / 1e6:.1f} M rows/s; best of {repeat}")]


CASES = [
    Case("law", case_law, "CPTSharedCLaw evaluation vs CPTLaw on the same points"),
    Case("fit", case_fit, "one joint CPTSharedCLaw fit vs the same CPTLaw fit"),
    Case("grid", case_grid, "the grid with CPTSharedCLaw vs with CPTLaw"),
]
