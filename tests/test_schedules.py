"""cptlaw.schedules: closed-form areas against the per-step recurrence, API and validation.

Tolerance used throughout (``assert_areas_close``):

    |closed - recurrence| <= 1e-9 * |recurrence| + 1e-12 * max(max|S1|, max|S2|)

Why an absolute floor: the reference (``cptlaw.areas`` on ``values()``) runs on LRs that are
already rounded, and each rounding error e_j of an LR moves S2[i] by about e_j * lam^(i-j);
together that is up to ~eps * max|lr| * min(i, 1/(1-lam)) <= eps * max|S1|, in absolute
terms, and S2 passes through 0 (warmups make it negative), so a pure relative test is
meaningless near its zero crossings. The floor 1e-12 * max|S| leaves ~4 orders of magnitude
of room over the errors actually seen (a few eps * max|S|; ``test_closed_form_beats_tolerance``
measures them against an extended-precision recurrence), and 1e-9 relative catches any
real formula mistake (those show up at 1e-3..1).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import cptlaw
from cptlaw import schedules as S

DECAYS = (0.0, 0.5, 0.999, 1.0 - 1e-9, 1.0)
PEAK = 3e-4


def assert_areas_close(got_s1, got_s2, ref_s1, ref_s2, rtol=1e-9, floor=1e-12, what=""):
    scale = max(np.abs(ref_s1).max(initial=0.0), np.abs(ref_s2).max(initial=0.0))
    for name, got, ref in (("S1", got_s1, ref_s1), ("S2", got_s2, ref_s2)):
        bad = np.abs(got - ref) > rtol * np.abs(ref) + floor * scale
        if bad.any():
            i = np.flatnonzero(bad.ravel())[0]
            raise AssertionError(
                f"{what} {name} differs at {bad.sum()} of {bad.size} steps, first index {i}: "
                f"{got.ravel()[i]!r} vs {ref.ravel()[i]!r} (scale {scale:.3g})"
            )


def catalog():
    """One schedule per constructor / option (ids, schedule)."""
    rng = np.random.default_rng(0)
    pt = S.wsd(PEAK, 900, 200, 50)
    items = [
        ("constant", S.constant(PEAK, 300)),
        ("cosine", S.cosine(PEAK, 1000, warmup=100)),
        ("cosine_min_lr", S.cosine(PEAK, 1000, warmup=100, min_lr=1e-5)),
        ("cosine_cycles", S.cosine(PEAK, 1200, warmup=10, min_lr=1e-5, num_cycles=1.75)),
        ("linear", S.linear(PEAK, 800, warmup=50)),
        ("linear_min_lr", S.linear(PEAK, 800, 0, min_lr=2e-5)),
        ("wsd_linear", S.wsd(PEAK, 1000, 300, 100, min_lr=3e-5)),
        ("wsd_cosine", S.wsd(PEAK, 1000, 300, 100, decay="cosine", warmup_type="cosine")),
        ("wsd_1sqrt", S.wsd(PEAK, 1000, 300, 100, min_lr=1e-5, decay="1-sqrt", warmup_type="1-sqrt")),
        ("one_minus_sqrt", S.one_minus_sqrt(PEAK, 700, warmup=30)),
        ("exponential", S.exponential(PEAK, 1500, 0.997, warmup=20)),
        ("exponential_eq_decay", S.exponential(PEAK, 1500, 0.999)),
        ("exponential_growth", S.exponential(PEAK, 400, 1.002)),
        ("inverse_sqrt", S.inverse_sqrt(PEAK, 900, warmup=40)),
        ("polynomial_2", S.polynomial(PEAK, 700, 20, min_lr=1e-6, power=2.0)),
        ("polynomial_1", S.polynomial(PEAK, 700, 20, min_lr=1e-6, power=1.0)),
        ("multistep", S.multistep(PEAK, 1000, [800, 900, 900], gamma=0.316, warmup=100)),
        ("warm_restarts", S.cyclic_cosine(PEAK, 1000, 60, cycle_mult=2, min_lr=1e-5, warmup=25)),
        ("hard_restarts", S.cyclic_cosine(PEAK, 1000, num_cycles=2.7, warmup=25)),
        ("rewarmup", S.rewarmup(PEAK, 900, 60, start_lr=2e-5, decay="cosine", min_lr=1e-6)),
        ("rewarmup_wsd", S.rewarmup(PEAK, 900, 60, start_lr=2e-5, decay="1-sqrt", decay_steps=200)),
        ("from_values", S.from_values(PEAK * rng.random(500))),
        ("concat", pt + S.rewarmup(PEAK, 400, 40, start_lr=pt.lr(pt.steps - 1)) + S.from_values(PEAK * rng.random(50))),
        ("hf_wsd_tail", S.from_hf("warmup_stable_decay", PEAK, 10, 600, num_decay_steps=100, num_stable_steps=300)),
        ("hf_lr_rate", S.from_hf("cosine_warmup_with_min_lr", PEAK, 30, 500, min_lr_rate=0.1)),
    ]
    return items


CATALOG = catalog()


@pytest.mark.parametrize("decay", DECAYS)
@pytest.mark.parametrize("name,sched", CATALOG, ids=[c[0] for c in CATALOG])
def test_closed_form_matches_recurrence(name, sched, decay):
    ref = cptlaw.areas(sched.values(), decay)
    got = sched.areas(decay=decay)
    assert got.s1.shape == (sched.steps,)
    assert_areas_close(got.s1, got.s2, ref.s1, ref.s2, what=f"{name} decay={decay}")
    # Random access: unsorted, repeated steps give the same numbers as the full sweep.
    rng = np.random.default_rng(1)
    idx = rng.integers(0, sched.steps, size=(7, 5))
    part = sched.areas(idx, decay)
    assert part.s1.shape == (7, 5)
    assert_areas_close(part.s1, part.s2, ref.s1[idx], ref.s2[idx], what=f"{name} random steps")
    st = sched.final_state(decay)
    assert st.lr == sched.values()[-1]
    assert math.isclose(st.s2, ref.s2[-1], rel_tol=1e-9, abs_tol=1e-12 * max(abs(ref.s1[-1]), 1e-300))


def _longdouble_areas(x, lam):
    """The recurrence in extended precision (x86 long double), as the accuracy yardstick."""
    x = np.asarray(x, dtype=np.longdouble)
    lam = np.longdouble(lam)
    n = x.size
    s1 = np.cumsum(x)
    d = np.zeros(n, dtype=np.longdouble)
    d[1:] = x[:-1] - x[1:]
    m = np.zeros(n, dtype=np.longdouble)
    acc = np.longdouble(0)
    for i in range(1, n):
        acc = lam * acc + d[i]
        m[i] = acc
    return s1, np.cumsum(m)


@pytest.mark.skipif(np.finfo(np.longdouble).eps >= np.finfo(np.float64).eps, reason="no extended precision")
@pytest.mark.parametrize("decay", (0.999, 1.0 - 1e-9, 1.0))
def test_closed_form_beats_tolerance(decay):
    """Against an extended-precision recurrence the closed form is within 2e-14 * max|S|."""
    for sched in (S.cosine(PEAK, 3000, 100, 1e-5), S.wsd(PEAK, 3000, 800, 100), S.exponential(PEAK, 3000, 0.999)):
        r1, r2 = _longdouble_areas(sched.values(), decay)
        got = sched.areas(decay=decay)
        scale = float(max(np.abs(r1).max(), np.abs(r2).max()))
        err = max(np.abs(got.s1 - r1).max(), np.abs(got.s2 - r2).max())
        assert float(err) <= 2e-14 * scale, (sched, decay, float(err) / scale)


@pytest.mark.parametrize("decay", (0.999, 1.0 - 1e-9, 1.0))
def test_very_long_segments(decay):
    """1e6-step linear decay and slow cosine (w = pi/1e6): a handful of steps vs a recurrence run."""
    sched = S.linear(1.0, 1_000_000) + S.cosine(1.0, 1_000_000)
    ref = cptlaw.areas(sched.values(), decay)
    steps = np.array([0, 1, 12345, 999_999, 1_000_000, 1_000_001, 1_500_000, 1_999_999])
    got = sched.areas(steps, decay)
    scale = max(np.abs(ref.s1).max(), np.abs(ref.s2).max())
    # The recurrence sums 2e6 terms: its own rounding reaches ~1e-13 relative; same floor.
    for g, r in ((got.s1, ref.s1[steps]), (got.s2, ref.s2[steps])):
        np.testing.assert_array_less(np.abs(g - r), 1e-9 * np.abs(r) + 1e-12 * scale)


@pytest.mark.parametrize("decay", (0.999, 1.0 - 1e-9, 1.0))
def test_tiny_cosine_frequency(decay):
    # w = pi / 20000 (num_cycles 0.5 over 20000 steps) and w = 2 pi * 0.01 / 40000.
    for sched in (S.cosine(PEAK, 20_000), S.cosine(PEAK, 40_000, num_cycles=0.01), S.cosine(PEAK, 5, num_cycles=1e-6)):
        ref = cptlaw.areas(sched.values(), decay)
        got = sched.areas(decay=decay)
        assert_areas_close(got.s1, got.s2, ref.s1, ref.s2, what=repr(sched))


def test_exponential_gamma_near_decay():
    for gamma in (0.999, 0.999 * (1 + 1e-12), 0.999 * (1 - 1e-9), 0.9989):
        sched = S.exponential(PEAK, 3000, gamma)
        for decay in (0.999, 1.0):
            ref = cptlaw.areas(sched.values(), decay)
            got = sched.areas(decay=decay)
            assert_areas_close(got.s1, got.s2, ref.s1, ref.s2, what=f"gamma={gamma}")


def test_known_identities():
    # Constant schedule: S2 == 0; S1 = (t + 1) lr.
    a = S.constant(2e-4, 1000).areas(decay=0.999)
    assert np.all(a.s2 == 0)
    np.testing.assert_allclose(a.s1, 2e-4 * np.arange(1, 1001), rtol=1e-15)
    # A drop a -> b then a long flat tail: S2 -> (a - b) / (1 - lam).
    sched = S.constant(1.0, 10) + S.constant(0.25, 200_000)
    assert math.isclose(sched.areas(sched.steps - 1, 0.999).s2, 0.75 / 0.001, rel_tol=1e-12)
    # lam = 0: S2[i] = x0 - x[i].
    s = S.cosine(PEAK, 500, 50)
    np.testing.assert_allclose(s.areas(decay=0.0).s2, s.values()[0] - s.values(), rtol=0, atol=1e-18)
    # A re-warmup makes S2 decrease.
    s = S.rewarmup(PEAK, 200, 100, start_lr=1e-5)
    assert np.all(np.diff(s.areas(decay=0.999).s2[:100]) < 0)


def test_hypothesis_families():
    hyp = pytest.importorskip("hypothesis")
    st = hyp.strategies

    @hyp.settings(max_examples=40, deadline=None, derandomize=True)
    @hyp.given(
        steps=st.integers(1, 3000),
        wfrac=st.floats(0, 0.5),
        dfrac=st.floats(0, 1),
        ratio=st.floats(0, 1),
        kind=st.sampled_from(["linear", "cosine", "1-sqrt", "cos", "lin", "exp", "cyc"]),
        decay=st.sampled_from([0.0, 0.3, 0.99, 0.999, 1 - 1e-7, 1.0]),
    )
    def check(steps, wfrac, dfrac, ratio, kind, decay):
        w = int(wfrac * steps)
        d = int(dfrac * (steps - w))
        lo = ratio * PEAK
        if kind in ("linear", "cosine", "1-sqrt"):
            sched = S.wsd(PEAK, steps, d, w, lo, kind)
        elif kind == "cos":
            sched = S.cosine(PEAK, steps, w, lo)
        elif kind == "lin":
            sched = S.linear(PEAK, steps, w, lo)
        elif kind == "exp":
            sched = S.exponential(PEAK, steps, 0.99 + 0.01 * ratio, w)
        else:
            sched = S.cyclic_cosine(PEAK, steps, 1 + d, min_lr=lo, warmup=w)
        ref = cptlaw.areas(sched.values(), decay)
        got = sched.areas(decay=decay)
        assert_areas_close(got.s1, got.s2, ref.s1, ref.s2, what=repr(sched))

    check()


# -- PT + CPT ---------------------------------------------------------------------------


@pytest.mark.parametrize("split", ("by_source", "by_time", "restart"))
@pytest.mark.parametrize("decay", (0.0, 0.99, 0.999, 1.0))
def test_cpt_areas_at_matches_cpt_areas(split, decay):
    pts = [
        S.wsd(PEAK, 1200, 300, 100, min_lr=1e-5),
        S.cosine(PEAK, 800, 50),
        S.from_values(PEAK * np.linspace(1, 0.2, 300)),
    ]
    for pt in pts:
        cpt = S.rewarmup(PEAK, 700, 50, start_lr=pt.lr(pt.steps - 1), decay="cosine", min_lr=1e-6)
        ref = cptlaw.cpt_areas(pt.values(), cpt.values(), decay, split)
        got = S.cpt_areas_at(pt, cpt, decay=decay, split=split)
        for g, r in zip(got, ref):
            assert g.shape == r.shape
        scale = max(np.abs(np.stack(ref)).max(), 1e-300)
        for g, r, name in zip(got, ref, ref._fields):
            np.testing.assert_array_less(np.abs(g - r), 1e-9 * np.abs(r) + 1e-12 * scale + 1e-300, err_msg=name)
        # Subsets of steps on both sides of the transfer, unsorted.
        idx = np.array([[pt.steps + 5, 3, pt.steps - 1], [pt.steps, pt.steps + cpt.steps - 1, 0]])
        part = S.cpt_areas_at(pt, cpt, idx, decay, split)
        for g, r in zip(part, got):
            np.testing.assert_array_equal(g, r[idx])


def test_batch_cpt_areas_broadcast():
    pt = S.wsd(PEAK, 1000, 200, 100)
    cpts = [S.rewarmup(PEAK * f, 500, 40, start_lr=0.0) for f in (0.5, 1.0, 2.0)]
    steps = np.array([0, 999, 1000, 1200, 1499])
    out = S.batch_cpt_areas(pt, cpts, steps, split="by_time")
    assert out.s2_cpt.shape == (3, 5)
    for i, c in enumerate(cpts):
        one = S.cpt_areas_at(pt, c, steps, split="by_time")
        for a, b in zip(out, one):
            np.testing.assert_array_equal(a[i], b)
    with pytest.raises(ValueError, match="steps"):
        S.batch_cpt_areas(pt, cpts, [1500])
    with pytest.raises(ValueError, match="split"):
        S.cpt_areas_at(pt, cpts[0], split="sideways")


# -- batches ----------------------------------------------------------------------------


def test_batch_areas_matches_single():
    scheds = [S.wsd(PEAK, 2000, d, 100, decay=k) for d in (100, 700, 1500) for k in ("linear", "cosine", "1-sqrt")]
    scheds.append(S.from_values(np.full(2000, PEAK)))
    steps = np.array([0, 99, 100, 1999, 500, 500])
    out = S.batch_areas(scheds, steps, decay=0.999)
    assert out.s1.shape == (len(scheds), steps.size)
    for i, s in enumerate(scheds):
        one = s.areas(steps, 0.999)
        np.testing.assert_array_equal(out.s1[i], one.s1)
        np.testing.assert_array_equal(out.s2[i], one.s2)
    full = S.batch_areas(scheds)
    assert full.s1.shape == (len(scheds), 2000)
    per_row = S.batch_areas(scheds[:2], np.array([[1, 2], [3, 4]]))
    np.testing.assert_array_equal(per_row.s2[1], scheds[1].areas([3, 4]).s2)
    with pytest.raises(ValueError, match="steps"):
        S.batch_areas([S.constant(1.0, 10), S.constant(1.0, 20)])
    with pytest.raises(ValueError, match="steps"):
        S.batch_areas([S.constant(1.0, 10), S.constant(1.0, 20)], [15])
    with pytest.raises(TypeError, match="schedules"):
        S.batch_areas([S.constant(1.0, 10), "x"])


def test_batch_threads_agree():
    scheds = [S.cosine(PEAK * (1 + i % 5), 3000, 100 + i % 7, min_lr=1e-6) for i in range(300)]
    steps = np.arange(0, 3000, 37)
    try:
        cptlaw.set_num_threads(1)
        one = S.batch_areas(scheds, steps)
        cptlaw.set_num_threads(4)
        many = S.batch_areas(scheds, steps)
    finally:
        cptlaw.set_num_threads(0)
    np.testing.assert_array_equal(one.s1, many.s1)
    np.testing.assert_array_equal(one.s2, many.s2)


# -- values, lr, lambda, composition ----------------------------------------------------


def test_values_and_lr():
    s = S.wsd(PEAK, 1000, 300, 100, decay="cosine")
    v = s.values()
    assert v.dtype == np.float64 and v.shape == (1000,)
    assert isinstance(s.lr(5), float) and s.lr(5) == v[5]
    idx = np.array([[999, 0], [450, 450]])
    np.testing.assert_array_equal(s.lr(idx), v[idx])
    assert s.lr(np.int32(7)) == v[7]
    with pytest.raises(ValueError, match="t"):
        s.lr(1000)
    with pytest.raises(ValueError, match="t"):
        s.lr(-1)
    with pytest.raises(TypeError, match="t"):
        s.lr(1.5)
    with pytest.raises(ValueError, match="steps"):
        s.areas([1000])
    assert s.areas([]).s1.shape == (0,)


def test_formulas_spot_values():
    # HF conventions: warmup lr(0) = 0, cosine reaches min_lr one step past the end.
    s = S.cosine(1.0, 110, warmup=10, min_lr=0.1)
    assert s.lr(0) == 0.0 and s.lr(5) == 0.5 and s.lr(10) == 1.0
    assert math.isclose(s.lr(60), 0.55, rel_tol=1e-15)
    # WSD warmup starts at min_lr (HF quirk), tail at min_lr.
    w = S.wsd(1.0, 100, 20, 10, min_lr=0.2)
    assert w.lr(0) == 0.2 and w.lr(50) == 1.0 and math.isclose(w.lr(99), 0.2 + 0.8 / 20)
    assert S.multistep(1.0, 10, [3, 6], 0.5).values().tolist() == [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25]
    r = S.rewarmup(1.0, 20, 10, start_lr=0.1, decay="linear")
    assert r.lr(0) == 0.1 and r.lr(10) == 1.0
    torchish = S.cyclic_cosine(1.0, 30, 10, cycle_mult=2)
    assert torchish.lr(0) == 1.0 and torchish.lr(10) == 1.0 and torchish.lr(5) == 0.5
    inv = S.inverse_sqrt(1.0, 50, 10).values()
    np.testing.assert_allclose(inv[10:], 1 / np.sqrt((np.arange(10, 50)) / 10), rtol=1e-15)


def test_as_lambda():
    s = S.cosine(PEAK, 100, 10, min_lr=1e-6)
    f = s.as_lambda()
    np.testing.assert_array_equal([f(t) * s.peak for t in range(100)], s.values() / s.peak * s.peak)
    assert f(100) == f(99) == f(10_000)  # holds the last LR past the end
    with pytest.raises(ValueError):
        f(-1)
    z = S.constant(0.0, 5).as_lambda()
    assert z(3) == 0.0


def test_concat_and_repr():
    a, b = S.constant(1e-3, 10), S.linear(2e-3, 20, 5)
    c = a + b
    assert c.steps == 30 and c.peak == 2e-3
    np.testing.assert_array_equal(c.values(), np.concatenate([a.values(), b.values()]))
    np.testing.assert_array_equal(a.then(b, a).values(), S.concat(a, b, a).values())
    np.testing.assert_array_equal(sum([a, b]).values(), c.values())
    np.testing.assert_array_equal(S.concat([a, b]).values(), c.values())
    v = np.linspace(1, 0, 7)
    mixed = S.from_values(v) + a + S.from_values(v[::-1])
    np.testing.assert_array_equal(mixed.values(), np.concatenate([v, a.values(), v[::-1]]))
    assert repr(a) == "constant(lr=0.001, steps=10)"
    assert repr(c).startswith("concat(constant(") and "linear(" in repr(c)
    assert len(c) == 30 and c.segments == 3
    with pytest.raises(TypeError, match="schedules"):
        S.concat(a, 3)
    with pytest.raises(ValueError, match="schedules"):
        S.concat()


# -- validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call,exc,arg",
    [
        (lambda: S.constant(-1.0, 10), ValueError, "lr"),
        (lambda: S.constant(1.0, 0), ValueError, "steps"),
        (lambda: S.constant(1.0, -5), ValueError, "steps"),
        (lambda: S.constant(float("nan"), 10), ValueError, "lr"),
        (lambda: S.constant("1", 10), TypeError, "lr"),
        (lambda: S.constant(1.0, 2.5), TypeError, "steps"),
        (lambda: S.cosine(-1e-3, 10), ValueError, "peak_lr"),
        (lambda: S.cosine(1e-3, 10, warmup=11), ValueError, "warmup"),
        (lambda: S.cosine(1e-3, 10, min_lr=2e-3), ValueError, "min_lr"),
        (lambda: S.cosine(1e-3, 10, min_lr=float("nan")), ValueError, "min_lr"),
        (lambda: S.wsd(1e-3, 100, 101), ValueError, "decay_steps"),
        (lambda: S.wsd(1e-3, 100, 60, warmup=50), ValueError, "decay_steps"),
        (lambda: S.wsd(1e-3, 100, 10, decay="exp"), ValueError, "decay"),
        (lambda: S.wsd(1e-3, 100, 10, warmup_type="step"), ValueError, "warmup_type"),
        (lambda: S.wsd(1e-3, 100, -1), ValueError, "decay_steps"),
        (lambda: S.exponential(1e-3, 100, 0.0), ValueError, "gamma"),
        (lambda: S.exponential(1e-3, 100, float("inf")), ValueError, "gamma"),
        (lambda: S.inverse_sqrt(1e-3, 100, timescale=0), ValueError, "timescale"),
        (lambda: S.polynomial(1e-3, 100, min_lr=1e-3), ValueError, "min_lr"),
        (lambda: S.multistep(1e-3, 100, [5], warmup=10), ValueError, "milestones"),
        (lambda: S.multistep(1e-3, 100, 5), TypeError, "milestones"),
        (lambda: S.multistep(1e-3, 100, [1.5]), TypeError, "milestones"),
        (lambda: S.cyclic_cosine(1e-3, 100), ValueError, "cycle_steps"),
        (lambda: S.cyclic_cosine(1e-3, 100, 10, num_cycles=2), ValueError, "num_cycles"),
        (lambda: S.cyclic_cosine(1e-3, 100, 0), ValueError, "cycle_steps"),
        (lambda: S.cyclic_cosine(1e-3, 100, num_cycles=0), ValueError, "num_cycles"),
        (lambda: S.rewarmup(1e-3, 100, 10, start_lr=-1.0), ValueError, "start_lr"),
        (lambda: S.rewarmup(1e-3, 100, 10, decay_steps=95), ValueError, "decay_steps"),
        (lambda: S.from_values([1.0, float("nan")]), ValueError, "values"),
        (lambda: S.from_values([1.0, -1.0]), ValueError, "values"),
        (lambda: S.from_values([[1.0]]), ValueError, "values"),
        (lambda: S.from_values([]), ValueError, "values"),
        (lambda: S.from_hf("nope", 1e-3, 0, 10), ValueError, "name"),
        (lambda: S.from_hf("reduce_lr_on_plateau", 1e-3, 0, 10), ValueError, "name"),
        (lambda: S.from_hf("cosine", 1e-3, 0, None), ValueError, "num_training_steps"),
        (lambda: S.from_hf("cosine", 1e-3, 0, 10, power=2), TypeError, "kwargs"),
        (lambda: S.from_hf("warmup_stable_decay", 1e-3, 0, 10), TypeError, "num_decay_steps"),
        (lambda: S.from_hf("cosine_with_min_lr", 1e-3, 0, 10), ValueError, "min_lr"),
        (lambda: S.from_hf("polynomial", 1e-8, 0, 10), ValueError, "lr_end"),
        (lambda: S.constant(1.0, 10).areas(decay=1.5), ValueError, "decay"),
        (lambda: S.constant(1.0, 10).areas(decay=float("nan")), ValueError, "decay"),
    ],
)
def test_bad_input(call, exc, arg):
    with pytest.raises(exc, match=arg):
        call()


# -- slicing, P2's warmup convention ---------------------------------------------------


def test_slicing():
    rng = np.random.default_rng(3)
    s = S.concat(
        S.linear(1.0, 100, 10), S.from_values(rng.random(50)), S.cyclic_cosine(1.0, 100, num_cycles=3),
        S.exponential(1.0, 80, 0.97),
    )
    v = s.values()
    for a, b in [(0, s.steps), (5, 120), (99, 101), (150, 250), (37, 38), (200, s.steps)]:
        sub = s[a:b]
        np.testing.assert_array_equal(sub.values(), v[a:b])
        assert sub.peak == v[a:b].max()
        ref = cptlaw.areas(sub.values(), 0.999)
        got = sub.areas(decay=0.999)
        assert_areas_close(got.s1, got.s2, ref.s1, ref.s2, what=f"[{a}:{b}]")
    np.testing.assert_array_equal(s[-30:].values(), v[-30:])
    with pytest.raises(ValueError, match="key"):
        s[10:5]
    with pytest.raises(ValueError, match="key"):
        s[::2]
    with pytest.raises(TypeError):
        s[3]


@pytest.mark.parametrize("warmup_as_peak", [True, False, 0, 1, 250, 999, 5000])
def test_warmup_as_peak(warmup_as_peak):
    # P2's script example: cosine with 500 warmup steps counted at the peak.
    s = S.cosine(2e-4, 2001, 250, min_lr=1e-6)
    ref = cptlaw.areas(s.values(), 0.999, warmup_as_peak=warmup_as_peak)
    got = s.areas(decay=0.999, warmup_as_peak=warmup_as_peak)
    assert_areas_close(got.s1, got.s2, ref.s1, ref.s2, what=f"warmup_as_peak={warmup_as_peak}")
    cpt = S.rewarmup(1e-4, 300, 30)
    got = S.cpt_areas_at(s, cpt, decay=0.999, warmup_as_peak=warmup_as_peak)
    ref = cptlaw.cpt_areas(s.values(), cpt.values(), 0.999, warmup_as_peak=warmup_as_peak)
    scale = np.abs(np.stack(ref)).max()
    for g, r in zip(got, ref):
        np.testing.assert_array_less(np.abs(g - r), 1e-9 * np.abs(r) + 1e-12 * scale + 1e-300)
    one = S.batch_areas([s, s], [0, 100, 2000], warmup_as_peak=warmup_as_peak)
    np.testing.assert_array_equal(one.s2[1], s.areas([0, 100, 2000], warmup_as_peak=warmup_as_peak).s2)


def test_unsorted_steps_in_recurrence_segments():
    # Steps in random order inside a long recurrence-only segment: visited in sorted order
    # internally (O(length) total), results in the caller's order.
    s = S.from_values(np.linspace(1.0, 0.0, 200_000)) + S.one_minus_sqrt(1.0, 100_000)
    ref = cptlaw.areas(s.values(), 0.999)
    idx = np.random.default_rng(5).permutation(s.steps)[:2000]
    got = s.areas(idx, 0.999)
    assert_areas_close(got.s1, got.s2, ref.s1[idx], ref.s2[idx])


def test_peak_is_the_maximum():
    for name, s in CATALOG:
        assert math.isclose(s.peak, s.values().max(), rel_tol=4e-16), name
