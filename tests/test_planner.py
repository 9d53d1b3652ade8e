"""cptlaw.planner against brute force on per-step arrays.

Every analysis is checked against an independent computation that materialises the per-step
learning rates and evaluates the law on ``cptlaw.cpt_areas`` (the recurrence), not the closed
forms the planner uses: turning lengths step by step, optima against dense grids, the Pareto
front against an O(n^2) dominance check, the critical point against a long constant tail.

Laws: P1's Fig. 3 parameter sets (LAW.md section 7). The replay tests use replay laws with
P1 Fig. 19's printed values except ``beta`` (not printed) and a2 for D_cpt, chosen so that the
losses stay plausible (P1's a2 = 5.696 makes ``exp(a2 * r_cpt) - 1`` ~ 300 and, with a
moderate beta, negative losses).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import cptlaw
from cptlaw import planner as P
from cptlaw import schedules as S

PEAK = 2e-4
LAW_PT = cptlaw.CPTLaw(L0=3.057, A=0.490, alpha=0.497, C1=0.299, C2=0.298, B=0.366, E=28, beta=0.189)
LAW_CPT = cptlaw.CPTLaw(L0=3.024, A=0.412, alpha=0.677, C1=0.278, C2=0.324, B=-0.666, E=5662, beta=0.146)
REPLAY_PT = cptlaw.ReplayPTLaw(L0=3.067, A=0.480, alpha=0.510, C1=0.280, C2=0.263, a1=0.055, B=0.276, E=99.35,
                               beta=0.2, a2=3.238)
REPLAY_CPT = cptlaw.ReplayCPTLaw(L0=2.992, A=0.456, alpha=0.510, C1=0.285, C2=0.279, a1=0.037, B=-0.526, E=100.34,
                                 beta=0.2, a2=1.0)
SPLITS = ("by_source", "by_time", "restart")


def wsd_pt(steps, lp=0.0, warmup=None):
    """WSD PT decaying over the last 10% to exactly lp * PEAK at its last step."""
    warmup = min(500, steps // 10) if warmup is None else warmup
    return P.wsd_pt_family(PEAK, steps, max(1, steps // 10), warmup)(lp)


def per_step_losses(law, pt, cpt_values, r_pt=None, **opts):
    """Loss at every step of PT ++ CPT from per-step arrays and the recurrence."""
    a = cptlaw.cpt_areas(pt.values(), np.asarray(cpt_values, dtype=float), **opts)
    kw = a._asdict()
    if "r_pt" in law.input_names:
        kw["r_pt"] = r_pt
    return law(**kw)


def final_loss(law, pt, cpt, r_pt=None, **opts):
    return float(per_step_losses(law, pt, cpt.values(), r_pt, **opts)[-1])


def brute_turning(losses, T):
    """First CPT step count after the first rise at which the loss is back at its transfer value."""
    level = losses[T - 1]
    cpt = losses[T:]
    up = np.flatnonzero(cpt > level)
    if not up.size:
        return 0
    back = np.flatnonzero(cpt[up[0]:] <= level)
    return math.inf if not back.size else int(up[0] + back[0] + 1)


# -- loss potential, cpt_schedule -----------------------------------------------------------------


def test_loss_potential():
    assert P.loss_potential(wsd_pt(10_000, 0.3)) == pytest.approx(0.3, rel=1e-12)
    assert P.loss_potential(wsd_pt(10_000, 0.0)) == 0.0
    hf = S.wsd(PEAK, 1000, 100, min_lr=0.3 * PEAK)  # HF reaches min_lr one step past the end
    assert P.loss_potential(hf) == pytest.approx(0.3 + 0.7 / 100)
    assert P.loss_potential(S.constant(1e-4, 100)) == 1.0
    cos = S.cosine(PEAK, 1000, warmup=10)
    assert P.loss_potential(cos) == pytest.approx(cos.values()[-1] / PEAK)
    with pytest.raises(TypeError, match="pt_schedule"):
        P.loss_potential(np.ones(10))
    with pytest.raises(ValueError, match="zero peak"):
        P.loss_potential(S.constant(0.0, 10))


def test_cpt_schedule_shapes():
    n, wu, start = 1000, 100, 5e-5
    cos = P.cpt_schedule(PEAK, n, "cosine", warmup=wu, start_lr=start).values()
    assert cos[0] == pytest.approx(start) and cos[wu] == pytest.approx(PEAK)
    assert np.all(np.diff(cos[wu:]) <= 0) and cos[-1] < 1e-8
    # decay_frac: the share of the steps after the re-warmup (0.2 of 900 = 180 decay steps)
    wsd = P.cpt_schedule(PEAK, n, "wsd", warmup=wu, start_lr=start, decay_frac=0.2, min_lr_ratio=0.1).values()
    assert np.all(wsd[wu:820] == PEAK) and wsd[820] == pytest.approx(PEAK) and wsd[-1] < PEAK * 0.11
    assert np.all(np.diff(wsd[820:]) < 0)
    const = P.cpt_schedule(PEAK, n, "constant").values()
    assert np.all(const == PEAK)
    lin = P.cpt_schedule(PEAK, n, "linear", min_lr_ratio=0.5).values()
    assert lin[0] == PEAK and lin[-1] == pytest.approx(0.5 * PEAK, rel=2e-3)
    # the deprecated decay_fraction keeps its meaning (a share of all steps, capped at the steps
    # after the warmup), with a warning
    with pytest.warns(DeprecationWarning, match="decay_fraction.*decay_frac"):
        old = P.cpt_schedule(PEAK, n, "wsd", warmup=wu, start_lr=start, decay_fraction=0.2).values()
    assert np.all(old[wu:800] == PEAK) and np.all(np.diff(old[800:]) < 0)
    with pytest.warns(DeprecationWarning):
        cap = P.cpt_schedule(PEAK, 100, "wsd", warmup=90, decay_fraction=0.5).values()
    np.testing.assert_array_equal(cap, P.cpt_schedule(PEAK, 100, "wsd", warmup=90, decay_frac=1.0).values())
    with pytest.raises(ValueError, match="decay_frac"), pytest.warns(DeprecationWarning):
        P.cpt_schedule(PEAK, 100, "wsd", decay_frac=0.1, decay_fraction=0.1)
    # the 1-sqrt shape: a 1-sqrt decay over every step after the warmup
    sq = P.cpt_schedule(PEAK, n, "1-sqrt", warmup=wu, start_lr=start, min_lr_ratio=0.1).values()
    np.testing.assert_allclose(sq, S.rewarmup(PEAK, n, wu, start, "1-sqrt", 0.1 * PEAK).values(), rtol=0, atol=0)
    with pytest.raises(ValueError, match="shape"):
        P.cpt_schedule(PEAK, n, "step")
    with pytest.raises(ValueError, match="peak_lr"):
        P.cpt_schedule(0.0, n)
    with pytest.raises(ValueError, match="warmup"):
        P.cpt_schedule(PEAK, 10, warmup=11)


def test_wsd_pt_family():
    fam = P.wsd_pt_family(PEAK, 5000, 500, warmup=100)
    for lp in (0.0, 0.25, 1.0):
        assert P.loss_potential(fam(lp)) == pytest.approx(lp, abs=1e-15)
        v = fam(lp).values()
        assert v.size == 5000 and np.all(v[100:4499] == PEAK) and np.all(np.diff(v[4499:]) <= 0)
        ref = S.wsd(PEAK, 4999, 500, 100, lp * PEAK).values()
        assert np.array_equal(v[:4999], ref)
    with pytest.raises(ValueError, match="loss_potential"):
        fam(1.5)


# -- critical point -------------------------------------------------------------------------------


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("lp", [0.0, 0.4])
def test_critical_point_matches_long_tail(split, lp):
    """The asymptote: S2 from a long per-step constant tail (momentum dead), S1 -> inf analytically."""
    pt = wsd_pt(8000, lp, warmup=0)
    eta = 1e-4
    cp = P.critical_point(LAW_PT, pt, eta, split=split)
    a = cptlaw.cpt_areas(pt.values(), np.full(60_000, eta), split=split)
    p = LAW_PT.params
    s2_pt, s2_cpt = a.s2_pt[-1], a.s2_cpt[-1]
    assert cp.s2_pt == pytest.approx(s2_pt, rel=1e-9, abs=1e-12)
    assert cp.s2_cpt == pytest.approx(s2_cpt, rel=1e-9, abs=1e-12)
    assert cp.level == pytest.approx(p["L0"] + p["B"] - p["C1"] * s2_pt - p["C2"] * s2_cpt, rel=1e-12)
    transfer = per_step_losses(LAW_PT, pt, [eta], split=split)[pt.steps - 1]
    assert cp.loss_at_transfer == pytest.approx(transfer, rel=1e-12)
    assert cp.pre_critical == (transfer > cp.level)
    assert cp.margin == pytest.approx(transfer - cp.level)


def test_critical_point_only_the_final_lr_matters():
    """S2_cpt -> (lr_T-1 - eta) / (1 - lambda): the limit is path independent (by_source)."""
    pt = wsd_pt(8000, 0.5, warmup=0)
    cp = P.critical_point(LAW_PT, pt, 5e-5)
    assert cp.s2_cpt == pytest.approx((0.5 * PEAK - 5e-5) / 0.001, rel=1e-9)
    zero = P.critical_point(LAW_PT, pt, 0.0)  # nothing learnt: no shift, the A-term stays
    p = LAW_PT.params
    expected = p["L0"] + p["A"] * pt.areas([pt.steps - 1]).s1[0] ** -p["alpha"] - p["C1"] * zero.s2_pt \
        - p["C2"] * zero.s2_cpt
    assert zero.level == pytest.approx(expected, rel=1e-12)


def test_critical_point_replay_and_pre_post():
    pt = wsd_pt(8000, 0.0, warmup=0)
    r = 0.3
    cp = P.critical_point(REPLAY_PT, pt, PEAK, r_pt=r)
    p = REPLAY_PT.params
    expected = (p["L0"] - p["C1"] * cp.s2_pt - p["C2"] * cp.s2_cpt * math.exp(p["a1"] * r)
                + p["B"] * (1 - math.exp(-p["a2"] * (1 - r))))
    assert cp.level == pytest.approx(expected, rel=1e-12)
    # Short PT: high loss at transfer, pre-critical; long PT: post-critical (P1 Fig. 3 D_pt law).
    assert P.critical_point(LAW_PT, wsd_pt(2000)).pre_critical
    assert not P.critical_point(LAW_PT, wsd_pt(50_000)).pre_critical
    with pytest.raises(ValueError, match="decay"):
        P.critical_point(LAW_PT, pt, decay=1.0)
    with pytest.raises(TypeError, match="law_pt"):
        P.critical_point(cptlaw.AnnealingLaw(1, 1, 0.5, 1), pt)


# -- turning length -------------------------------------------------------------------------------


@pytest.mark.parametrize("pt_steps, cpt_steps", [(2000, 2000), (5000, 12_000)])
def test_turning_length_constant_matches_per_step(pt_steps, cpt_steps):
    pt = wsd_pt(pt_steps)
    losses = per_step_losses(LAW_PT, pt, np.full(cpt_steps, PEAK))
    expected = brute_turning(losses, pt.steps)
    got = P.turning_length(LAW_PT, pt)
    assert math.isfinite(expected) and got.steps == expected
    assert got.finite and got.mode == "constant" and got.critical.pre_critical
    assert got.loss_at_transfer == pytest.approx(losses[pt.steps - 1], rel=1e-12)
    assert got.max_loss > got.loss_at_transfer
    assert float(got) == expected


def test_turning_length_infinite_and_post_critical_dip():
    long = P.turning_length(LAW_PT, wsd_pt(50_000))
    assert long.steps == math.inf and not long.finite and not long.critical.pre_critical
    # The loss rises towards the asymptote, above the transfer value, far out.
    pt = wsd_pt(50_000)
    far = S.cpt_areas_at(pt, S.constant(PEAK, 10**9), [pt.steps - 1 + 10**9])
    assert LAW_PT(**far._asdict())[0] > long.loss_at_transfer
    # Post-critical yet finite: the loss dips below its start before rising to the asymptote.
    mid = P.turning_length(LAW_PT, wsd_pt(10_000))
    assert mid.finite and not mid.critical.pre_critical
    pt = wsd_pt(10_000)
    a = S.cpt_areas_at(pt, S.constant(PEAK, mid.steps + 1), pt.steps - 1 + np.array([0, mid.steps - 1, mid.steps]))
    v = LAW_PT(**a._asdict())
    assert v[1] > v[0] >= v[2]


def test_turning_length_schedule_and_family_match_per_step():
    pt = wsd_pt(2000)
    cpt = P.cpt_schedule(PEAK, 3000, "cosine", warmup=200, start_lr=0.0)
    losses = per_step_losses(LAW_PT, pt, cpt.values())
    got = P.turning_length(LAW_PT, pt, cpt)
    assert got.mode == "schedule" and got.steps == brute_turning(losses, pt.steps)
    # Family: the shortest length n of a full cosine schedule whose final loss is back.
    def fam(n):
        return P.cpt_schedule(PEAK, n, "cosine", warmup=min(50, n), start_lr=0.0)

    ns = np.arange(1, 1501)
    finals = np.array([final_loss(LAW_PT, pt, fam(int(n))) for n in ns])
    level = per_step_losses(LAW_PT, pt, [0.0])[pt.steps - 1]
    expected = brute_turning(np.concatenate([[0.0] * (pt.steps - 1), [level], finals]), pt.steps)
    got = P.turning_length(LAW_PT, pt, fam, max_steps=10**6)
    assert math.isfinite(expected) and got.steps == expected and got.mode == "family"
    with pytest.raises(ValueError, match="steps"):
        P.turning_length(LAW_PT, pt, lambda n: S.constant(PEAK, n + 1))


def test_turning_length_weighted_and_never_rising():
    pt = wsd_pt(5000)
    losses = 0.7 * per_step_losses(LAW_PT, pt, np.full(12_000, PEAK)) + \
        0.3 * per_step_losses(LAW_CPT, pt, np.full(12_000, PEAK))
    got = P.turning_length(LAW_PT, pt, law_cpt=LAW_CPT, w=0.7)
    assert got.steps == brute_turning(losses, pt.steps)
    # The domain loss only falls: no bump, turning length 0.
    assert P.turning_length(LAW_CPT, pt).steps == 0
    assert P.turning_length(LAW_PT, pt, law_cpt=LAW_CPT, w=0.1).steps == 0
    # A schedule too short for the loss to come back: inf "within this run".
    short = P.turning_length(LAW_PT, wsd_pt(50_000), S.constant(PEAK, 1000))
    assert short.steps == math.inf and short.horizon == 1000
    with pytest.raises(ValueError, match="cpt_lr"):
        P.turning_length(LAW_PT, pt, S.constant(PEAK, 10), cpt_lr=1e-4)
    with pytest.raises(TypeError, match="cpt"):
        P.turning_length(LAW_PT, pt, 5)
    with pytest.raises(ValueError, match="law_cpt"):
        P.turning_length(LAW_PT, pt, w=0.5)


# -- one-parameter optima ---------------------------------------------------------------------------


def objective(w, pt, cpt, r_pt=None, law_pt=LAW_PT, law_cpt=LAW_CPT, **opts):
    return w * final_loss(law_pt, pt, cpt, r_pt, **opts) + (1 - w) * final_loss(law_cpt, pt, cpt, r_pt, **opts)


def test_optimal_peak_lr_matches_dense_grid():
    pt = wsd_pt(20_000)
    for w, shape in ((0.3, "wsd"), (0.4, "wsd"), (0.5, "cosine")):
        opt = P.optimal_peak_lr(LAW_PT, LAW_CPT, w, pt, 5000, shape, warmup=100, bounds=(1e-6, 5e-4))
        lrs = np.geomspace(1e-6, 5e-4, 400)
        ev = P.evaluate(LAW_PT, LAW_CPT, pt, {"peak_lr": lrs, "steps": [5000], "shape": [shape], "warmup": [100]}, w=w)
        assert opt.objective <= ev["objective"].min() + 1e-12
        # the reported losses and schedule are the per-step truth at the optimum
        cpt = opt.cpt_schedule
        assert cpt.peak == pytest.approx(opt.value) and cpt.steps == 5000
        assert opt.loss_pt == pytest.approx(final_loss(LAW_PT, pt, cpt), rel=1e-10)
        assert opt.loss_cpt == pytest.approx(final_loss(LAW_CPT, pt, cpt), rel=1e-10)
        assert opt.objective == pytest.approx(w * opt.loss_pt + (1 - w) * opt.loss_cpt, rel=1e-12)
        assert opt.plan["peak_lr"] == opt.value and opt.plan["start_lr"] == pt.lr(pt.steps - 1)
    interior = P.optimal_peak_lr(LAW_PT, LAW_CPT, 0.3, pt, 5000, "wsd", warmup=100, bounds=(1e-6, 5e-4))
    assert not interior.at_bound and 1e-6 < interior.value < 5e-4
    assert interior.grid.size == interior.grid_objective.size == 49


def test_optimal_peak_lr_bounds_and_monotone_in_w():
    pt = wsd_pt(20_000)
    res = [P.optimal_peak_lr(LAW_PT, LAW_CPT, w, pt, 5000, "wsd", warmup=100) for w in np.linspace(0, 1, 11)]
    vals = [r.value for r in res]
    assert all(b <= a * (1 + 1e-9) for a, b in zip(vals[:-1], vals[1:]))
    assert res[-1].at_bound and res[-1].value == pytest.approx(PEAK / 100)  # default bounds: PT peak / 100 ..
    assert res[0].bounds == pytest.approx((PEAK / 100, PEAK))
    cos = P.optimal_peak_lr(LAW_PT, LAW_CPT, 0.0, pt, 5000, "cosine", warmup=100)
    assert cos.at_bound and cos.value == pytest.approx(PEAK)  # .. PT peak: the law wants more LR (LAW.md 6)
    only_pt = P.optimal_peak_lr(LAW_PT, None, 1.0, pt, 5000)
    assert np.isnan(only_pt.loss_cpt) and only_pt.objective == only_pt.loss_pt


def test_optimal_steps_decay_warmup_final_lr_against_grids():
    pt = wsd_pt(20_000)
    w = 0.6
    st = P.optimal_cpt_steps(LAW_PT, LAW_CPT, w, pt, 1e-4, "wsd", bounds=(200, 3000), warmup=100)
    assert isinstance(st.value, int) and 200 <= st.value <= 3000
    ns = np.arange(200, 3001)
    ev = P.evaluate(LAW_PT, LAW_CPT, pt, {"peak_lr": [1e-4], "steps": ns, "shape": ["wsd"], "warmup": [100]}, w=w)
    assert st.objective == pytest.approx(ev["objective"].min(), abs=1e-12)
    assert st.value == ns[int(np.argmin(ev["objective"]))]

    df = P.optimal_decay_fraction(LAW_PT, LAW_CPT, 0.5, pt, PEAK, 10_000, warmup=100)
    fr = np.linspace(0, 1, 501)
    ev = P.evaluate(LAW_PT, LAW_CPT, pt, {"peak_lr": [PEAK], "steps": [10_000], "shape": ["wsd"], "warmup": [100],
                                          "decay_frac": fr}, w=0.5)
    assert df.name == "decay_frac" and df.plan["decay_frac"] == df.value
    assert df.objective <= ev["objective"].min() + 1e-12 and not df.at_bound
    # the deprecated name varies the old fraction (of all CPT steps) to the same optimum
    with pytest.warns(DeprecationWarning, match="decay_fraction"):
        old = P.optimize_cpt(LAW_PT, LAW_CPT, 0.5, pt, "decay_fraction", peak_lr=PEAK, steps=10_000, shape="wsd",
                             warmup=100)
    assert old.name == "decay_fraction" and old.objective == pytest.approx(df.objective, abs=2e-6)
    assert df.cpt_schedule.values()[-1] < PEAK * 1e-3

    wu = P.optimal_rewarmup(LAW_PT, LAW_CPT, 0.5, pt, PEAK, 2000, bounds=(0, 500))
    ev = P.evaluate(LAW_PT, LAW_CPT, pt, {"peak_lr": [PEAK], "steps": [2000], "warmup": np.arange(0, 501)}, w=0.5)
    assert wu.objective == pytest.approx(ev["objective"].min(), abs=1e-12) and isinstance(wu.value, int)

    fl = P.optimal_final_lr(LAW_PT, LAW_CPT, 0.5, pt, PEAK, 2000, warmup=100)
    ev = P.evaluate(LAW_PT, LAW_CPT, pt, {"peak_lr": [PEAK], "steps": [2000], "warmup": [100],
                                          "min_lr_ratio": np.linspace(0, 1, 201)}, w=0.5)
    assert fl.objective <= ev["objective"].min() + 1e-12 and 0 <= fl.value <= 1


def test_optimal_loss_potential_and_replay_against_grids():
    fam = P.wsd_pt_family(PEAK, 20_000, 2000, warmup=200)
    opt = P.optimal_loss_potential(LAW_PT, LAW_CPT, 0.5, fam, PEAK, 5000, warmup=100, warmup_as_peak=200)
    grid = np.linspace(0, 1, 51)
    objs = [objective(0.5, fam(lp), P.cpt_schedule(PEAK, 5000, warmup=100, start_lr=lp * PEAK), warmup_as_peak=200)
            for lp in grid]
    assert opt.objective <= min(objs) + 1e-12
    assert P.loss_potential(opt.pt_schedule) == pytest.approx(opt.value)
    assert opt.plan["loss_potential"] == opt.value

    pt = wsd_pt(20_000)
    for w in (0.2, 0.8):
        rep = P.optimal_replay_ratio(REPLAY_PT, REPLAY_CPT, w, pt, PEAK, 5000, warmup=100)
        cpt = P.cpt_schedule(PEAK, 5000, warmup=100, start_lr=0.0)
        objs = [objective(w, pt, cpt, r, REPLAY_PT, REPLAY_CPT) for r in np.linspace(0, 1, 101)]
        assert rep.objective <= min(objs) + 1e-12
        assert rep.plan["r_pt"] == rep.value
        assert rep.objective == pytest.approx(objective(w, pt, cpt, rep.value, REPLAY_PT, REPLAY_CPT), rel=1e-10)
    with pytest.raises(TypeError, match="replay"):
        P.optimal_replay_ratio(LAW_PT, LAW_CPT, 0.5, pt, PEAK, 5000)


def test_optimize_cpt_validation():
    pt = wsd_pt(5000)
    with pytest.raises(ValueError, match="vary"):
        P.optimize_cpt(LAW_PT, LAW_CPT, 0.5, pt, "lr", steps=100, peak_lr=PEAK)
    with pytest.raises(ValueError, match="w"):
        P.optimal_peak_lr(LAW_PT, LAW_CPT, 1.5, pt, 100)
    with pytest.raises(ValueError, match="law_cpt"):
        P.optimal_peak_lr(LAW_PT, None, 0.5, pt, 100)
    with pytest.raises(ValueError, match="bounds"):
        P.optimal_peak_lr(LAW_PT, LAW_CPT, 0.5, pt, 100, bounds=(0.0, 1e-4))
    with pytest.raises(ValueError, match="bounds"):
        P.optimal_peak_lr(LAW_PT, LAW_CPT, 0.5, pt, 100, bounds=(2e-4, 1e-4))
    with pytest.raises(ValueError, match="re-warmup"):
        P.optimal_cpt_steps(LAW_PT, LAW_CPT, 0.5, pt, PEAK, bounds=(10, 100), warmup=50)
    with pytest.raises(ValueError, match="wsd"):
        P.optimize_cpt(LAW_PT, LAW_CPT, 0.5, pt, "decay_frac", peak_lr=PEAK, steps=100)
    with pytest.raises(TypeError, match="optimised"), pytest.warns(DeprecationWarning):
        P.optimize_cpt(LAW_PT, LAW_CPT, 0.5, pt, "decay_frac", peak_lr=PEAK, steps=100, shape="wsd",
                       decay_fraction=0.2)
    with pytest.raises(TypeError, match="plan"):
        P.optimal_peak_lr(LAW_PT, LAW_CPT, 0.5, pt, 100, colour="red")
    with pytest.raises(TypeError, match="optimised"):
        P.optimize_cpt(LAW_PT, LAW_CPT, 0.5, pt, "peak_lr", peak_lr=PEAK, steps=100)
    with pytest.raises(TypeError, match="callable"):
        P.optimal_loss_potential(LAW_PT, LAW_CPT, 0.5, pt, PEAK, 100)
    with pytest.raises(TypeError, match="law_pt"):
        P.optimal_peak_lr("law", LAW_CPT, 0.5, pt, 100)
    with pytest.raises(ValueError, match="N"):
        P.optimal_peak_lr(LAW_PT, LAW_CPT, 0.5, pt, 100, inputs={"q": 1})


# -- evaluate, Pareto front -----------------------------------------------------------------------


def test_evaluate_matches_per_step_and_model_size_inputs():
    pt = wsd_pt(5000, 0.2)
    fam = [P.cpt_schedule(lr, n, s, warmup=50, start_lr=0.2 * PEAK) for lr in (5e-5, PEAK) for n in (300, 1000)
           for s in ("cosine", "wsd")]
    ev = P.evaluate(LAW_PT, LAW_CPT, pt, fam, w=0.25)
    for i, c in enumerate(fam):
        assert ev["loss_pt"][i] == pytest.approx(final_loss(LAW_PT, pt, c), rel=1e-10)
        assert ev["loss_cpt"][i] == pytest.approx(final_loss(LAW_CPT, pt, c), rel=1e-10)
    assert ev["objective"] == pytest.approx(0.25 * ev["loss_pt"] + 0.75 * ev["loss_cpt"])
    # dict families: Cartesian product, start_lr defaulting to the PT's final LR
    ev2 = P.evaluate(LAW_PT, LAW_CPT, pt, {"peak_lr": [5e-5, PEAK], "steps": [300, 1000],
                                           "shape": ["cosine", "wsd"], "warmup": 50}, w=0.25)
    assert len(ev2["candidates"]) == 8 and ev2["loss_pt"] == pytest.approx(ev["loss_pt"], rel=1e-12)
    ms = cptlaw.ModelSizeLaw(L0=3.0, A=0.5, alpha=0.5, C1=0.3, C2=0.3, g1=0.0, g2=0.0, B=0.3, E=28, beta=0.2,
                             F=0.0, g3=0.3)
    ev3 = P.evaluate(ms, None, pt, fam, w=1.0, inputs={"N": 106.0})
    assert np.isfinite(ev3["loss_pt"]).all() and np.isnan(ev3["loss_cpt"]).all()
    with pytest.raises(ValueError, match="'N'"):
        P.evaluate(ms, None, pt, fam, w=1.0)
    with pytest.raises(ValueError, match="family"):
        P.evaluate(LAW_PT, LAW_CPT, pt, {"peak": [1e-4]})


def test_pareto_front_against_dominance():
    pt = wsd_pt(20_000)
    fam = {"peak_lr": np.geomspace(2e-6, 2e-4, 15), "steps": [2000, 5000, 10_000], "shape": ["cosine", "wsd"],
           "warmup": [100]}
    fr = P.pareto_front(LAW_PT, LAW_CPT, pt, fam)
    lp, lc = fr.all_loss_pt, fr.all_loss_cpt
    assert lp.size == 90 and 1 < len(fr) < 90
    on_front = set(fr.index.tolist())
    for i in range(lp.size):
        dominated = np.any((lp <= lp[i]) & (lc <= lc[i]) & ((lp < lp[i]) | (lc < lc[i])))
        assert dominated == (i not in on_front), i
    assert np.all(np.diff(fr.loss_pt) > 0) and np.all(np.diff(fr.loss_cpt) < 0)
    for w in (0.0, 0.3, 1.0):
        j = fr.best(w)
        assert j == int(np.argmin(w * lp + (1 - w) * lc))
    # replay ratios as a family axis
    fr2 = P.pareto_front(REPLAY_PT, REPLAY_CPT, pt, {"peak_lr": [PEAK], "steps": [5000], "r_pt": np.linspace(0, 1, 11)})
    assert np.all(np.diff(fr2.loss_pt) > 0) and len(fr2) >= 2


# -- free-form schedule -----------------------------------------------------------------------------


@pytest.mark.parametrize("split", SPLITS)
def test_s2_weights_affine_in_cpt_lrs(split):
    """S2_cpt at the last CPT step is S2_cpt(0) + g . x with g_t = c_{t+1} - c_t (every split)."""
    rng = np.random.default_rng(0)
    pt = wsd_pt(3000, 0.3)
    n = 700
    x = rng.uniform(0, PEAK, n)
    c = P._s2_weights(n, 0.999)
    g = c[1:] - c[:-1]
    a0 = cptlaw.cpt_areas(pt.values(), np.zeros(n), split=split)
    a1 = cptlaw.cpt_areas(pt.values(), x, split=split)
    assert a1.s2_cpt[-1] == pytest.approx(a0.s2_cpt[-1] + g @ x, rel=1e-9, abs=1e-13)
    assert a1.s2_pt[-1] == a0.s2_pt[-1] and a1.s1_pt[-1] == a0.s1_pt[-1]


@pytest.mark.parametrize("monotone", [True, False])
def test_optimize_schedule_beats_families_and_perturbations(monotone):
    pt = wsd_pt(20_000)
    n, w, wu = 5000, 0.3, 100
    res = P.optimize_schedule(LAW_PT, LAW_CPT, w, pt, n, PEAK, knots=8, warmup=wu, monotone=monotone)
    v = res.values
    assert v.shape == (n,) and np.all(v <= PEAK * (1 + 1e-12)) and np.all(v >= 0)
    assert v[0] == pytest.approx(0.0) and v[wu] == pytest.approx(res.knot_lrs[0])
    assert np.allclose(v[res.knot_steps], res.knot_lrs)
    if monotone:
        assert np.all(np.diff(v[wu:]) <= 1e-18)
    # reported losses are the per-step truth
    assert res.loss_pt == pytest.approx(final_loss(LAW_PT, pt, S.from_values(v)), rel=1e-10)
    assert res.objective == pytest.approx(w * res.loss_pt + (1 - w) * res.loss_cpt, rel=1e-12)
    # at least as good as the best cosine / WSD peak LR within the same max LR
    for shape in ("cosine", "wsd", "constant"):
        best = P.optimal_peak_lr(LAW_PT, LAW_CPT, w, pt, n, shape, warmup=wu)
        assert res.objective <= best.objective + 1e-9
    assert res.max_lr_active  # the LR bound does the work (LAW.md section 6)
    # no feasible random perturbation of the knots does better
    rng = np.random.default_rng(1)
    for _ in range(20):
        k = np.clip(res.knot_lrs + rng.normal(0, 5e-6, res.knot_lrs.size), 0, PEAK)
        if monotone:
            k = np.minimum.accumulate(k)
        x = np.interp(np.arange(n), res.knot_steps, k)
        x[:wu] = k[0] * np.arange(wu) / wu
        assert objective(w, pt, S.from_values(x)) >= res.objective - 1e-10


def test_optimize_schedule_options_and_validation():
    pt = wsd_pt(5000, 0.5)
    res = P.optimize_schedule(LAW_PT, LAW_CPT, 0.9, pt, 1000, 1e-4, knots=1, min_lr=1e-5, split="by_time")
    assert np.all(res.values == res.values[0]) and 1e-5 <= res.values[0] <= 1e-4
    assert res.success
    res = P.optimize_schedule(LAW_PT, LAW_CPT, 0.5, pt, 1000, PEAK, knots=4, warmup=10, start_lr=PEAK)
    assert res.values[0] == pytest.approx(PEAK)
    with pytest.raises(ValueError, match="max_lr"):
        P.optimize_schedule(LAW_PT, LAW_CPT, 0.5, pt, 1000, 1e-5, min_lr=1e-5)
    with pytest.raises(ValueError, match="knots"):
        P.optimize_schedule(LAW_PT, LAW_CPT, 0.5, pt, 10, PEAK, knots=11)
    with pytest.raises(ValueError, match="warmup"):
        P.optimize_schedule(LAW_PT, LAW_CPT, 0.5, pt, 10, PEAK, knots=1, warmup=10)


@pytest.mark.parametrize("monotone", [True, False])
def test_optimize_schedule_exact_gradient(monkeypatch, monotone):
    """The gradient handed to L-BFGS-B matches central differences of the objective."""
    import scipy.optimize

    captured = []
    real = scipy.optimize.minimize

    def spy(fun, x0, **kw):
        captured.append(fun)
        return real(fun, x0, **kw)

    monkeypatch.setattr(scipy.optimize, "minimize", spy)
    pt = wsd_pt(20_000, 0.2)
    P.optimize_schedule(LAW_PT, LAW_CPT, 0.4, pt, 3000, PEAK, knots=6, warmup=100, monotone=monotone,
                        split="by_time")
    fun = captured[0]
    rng = np.random.default_rng(2)
    for _ in range(3):
        x = rng.uniform(0.2, 0.95, 6)
        val, grad = fun(x)
        num = np.array([(fun(x + e * 1e-6)[0] - fun(x - e * 1e-6)[0]) / 2e-6 for e in np.eye(6)])
        assert np.max(np.abs(grad - num)) <= 1e-5 * np.max(np.abs(num))
