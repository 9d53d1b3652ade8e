"""Grid-search benchmarks (issue 4): cptlaw.grid against per-step NumPy arrays, thread scaling,
and the best of a million CPT schedule configurations.

Setting: P1's (docs/laws.md#published-parameters): a WSD PT run (40K steps, peak 2e-4) and the fitted D_pt /
D_cpt laws of P1 Fig. 3, the objective ``0.5 * L_Dpt + 0.5 * L_Dcpt``; CPT families of
cosine, linear and WSD (linear and cosine decay) schedules with re-warmup (from 0 or from the
checkpoint's LR), over peak LR, length, warmup, min LR and decay fraction.

The NumPy baseline does what one would do without closed forms, per schedule: write the CPT
LRs out with NumPy (the Hugging Face formulas), S1 = cumsum, the momentum of the LR drops with
``scipy.signal.lfilter`` (entered from the PT checkpoint's LR), S2 = cumsum, the PT part from
the checkpoint's final state, then the law at the chosen steps. It is far too slow for 1e7
rows, so it is timed on a random subset of the grid's schedules and extrapolated per
schedule (the note says by how much); both sides are checked to agree on that subset first.
"""

from __future__ import annotations

import importlib
import time

import numpy as np

from _timing import ERROR, Case, Context, Row, default_threads, max_rel_diff, race, speedup_row, with_threads

DECAY = 0.999
W = 0.5
AGREE_TOL = 1e-9  # losses ~3; the NumPy side sums ~1e4 rounded LRs per area
D_PT = (3.057, 0.490, 0.497, 0.299, 0.298, 0.366, 28.0, 0.189)   # L0 A alpha C1 C2 B E beta
D_CPT = (3.024, 0.412, 0.677, 0.278, 0.324, -0.666, 5662.0, 0.146)
STEPS = np.arange(1000, 10001, 1000)  # CPT step counts: every 1000 up to the shortest length


def _setup():
    import cptlaw

    laws = {"pt": cptlaw.CPTLaw(*D_PT), "cpt": cptlaw.CPTLaw(*D_CPT)}
    pt = cptlaw.schedules.wsd(2e-4, 40_000, decay_steps=8_000, warmup=500, min_lr=2e-5)
    return cptlaw, laws, pt


def _family(n_peak: int, lengths) -> dict:
    return dict(shape=["cosine", "linear", "wsd"], peak_lr=np.geomspace(2.5e-5, 4e-4, n_peak), steps=lengths,
                warmup=[0, 200, 1000], start_lr=["hf", "pt"], decay_frac=[0.1, 0.2, 0.3],
                decay_type=["linear", "cosine"], min_lr_ratio=[0.0, 0.05, 0.1])


def _schedules_per_peak(n_lengths: int) -> int:
    # per (peak, length): warmup/start 1 + 2 x 2 = 5, min 3; cosine 15 + linear 15 + wsd 15 x 6
    return n_lengths * 120


# ----------------------------------------------------------------------------- NumPy baseline
def numpy_cpt_lr(shape, peak, n, warmup, start, frac, dtype, r, pt_last):
    """CPT LRs of one grid row from the HF formulas (as tests/test_grid.py)."""
    t = np.arange(n, dtype=np.float64)
    if start is None or start == "hf":
        s = r if shape == "wsd" else 0.0
    else:
        s = pt_last / peak
    lam = np.empty(n)
    warm = t < warmup
    lam[warm] = (t[warm] / max(1, warmup)) * (1 - s) + s
    rest = n - warmup
    u = t[~warm] - warmup
    if shape == "cosine":
        f = 0.5 * (1 + np.cos(np.pi * u / max(1, rest)))
    elif shape == "linear":
        f = (rest - u) / max(1, rest)
    else:
        d = int(np.rint(frac * rest))
        stable = rest - d
        p = (u - stable) / max(1, d)
        g = 1 - p if dtype == "linear" else 0.5 * (1 + np.cos(np.pi * p))
        lam[~warm] = np.where(u < stable, 1.0, g * (1 - r) + r)
        return peak * lam
    lam[~warm] = f * (1 - r) + r
    return peak * lam


def numpy_losses(x, state, steps, lam=DECAY):
    """w * L_Dpt + (1 - w) * L_Dcpt at CPT step counts ``steps`` (split by_source)."""
    from scipy.signal import lfilter

    s1p, s2p, mp, xp = state
    d = np.empty_like(x)
    d[0] = xp - x[0]
    np.subtract(x[:-1], x[1:], out=d[1:])
    m = lfilter([1.0], [1.0, -lam], d)
    s1c = np.cumsum(x)[steps - 1]
    s2c = np.cumsum(m)[steps - 1]
    s2pt = s2p + lam * mp * (1 - lam ** steps) / (1 - lam)  # the PT momentum decaying on
    out = []
    for L0, A, alpha, C1, C2, B, E, beta in (D_PT, D_CPT):
        out.append(L0 + A * (s1p + s1c) ** -alpha - C1 * s2pt - C2 * s2c + B * (1 - (1 + E * s1c) ** -beta))
    return W * out[0] + (1 - W) * out[1]


def _random_rows(family: dict, n: int, rng):
    """n random schedules of the family (any of its combinations)."""
    rows = []
    for _ in range(n):
        shape = str(rng.choice(family["shape"]))
        warmup = int(rng.choice(family["warmup"]))
        rows.append(dict(shape=shape, peak_lr=float(rng.choice(family["peak_lr"])),
                         steps=int(rng.choice(family["steps"])), warmup=warmup,
                         start_lr=None if warmup == 0 else family["start_lr"][rng.integers(2)],
                         decay_frac=float(rng.choice(family["decay_frac"])),
                         decay_type=str(rng.choice(family["decay_type"])),
                         min_lr_ratio=float(rng.choice(family["min_lr_ratio"]))))
    return rows


# ----------------------------------------------------------------------------- 1. grid vs NumPy
def case_grid(ctx: Context) -> list:
    cptlaw, laws, pt = _setup()
    grid = importlib.import_module("cptlaw.grid").grid
    lengths = np.arange(10_000, 42_000, 2_000)  # 16 CPT lengths, 10K-40K steps
    n_peak = ctx.size(525, 20)
    family = _family(n_peak, lengths)
    n_sched = n_peak * _schedules_per_peak(len(lengths))
    n_rows = n_sched * len(STEPS)
    name = f"grid {n_rows / 1e6:.3g}M (schedule, step) rows"

    def run():
        return grid(laws, pt=pt, cpt=family, w=W, steps=STEPS, reduce="min", group_by="step", progress=False)

    # agreement on a random subset, then NumPy timed on it
    state = tuple(pt.final_state(DECAY))
    rng = ctx.rng()
    subset = _random_rows(family, ctx.size(48, 12), rng)

    def numpy_subset():
        return [numpy_losses(numpy_cpt_lr(r["shape"], r["peak_lr"], r["steps"], r["warmup"], r["start_lr"],
                                          r["decay_frac"], r["decay_type"], r["min_lr_ratio"], state[3]),
                             state, STEPS) for r in subset]

    want = np.concatenate(numpy_subset())
    got = np.concatenate([grid(laws, pt=pt, cpt=r, w=W, steps=STEPS)["loss"].to_numpy() for r in subset])
    diff = max_rel_diff(got, want)
    if not diff <= AGREE_TOL:
        return [Row(name=name, note=f"grid and NumPy disagree on {len(subset)} schedules (max rel diff {diff:.2e}); "
                                    "not timed", status=ERROR)]
    best = run()
    if best.attrs["rows_total"] != n_rows:
        return [Row(name=name, note=f"grid has {best.attrs['rows_total']} rows, expected {n_rows}", status=ERROR)]

    repeat = max(1, min(ctx.repeat, 5))  # ~1 s per 1-thread call
    t = race({"numpy": numpy_subset, "g1": with_threads(1, run), "g2": with_threads(2, run)}, repeat)
    cptlaw.set_num_threads(0)
    per_sched = t["numpy"] / len(subset)
    numpy_full = per_sched * n_sched
    mean_len = float(np.mean([r["steps"] for r in subset]))
    return [
        speedup_row(f"{name}, 1 thread", "NumPy per-step LRs + lfilter areas + law (extrapolated)", numpy_full,
                    t["g1"], 100.0,
                    note=(f"{n_sched} schedules x {len(STEPS)} steps, best 1 row per step; NumPy timed on "
                          f"{len(subset)} random schedules of the grid (mean length {mean_len:.0f}; "
                          f"{per_sched * 1e3:.2f} ms each) x {n_sched / len(subset):.0f}; grid "
                          f"{n_rows / t['g1'] / 1e6:.1f} M rows/s; agree: max rel diff {diff:.1e}; best of {repeat}")),
        speedup_row(f"{name}, 2 vs 1 thread", "cptlaw.grid, 1 thread", t["g1"], t["g2"], 1.7,
                    note=(f"{n_rows / t['g2'] / 1e6:.1f} M rows/s on 2 threads; best of {repeat}; no serial part "
                          "but merging the chunks' best rows, so this measures the machine's second core "
                          "(compare core.areas' 2 vs 1 row in the same run)")),
    ]


# ----------------------------------------------------------------------------- 2. best of 1e6
def case_best(ctx: Context) -> list:
    cptlaw, laws, pt = _setup()
    grid = importlib.import_module("cptlaw.grid").grid
    lengths = np.arange(5_000, 105_000, 5_000)  # 20 lengths, 5K-100K steps
    n_peak = ctx.size(420, 20)
    family = _family(n_peak, lengths)
    n_sched = n_peak * _schedules_per_peak(len(lengths))
    threads = default_threads()

    def run():
        return grid(laws, pt=pt, cpt=family, w=W, reduce="min", progress=False)

    best = run()
    if best.attrs["rows_total"] != n_sched:
        return [Row(name="best of 1e6", note=f"grid has {best.attrs['rows_total']} rows, expected {n_sched}",
                    status=ERROR)]
    repeat = max(1, min(ctx.repeat, 5))
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    t = min(times)
    b = best.iloc[0]
    return [speedup_row(f"best of {n_sched / 1e6:.3g}M CPT configurations, final step", "1 s (the issue's budget)",
                        1.0, t, 1.0,
                        note=(f"ratio = 1 s / wall time; {t:.3f} s on {threads} threads (best of {repeat}, "
                              f"median {np.median(times):.3f} s), {n_sched / t / 1e6:.2f} M configurations/s; "
                              f"best: {b['cpt_shape']} peak {b['cpt_peak_lr']:.3g}, {b['cpt_steps']} steps, "
                              f"loss {b['loss']:.4f}"))]


CASES = [
    Case("grid", case_grid, "cptlaw.grid over >= 1e7 (schedule, step) rows vs per-step NumPy arrays; 2 vs 1 thread"),
    Case("best", case_best, "the best of 1e6 CPT schedule configurations at the final step (< 1 s)"),
]
