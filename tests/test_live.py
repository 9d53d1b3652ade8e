"""Live prediction (issue 6): cptlaw.live.LivePredictor on synthetic runs.

The runs are generated from P1's fitted parameter sets (LAW.md section 7) with the CPT law
(by_source split, decay 0.999): a WSD pre-training of 20k updates, then a cosine CPT of 20k
updates, validation losses on D_pt and D_cpt every 1000 updates with 0.2% multiplicative
Gaussian noise (fixed seeds). The truth is computed here with the law written out in NumPy,
on areas from ``scipy.signal.lfilter`` (independent of the compiled core).
"""

from __future__ import annotations

import math
import pickle
import warnings

import numpy as np
import pytest

import cptlaw
from cptlaw.live import BandWarning, Excursion, LivePredictor, PlanWarning, Prediction

signal = pytest.importorskip("scipy.signal")
stats = pytest.importorskip("scipy.stats")

PEAK = 2e-4
N_PT = N_CPT = 20_000
EVERY = 1000
NOISE = 0.002
DECAY = 0.999
P1 = {
    "pt": dict(L0=3.057, A=0.490, alpha=0.497, C1=0.299, C2=0.298, B=0.366, E=28.0, beta=0.189),
    "cpt": dict(L0=3.024, A=0.412, alpha=0.677, C1=0.278, C2=0.324, B=-0.666, E=5662.0, beta=0.146),
}
CPT_PARAMS = ("C2", "B", "E", "beta")


def wsd_pt():
    t = np.arange(1, N_PT + 1, dtype=np.float64)
    lr = np.where(t <= 500, PEAK * t / 500, PEAK)
    return np.where(t > 16_000, PEAK * (1 - 0.9 * (t - 16_000) / 4_000), lr)


def cosine_cpt():
    t = np.arange(1, N_CPT + 1, dtype=np.float64)
    return PEAK / 2 * (1 + np.cos(np.pi * t / N_CPT))


LR_PT, LR_CPT = wsd_pt(), cosine_cpt()
STEPS = np.arange(EVERY, N_PT + N_CPT + 1, EVERY)  # updates done at each observation
FINAL = N_PT + N_CPT


def truth_areas(lr_pt, lr_cpt):
    """by_source areas after updates 1..i+1 (LAW.md sections 1 and 3), in NumPy."""
    n_pt = len(lr_pt)
    x = np.concatenate([lr_pt, lr_cpt])
    d = np.zeros_like(x)
    d[1:] = x[:-1] - x[1:]
    d_pt = np.where(np.arange(len(x)) < n_pt, d, 0.0)
    m_pt = signal.lfilter([1.0], [1.0, -DECAY], d_pt)
    m_cpt = signal.lfilter([1.0], [1.0, -DECAY], d - d_pt)
    s1 = np.cumsum(x)
    s1_pt = np.minimum(s1, s1[n_pt - 1])
    return {"s1_pt": s1_pt, "s2_pt": np.cumsum(m_pt), "s1_cpt": s1 - s1_pt, "s2_cpt": np.cumsum(m_cpt)}


AREAS = truth_areas(LR_PT, LR_CPT)


def law_np(p, idx):
    f = {k: v[idx] for k, v in AREAS.items()}
    s = f["s1_pt"] + f["s1_cpt"]
    return (p["L0"] + p["A"] * s ** (-p["alpha"]) - p["C1"] * f["s2_pt"] - p["C2"] * f["s2_cpt"]
            + p["B"] * (1 - (1 + p["E"] * f["s1_cpt"]) ** (-p["beta"])))


TRUTH_FINAL = {v: float(law_np(p, FINAL - 1)) for v, p in P1.items()}


def noisy_losses(seed):
    rng = np.random.default_rng(seed)
    return {v: law_np(p, STEPS - 1) * (1 + NOISE * rng.standard_normal(STEPS.size)) for v, p in P1.items()}


def run_live(live, losses, until=FINAL, checkpoints=(), start=0):
    """Feed the observations from ``STEPS[start]`` up to step ``until``; return
    {step: prediction dict} at the checkpoints."""
    out = {}
    for i, s in enumerate(STEPS):
        if i < start:
            continue
        if s > until:
            break
        live.observe(int(s), {v: losses[v][i] for v in live.valsets})
        if s in checkpoints:
            out[int(s)] = live.prediction()
    return out


def new_predictor(**kw):
    return LivePredictor(planned_lr_pt=LR_PT, planned_lr_cpt=LR_CPT, **kw)


# -- the band covers the truth ------------------------------------------------------------------


@pytest.mark.parametrize("seed", [2, 3])
def test_band_covers_truth_at_final_step(seed):
    """From half-way through CPT on, the 95% band of the final loss contains the noiseless truth,
    and the band narrows as observations accumulate. Both validation sets, two noise seeds."""
    losses = noisy_losses(seed)
    live = new_predictor()
    checks = (N_PT + 10_000, N_PT + 15_000, FINAL)
    with warnings.catch_warnings():
        warnings.simplefilter("error", BandWarning)  # a run that follows the law raises no alarm
        preds = run_live(live, losses, checkpoints=checks)
    for v in P1:
        widths = []
        for s in checks:
            p = preds[s][v]
            assert isinstance(p, Prediction) and p.available, (s, v, p.reason)
            assert p.step == FINAL and p.valset == v and p.level == 0.95 and p.method == "delta"
            assert all(math.isfinite(x) for x in (p.loss, p.lower, p.upper, p.stderr, p.noise))
            assert p.lower < p.loss < p.upper
            assert p.lower <= TRUTH_FINAL[v] <= p.upper, (seed, s, v, p, TRUTH_FINAL[v])
            widths.append(p.upper - p.lower)
        assert widths[0] > widths[-1]
        # at the end the band is the observation noise (2 x 1.96 x 0.2% of the loss), about
        assert widths[-1] < 4 * 1.96 * NOISE * TRUTH_FINAL[v]
        assert abs(preds[FINAL][v].noise / TRUTH_FINAL[v] - NOISE) < 0.3 * NOISE
    assert live.excursions == []


def test_band_at_every_planned_step_and_calibration():
    """predict() over many planned steps: finite bands at every step; the noiseless curve lies
    inside the 95% band almost everywhere, and the observations inside it about 95% of the time."""
    losses = noisy_losses(3)
    live = new_predictor(valsets=("cpt",))
    run_live(live, losses)
    grid = np.arange(1000, FINAL + 1, 250)
    p = live.predict(grid, "cpt")
    assert p.available and p.loss.shape == grid.shape and np.all(np.isfinite(p.lower) & np.isfinite(p.upper))
    truth = law_np(P1["cpt"], grid - 1)
    assert np.mean((p.lower <= truth) & (truth <= p.upper)) > 0.97
    obs = live.predict(STEPS[2:], "cpt")
    inside = np.mean((obs.lower <= losses["cpt"][2:]) & (losses["cpt"][2:] <= obs.upper))
    assert 0.88 <= inside <= 1.0
    # scalar step -> float fields; dict without valset
    one = live.predict(30_000)
    assert set(one) == {"cpt"} and isinstance(one["cpt"].loss, float) and one["cpt"].step == 30_000


def test_bootstrap_band():
    losses = noisy_losses(4)
    live = new_predictor(band="bootstrap", n_boot=24, refit_every=4)
    run_live(live, losses, until=N_PT + 15_000)
    for v, p in live.prediction().items():
        assert p.available and p.method == "bootstrap"
        assert np.isfinite([p.loss, p.lower, p.upper, p.stderr]).all() and p.stderr > 0
        assert p.lower <= TRUTH_FINAL[v] <= p.upper


# -- availability ---------------------------------------------------------------------------------


def test_not_available_until_identified():
    losses = noisy_losses(5)
    live = new_predictor()
    p = live.prediction("pt")
    assert not p.available and p.reason == "no observations yet" and math.isnan(p.loss)
    live.observe(EVERY, {"pt": losses["pt"][0]})
    p = live.prediction("pt")
    assert not p.available and "need at least" in p.reason and p.method is None
    # Only PT observations: C2, B, E, beta act on the final (CPT) loss but on no observation.
    run_live(live, losses, until=N_PT, start=1)
    p = live.prediction("pt")
    assert not p.available and all(name in p.reason for name in CPT_PARAMS), p.reason
    assert np.isnan([p.loss, p.lower, p.upper]).all()
    # ...while the end of PT is predicted, from the PT part of the law
    q = live.predict(N_PT, "pt")
    assert q.available and q.lower <= law_np(P1["pt"], N_PT - 1) <= q.upper
    res = live.fit_result("pt")
    assert res is not None and res.success
    for name in CPT_PARAMS:
        assert res.params[name] == 0.5  # held, not fitted
    # One CPT observation cannot determine four parameters; a handful can.
    live.observe(N_PT + EVERY, {"pt": losses["pt"][N_PT // EVERY]})
    assert not live.prediction("pt").available
    run_live(live, losses, until=N_PT + 5_000, start=N_PT // EVERY + 1)
    p = live.prediction("pt")
    assert p.available and np.isfinite([p.lower, p.upper]).all()


def test_fixed_parameters_make_the_final_prediction_available_during_pt():
    """Parameters known in advance (here the true CPT ones) are held: the final CPT loss is then
    predicted from PT observations alone."""
    losses = noisy_losses(6)
    fixed = {v: {k: P1[v][k] for k in CPT_PARAMS} for v in P1}
    live = new_predictor(fixed=fixed)
    run_live(live, losses, until=N_PT)
    for v, p in live.prediction().items():
        assert p.available, p.reason
        assert p.lower <= TRUTH_FINAL[v] <= p.upper
        assert live.fit_result(v).params["E"] == P1[v]["E"]
    # a law instance (e.g. fitted on an earlier run) supplies the held values and a first start
    start = cptlaw.CPTLaw(**P1["pt"])
    live3 = new_predictor(law=start, valsets=("pt",))
    run_live(live3, losses, until=N_PT)
    assert live3.fit_result("pt").params["E"] == P1["pt"]["E"]
    assert not live3.prediction("pt").available
    # the same fixed values for every validation set: a plain dict
    live2 = new_predictor(valsets=("cpt",), fixed={"E": 5662.0, "beta": 0.146})
    assert live2.prediction("cpt").reason == "no observations yet"


# -- warnings when observations leave the band --------------------------------------------------


def test_divergence_warns_once_per_streak():
    losses = noisy_losses(7)
    jump_at = N_PT + 12_000
    got = []
    live = new_predictor(on_excursion=got.append)
    run_live(live, losses, until=jump_at - EVERY)
    i0 = int(np.searchsorted(STEPS, jump_at))
    with pytest.warns(BandWarning, match=r"valset 'cpt'.*outside the 99.9% band.*diverged") as rec:
        excs = live.observe(jump_at, {"pt": losses["pt"][i0], "cpt": losses["cpt"][i0] * 1.05})
    assert len(rec) == 1 and isinstance(rec[0].message.excursion, Excursion)
    assert len(excs) == 1 and excs[0].valset == "cpt" and excs[0].step == jump_at and excs[0].warned
    assert excs[0].loss > excs[0].upper and excs[0].lower < excs[0].predicted < excs[0].upper
    assert live.outside("cpt") and not live.outside("pt")
    # still diverged at the next evaluations: recorded, but no new warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", BandWarning)
        more = live.observe(jump_at + EVERY, {"cpt": losses["cpt"][i0 + 1] * 1.08})
    assert len(more) == 1 and not more[0].warned
    assert got == live.excursions == excs + more
    # a NaN loss (the run blew up) is an excursion that is not fitted
    live2 = new_predictor()
    run_live(live2, losses, until=N_PT + 5_000)
    n_before = len(live2.observations("pt")["loss"])
    with pytest.warns(BandWarning, match="not finite"):
        (exc,) = live2.observe(N_PT + 5_500, {"pt": float("nan")})
    assert math.isnan(exc.loss) and len(live2.observations("pt")["loss"]) == n_before == (N_PT + 5_000) // EVERY


def test_back_inside_rearms_the_warning():
    losses = noisy_losses(8)
    live = new_predictor(valsets=("pt",))
    run_live(live, losses, until=N_PT + 10_000)
    i = int(np.searchsorted(STEPS, N_PT + 10_500))
    with pytest.warns(BandWarning):
        live.observe(int(STEPS[i]), losses["pt"][i] + 0.2)
    live.observe(int(STEPS[i + 1]), losses["pt"][i + 1])  # back to normal
    assert not live.outside("pt")
    with pytest.warns(BandWarning):
        live.observe(int(STEPS[i + 2]), losses["pt"][i + 2] - 0.2)
    assert [e.warned for e in live.excursions] == [True, True]


# -- with a tracker -----------------------------------------------------------------------------


def test_tracker_supplies_step_and_areas():
    losses = noisy_losses(9)
    tracker = cptlaw.Tracker()
    live = LivePredictor(tracker, planned_lr_pt=cptlaw.schedules.from_values(LR_PT), planned_lr_cpt=LR_CPT,
                         valsets=("cpt",), refit_every=2)
    assert live.final_step == FINAL and live.transfer_step == N_PT
    with pytest.raises(ValueError, match="no step yet"):
        live.observe(3.0)
    lrs = np.concatenate([LR_PT, LR_CPT])
    k = 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no PlanWarning: the run follows the plan
        for s in range(1, N_PT + 8_001):
            if s == N_PT + 1:
                tracker.start_cpt()
            tracker.step(lrs[s - 1])
            if s % EVERY == 0:
                live.observe(losses["cpt"][k])  # a number: one validation set; step = tracker.step_count
                k += 1
    obs = live.observations("cpt")
    np.testing.assert_array_equal(obs["steps"], STEPS[:k])
    for name in ("s1_pt", "s2_pt", "s1_cpt", "s2_cpt"):
        np.testing.assert_allclose(obs[name], AREAS[name][STEPS[:k] - 1], rtol=1e-10, atol=1e-13)
    p = live.prediction("cpt")
    assert p.available and p.lower <= TRUTH_FINAL["cpt"] <= p.upper
    # an explicit step other than the tracker's is taken from the plan
    live.observe(N_PT + 4_000, losses["cpt"][(N_PT + 4_000) // EVERY - 1])
    assert live.observations("cpt")["steps"][-1] == N_PT + 4_000


def test_plan_warning_when_the_run_leaves_the_plan():
    tracker = cptlaw.Tracker()
    live = LivePredictor(tracker, planned_lr_pt=LR_PT[:100], planned_lr_cpt=LR_CPT[:100], valsets=("pt",))
    for lr in LR_PT[:100]:
        tracker.step(lr)
    live.observe(3.5)
    for lr in LR_CPT[:50]:  # start_cpt() forgotten: the tracker still counts PT
        tracker.step(lr)
    with pytest.warns(PlanWarning, match="does not follow the plan"):
        live.observe(3.4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        live.observe(3.4)  # warned once
    with pytest.raises(ValueError, match="split"):
        LivePredictor(tracker, planned_lr_pt=LR_PT, split="restart")


def test_set_plan_extends_the_run():
    losses = noisy_losses(10)
    live = LivePredictor(planned_lr_pt=LR_PT, planned_lr_cpt=LR_CPT[:10_000], valsets=("cpt",))
    with pytest.raises(ValueError, match="past the planned run"):
        live.observe(N_PT + 10_500, 2.9)
    run_live(live, losses, until=N_PT + 10_000)
    short = live.prediction("cpt")
    assert short.step == N_PT + 10_000 and short.available
    live.set_plan(LR_PT, LR_CPT)
    p = live.prediction("cpt")
    assert p.step == FINAL and p.available and p.loss < short.loss
    run_live(live, losses, start=(N_PT + 10_000) // EVERY)
    assert live.prediction("cpt").lower <= TRUTH_FINAL["cpt"] <= live.prediction("cpt").upper


# -- speed: warm-started refits ------------------------------------------------------------------


def test_refits_are_mostly_warm():
    """Multistart fits only when the informative points grew by 1.5x (or a warm fit failed):
    O(log n) of them."""
    losses = noisy_losses(11)
    live = new_predictor()
    run_live(live, losses, until=N_PT + 12_000)
    mid = live.stats()
    run_live(live, losses, start=(N_PT + 12_000) // EVERY)
    for v, s in live.stats().items():
        assert s["n_points"] == STEPS.size
        assert s["n_refits"] >= STEPS.size - 5 and s["n_fits"] >= s["n_refits"]
        assert s["n_full_fits"] <= 2 * math.ceil(math.log(STEPS.size) / math.log(1.5)) + 4, s
        # 12 -> 20 CPT points: one growth step (at 1.5 x 12 = 18); warm fits otherwise
        assert s["n_full_fits"] - mid[v]["n_full_fits"] <= 2, (mid[v], s)
        assert s["fit_seconds"] > 0
    assert len(live.history["cpt"]) >= STEPS.size - 5
    step, last = live.history["cpt"][-1]
    assert step == FINAL and last.available and last.loss == live.prediction("cpt").loss


def test_refit_every():
    losses = noisy_losses(12)
    live = new_predictor(valsets=("pt",), refit_every=5)
    run_live(live, losses, until=N_PT)
    assert live.stats()["pt"]["n_refits"] == N_PT // EVERY // 5
    live.observe(N_PT + EVERY, losses["pt"][N_PT // EVERY])
    assert live.fit_result("pt").n_points == N_PT // EVERY
    live.refit()
    assert live.fit_result("pt").n_points == N_PT // EVERY + 1


# -- other laws, state, errors ------------------------------------------------------------------


def test_annealing_law_pt_only_run():
    """A run without CPT, fitted with P2's law (s1, s2 of the whole timeline)."""
    p2 = dict(L0=2.628, A=0.430, alpha=0.550, C=0.411)
    a = cptlaw.areas(LR_PT)
    law = cptlaw.AnnealingLaw(**p2)
    rng = np.random.default_rng(13)
    steps = np.arange(250, N_PT + 1, 250)
    obs = law(s1=a.s1[steps - 1], s2=a.s2[steps - 1]) * (1 + NOISE * rng.standard_normal(steps.size))
    live = LivePredictor(law=cptlaw.AnnealingLaw, planned_lr_pt=LR_PT, valsets="loss")
    for s, y in zip(steps[:56], obs[:56]):  # up to the start of the decay at 14k updates
        live.observe(int(s), float(y))
    p = live.prediction("loss")
    truth = float(law(s1=a.s1[-1], s2=a.s2[-1]))
    assert live.transfer_step is None and p.available and p.lower <= truth <= p.upper


def test_state_dict_round_trip():
    losses = noisy_losses(14)
    live = new_predictor()
    run_live(live, losses, until=N_PT + 8_000)
    state = pickle.loads(pickle.dumps(live.state_dict()))
    again = new_predictor()
    again.load_state_dict(state)
    for v in P1:
        a, b = live.prediction(v), again.prediction(v)
        assert b.available and b.n_points == a.n_points
        assert b.loss == pytest.approx(a.loss, abs=0.3 * (a.upper - a.lower))
    with pytest.raises(ValueError, match="validation sets"):
        new_predictor(valsets=("pt",)).load_state_dict(state)
    with pytest.raises(ValueError, match="not a LivePredictor state"):
        again.load_state_dict({"format": "x"})
    # a point where the law is not defined (S1 = 0) is refused, naming it
    bad = pickle.loads(pickle.dumps(state))
    bad["valsets"]["pt"]["areas"][0] = [0.0, 0.0, 0.0, 0.0]
    bad["valsets"]["pt"]["from_plan"][0] = False
    with pytest.raises(ValueError, match=r"\['areas'\]\[0\]: CPTLaw is not defined.*S1 = 0"):
        again.load_state_dict(bad)


def test_warnings_point_at_the_line_that_called_observe():
    losses = noisy_losses(8)
    live = new_predictor(valsets=("pt",))
    run_live(live, losses, until=N_PT + 10_000)
    i = int(np.searchsorted(STEPS, N_PT + 10_500))
    with pytest.warns(BandWarning) as rec:
        live.observe(int(STEPS[i]), losses["pt"][i] + 0.2)
    assert rec[0].filename == __file__, rec[0].filename


def test_observations_where_the_law_is_undefined_are_skipped():
    """After the first update of a warmup from 0 no LR has been applied (S1 = 0): the law is
    infinite there, and such a point would make every later fit fail."""
    lr_pt = np.concatenate([np.linspace(0.0, PEAK, 50), np.full(950, PEAK)])
    live = LivePredictor(planned_lr_pt=lr_pt, valsets=("pt",), law=cptlaw.AnnealingLaw)
    with pytest.warns(RuntimeWarning, match=r"step 1: AnnealingLaw is not defined.*S1 = 0.*not used") as rec:
        assert live.observe(1, 9.0) == []
    assert rec[0].filename == __file__
    assert live.observations("pt")["steps"].size == 0
    law = cptlaw.AnnealingLaw(L0=3.0, A=0.5, alpha=0.5, C=0.3)
    a = cptlaw.areas(lr_pt)
    for s in range(20, 1001, 20):
        live.observe(s, float(law(s1=a.s1[s - 1], s2=a.s2[s - 1])) * (1 + 1e-3 * np.sin(s)))
    res = live.fit_result("pt")
    assert res is not None and res.success and live.prediction("pt").available


def test_prediction_interval_and_confidence_band():
    losses = noisy_losses(3)
    live = new_predictor(valsets=("cpt",))
    run_live(live, losses, until=N_PT + 10_000)
    p = live.prediction("cpt")
    assert p.kind == "prediction" and p.dof == p.n_points - 8
    pi, cb = p.interval(), p.interval("confidence")
    assert pi.name == "prediction_interval" and (pi.low, pi.high) == (p.lower, p.upper)
    assert cb.name == "confidence_band" and pi.low < cb.low < p.loss < cb.high < pi.high
    # on the log scale, as cptlaw.intervals: the curve's part of the prediction interval
    from cptlaw.intervals import _t_two_sided

    t = _t_two_sided(p.level, p.dof)
    assert math.log(cb.high / p.loss) == pytest.approx(t * p.stderr / p.loss, rel=1e-12)
    assert math.log(p.upper / p.loss) == pytest.approx(
        t * math.hypot(p.stderr / p.loss, p.noise / p.loss), rel=1e-12)


def test_t_quantile_matches_scipy():
    from cptlaw.intervals import _t_two_sided

    for level in (0.5, 0.9, 0.95, 0.999):
        for dof in (1, 2, 3, 4, 7, 10, 29, 30, 31, 60, 500):
            assert _t_two_sided(level, dof) == pytest.approx(stats.t.ppf((1 + level) / 2, dof), rel=1e-5)


def test_argument_errors():
    with pytest.raises(ValueError, match="planned_lr_pt"):
        LivePredictor(planned_lr_pt=None)
    with pytest.raises(TypeError, match="^tracker"):
        LivePredictor(object(), planned_lr_pt=LR_PT)
    with pytest.raises(ValueError, match="^valsets"):
        LivePredictor(planned_lr_pt=LR_PT, valsets=("a", "a"))
    with pytest.raises(ValueError, match="^band"):
        LivePredictor(planned_lr_pt=LR_PT, band="profile")
    with pytest.raises(ValueError, match="^level"):
        LivePredictor(planned_lr_pt=LR_PT, level=1.0)
    with pytest.raises(ValueError, match="^fixed"):
        LivePredictor(planned_lr_pt=LR_PT, fixed={"gamma": 1.0})
    with pytest.raises(ValueError, match="r_pt"):
        LivePredictor(law=cptlaw.ReplayPTLaw, planned_lr_pt=LR_PT)
    assert LivePredictor(law=cptlaw.ReplayPTLaw, planned_lr_pt=LR_PT, constants={"r_pt": 0.2}).valsets == ("pt", "cpt")
    with pytest.raises(ValueError, match="^fit_options"):
        LivePredictor(planned_lr_pt=LR_PT, fit_options={"fixed": {}})
    live = new_predictor()
    with pytest.raises(TypeError, match="pass the step"):
        live.observe({"pt": 3.0})
    with pytest.raises(ValueError, match="pass a dict"):
        live.observe(100, 3.0)
    with pytest.raises(ValueError, match="unknown validation set 'dpt'"):
        live.observe(100, {"dpt": 3.0})
    with pytest.raises(ValueError, match="^step"):
        live.observe(0, {"pt": 3.0})
    with pytest.raises(ValueError, match="must be > 0"):
        live.observe(100, pt=-1.0)
    with pytest.raises(TypeError, match="expected a number"):
        live.observe(100, {"pt": "3.0"})
    with pytest.raises(ValueError, match="^steps"):
        live.predict(FINAL + 1)
    with pytest.raises(ValueError, match="^valset"):
        live.prediction("dpt")
    live.observe(100, pt=3.0, cpt=3.1)  # keyword form
    assert live.observations("cpt")["steps"].tolist() == [100]
    assert "LivePredictor(final_step=40000" in repr(live)
