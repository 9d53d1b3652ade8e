"""cptlaw.grid: values against materialised schedules, reductions against the DataFrame,
chunking/thread invariance, interruption, progress, executors and input errors.

Reference for every value check: the per-step LRs of the row's PT and CPT schedules written
out with NumPy from the Hugging Face formulas (SCHEDULES.md; also checked against the
``cptlaw.schedules`` constructors), their areas from ``cptlaw.cpt_areas`` (the per-step
recurrence) and the law evaluated on them. Agreement: rtol 1e-10 on the losses.
"""

from __future__ import annotations

import _thread
import concurrent.futures
import importlib
import io
import signal
import sys
import warnings
import zlib

import numpy as np
import pytest

import cptlaw
from cptlaw import schedules as S

pd = pytest.importorskip("pandas")
G = importlib.import_module("cptlaw.grid")
grid = G.grid
GridInterrupted = G.GridInterrupted

RTOL = 1e-10
LAW_PT = cptlaw.CPTLaw(3.057, 0.490, 0.497, 0.299, 0.298, 0.366, 28, 0.189)
LAW_CPT = cptlaw.CPTLaw(3.024, 0.412, 0.677, 0.278, 0.324, -0.666, 5662, 0.146)
REPLAY_PT = cptlaw.ReplayPTLaw(3.067, 0.480, 0.510, 0.280, 0.263, 0.055, 0.276, 99.35, 0.2, 3.238)
REPLAY_CPT = cptlaw.ReplayCPTLaw(2.992, 0.456, 0.510, 0.285, 0.279, 0.037, -0.526, 100.34, 0.2, 5.696)
PEAK = 2e-4


def pt_schedules():
    """Two checkpoints: one annealed to 0 (flat end), one cut mid-decay (momentum carried over)."""
    full = S.wsd(PEAK, 3000, decay_steps=1000, warmup=100)
    return {"annealed": full, "mid-decay": full[:2600]}


# ----------------------------------------------------------------------------- reference
def hf_lr(shape, peak, n, W, start, decay_frac, decay_type, min_ratio, pt_last_lr):
    """The CPT LRs of a grid row, from the HF formulas (SCHEDULES.md) in NumPy."""
    t = np.arange(n, dtype=np.float64)
    r = 0.0 if shape == "constant" else min_ratio
    if start is None:
        start = "pt"  # the default
    if start == "hf":
        s = r if shape in ("wsd", "1-sqrt") else 0.0
    else:
        s = (pt_last_lr if start == "pt" else start) / peak
    lam = np.empty(n)
    warm = t < W
    lam[warm] = (t[warm] / max(1, W)) * (1 - s) + s
    rest = n - W
    u = t[~warm] - W
    if shape == "constant":
        f = np.ones_like(u)
        r = 0.0
    elif shape == "cosine":
        f = 0.5 * (1 + np.cos(np.pi * 0.5 * 2 * u / max(1, rest)))
    elif shape == "linear":
        f = (rest - u) / max(1, rest)
    elif shape == "1-sqrt":
        f = 1 - np.sqrt(u / max(1, rest))
    else:
        D = int(np.rint(decay_frac * rest))
        stable = rest - D
        p = (u - stable) / max(1, D)
        if decay_type == "linear":
            g = 1 - p
        elif decay_type == "cosine":
            g = 0.5 * (1 + np.cos(np.pi * 0.5 * 2 * p))
        else:
            g = 1 - np.sqrt(np.maximum(p, 0.0))
        f = np.where(u < stable, 1.0, g)
        f = np.where(u < stable, 1.0, f * (1 - r) + r)
        lam[~warm] = f
        return peak * lam
    lam[~warm] = f * (1 - r) + r
    return peak * lam


def ctor_schedule(shape, peak, n, W, start, decay_frac, decay_type, min_lr, pt_last_lr):
    """The same schedule from the cptlaw.schedules constructors."""
    if start is None:
        start = "pt"  # the default
    if W > 0 and start != "hf":
        s0 = pt_last_lr if start == "pt" else start
        if shape == "constant":
            return S.rewarmup(peak, n, W, s0, decay_steps=0)
        if shape == "wsd":
            return S.rewarmup(peak, n, W, s0, decay_type, min_lr, decay_steps=G.wsd_decay_steps(decay_frac, n, W))
        return S.rewarmup(peak, n, W, s0, shape, min_lr)
    if shape == "constant":
        return S.from_hf("constant_with_warmup", peak, W, n) if W else S.constant(peak, n)
    if shape == "cosine":
        return S.cosine(peak, n, W, min_lr)
    if shape == "linear":
        return S.linear(peak, n, W, min_lr)
    if shape == "1-sqrt":
        return S.one_minus_sqrt(peak, n, None, W, min_lr)
    return S.wsd(peak, n, G.wsd_decay_steps(decay_frac, n, W), W, min_lr, decay_type)


def reference_losses(laws, row, pts, decay, split, start, min_ratio, replay=0.0):
    """Each law at a DataFrame row, from materialised schedules."""
    pt = pts[row["pt"]]
    shape = row["cpt_shape"]
    n, W, peak = int(row["cpt_steps"]), int(row["cpt_warmup"]), float(row["cpt_peak_lr"])
    frac = row.get("cpt_decay_frac", np.nan)
    dtype = row.get("cpt_decay_type", None)
    x_pt = pt.values()
    x_cpt = hf_lr(shape, peak, n, W, start, frac, dtype, min_ratio, x_pt[-1])
    ctor = ctor_schedule(shape, peak, n, W, start, frac, dtype, min_ratio * peak, x_pt[-1])
    np.testing.assert_allclose(ctor.values(), x_cpt, rtol=1e-13, atol=1e-20)
    a = cptlaw.cpt_areas(x_pt, x_cpt, decay, split)
    k = int(row["step"])
    i = len(x_pt) + k - 1
    if k > n:
        return {name: np.nan for name in laws}
    inputs = dict(s1_pt=a.s1_pt[i], s2_pt=a.s2_pt[i], s1_cpt=a.s1_cpt[i], s2_cpt=a.s2_cpt[i])
    out = {}
    for name, law in laws.items():
        if isinstance(law, cptlaw.OpenSourceLaw):
            out[name] = float(law(s1_cpt=inputs["s1_cpt"], s2_cpt=inputs["s2_cpt"]))
        elif isinstance(law, cptlaw.AnnealingLaw):
            out[name] = float(law(s1=inputs["s1_pt"] + inputs["s1_cpt"], s2=inputs["s2_pt"] + inputs["s2_cpt"]))
        elif isinstance(law, cptlaw.ReplayPTLaw):
            out[name] = float(law(r_pt=replay, **inputs))
        else:
            out[name] = float(law(**inputs))
    return out


CPT_FAMILY = dict(
    shape=["cosine", "wsd", "linear", "constant", "1-sqrt"],
    peak_lr=[5e-5, 3e-4],
    steps=[40, 333],
    warmup=[0, 7],
    decay_frac=[0.0, 0.3, 1.0],
    decay_type=["linear", "cosine", "1-sqrt"],
    min_lr_ratio=[0.0, 0.1],
)


def sample_rows(df, n, seed):
    rng = np.random.default_rng(seed)
    return df.iloc[np.sort(rng.choice(len(df), size=min(n, len(df)), replace=False))]


@pytest.mark.parametrize("split", ["by_source", "by_time", "restart"])
@pytest.mark.parametrize("start", [None, "pt", "hf", 1e-5])
def test_values_match_materialised_schedules(split, start):
    pts = pt_schedules()
    laws = {"pt": LAW_PT, "cpt": LAW_CPT}
    steps = [0, 1, 6, 7, 8, 30, 40, 200, 333]
    df = grid(laws, pt=pts, cpt=dict(CPT_FAMILY, start_lr=start), steps=steps, split=split)
    n_sched = 2 * (3 * 16 + 144 + 8)  # 2 PTs x (cosine, linear, 1-sqrt: 16 each; wsd: 144; constant: 8)
    assert len(df) == n_sched * len(steps)
    assert isinstance(df.index, pd.RangeIndex) and df.index.name == "row"
    for _, row in sample_rows(df, 60, seed=zlib.crc32(f"{split}{start}".encode())).iterrows():
        ref = reference_losses(laws, row, pts, 0.999, split, start, row["cpt_min_lr_ratio"])
        for name, law_col in (("pt", "loss_pt"), ("cpt", "loss_cpt")):
            got = row[law_col]
            if np.isnan(ref[name]):
                assert np.isnan(got)
            else:
                np.testing.assert_allclose(got, ref[name], rtol=RTOL, err_msg=str(row.to_dict()))


def test_every_shape_and_step_kind_checked():
    # A deterministic pass over all rows of a small grid (every shape, decay type, warmup and
    # step position), including the start LR of each row.
    pts = pt_schedules()
    laws = {"pt": LAW_PT}
    cpt = dict(shape=["cosine", "wsd", "linear", "constant", "1-sqrt"], peak_lr=1e-4, steps=25, warmup=[0, 5],
               start_lr=["pt", 2e-5], decay_frac=0.4, decay_type=["linear", "cosine", "1-sqrt"], min_lr=1e-5)
    df = grid(laws, pt=pts, cpt=cpt, steps=[0, 1, 4, 5, 6, 14, 15, 16, 25, 26], decay=0.99, split="by_source")
    for _, row in df.iterrows():
        start = None if row["cpt_warmup"] == 0 else ("pt" if row["cpt_start_lr"] != 2e-5 else 2e-5)
        ref = reference_losses(laws, row, pts, 0.99, "by_source", start, 1e-5 / 1e-4)
        if np.isnan(ref["pt"]):
            assert np.isnan(row["loss_pt"]) and row["step"] == 26
        else:
            np.testing.assert_allclose(row["loss_pt"], ref["pt"], rtol=RTOL)
        if row["cpt_warmup"] == 0:
            assert np.isnan(row["cpt_start_lr"])
        elif start == "pt":
            assert row["cpt_start_lr"] == pts[row["pt"]].lr(pts[row["pt"]].steps - 1)
    # no duplicated rows for warmup 0 across start LRs
    key = [c for c in df.columns if not c.startswith("loss") and c != "cpt_start_lr"]
    assert not df[df["cpt_warmup"] == 0].duplicated(subset=key).any()


def test_one_minus_sqrt_decay_at_many_steps():
    # 1-sqrt decays use the per-step recurrence with a cursor carried across ascending steps.
    pts = pt_schedules()
    cpt = dict(shape="wsd", peak_lr=3e-4, steps=[120, 121], warmup=[0, 13], start_lr="pt",
               decay_frac=[0.5, 1.0], decay_type="1-sqrt", min_lr_ratio=[0.0, 0.2])
    for split in ("by_source", "by_time", "restart"):
        df = grid({"cpt": LAW_CPT}, pt=pts, cpt=cpt, steps=np.arange(0, 125, 3), split=split)
        for _, row in df.iterrows():
            start = "pt" if row["cpt_warmup"] else None
            ref = reference_losses({"cpt": LAW_CPT}, row, pts, 0.999, split, start, row["cpt_min_lr_ratio"])
            if np.isnan(ref["cpt"]):
                assert np.isnan(row["loss_cpt"]) and row["step"] > row["cpt_steps"]
            else:
                np.testing.assert_allclose(row["loss_cpt"], ref["cpt"], rtol=RTOL)


def test_final_equals_last_step_and_step_column():
    pts = pt_schedules()
    cpt = dict(shape=["cosine", "wsd"], peak_lr=[1e-4, 2e-4], steps=[50, 120], warmup=10, decay_frac=0.25,
               decay_type=["1-sqrt", "cosine"])
    fin = grid(LAW_CPT, pt=pts, cpt=cpt)
    assert list(fin["step"]) == list(fin["cpt_steps"])
    every = grid(LAW_CPT, pt=pts, cpt=cpt, steps=[50, 120])
    last = every[every["step"] == every["cpt_steps"]]
    np.testing.assert_array_equal(last["loss"].to_numpy(), fin["loss"].to_numpy())
    # unsorted, repeated steps are sorted and de-duplicated
    again = grid(LAW_CPT, pt=pts, cpt=cpt, steps=[120, 50, 120])
    pd.testing.assert_frame_equal(again, every)


def test_replay_and_weights():
    pts = {"a": pt_schedules()["mid-decay"]}
    laws = {"pt": REPLAY_PT, "cpt": REPLAY_CPT}
    cpt = dict(shape="cosine", peak_lr=[1e-4, 3e-4], steps=[100, 400], warmup=20)
    df = grid(laws, pt=pts, cpt=cpt, replay=[0.0, 0.25, 0.5], w=[0.0, 0.3, 1.0], steps=[10, 100, 400])
    assert len(df) == 2 * 2 * 3 * 3 * 3
    for _, row in sample_rows(df, 40, seed=3).iterrows():
        ref = reference_losses(laws, row, pts, 0.999, "by_source", None, 0.0, replay=row["replay"])
        if np.isnan(ref["pt"]):
            assert np.isnan(row["loss"])
            continue
        np.testing.assert_allclose(row["loss_pt"], ref["pt"], rtol=RTOL)
        np.testing.assert_allclose(row["loss_cpt"], ref["cpt"], rtol=RTOL)
        want = row["w"] * ref["pt"] + (1 - row["w"]) * ref["cpt"]
        np.testing.assert_allclose(row["loss"], want, rtol=RTOL)
    # the weighted column is exactly w*L_pt + (1-w)*L_cpt of the row
    np.testing.assert_array_equal(df["loss"], df["w"] * df["loss_pt"] + (1 - df["w"]) * df["loss_cpt"])


def test_other_laws():
    pts = pt_schedules()
    power = cptlaw.CPTPowerS2Law(3.0, 0.45, 0.5, 0.3, 0.3, 0.3, 30.0, 0.2, 0.9, 1.1)
    anneal = cptlaw.AnnealingLaw(2.628, 0.430, 0.550, 0.411)
    opensrc = cptlaw.OpenSourceLaw(2.9, 0.45, 0.5, 0.3, -0.4, 500.0, 0.2, 0.3)
    laws = {"power": power, "anneal": anneal, "open": opensrc}
    cpt = dict(shape=["wsd", "linear"], peak_lr=[1e-4], steps=[60, 90], warmup=[0, 9], decay_frac=0.5)
    df = grid(laws, pt=pts, cpt=cpt, steps=[1, 30, 60], split="by_time")
    for _, row in df.iterrows():
        ref = reference_losses(laws, row, pts, 0.999, "by_time", None, 0.0)
        for name in laws:
            np.testing.assert_allclose(row[f"loss_{name}"], ref[name], rtol=RTOL)


def test_open_source_without_pt():
    law = cptlaw.OpenSourceLaw(2.9, 0.45, 0.5, 0.3, -0.4, 500.0, 0.2, 0.3)
    df = grid(law, cpt=dict(shape="cosine", peak_lr=[1e-4, 2e-4], steps=100, warmup=[0, 10]), steps=[1, 50, 100])
    assert "pt" not in df.columns
    for _, row in df.iterrows():
        x = hf_lr("cosine", row["cpt_peak_lr"], 100, int(row["cpt_warmup"]), None, 0, None, 0.0, 0.0)
        a = cptlaw.cpt_areas([0.0], x)  # a PT LR that ended at 0
        i = int(row["step"])
        np.testing.assert_allclose(row["loss"], law(s1_cpt=a.s1_cpt[i], s2_cpt=a.s2_cpt[i]), rtol=RTOL)


def test_pt_family_and_loss_potential():
    lps = [0.0, 0.1, 0.5, 1.0]
    ptf = dict(shape="wsd", peak_lr=PEAK, steps=[2000, 4000], warmup=100, decay_frac=0.2, loss_potential=lps)
    cpt = dict(shape="cosine", peak_lr=PEAK, steps=500, warmup=50)
    df = grid({"cpt": LAW_CPT}, pt=ptf, cpt=cpt)
    assert list(df["pt_loss_potential"]) == lps * 2
    assert list(df["pt_steps"]) == [2000] * 4 + [4000] * 4
    assert (df["pt_shape"] == "wsd").all() and (df["pt_decay_type"] == "linear").all()
    for _, row in df.iterrows():
        n = int(row["pt_steps"])
        lp = row["pt_loss_potential"]
        # the loss potential is exact: a decay over n - 1 steps towards lp * PEAK, then one step there
        pt = S.concat(S.wsd(PEAK, n - 1, G.wsd_decay_steps(0.2, n - 1, 100), 100, min_lr=lp * PEAK),
                      S.constant(lp * PEAK, 1))
        assert cptlaw.planner.loss_potential(pt) == pytest.approx(lp, abs=1e-15)
        ref = reference_losses({"cpt": LAW_CPT}, row, {row["pt"]: pt}, 0.999, "by_source", None, 0.0)
        np.testing.assert_allclose(row["loss_cpt"], ref["cpt"], rtol=RTOL)
    # P1: a higher loss potential gives a lower final D_cpt loss
    for n in (2000, 4000):
        sub = df[df["pt_steps"] == n]
        assert np.all(np.diff(sub["loss_cpt"].to_numpy()) < 0)
    # a list of PT families is their concatenation
    two = grid({"cpt": LAW_CPT}, pt=[dict(ptf, steps=2000), dict(shape="constant", peak_lr=PEAK, steps=3000)],
               cpt=cpt)
    assert len(two) == 5
    assert two["pt_loss_potential"].isna().tolist() == [False] * 4 + [True]


def test_invalid_combinations_are_nan():
    pts = pt_schedules()
    cpt = dict(shape=["cosine", "constant"], peak_lr=[1e-5, 1e-4], steps=[5, 50], warmup=[0, 10], min_lr=5e-5)
    df = grid(LAW_PT, pt=pts, cpt=cpt, steps=[3, 50])
    bad = (df["cpt_warmup"] > df["cpt_steps"]) | (df["step"] > df["cpt_steps"])
    bad |= (df["cpt_shape"] == "cosine") & (df["cpt_min_lr"] > df["cpt_peak_lr"])
    assert df.loc[bad, "loss"].isna().all()
    assert df.loc[~bad, "loss"].notna().all()
    assert df.loc[df["cpt_shape"] == "constant", "cpt_min_lr"].isna().all()


# ----------------------------------------------------------------------------- reductions
REDUCE_CPT = dict(shape=["cosine", "wsd"], peak_lr=np.geomspace(2.5e-5, 4e-4, 9), steps=[200, 500, 1000],
                  warmup=[0, 50], decay_frac=[0.1, 0.3], decay_type=["linear", "1-sqrt"])


def reduce_kwargs():
    return dict(pt=pt_schedules(), cpt=REDUCE_CPT, w=[0.2, 0.5, 0.8], steps=[100, 200, 1000])


def test_reduce_min_equals_dataframe():
    laws = {"pt": LAW_PT, "cpt": LAW_CPT}
    full = grid(laws, **reduce_kwargs())
    best = grid(laws, **reduce_kwargs(), reduce="min", k=5)
    want = full.dropna(subset=["loss"]).sort_values("loss", kind="stable").head(5)
    pd.testing.assert_frame_equal(best, want)
    assert best.attrs["complete"] and best.attrs["rows_done"] == best.attrs["rows_total"] == len(full)
    worst = grid(laws, **reduce_kwargs(), reduce="max", objective="loss_cpt", k=3)
    want = full.dropna(subset=["loss_cpt"]).sort_values("loss_cpt", ascending=False, kind="stable").head(3)
    pd.testing.assert_frame_equal(worst, want)


@pytest.mark.parametrize("group_by", [["cpt_steps"], ["w", "cpt_steps"], ["pt", "cpt_shape", "step"],
                                      "cpt_decay_type"])
def test_reduce_per_group_equals_dataframe(group_by):
    laws = {"pt": LAW_PT, "cpt": LAW_CPT}
    full = grid(laws, **reduce_kwargs())
    got = grid(laws, **reduce_kwargs(), reduce="min", group_by=group_by, k=2)
    keys = [group_by] if isinstance(group_by, str) else group_by
    ok = full.dropna(subset=["loss"])
    ok = ok[ok[keys].notna().all(axis=1)] if "cpt_decay_type" in keys else ok
    want = ok.sort_values("loss", kind="stable").groupby(keys, observed=True, sort=False).head(2)
    want = want.sort_values(keys, kind="stable")
    if "cpt_decay_type" in keys:  # the NaN group (non-WSD rows) is a group too
        nan_rows = full[full["cpt_decay_type"].isna()].dropna(subset=["loss"]).sort_values("loss", kind="stable")
        want = pd.concat([want, nan_rows.head(2)])
    pd.testing.assert_frame_equal(got, want)


def test_best_peak_lr_per_length_and_pt_family_groups():
    # the brief's example: best peak LR for each CPT length, for each loss-potential checkpoint
    ptf = dict(shape="wsd", peak_lr=PEAK, steps=3000, warmup=100, decay_frac=0.2, loss_potential=[0.0, 0.3, 1.0])
    kw = dict(pt=ptf, cpt=dict(shape="cosine", peak_lr=np.geomspace(1e-5, 1e-3, 21), steps=[500, 2000], warmup=50))
    full = grid(LAW_CPT, **kw)
    got = grid(LAW_CPT, **kw, reduce="min", group_by=["pt_loss_potential", "cpt_steps"])
    assert len(got) == 6
    idx = full.groupby(["pt_loss_potential", "cpt_steps"])["loss"].idxmin()
    assert sorted(got.index) == sorted(idx.to_numpy())


def test_chunking_and_threads_invariance():
    laws = {"pt": LAW_PT, "cpt": LAW_CPT}
    kw = reduce_kwargs()
    ref = grid(laws, **kw)
    ref_best = grid(laws, **kw, reduce="min", group_by="cpt_peak_lr", k=3)
    try:
        for threads, chunks in ((1, (1, 9, 17, 1000, 10**9)), (2, (17, 10**9)), (3, (9, 1000))):
            cptlaw.set_num_threads(threads)
            for chunk in chunks:
                pd.testing.assert_frame_equal(grid(laws, **kw, chunk_size=chunk), ref)
                got = grid(laws, **kw, reduce="min", group_by="cpt_peak_lr", k=3, chunk_size=chunk)
                pd.testing.assert_frame_equal(got, ref_best)
    finally:
        cptlaw.set_num_threads(0)


def test_executor_matches_local():
    laws = {"pt": LAW_PT, "cpt": LAW_CPT}
    kw = reduce_kwargs()
    with concurrent.futures.ThreadPoolExecutor(3) as ex:
        pd.testing.assert_frame_equal(grid(laws, **kw, chunk_size=100, client=ex), grid(laws, **kw))
        pd.testing.assert_frame_equal(grid(laws, **kw, chunk_size=100, client=ex, reduce="min", k=4),
                                      grid(laws, **kw, reduce="min", k=4))


# ----------------------------------------------------------------------------- interruption, progress
@pytest.fixture
def sigint_raises():
    """SIGINT raising KeyboardInterrupt here, whatever this process inherited: a suite started in
    the background (nohup, `&`) runs with SIGINT ignored, and interrupt_main() then does nothing."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def interrupt_on_call(monkeypatch, name, n):
    """Ctrl-C arriving while the n-th chunk runs in C++ (the call returns, then it fires)."""
    real = getattr(G._core, name)
    calls = [0]

    def fake(*args):
        calls[0] += 1
        out = real(*args)
        if calls[0] == n:
            _thread.interrupt_main()
        return out

    monkeypatch.setattr(G._core, name, fake)
    return calls


def test_ctrl_c_keeps_computed_rows(monkeypatch, sigint_raises):
    laws = {"pt": LAW_PT, "cpt": LAW_CPT}
    kw = reduce_kwargs()
    full = grid(laws, **kw)
    interrupt_on_call(monkeypatch, "grid_materialize", 3)
    with pytest.raises(GridInterrupted) as info:
        grid(laws, **kw, chunk_size=300)
    e = info.value
    assert isinstance(e, KeyboardInterrupt)
    part = e.partial
    assert e.rows_total == len(full) and 0 < e.rows_done < len(full) and len(part) == e.rows_done
    assert part.attrs["complete"] is False and part.attrs["rows_done"] == e.rows_done
    # the chunks that finished (2 or 3, depending on when the interrupt fires) are kept intact;
    # a chunk is 300 rows rounded down to whole schedules of 9 rows (3 weights x 3 steps)
    assert e.rows_done in (2 * 297, 3 * 297)
    pd.testing.assert_frame_equal(part, full.iloc[: e.rows_done], check_index_type=False)


def test_ctrl_c_keeps_reduction(monkeypatch, sigint_raises):
    laws = {"pt": LAW_PT, "cpt": LAW_CPT}
    kw = reduce_kwargs()
    full = grid(laws, **kw)
    interrupt_on_call(monkeypatch, "grid_reduce", 4)
    with pytest.raises(GridInterrupted) as info:
        grid(laws, **kw, chunk_size=300, reduce="min", group_by="cpt_steps")
    e = info.value
    seen = full.iloc[: e.rows_done].dropna(subset=["loss"])
    want = seen.sort_values("loss", kind="stable").groupby("cpt_steps").head(1).sort_values("cpt_steps")
    pd.testing.assert_frame_equal(e.partial, want)


def test_progress_bar(capsys):
    pytest.importorskip("tqdm")
    kw = dict(pt=pt_schedules(), cpt=dict(shape="cosine", peak_lr=[1e-4, 2e-4], steps=[10, 20]))
    grid(LAW_PT, **kw, chunk_size=1, progress=True)
    err = capsys.readouterr().err
    assert "cptlaw.grid" in err and "row" in err
    grid(LAW_PT, **kw, chunk_size=1)  # stderr is not a terminal here: no bar
    grid(LAW_PT, **kw, chunk_size=1, progress=False)
    assert capsys.readouterr().err == ""


def test_progress_bar_on_a_terminal(monkeypatch):
    pytest.importorskip("tqdm")

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    kw = dict(pt=pt_schedules(), cpt=dict(shape="cosine", peak_lr=[1e-4, 2e-4], steps=[10, 20]))
    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    grid(LAW_PT, **kw, chunk_size=2)  # 4 chunks on a terminal: a bar by default
    assert "cptlaw.grid" in term.getvalue()
    term.seek(0)
    term.truncate()
    grid(LAW_PT, **kw)  # one chunk: no bar
    assert term.getvalue() == ""


def test_progress_without_tqdm(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm -> ImportError
    kw = dict(pt=pt_schedules(), cpt=dict(shape="cosine", peak_lr=[1e-4, 2e-4], steps=[10, 20]))
    with pytest.warns(RuntimeWarning, match="progress: tqdm"):
        df = grid(LAW_PT, **kw, chunk_size=1, progress=True)
    assert len(df) == 8
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        grid(LAW_PT, **kw, chunk_size=1)


def test_empty_partial_has_columns():
    plan = G._Plan(LAW_PT, pt_schedules(), dict(shape="cosine", peak_lr=1e-4, steps=10), None, None, "final",
                   0.999, "by_source")
    df = G._Rows(plan).frame()
    assert len(df) == 0 and list(df.columns) == plan.column_names() + ["loss"]


# ----------------------------------------------------------------------------- errors
GOOD = dict(pt=S.cosine(PEAK, 1000, 10), cpt=dict(shape="cosine", peak_lr=1e-4, steps=100))


@pytest.mark.parametrize(
    "change, exc, match",
    [
        (dict(cpt=dict(shape="cosine", steps=100)), ValueError, r"cpt: missing 'peak_lr'"),
        (dict(pt=dict(peak_lr=1e-4, steps=100)), ValueError, r"pt: missing 'shape'"),
        (dict(cpt=dict(shape="cosine", peak_lr=1e-4, steps=100, peak=1)), ValueError, r"cpt: unknown key\(s\) 'peak'"),
        (dict(cpt=dict(shape="cosinus", peak_lr=1e-4, steps=100)), ValueError, r"cpt\['shape'\]"),
        (dict(cpt=dict(shape="cosine", peak_lr=[1e-4, 0.0], steps=100)), ValueError, r"cpt\['peak_lr'\]: must be > 0"),
        (dict(cpt=dict(shape="cosine", peak_lr=1e-4, steps=0)), ValueError, r"cpt\['steps'\]"),
        (dict(cpt=dict(shape="cosine", peak_lr=1e-4, steps=10.5)), TypeError, r"cpt\['steps'\]"),
        (dict(cpt=dict(shape="cosine", peak_lr=1e-4, steps=10, warmup=-1)), ValueError, r"cpt\['warmup'\]"),
        (dict(cpt=dict(shape="wsd", peak_lr=1e-4, steps=10, decay_fraction=0.1)), ValueError,
         r"cpt: unknown key\(s\) 'decay_fraction' \('decay_fraction' is spelled 'decay_frac' here\)"),
        (dict(cpt=dict(shape="wsd", peak_lr=1e-4, steps=10, decay_frac=1.5)), ValueError, r"cpt\['decay_frac'\]"),
        (dict(cpt=dict(shape="wsd", peak_lr=1e-4, steps=10, decay_frac=0.1, decay_type="exp")), ValueError,
         r"cpt\['decay_type'\]"),
        (dict(cpt=dict(shape="cosine", peak_lr=1e-4, steps=10, start_lr="end")), ValueError, r"cpt\['start_lr'\]"),
        (dict(cpt=dict(shape="cosine", peak_lr=1e-4, steps=10, min_lr=0, min_lr_ratio=0)), ValueError,
         r"cpt: give only one"),
        (dict(cpt=[dict(shape="cosine", peak_lr=1e-4, steps=10), dict(shape="cosine", peak_lr=[], steps=10)]),
         ValueError,
         r"cpt\[1\]\['peak_lr'\]: is empty"),
        (dict(cpt="cosine"), TypeError, r"cpt: expected a mapping"),
        (dict(pt=None), ValueError, r"pt: required"),
        (dict(pt=[S.constant(1e-4, 10), "x"]), TypeError, r"pt\[1\]"),
        (dict(pt=dict(shape="wsd", peak_lr=1e-4, steps=100, decay_frac=0.1, loss_potential=2.0)), ValueError,
         r"pt\['loss_potential'\]"),
        (dict(pt=dict(shape="cosine", peak_lr=1e-4, steps=10, warmup=20)), ValueError, r"pt\['warmup'\]"),
        (dict(steps=[-1, 5]), ValueError, r"steps: CPT step counts must be >= 0"),
        (dict(steps=[0.5]), TypeError, r"steps"),
        (dict(steps="last"), ValueError, r"steps"),
        (dict(replay=0.5), ValueError, r"replay: none of the laws"),
        (dict(w=0.5), ValueError, r"w: needs laws="),
        (dict(decay=1.5), ValueError, r"decay"),
        (dict(split="by_phase"), ValueError, r"split"),
        (dict(reduce="best"), ValueError, r"reduce"),
        (dict(reduce="min", objective="loss_pt"), ValueError, r"objective: unknown loss column"),
        (dict(reduce="min", group_by=["cpt_peak"]), ValueError, r"group_by: unknown column 'cpt_peak'"),
        (dict(reduce="min", group_by=["loss"]), ValueError, r"group_by: unknown column 'loss'"),
        (dict(reduce="min", k=0), ValueError, r"k: must be >= 1"),
        (dict(group_by="cpt_steps"), ValueError, r"objective, group_by"),
        (dict(chunk_size=0), ValueError, r"chunk_size"),
        (dict(progress="yes"), TypeError, r"progress"),
        (dict(client=object()), TypeError, r"client"),
    ],
)
def test_bad_input_names_the_argument(change, exc, match):
    kw = dict(GOOD, **change)
    with pytest.raises(exc, match=match):
        grid(LAW_PT, **kw)


def test_bad_laws():
    with pytest.raises(TypeError, match="laws: expected a fitted Law"):
        grid([LAW_PT], **GOOD)
    with pytest.raises(TypeError, match=r"laws\['m'\]: ModelSizeLaw is not supported"):
        grid({"m": cptlaw.ModelSizeLaw(*[1.0] * 12)}, **GOOD)
    with pytest.raises(TypeError, match=r"laws\['x'\]: expected a Law"):
        grid({"x": 3}, **GOOD)
    with pytest.raises(ValueError, match="objective: required with several losses"):
        grid({"pt": LAW_PT, "cpt": LAW_CPT}, **GOOD, reduce="min")


@pytest.mark.parametrize("warm", [True, 300])
def test_warmup_as_peak_for_pt_checkpoints(warm):
    law = cptlaw.CPTLaw(L0=3.0, A=0.5, alpha=0.5, C1=0.3, C2=0.3, B=0.4, E=30.0, beta=0.2)
    pt = S.wsd(3e-4, 5000, 1000, warmup=300)
    df = cptlaw.grid(law, pt=pt, cpt={"shape": "constant", "peak_lr": [1e-4], "steps": [1000]},
                     warmup_as_peak=warm)
    a = cptlaw.cpt_areas(pt.values(), np.full(1000, 1e-4), warmup_as_peak=warm)
    want = law(**{k: getattr(a, k)[-1] for k in ("s1_pt", "s2_pt", "s1_cpt", "s2_cpt")})
    np.testing.assert_allclose(df["loss"].to_numpy(), [want], rtol=1e-10)
    literal = cptlaw.grid(law, pt=pt, cpt={"shape": "constant", "peak_lr": [1e-4], "steps": [1000]})
    assert abs(literal["loss"].iloc[0] - df["loss"].iloc[0]) > 1e-6  # the convention matters here
