"""Core benchmarks: LR areas, the annealing law, closed-form schedule areas."""

from __future__ import annotations

import importlib

import numpy as np

from _timing import (
    ERROR,
    INFO,
    Case,
    Context,
    Row,
    default_threads,
    fmt_seconds,
    max_rel_diff,
    race,
    skip_row,
    speedup_row,
    with_threads,
)

DECAY = 0.999
# Results must agree to this relative tolerance (scaled by the array's magnitude)
# before anything is timed.
AGREE_TOL = 1e-12


def _mismatch_rows(case: str, what: str, diffs: dict) -> list:
    bad = ", ".join(f"{k} {v:.2e}" for k, v in diffs.items())
    return [Row(name=case, note=f"{what} disagree (max rel diff {bad} > {AGREE_TOL:g}); not timed", status=ERROR)]


# ----------------------------------------------------------------------------- 1. areas
def numpy_areas(x: np.ndarray, lam: float = DECAY):
    """S1/S2 of docs/laws.md#areas with NumPy + SciPy, steps on the last axis.

    S1 = inclusive cumsum; m[0] = 0, m[i] = lam m[i-1] + (x[i-1] - x[i]) is a
    first-order IIR filter of the drops (scipy.signal.lfilter); S2 = cumsum(m).
    """
    from scipy.signal import lfilter

    s1 = np.cumsum(x, axis=-1)
    d = np.empty_like(x)
    d[..., 0] = 0.0
    np.subtract(x[..., :-1], x[..., 1:], out=d[..., 1:])
    m = lfilter([1.0], [1.0, -lam], d, axis=-1)
    s2 = np.cumsum(m, axis=-1)
    return s1, s2


def case_areas(ctx: Context) -> list:
    import cptlaw

    try:
        import scipy.signal  # noqa: F401
    except ImportError:
        return [skip_row("areas", "not available: SciPy is not installed (pip install cptlaw[bench])")]
    rows_n = ctx.size(1000, 100)
    steps = 10_000
    x = ctx.rng().random((rows_n, steps)) * 1e-3
    size = f"{rows_n} x {steps}"
    mb = x.nbytes / 1e6

    cptlaw.set_num_threads(1)
    got = cptlaw.areas(x, DECAY)
    want = numpy_areas(x)
    diffs = {"S1": max_rel_diff(got.s1, want[0]), "S2": max_rel_diff(got.s2, want[1])}
    del got, want
    if max(diffs.values()) > AGREE_TOL:
        return _mismatch_rows(f"areas {size}", "cptlaw.areas and NumPy", diffs)
    agree = f"agree: max rel diff S1 {diffs['S1']:.1e}, S2 {diffs['S2']:.1e}"

    def floor():
        # What any implementation returning two fresh arrays pays at least:
        # allocation, page faults and one write of every element.
        a = np.empty_like(x)
        a.fill(1.0)
        b = np.empty_like(x)
        b.fill(2.0)
        return a, b

    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(2)
    half = rows_n // 2

    def fill_rows(a, b, lo, hi):
        a[lo:hi].fill(1.0)  # NumPy releases the GIL here
        b[lo:hi].fill(2.0)

    def floor2():
        # The same on two threads, each first-touching half of the rows: how far
        # fresh outputs let a second thread help at all.
        a, b = np.empty_like(x), np.empty_like(x)
        jobs = [pool.submit(fill_rows, a, b, 0, half), pool.submit(fill_rows, a, b, half, rows_n)]
        for j in jobs:
            j.result()
        return a, b

    out = (np.empty_like(x), np.empty_like(x))
    t = race(
        {
            "numpy": lambda: numpy_areas(x),
            "cpt1": with_threads(1, lambda: cptlaw.areas(x, DECAY)),
            "cpt2": with_threads(2, lambda: cptlaw.areas(x, DECAY)),
            "out1": with_threads(1, lambda: cptlaw.areas(x, DECAY, out=out)),
            "out2": with_threads(2, lambda: cptlaw.areas(x, DECAY, out=out)),
            "floor": floor,
            "floor2": floor2,
        },
        ctx.repeat,
    )
    pool.shutdown()
    cptlaw.set_num_threads(0)
    ceiling = t["numpy"] / t["floor"]
    return [
        speedup_row(f"areas {size}, 1 thread", "NumPy cumsum + scipy lfilter", t["numpy"], t["cpt1"], 10.0,
                    note=f"{rows_n * steps / t['cpt1'] / 1e6:.0f} M steps/s; {agree}"),
        speedup_row(f"areas {size}, 2 vs 1 thread", "cptlaw.areas, 1 thread", t["cpt1"], t["cpt2"], 1.7,
                    note=f"{rows_n * steps / t['cpt2'] / 1e6:.0f} M steps/s on 2 threads"),
        speedup_row(f"areas(out=...) {size}, 1 thread", "NumPy cumsum + scipy lfilter", t["numpy"], t["out1"], 10.0,
                    note="outputs written into preallocated arrays (no page faults)"),
        speedup_row(f"areas(out=...) {size}, 2 vs 1 thread", "cptlaw.areas(out=...), 1 thread", t["out1"],
                    t["out2"], 1.7, note="preallocated outputs"),
        speedup_row(f"areas {size}, memory floor", f"np.empty+fill, 2 x {mb:.0f} MB", t["floor"], t["cpt1"], None,
                    status=INFO,
                    note=(f"ratio = floor / cptlaw 1 thread: fresh outputs ({2 * mb:.0f} MB, page faults) "
                          f"cost {t['floor'] / t['cpt1']:.0%} of the call; NumPy / floor = {ceiling:.1f}x caps "
                          "any 1-thread speed-up that returns fresh arrays; areas(out=...) avoids it")),
        speedup_row(f"areas {size}, memory floor 2 vs 1 thread", "np.empty+fill on 1 thread", t["floor"],
                    t["floor2"], None, status=INFO,
                    note=("fresh outputs first-touched by two threads: the page zeroing (kernel work on "
                          "the faulting core) scales only this far, and it is most of the fresh-output call")),
    ]


def case_areas_pow2(ctx: Context) -> list:
    """Schedules whose length is a power of two (4096, 8192, ... steps are common) against
    a length just above: same work per step, so the ratio should be ~1."""
    import cptlaw

    rows_n = ctx.size(1000, 100)
    n2, n_other = 8192, 8200
    rng = ctx.rng()
    x2 = rng.random((rows_n, n2)) * 1e-3
    xo = rng.random((rows_n, n_other)) * 1e-3
    t = race({"pow2": with_threads(1, lambda: cptlaw.areas(x2, DECAY)),
              "other": with_threads(1, lambda: cptlaw.areas(xo, DECAY))}, ctx.repeat)
    cptlaw.set_num_threads(0)
    scaled = t["other"] * n2 / n_other
    return [speedup_row(f"areas {rows_n} x {n2} (power of 2), 1 thread", f"same, {n_other} steps (scaled)",
                        scaled, t["pow2"], None, status=INFO,
                        note=(f"per step: {t['pow2'] / (rows_n * n2) * 1e9:.2f} ns at {n2} vs "
                              f"{t['other'] / (rows_n * n_other) * 1e9:.2f} ns at {n_other}; "
                              "should be ~1x (rows 64 KiB apart alias in 4 KiB-indexed structures: a kernel "
                              "reading several such rows at once can stall)"))]


# ----------------------------------------------------------------------------- 2. law
def case_law(ctx: Context) -> list:
    import cptlaw

    n = ctx.size(10_000_000, 1_000_000)
    rng = ctx.rng()
    s1 = rng.uniform(0.01, 5.0, n)
    s2 = rng.uniform(0.0, 0.5, n)
    # P2's script example fit (docs/laws.md#published-parameters)
    L0, A, alpha, C = 2.628, 0.430, 0.550, 0.411
    law = cptlaw.AnnealingLaw(L0=L0, A=A, alpha=alpha, C=C)

    def numpy_law():
        return L0 + A * s1 ** -alpha - C * s2

    threads = default_threads()
    got = law(s1=s1, s2=s2)
    diff = max_rel_diff(got, numpy_law())
    del got
    label = f"{n / 1e6:g}M points"
    if diff > AGREE_TOL:
        return _mismatch_rows(f"AnnealingLaw {label}", "AnnealingLaw and NumPy", {"L": diff})

    # The same call path with the cheapest law (two multiplies): allocation, page
    # faults of the fresh output and the memory traffic, without the log and exp.
    floor_law = cptlaw.OutOfDomainLaw(w1=A, w2=-C)
    out = np.empty(n)
    t = race(
        {
            "numpy": numpy_law,
            "add": lambda: s1 + s2,
            "cpt": with_threads(0, lambda: law(s1=s1, s2=s2)),
            "out": with_threads(0, lambda: law(s1=s1, s2=s2, out=out)),
            "floor": with_threads(0, lambda: floor_law(loss_pt=s1, loss_cpt=s2)),
        },
        ctx.repeat,
    )
    where = f"default threads (all cores: {threads})"
    return [
        speedup_row(f"AnnealingLaw {label}", "NumPy L0 + A*s1**-alpha - C*s2", t["numpy"], t["cpt"], 5.0,
                    note=f"{where}; {n / t['cpt'] / 1e6:.0f} M points/s; agree: max rel diff {diff:.1e}"),
        speedup_row(f"AnnealingLaw(out=...) {label}", "NumPy L0 + A*s1**-alpha - C*s2", t["numpy"], t["out"], 5.0,
                    note=f"{where}; losses written into a preallocated array (no page faults)"),
        speedup_row(f"AnnealingLaw {label} vs add", "NumPy s1 + s2", t["add"], t["cpt"], 1 / 1.5,
                    note=f"{where}; target: cptlaw <= 1.5x the time of one NumPy add "
                         f"(NumPy add on 1 core: {3 * 8 * n / t['add'] / 1e9:.1f} GB/s moved)"),
        speedup_row(f"AnnealingLaw {label}, memory floor", "OutOfDomainLaw (2 multiplies), same path",
                    t["floor"], t["cpt"], None, status=INFO,
                    note=(f"{where}; ratio = floor / cptlaw: the log and exp add "
                          f"{t['cpt'] / t['floor'] - 1:.0%} to the floor; NumPy law / floor = "
                          f"{t['numpy'] / t['floor']:.1f}x caps the speed-up over NumPy")),
    ]


# ----------------------------------------------------------------------------- 3. closed form
# S1/S2 of parametric schedules at chosen steps, from closed forms (cptlaw.schedules;
# docs/laws.md#areas: "a grid search over schedule families need not materialise
# per-step arrays"), against the recurrence on materialised per-step LRs.
# _closed_form_api() adapts the schedule module to what the case needs:
#   families: {name: make(n_schedules, total_steps, rng) -> list of schedules}
#   values(schedule) -> per-step LRs;  at(schedules, steps) -> (s1, s2), each (n, len(steps))
# and returns (api, None), or (None, reason) when the module lacks it.
def _closed_form_api():
    try:
        sched = importlib.import_module("cptlaw.schedules")
    except ImportError as exc:
        return None, f"not available: cptlaw.schedules not importable ({exc})"
    need = ("batch_areas", "cosine", "wsd", "Schedule")
    missing = [n for n in need if not hasattr(sched, n)]
    if missing or not hasattr(sched.Schedule, "values"):
        return None, ("not available: cptlaw.schedules lacks " + ", ".join(missing or ["Schedule.values"])
                      + " (closed-form S1/S2 of many schedules at chosen steps)")

    def cosine(n, total, rng):
        peak = rng.uniform(1e-4, 1e-3, n)
        warm = rng.integers(0, total // 20, n)
        floor = peak * rng.uniform(0.0, 0.1, n)
        return [sched.cosine(float(p), total, warmup=int(w), min_lr=float(f)) for p, w, f in zip(peak, warm, floor)]

    def wsd(n, total, rng):
        peak = rng.uniform(1e-4, 1e-3, n)
        warm = rng.integers(0, total // 20, n)
        dec = rng.integers(total // 10, total // 3, n)
        return [sched.wsd(float(p), total, decay_steps=int(d), warmup=int(w), decay="cosine")
                for p, w, d in zip(peak, warm, dec)]

    def at(schedules, steps):
        a = sched.batch_areas(schedules, steps, DECAY)
        return a.s1, a.s2

    return {"families": {"cosine+warmup": cosine, "wsd, cosine decay": wsd},
            "values": lambda s: s.values(), "at": at}, None


def case_closed_form(ctx: Context) -> list:
    import cptlaw

    title = "schedule areas, closed form, 1 thread"
    api, why = _closed_form_api()
    if api is None:
        return [skip_row(title, why)]

    n_sched = ctx.size(1000, 100)
    total = 10_000
    n_at = ctx.size(1000, 100)
    rows = []
    for family, make in api["families"].items():
        rng = ctx.rng()
        schedules = make(n_sched, total, rng)
        steps = np.sort(rng.choice(total, size=n_at, replace=False))
        name = f"{family}: {n_sched} schedules x {n_at} steps"
        lr = np.stack([api["values"](s) for s in schedules])

        def reference():
            # the recurrence on per-step arrays: materialise, cptlaw.areas, pick the steps
            x = np.stack([api["values"](s) for s in schedules])
            a = cptlaw.areas(x, DECAY)
            return a.s1[:, steps], a.s2[:, steps]

        def recurrence_only():
            a = cptlaw.areas(lr, DECAY)
            return a.s1[:, steps], a.s2[:, steps]

        def closed():
            return api["at"](schedules, steps)

        cptlaw.set_num_threads(1)
        want = reference()
        got = closed()
        diffs = {"S1": max_rel_diff(got[0], want[0]), "S2": max_rel_diff(got[1], want[1])}
        if max(diffs.values()) > AGREE_TOL:
            rows += _mismatch_rows(name, "closed form and recurrence", diffs)
            continue
        t = race({"ref": with_threads(1, reference), "rec": with_threads(1, recurrence_only),
                  "closed": with_threads(1, closed)}, ctx.repeat)
        cptlaw.set_num_threads(0)
        evals = n_sched * n_at
        rows.append(Row(
            name=name + ", 1 thread", baseline="materialise + cptlaw.areas",
            baseline_s=t["ref"], cptlaw_s=t["closed"], ratio=evals / t["closed"], target=1e7, unit="/s",
            note=(f"ratio = (schedule, step) evaluations/s, of {total}-step schedules; materialise + recurrence "
                  f"{evals / t['ref']:.3g}/s ({t['ref'] / t['closed']:.1f}x the time), recurrence alone "
                  f"{fmt_seconds(t['rec'])}; agree: S1 {diffs['S1']:.1e}, S2 {diffs['S2']:.1e}")))
    return rows


CASES = [
    Case("areas", case_areas, "cptlaw.areas vs NumPy cumsum + lfilter; thread scaling; memory floor"),
    Case("areas_pow2", case_areas_pow2, "cptlaw.areas with 8192-step rows vs 8200-step rows (per step)"),
    Case("law", case_law, "AnnealingLaw over many points vs the NumPy expression and a NumPy add"),
    Case("closed_form", case_closed_form, "S1/S2 of parametric schedules at chosen steps, evaluations/s"),
]
