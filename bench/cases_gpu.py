"""GPU benchmarks (cptlaw.cuda), each against the CPU path on the same machine in the same run.

- law: AnnealingLaw over 1e9 device-resident points (PyTorch or CuPy arrays, out=), as bytes
  moved per second against the device's own copy bandwidth (a device-to-device cudaMemcpy of
  a large buffer); target 50% of it. The CPU path is timed on 1e8 host points and scaled.
- grid: the best of 1e9 CPT schedule configurations at the final step (the family of
  cases_grid.py's "best", with more peak LRs and lengths); target < 1 s. Both sides run the
  grid engine chunk by chunk (cptlaw.grid's loop, without building the final DataFrame); the
  CPU side on a 1e7 subset, scaled.
- fit: fit_many of the annealing law on 1e6 curves x 200 points held on the GPU; targets
  1e6 fits/s and 20x the CPU path (timed on a subset of the curves, all threads, scaled).

Without a GPU every case still runs its CPU side (at --quick sizes that is a smoke test) and
reports the GPU row as skipped. bench/gpu_check.sh runs these on a GPU machine.
"""

from __future__ import annotations

import time

import numpy as np

from _timing import ERROR, INFO, SKIP, Case, Context, Row, default_threads, max_rel_diff

W = 0.5
DECAY = 0.999
D_PT = (3.057, 0.490, 0.497, 0.299, 0.298, 0.366, 28.0, 0.189)
D_CPT = (3.024, 0.412, 0.677, 0.278, 0.324, -0.666, 5662.0, 0.146)


def _gpu():
    """(cptlaw.cuda, array library name) or (None, why)."""
    from cptlaw import cuda

    if not cuda.is_available():
        return None, f"no CUDA GPU: {cuda.unavailable_reason()}"
    try:
        import torch

        if torch.cuda.is_available():
            return cuda, "torch"
    except ImportError:
        pass
    try:
        import cupy  # noqa: F401

        return cuda, "cupy"
    except ImportError:
        return None, "neither PyTorch with CUDA nor CuPy is installed"


class _Dev:
    """The few device-array operations the cases need, for PyTorch or CuPy."""

    def __init__(self, kind):
        self.kind = kind
        if kind == "torch":
            import torch

            self.x = torch
        else:
            import cupy

            self.x = cupy

    def uniform(self, lo, hi, shape, seed):
        if self.kind == "torch":
            g = self.x.Generator(device="cuda").manual_seed(seed)
            return self.x.rand(shape, generator=g, dtype=self.x.float64, device="cuda") * (hi - lo) + lo
        rs = self.x.random.RandomState(seed)
        return rs.uniform(lo, hi, shape)

    def empty(self, shape):
        if self.kind == "torch":
            return self.x.empty(shape, dtype=self.x.float64, device="cuda")
        return self.x.empty(shape, dtype=self.x.float64)

    def asarray(self, a):
        if self.kind == "torch":
            return self.x.as_tensor(np.ascontiguousarray(a), device="cuda")
        return self.x.asarray(a)

    def tile(self, row, rows):
        """A contiguous (rows, len(row)) array of copies of a host row."""
        r = self.asarray(np.asarray(row, dtype=np.float64).reshape(1, -1))
        if self.kind == "torch":
            return r.expand(rows, r.shape[1]).contiguous()
        return self.x.ascontiguousarray(self.x.broadcast_to(r, (rows, r.shape[1])))

    def host(self, a):
        return a.detach().cpu().numpy() if self.kind == "torch" else a.get()

    def sync(self):
        if self.kind == "torch":
            self.x.cuda.synchronize()
        else:
            self.x.cuda.Device().synchronize()

    def free(self):
        if self.kind == "torch":
            self.x.cuda.empty_cache()
        else:
            self.x.get_default_memory_pool().free_all_blocks()


def _best_time(fn, repeat, sync=None, budget=30.0):
    """Best of `repeat` timed calls after a warm-up; fewer when they would exceed `budget` s."""
    t0 = time.perf_counter()
    fn()
    if sync:
        sync()
    best, spent = float("inf"), time.perf_counter() - t0
    for _ in range(repeat):
        if best < float("inf") and spent + best > budget:
            break
        t0 = time.perf_counter()
        fn()
        if sync:
            sync()
        dt = time.perf_counter() - t0
        best, spent = min(best, dt), spent + dt
    return best if best < float("inf") else spent


# ----------------------------------------------------------------------------- law
def case_law(ctx: Context) -> list:
    import cptlaw

    law = cptlaw.AnnealingLaw(3.0, 0.5, 0.5, 0.3)
    n_gpu = ctx.size(1_000_000_000, 1_000_000)
    n_cpu = ctx.size(100_000_000, 1_000_000)
    rng = np.random.default_rng(ctx.seed)
    s1, s2 = rng.uniform(0.1, 10.0, n_cpu), rng.uniform(0.0, 1.0, n_cpu)
    out = np.empty(n_cpu)
    repeat = max(1, min(ctx.repeat, 3))
    t_cpu = _best_time(lambda: law(s1=s1, s2=s2, out=out), repeat) * (n_gpu / n_cpu)
    cpu_note = (f"CPU ({default_threads()} threads, out=): {24 * n_gpu / t_cpu / 1e9:.1f} GB/s "
                f"(timed on {n_cpu:.0e} points, scaled)")
    cuda, kind = _gpu()
    name = f"AnnealingLaw {n_gpu:.0e} device points (out=), bandwidth"
    if cuda is None:
        return [Row(name=name, note=f"{kind}; {cpu_note}", status=SKIP)]
    dev = _Dev(kind)
    x1, x2, y = dev.uniform(0.1, 10.0, n_gpu, 1), dev.uniform(0.0, 1.0, n_gpu, 2), dev.empty(n_gpu)
    sub = 1_000_000
    check = max_rel_diff(dev.host(law(s1=x1[:sub], s2=x2[:sub])), law(s1=dev.host(x1[:sub]), s2=dev.host(x2[:sub])))
    t = _best_time(lambda: law(s1=x1, s2=x2, out=y), repeat, dev.sync)
    t_fresh = _best_time(lambda: law(s1=x1, s2=x2), 1, dev.sync)
    del x1, x2, y
    dev.free()
    copy = cuda._require("device").copy_bandwidth(min(4 << 30, 8 * n_gpu), 5, 0)
    gbs = 24 * n_gpu / t  # two inputs read, one output written
    status = ERROR if check > 1e-12 else None
    return [
        Row(name=name, baseline="device-to-device copy bandwidth", ratio=gbs / copy, target=0.5,
            unit=" of copy BW", cptlaw_s=t, status=status,
            note=(f"{gbs / 1e9:.0f} GB/s moved vs copy {copy / 1e9:.0f} GB/s; {t * 1e3:.1f} ms "
                  f"({t_fresh * 1e3:.1f} ms with a fresh result); agree with the CPU on {sub:.0e} points: "
                  f"max rel diff {check:.1e}; {kind} arrays")),
        Row(name=f"AnnealingLaw {n_gpu:.0e} device points (out=) vs the CPU path", baseline="CPU law, out=",
            baseline_s=t_cpu, cptlaw_s=t, ratio=t_cpu / t, status=INFO, note=cpu_note),
    ]


# ----------------------------------------------------------------------------- grid
def _grid_family(n_peak, n_len):
    # cases_grid.py's family: 120 schedules per (peak LR, length)
    return dict(shape=["cosine", "linear", "wsd"], peak_lr=np.geomspace(2.5e-5, 4e-4, n_peak),
                steps=5_000 + 25 * np.arange(n_len), warmup=[0, 200, 1000], start_lr=[None, "pt"],
                decay_frac=[0.1, 0.2, 0.3], decay_type=["linear", "cosine"], min_lr_ratio=[0.0, 0.05, 0.1])


def _grid_run(n_peak, n_len, device):
    """The best row (row, loss) of the family: plan + cptlaw.grid's chunk loop (no DataFrame)."""
    import importlib

    import cptlaw

    G = importlib.import_module("cptlaw.grid")  # the module (cptlaw.grid is the function)
    laws = {"pt": cptlaw.CPTLaw(*D_PT), "cpt": cptlaw.CPTLaw(*D_CPT)}
    pt = cptlaw.schedules.wsd(2e-4, 40_000, decay_steps=8_000, warmup=500, min_lr=2e-5)
    plan = G._Plan(laws, pt, _grid_family(n_peak, n_len), None, W, "final", DECAY, "by_source")
    _, groups, mul, maps = plan.group_spec(None)
    red = (plan.loss_names.index("loss"), False, 1, groups, mul, maps)
    if device == "cpu":
        threads = default_threads()
        run, per = (lambda s0, s1: G._run_chunk(plan.spec, s0, s1, red, threads)), 1_000_000
    else:
        from cptlaw import cuda

        run, per = cuda._grid_runner(plan.spec, red, device), 100_000_000
    per = max(1, per // plan.rows_per_schedule)
    best = (np.inf, -1)
    for s0 in range(0, plan.schedules, per):
        vals, rows, _ = run(s0, min(plan.schedules, s0 + per))
        if rows[0, 0] >= 0 and (vals[0, 0], rows[0, 0]) < best:
            best = (vals[0, 0], rows[0, 0])
    return plan.rows, best


def case_grid(ctx: Context) -> list:
    n_len = ctx.size(4000, 40)
    n_peak_gpu, n_peak_cpu = ctx.size(2100, 4), ctx.size(21, 2)
    repeat = max(1, min(ctx.repeat, 3))
    t_cpu_sub = _best_time(lambda: _grid_run(n_peak_cpu, n_len, "cpu"), repeat)
    rows_cpu, best_cpu = _grid_run(n_peak_cpu, n_len, "cpu")
    rows_gpu = rows_cpu * n_peak_gpu // n_peak_cpu
    t_cpu = t_cpu_sub * rows_gpu / rows_cpu
    cpu_note = (f"CPU ({default_threads()} threads): {rows_cpu / t_cpu_sub / 1e6:.1f} M configurations/s "
                f"(timed on {rows_cpu:.2e}, scaled)")
    name = f"best of {rows_gpu:.2e} CPT configurations, final step"
    cuda, why = _gpu()
    if cuda is None:
        return [Row(name=name, note=f"{why}; {cpu_note}", status=SKIP)]
    _, best_small = _grid_run(n_peak_cpu, n_len, "cuda")
    t = _best_time(lambda: _grid_run(n_peak_gpu, n_len, "cuda"), repeat)
    rows, best = _grid_run(n_peak_gpu, n_len, "cuda")
    same = best_small[1] == best_cpu[1] and abs(best_small[0] - best_cpu[0]) <= 1e-12 * abs(best_cpu[0])
    return [
        Row(name=name, baseline="1 s (the issue's budget)", baseline_s=1.0, cptlaw_s=t, ratio=1.0 / t, target=1.0,
            status=None if same and rows == rows_gpu else ERROR,
            note=(f"ratio = 1 s / wall time; {rows / t / 1e9:.2f} G configurations/s; best row {best[1]}, loss "
                  f"{best[0]:.6f}; on the {rows_cpu:.1e} subset the GPU's best row "
                  f"{'equals' if same else 'DIFFERS FROM'} the CPU's ({best_small[1]} vs {best_cpu[1]})")),
        Row(name=f"{name} vs the CPU path", baseline="CPU grid engine", baseline_s=t_cpu, cptlaw_s=t,
            ratio=t_cpu / t, status=INFO, note=cpu_note),
    ]


# ----------------------------------------------------------------------------- fit_many
def _fit_data(F, N, seed, xp_uniform):
    """(s1, s2, y) as arrays of the library behind xp_uniform(lo, hi, shape, seed)."""
    t = (np.arange(N) + 1.0) / N
    s1_row, s2_row = 0.05 + 4.0 * t, np.maximum(0.0, 0.6 * (t - 0.7))
    L0 = xp_uniform(2.0, 3.0, (F, 1), seed)
    A = xp_uniform(0.3, 0.7, (F, 1), seed + 1)
    alpha = xp_uniform(0.3, 0.8, (F, 1), seed + 2)
    C = xp_uniform(0.2, 0.6, (F, 1), seed + 3)
    noise = xp_uniform(-2e-3, 2e-3, (F, N), seed + 4)
    return s1_row, s2_row, L0, A, alpha, C, noise


def case_fit(ctx: Context) -> list:
    import cptlaw

    F, N = ctx.size(1_000_000, 2_000), 200
    F_cpu = ctx.size(20_000, 1_000)
    rng = np.random.default_rng(ctx.seed)

    def host_uniform(lo, hi, shape, seed):
        return np.random.default_rng(seed).uniform(lo, hi, shape)

    s1_row, s2_row, L0, A, alpha, C, noise = _fit_data(F_cpu, N, int(rng.integers(1 << 30)), host_uniform)
    s1 = np.broadcast_to(s1_row, (F_cpu, N)).copy()
    s2 = np.broadcast_to(s2_row, (F_cpu, N)).copy()
    y = (L0 + A * s1 ** -alpha - C * s2) * (1.0 + noise)
    repeat = max(1, min(ctx.repeat, 3))
    cpu = cptlaw.fit_many(cptlaw.AnnealingLaw, {"s1": s1, "s2": s2}, y)
    t_cpu_sub = _best_time(lambda: cptlaw.fit_many(cptlaw.AnnealingLaw, {"s1": s1, "s2": s2}, y), repeat)
    cpu_rate = F_cpu / t_cpu_sub
    cpu_note = (f"CPU ({default_threads()} threads): {cpu_rate:.3g} fits/s on {F_cpu} curves, "
                f"{np.mean(cpu.status > 0):.1%} converged")
    name = f"fit_many AnnealingLaw, {F:.0e} curves x {N} points on the GPU"
    cuda, kind = _gpu()
    if cuda is None:
        return [Row(name=name, note=f"{kind}; {cpu_note}", status=SKIP)]
    dev = _Dev(kind)
    # The same first F_cpu curves on the GPU (copied), the rest generated there.
    ys = dev.asarray(y)
    agree = cptlaw.fit_many(cptlaw.AnnealingLaw, {"s1": dev.asarray(s1), "s2": dev.asarray(s2)}, ys, device="cuda")
    same_status = float(np.mean(agree.status == cpu.status))
    ok = (cpu.status > 0) & (agree.status == cpu.status)
    rel = float(np.max(np.abs(agree.params[ok] - cpu.params[ok]) / np.maximum(np.abs(cpu.params[ok]), 1e-3))) \
        if ok.any() else float("nan")
    del ys
    s1_row, s2_row, L0, A, alpha, C, noise = _fit_data(F, N, 11, dev.uniform)
    S1, S2 = dev.tile(s1_row, F), dev.tile(s2_row, F)
    Y = (L0 + A * S1 ** -alpha - C * S2) * (1.0 + noise)
    del noise
    feats = {"s1": S1, "s2": S2}
    res = cptlaw.fit_many(cptlaw.AnnealingLaw, feats, Y, device="cuda")
    t = _best_time(lambda: cptlaw.fit_many(cptlaw.AnnealingLaw, feats, Y, device="cuda"), max(1, repeat - 1),
                   dev.sync)
    del S1, S2, Y, feats
    dev.free()
    rate = F / t
    bad = same_status < 0.999 or not rel <= 1e-6
    agree_note = (f"on {F_cpu} curves vs the CPU: same status {same_status:.2%}, max rel param diff {rel:.1e}; "
                  f"converged {np.mean(res.status > 0):.2%} of {F:.0e}")
    return [
        Row(name=name, baseline="(absolute)", cptlaw_s=t, ratio=rate, target=1e6, unit="/s",
            status=ERROR if bad else None, note=f"{t:.2f} s; {agree_note}; {kind} arrays"),
        Row(name=f"{name} vs the CPU path", baseline="CPU fit_many, all threads", baseline_s=F / cpu_rate,
            cptlaw_s=t, ratio=rate / cpu_rate, target=20.0, note=cpu_note),
    ]


CASES = [
    Case("law", case_law, "AnnealingLaw over 1e9 device points: GB/s vs the device's copy bandwidth (GPU)"),
    Case("grid_best", case_grid, "the best of 1e9 CPT configurations on the GPU (< 1 s) vs the CPU engine"),
    Case("fit_many", case_fit, "fit_many on 1e6 curves x 200 points on the GPU: fits/s and vs the CPU"),
]
