"""cptlaw.compare: 2 laws x 10 real runs, leave one run out, full multistart, against a 1 s budget."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from _timing import Case, Context, Row, ERROR, default_threads, speedup_row

# tinycpt set A, as the tests load it
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

RUNS = ("pt_const", "pt_anneal", "cpt_const", "cpt_cos", "cpt_wsd", "cpt_rewarm_cos", "cpt_low_const",
        "cpt_ann_cos", "cpt_ann_rewarm_cos", "cpt_replay25_cos")  # 10 runs, 8 with a CPT phase
AREA = {"decay": 0.999, "split": "by_source", "warmup_as_peak": True}


def case_compare(ctx: Context) -> list:
    import cptlaw
    from _tinycpt import tiny_runs

    runs = list(tiny_runs(RUNS).values())
    shared = getattr(cptlaw, "CPTSharedCLaw", None)
    laws = ["cpt", shared] if shared is not None else ["cpt"]
    scale = 1 if shared is not None else 2  # without the second law: twice CPTLaw's time (it fits no slower)
    threads = default_threads()
    repeat = max(1, min(ctx.repeat, ctx.size(5, 2)))
    rows = []
    for valsets in (["cpt"], ["pt", "cpt"]):
        def run():
            return cptlaw.compare(laws, runs, valsets=valsets, **AREA)

        res = run()
        if not all(r["status"] == "ok" for r in res.rows):
            return [Row(name="compare", note=f"a fold failed: {res.rows}", status=ERROR)]
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            run()
            times.append(time.perf_counter() - t0)
        t = min(times) * scale
        n_fits = len(laws) * scale * len(valsets) * (len(res.folds) + 1)
        what = "2 laws" if shared is not None else "CPTLaw x 2 (CPTSharedCLaw not in this build)"
        rows.append(speedup_row(
            f"compare, {what} x 10 runs, leave one run out, {len(valsets)} validation set(s)",
            "1 s (the issue's budget)", 1.0, t, 1.0 if len(valsets) == 1 else None,
            note=(f"ratio = 1 s / wall time; {t:.3f} s on {threads} threads (best of {repeat}, median "
                  f"{np.median(times) * scale:.3f} s); {n_fits} full-multistart fits of the CPT law on tinycpt "
                  f"set A ({len(res.folds)} folds + the fit on all runs, per law and validation set)")))
    return rows


CASES = [Case("compare", case_compare, "cptlaw.compare over 2 laws x 10 tinycpt runs, leave one run out (< 1 s)")]
