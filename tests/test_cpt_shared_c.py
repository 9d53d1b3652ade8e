"""CPTSharedCLaw (Eq. 4 with one annealing coefficient C) through every path that takes a law:
values and gradients (the reference and the identity with CPTLaw are in
test_reference_vs_core.py and here), fit / fit_many / fit_runs / predict_run with the default
multistart, Tracker-based prediction, and grid closed forms against materialised schedules.
It was added as one struct, one registry line, one class and one reference function; these
tests check that every consumer picked it up from the registry."""

from __future__ import annotations

import numpy as np
import pytest

import cptlaw
from cptlaw import reference as ref
from cptlaw import schedules as S
from cptlaw.grid import wsd_decay_steps

P = dict(L0=3.0, A=0.45, alpha=0.55, C=0.3, B=-0.5, E=300.0, beta=0.2)
LAW = cptlaw.CPTSharedCLaw(**P)
PT = S.wsd(2e-4, 4000, decay_steps=800, warmup=100)  # annealed to 0: CPT re-warms from it
CPTS = [S.cosine(1e-4, 3000, warmup=100), S.wsd(2e-4, 3000, decay_steps=600, warmup=100), S.constant(5e-5, 3000)]


def _areas(pt, cpt, split="by_source"):
    return cptlaw.cpt_areas(pt.values(), cpt.values(), 0.999, split)


def test_equals_cpt_law_with_equal_coefficients():
    rng = np.random.default_rng(0)
    x = dict(s1_pt=rng.uniform(0.01, 5, 500), s2_pt=rng.uniform(-1, 3, 500), s1_cpt=rng.uniform(0, 5, 500),
             s2_cpt=rng.uniform(-2, 3, 500))
    cpt = cptlaw.CPTLaw(P["L0"], P["A"], P["alpha"], P["C"], P["C"], P["B"], P["E"], P["beta"])
    np.testing.assert_allclose(LAW(**x), cpt(**x), rtol=1e-14, atol=1e-14)
    g, gc = LAW.grad(**x), cpt.grad(**x)
    names = list(LAW.param_names)
    for k, name in enumerate(names):
        if name == "C":  # d/dC = d/dC1 + d/dC2
            want = gc[:, 3] + gc[:, 4]
        else:
            want = gc[:, list(cpt.param_names).index(name)]
        np.testing.assert_allclose(g[:, k], want, rtol=1e-13, atol=1e-15, err_msg=name)


def test_value_and_grad_match_the_reference_on_real_areas():
    a = _areas(PT, CPTS[0])
    x = {k: v[1::50] for k, v in a._asdict().items()}  # step 0 has no forward area
    np.testing.assert_allclose(LAW(**x), ref.cpt_shared_c(P, **x), rtol=1e-12)
    np.testing.assert_allclose(LAW.grad(**x), ref.grad("cpt_shared_c", P, **x), rtol=1e-9, atol=1e-12)


def test_by_source_areas_add_up_to_the_whole_schedule():
    """With by_source, s2_pt + s2_cpt is the S2 of the concatenated schedule (the law's C term)."""
    a = _areas(PT, CPTS[1])
    whole = cptlaw.areas(np.concatenate([PT.values(), CPTS[1].values()]))
    np.testing.assert_allclose(a.s2_pt + a.s2_cpt, whole.s2, rtol=1e-10, atol=1e-12)


def _runs(law, noise, seed=1):
    rng = np.random.default_rng(seed)
    runs = []
    for cs in CPTS:
        a = _areas(PT, cs)
        steps = np.arange(199, PT.steps + cs.steps, 100)
        y = law(**{k: v[steps] for k, v in a._asdict().items()})
        y = y * (1 + noise * rng.standard_normal(steps.size))
        runs.append(cptlaw.Run(lr_pt=PT.values(), lr_cpt=cs.values(), steps=steps + 1, loss=y))
    return runs


def test_fit_runs_default_multistart_recovers_the_law_and_predicts():
    runs = _runs(LAW, 0.0)
    res = cptlaw.fit_runs(cptlaw.CPTSharedCLaw, runs)
    assert res.success and not res.at_bound, res.message
    for k, v in P.items():
        assert res.params[k] == pytest.approx(v, rel=1e-5), k
    for run in runs:
        np.testing.assert_allclose(cptlaw.predict_run(res, run), run.loss, rtol=1e-7)


def test_fit_with_noise_converges_near_the_truth():
    runs = _runs(LAW, 0.001)
    res = cptlaw.fit_runs(cptlaw.CPTSharedCLaw, runs)
    assert res.success, res.message
    assert res.r2 > 0.999
    for k in ("L0", "A", "alpha", "C"):
        assert res.params[k] == pytest.approx(P[k], rel=0.1), k


def test_fit_and_fit_many_on_features():
    a = _areas(PT, CPTS[0])
    steps = np.arange(199, 7000, 50)
    feats = {k: v[steps] for k, v in a._asdict().items()}
    y = LAW(**feats)
    res = cptlaw.fit(cptlaw.CPTSharedCLaw, feats, y)
    assert res.success and res.params["C"] == pytest.approx(P["C"], rel=1e-4)
    # Three curves at once, each its own C.
    laws = [cptlaw.CPTSharedCLaw(**{**P, "C": c}) for c in (0.2, 0.3, 0.4)]
    ys = np.stack([law(**feats) for law in laws])
    many = cptlaw.fit_many(cptlaw.CPTSharedCLaw, {k: np.tile(v, (3, 1)) for k, v in feats.items()}, ys)
    assert many.success.all(), many.message
    np.testing.assert_allclose(many.params[:, 3], [0.2, 0.3, 0.4], rtol=1e-3)


def test_default_bounds_and_grid():
    from cptlaw._fit_problem import _bounds
    from cptlaw.fit import default_grid

    lo, hi = _bounds(cptlaw.CPTSharedCLaw, None)
    names = cptlaw.CPTSharedCLaw.param_names
    assert lo[names.index("B")] == -np.inf  # B is signed
    assert lo[names.index("C")] == 0.0 and hi[names.index("C")] == np.inf
    grid = default_grid(cptlaw.CPTSharedCLaw)
    assert grid.shape[1] == len(names)
    # the nonlinear parameters are searched, the linear ones projected (one placeholder value)
    for name in ("alpha", "E", "beta"):
        assert len(np.unique(grid[:, names.index(name)])) > 1
    for name in cptlaw.CPTSharedCLaw.linear_params:
        assert len(np.unique(grid[:, names.index(name)])) == 1


def test_tracker_prediction_equals_offline_areas():
    cs = CPTS[1]
    for split in ("by_source", "by_time", "restart"):
        tr = cptlaw.Tracker(decay=0.999, split=split)
        for lr in PT.values():
            tr.step(lr)
        tr.start_cpt()
        for lr in cs.values()[:1234]:
            tr.step(lr)
        a = _areas(PT, cs, split)
        i = PT.steps + 1234 - 1
        offline = LAW(**{k: v[i] for k, v in a._asdict().items()})
        assert LAW(**tr.as_dict()) == pytest.approx(float(offline), rel=1e-12), split


def test_live_predictor_takes_the_law():
    cs = CPTS[0]
    live = cptlaw.LivePredictor(law=cptlaw.CPTSharedCLaw, planned_lr_pt=PT.values(), planned_lr_cpt=cs.values(),
                                valsets=("cpt",))
    a = _areas(PT, cs)
    rng = np.random.default_rng(2)
    for step in range(200, PT.steps + cs.steps, 100):
        y = float(LAW(**{k: v[step - 1] for k, v in a._asdict().items()}))
        live.observe(step, y * (1 + 1e-3 * rng.standard_normal()))  # noise: bands of some width
    res = live.fit_result("cpt")
    assert res is not None and res.success, res
    final = float(LAW(**{k: v[-1] for k, v in a._asdict().items()}))
    assert live.prediction("cpt").loss == pytest.approx(final, rel=3e-3)


@pytest.mark.parametrize("split", ["by_source", "by_time", "restart"])
def test_grid_rows_match_the_law_on_materialised_schedules(split):
    pts = {"annealed": PT, "mid-decay": PT[:3600]}
    cpt = [dict(shape="cosine", peak_lr=[1e-4, 3e-4], steps=[500, 900], warmup=[0, 50], start_lr="hf"),
           dict(shape="wsd", peak_lr=2e-4, steps=800, warmup=40, start_lr="hf", decay_frac=[0.2, 0.5],
                decay_type=["linear", "1-sqrt"])]
    df = cptlaw.grid({"shared": LAW}, pt=pts, cpt=cpt, steps=[0, 1, 250, 500, 800], split=split)
    assert len(df) > 0
    checked = 0
    for _, row in df.iterrows():
        n, W, peak = int(row["cpt_steps"]), int(row["cpt_warmup"]), float(row["cpt_peak_lr"])
        if row["cpt_shape"] == "cosine":
            cs = S.cosine(peak, n, warmup=W)
        else:
            D = wsd_decay_steps(row["cpt_decay_frac"], n, W)
            cs = S.wsd(peak, n, decay_steps=D, warmup=W, decay=row["cpt_decay_type"])
        k = int(row["step"])
        if k > n:
            assert np.isnan(row["loss_shared"])
            continue
        pt = pts[row["pt"]]
        a = _areas(pt, cs, split)
        i = pt.steps + k - 1  # k CPT steps done (k = 0: the checkpoint itself)
        want = LAW(**{key: v[i] for key, v in a._asdict().items()})
        np.testing.assert_allclose(row["loss_shared"], want, rtol=1e-10)
        checked += 1
    assert checked > 20
