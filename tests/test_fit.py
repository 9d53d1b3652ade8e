"""The compiled fitter: the P2 fixture against the papers' procedure, options, bad input."""

import numpy as np
import pytest

import cptlaw
from cptlaw import reference, reference_fit
from p2_fixture import features_and_loss

P1_DPT = dict(L0=3.057, A=0.490, alpha=0.497, C1=0.299, C2=0.298, B=0.366, E=28.0, beta=0.189)
P1_DCPT = dict(L0=3.024, A=0.412, alpha=0.677, C1=0.278, C2=0.324, B=-0.666, E=5662.0, beta=0.146)


@pytest.fixture(scope="module")
def p2():
    return features_and_loss(cptlaw.areas)


@pytest.fixture(scope="module")
def p2_reference():
    feats, loss = features_and_loss(reference.areas)
    return reference_fit.fit("annealing", feats, loss)


def test_p2_fixture_matches_paper_and_beats_reference(p2, p2_reference):
    feats, loss = p2
    res = cptlaw.fit(cptlaw.AnnealingLaw, feats, loss)
    assert res.success, res.message
    assert res.r2 >= 0.9996
    ref_params, ref_obj = p2_reference
    assert res.objective <= ref_obj * (1 + 1e-6)
    # LAW.md section 7: about L0 = 2.628, A = 0.430, C = 0.411, alpha = 0.550, objective 1.63e-5
    p = res.params
    assert p["L0"] == pytest.approx(2.628, abs=2e-3)
    assert p["A"] == pytest.approx(0.430, abs=2e-3)
    assert p["C"] == pytest.approx(0.411, abs=2e-3)
    assert p["alpha"] == pytest.approx(0.550, abs=2e-3)
    assert res.objective == pytest.approx(1.63e-5, rel=0.01)
    # Our objective is evaluated like the reference's at our optimum.
    ref_at_ours = reference_fit.objective("annealing", res.x, feats, loss)
    assert ref_at_ours == pytest.approx(res.objective, rel=1e-9)


def test_covariance_matches_finite_difference_jacobian(p2):
    feats, loss = p2
    res = cptlaw.fit(cptlaw.AnnealingLaw, feats, loss)
    x = res.x
    def logpred(v):
        return np.log(reference.annealing(dict(zip(("L0", "A", "alpha", "C"), v)), **feats))
    J = np.empty((loss.size, 4))
    for k in range(4):
        h = 1e-6 * max(1.0, abs(x[k]))
        up, dn = x.copy(), x.copy()
        up[k] += h
        dn[k] -= h
        J[:, k] = (logpred(up) - logpred(dn)) / (2 * h)
    r = logpred(x) - np.log(loss)
    cov = np.linalg.inv(J.T @ J) * (r @ r) / (loss.size - 4)
    np.testing.assert_allclose(res.covariance, cov, rtol=1e-4)
    assert all(res.stderr[n] > 0 for n in res.params)


def _cpt_problem(params, noise=0.0, seed=0):
    """WSD PT then two CPT schedules; observations every 500 steps."""
    pt = np.r_[np.full(8000, 2e-4), np.linspace(2e-4, 2e-5, 2000)]
    t = np.arange(6000)
    cpts = [np.full(6000, 2e-4), 1e-4 * (1 + np.cos(np.pi * t / 6000))]
    rng = np.random.default_rng(seed)
    feats, loss = {k: [] for k in ("s1_pt", "s2_pt", "s1_cpt", "s2_cpt")}, []
    law = cptlaw.CPTLaw(**params)
    for j, cpt in enumerate(cpts):
        a = cptlaw.cpt_areas(pt, cpt)
        idx = np.arange(999, 16000, 1000) if j == 0 else np.arange(10499, 16000, 500)
        for k in feats:
            feats[k].append(getattr(a, k)[idx])
        f = {k: getattr(a, k)[idx] for k in feats}
        loss.append(law(**f) * (1 + noise * rng.standard_normal(idx.size)))
    return {k: np.concatenate(v) for k, v in feats.items()}, np.concatenate(loss)


@pytest.mark.parametrize("params", [P1_DPT, P1_DCPT], ids=["D_pt", "D_cpt"])
def test_cpt_fit_at_least_as_good_as_reference(params):
    feats, loss = _cpt_problem(params, noise=0.002, seed=1)
    res = cptlaw.fit(cptlaw.CPTLaw, feats, loss)
    assert res.success, res.message
    # A reduced P1-style grid keeps the slow reference (finite-difference L-BFGS-B) affordable.
    grid = dict(reference_fit.P1_GRID, L0=[3.0], alpha=[0.5], E=[10.0, 1000.0])
    _, ref_obj = reference_fit.fit("cpt", feats, loss, grid=grid)
    assert res.objective <= ref_obj * (1 + 1e-6)
    truth = reference_fit.objective("cpt", np.array(list(params.values())), feats, loss)
    assert res.objective <= truth * (1 + 1e-9)


def test_exact_data_is_recovered():
    feats, loss = _cpt_problem(P1_DCPT)
    res = cptlaw.fit(cptlaw.CPTLaw, feats, loss, objective="least_squares")
    assert res.success
    pred = res.law(**feats)
    np.testing.assert_allclose(pred, loss, rtol=1e-6)


def test_objectives_fixed_bounds_weights_and_starts(p2):
    feats, loss = p2
    ls = cptlaw.fit(cptlaw.AnnealingLaw, feats, loss, objective="least_squares")
    lls = cptlaw.fit(cptlaw.AnnealingLaw, feats, loss, objective="log_least_squares")
    assert ls.success and lls.success and ls.r2 > 0.999 and lls.r2 > 0.999
    fx = cptlaw.fit(cptlaw.AnnealingLaw, feats, loss, fixed={"alpha": 0.5})
    assert fx.params["alpha"] == 0.5 and fx.stderr["alpha"] == 0.0
    bd = cptlaw.fit(cptlaw.AnnealingLaw, feats, loss, bounds={"C": (0.0, 0.3)})
    assert bd.params["C"] <= 0.3 + 1e-15
    w = np.r_[np.ones(20), np.zeros(20)]
    wt = cptlaw.fit(cptlaw.AnnealingLaw, feats, loss, weights=w, objective="least_squares")
    assert wt.success
    one = cptlaw.fit(cptlaw.AnnealingLaw(2.5, 0.5, 0.5, 0.5), feats, loss, multistart=False)
    assert one.success and one.starts_tried == 1
    assert one.objective == pytest.approx(cptlaw.fit(cptlaw.AnnealingLaw, feats, loss).objective, rel=1e-6)


def test_nan_policy(p2):
    feats, loss = p2
    bad = loss.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="loss"):
        cptlaw.fit(cptlaw.AnnealingLaw, feats, bad)
    res = cptlaw.fit(cptlaw.AnnealingLaw, feats, bad, nan_policy="omit")
    assert res.success and res.n_points == loss.size - 1


def test_flat_curve_fails_gracefully():
    feats = {"s1": np.linspace(0.1, 2, 30), "s2": np.zeros(30)}
    res = cptlaw.fit(cptlaw.AnnealingLaw, feats, np.full(30, 3.0))
    assert not res.success and "constant" in res.message


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(objective="huber"), ValueError, "objective"),
        (dict(nan_policy="drop"), ValueError, "nan_policy"),
        (dict(bounds={"Q": (0, 1)}), ValueError, "bounds"),
        (dict(fixed={"alpha": "x"}), TypeError, "fixed"),
        (dict(starts=[{"L0": 1.0}]), ValueError, "starts"),
        (dict(multistart=False), ValueError, "starts"),
        (dict(weights=-np.ones(40)), ValueError, "weights"),
    ],
)
def test_bad_options(p2, kwargs, exc, match):
    feats, loss = p2
    with pytest.raises(exc, match=match):
        cptlaw.fit(cptlaw.AnnealingLaw, feats, loss, **kwargs)


def test_bad_data(p2):
    feats, loss = p2
    with pytest.raises(ValueError, match="features"):
        cptlaw.fit(cptlaw.AnnealingLaw, {"s1": feats["s1"]}, loss)
    with pytest.raises(ValueError, match="s2"):
        cptlaw.fit(cptlaw.AnnealingLaw, {"s1": feats["s1"], "s2": feats["s2"][:5]}, loss)
    with pytest.raises(ValueError, match="loss"):
        cptlaw.fit(cptlaw.AnnealingLaw, feats, -loss)
    with pytest.raises(ValueError, match="free parameters"):
        cptlaw.fit(cptlaw.AnnealingLaw, {"s1": [1.0, 2.0], "s2": [0.0, 0.1]}, [3.0, 2.9])
    with pytest.raises(TypeError, match="law"):
        cptlaw.fit("annealing", feats, loss)
    with pytest.raises(TypeError, match="loss"):
        cptlaw.fit(cptlaw.AnnealingLaw, feats, ["a"] * 40)


def test_fit_many_recovers_independent_curves():
    rng = np.random.default_rng(3)
    n_fits, n = 64, 120
    s1 = np.cumsum(np.full((n_fits, n), 3e-3), axis=1) + 0.05
    s2 = np.clip(np.linspace(-0.05, 0.3, n) + rng.uniform(-0.02, 0.02, (n_fits, 1)), 0, None)
    truth = np.column_stack([rng.uniform(2.0, 3.0, n_fits), rng.uniform(0.3, 0.6, n_fits),
                             rng.uniform(0.3, 0.8, n_fits), rng.uniform(0.2, 0.5, n_fits)])
    losses = truth[:, :1] + truth[:, 1:2] * s1 ** -truth[:, 2:3] - truth[:, 3:4] * s2
    res = cptlaw.fit_many(cptlaw.AnnealingLaw, {"s1": s1, "s2": s2}, losses, objective="least_squares")
    assert res.params.shape == (n_fits, 4)
    assert res.success.mean() >= 0.99
    np.testing.assert_allclose(res.params, truth, rtol=1e-5, atol=1e-7)
    # One flat curve in the batch fails alone, with a message.
    losses[5] = 3.0
    res = cptlaw.fit_many(cptlaw.AnnealingLaw, {"s1": s1, "s2": s2}, losses)
    assert not res.success[5] and "constant" in res.message[5]
    assert res.success[np.arange(n_fits) != 5].all()
    with pytest.raises(ValueError, match="losses"):
        cptlaw.fit_many(cptlaw.AnnealingLaw, {"s1": s1, "s2": s2}, losses[0])


def test_start_grid_and_default_bounds_come_from_the_law_class(p2):
    """The multistart grid and the default bounds are the law's knowledge (class attributes):
    a law with its own needs declares them, and fit.py names no law."""
    from cptlaw._fit_problem import _bounds
    from cptlaw.fit import default_grid

    names = cptlaw.AnnealingLaw.param_names
    assert np.array_equal(np.unique(default_grid(cptlaw.AnnealingLaw)[:, names.index("alpha")]),
                          np.sort(cptlaw.AnnealingLaw.start_grid["alpha"]))

    class NarrowAnnealing(cptlaw.AnnealingLaw):  # the same compiled law, other fitting defaults
        start_grid = {**cptlaw.AnnealingLaw.start_grid, "alpha": np.array([0.4, 0.6])}
        default_bounds = {**cptlaw.AnnealingLaw.default_bounds, "alpha": (0.3, 0.9)}

    grid = default_grid(NarrowAnnealing)
    assert sorted(set(grid[:, names.index("alpha")])) == [0.4, 0.6]
    lo, hi = _bounds(NarrowAnnealing, None)
    assert (lo[names.index("alpha")], hi[names.index("alpha")]) == (0.3, 0.9)
    feats, loss = p2
    res = cptlaw.fit(NarrowAnnealing, feats, loss)
    assert res.success and 0.3 <= res.params["alpha"] <= 0.9 and isinstance(res.law, NarrowAnnealing)
    # a start scaled to the data: OpenSourceLaw's S1_pt_hat follows the largest s1_cpt
    i = cptlaw.OpenSourceLaw.param_names.index("S1_pt_hat")
    g = default_grid(cptlaw.OpenSourceLaw, {"s1_cpt": np.array([0.5, 2.0]), "s2_cpt": np.zeros(2)})
    assert np.isclose(g[:, i].min(), 0.2) and np.isclose(g[:, i].max(), 200.0)
