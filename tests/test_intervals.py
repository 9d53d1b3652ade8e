"""Prediction intervals (a future observation: curve uncertainty + observation noise) versus
confidence bands (the fitted curve only), by the delta method and by the bootstrap.

Calibration on synthetic CPT runs with known noise: P1's published D_cpt / D_pt parameters,
a WSD PT run and two CPT schedules observed every 100 updates (220 points, lognormal noise
0.5% or 2%), fitted with the default Huber-log objective; held out, two other CPT schedules
observed every 20 updates (600 points, fresh noise). Measured coverage of the held-out
observations by the 95% intervals, seeds 0-2: delta-method prediction interval 0.925-0.953,
bootstrap (200 resamples) 0.942-0.953; the confidence bands cover only 0.20-0.29 of them
(they bound the mean curve, which they cover at 0.88-1.0).
"""

import json
import warnings

import numpy as np
import pytest

import cptlaw
from cptlaw.intervals import predict_interval

P1_DCPT = dict(L0=3.024, A=0.412, alpha=0.677, C1=0.278, C2=0.324, B=-0.666, E=5662.0, beta=0.146)
P1_DPT = dict(L0=3.057, A=0.490, alpha=0.497, C1=0.299, C2=0.298, B=0.366, E=28.0, beta=0.189)
PT = np.r_[np.full(8000, 2e-4), np.linspace(2e-4, 2e-5, 2000)]
_T = np.arange(6000)
FIT_CPT = (np.full(6000, 2e-4), 1e-4 * (1 + np.cos(np.pi * _T / 6000)))
HELD_CPT = (np.where(_T < 4800, 1.5e-4, 1.5e-4 * (6000 - _T) / 1200),  # WSD at a lower peak
            np.where(_T < 200, 2e-5 + 1.8e-4 * _T / 200, 1e-4 * (1 + np.cos(np.pi * (_T - 200) / 5800))))  # re-warmup


def _areas(cpt, idx):
    a = cptlaw.cpt_areas(PT, cpt)
    return {k: getattr(a, k)[idx] for k in ("s1_pt", "s2_pt", "s1_cpt", "s2_cpt")}


def _concat(parts):
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


FIT_FEATS = _concat([_areas(FIT_CPT[0], np.arange(99, 16000, 100)), _areas(FIT_CPT[1], np.arange(10049, 16000, 100))])
HELD_FEATS = _concat([_areas(c, np.arange(10019, 16000, 20)) for c in HELD_CPT])


def _data(params, noise, seed, additive=False):
    law = cptlaw.CPTLaw(**params)
    rng = np.random.default_rng(seed)
    y, yh = law(**FIT_FEATS), law(**HELD_FEATS)
    e, eh = rng.standard_normal(y.size), rng.standard_normal(yh.size)
    if additive:
        return y + noise * e, yh + noise * eh
    return y * np.exp(noise * e), yh * np.exp(noise * eh)


def _coverage(iv, y):
    return float(np.mean((y >= iv.low) & (y <= iv.high)))


@pytest.mark.parametrize("params,noise", [(P1_DCPT, 0.005), (P1_DPT, 0.005), (P1_DCPT, 0.02)])
def test_delta_prediction_interval_is_calibrated_on_held_out_runs(params, noise):
    pooled = []
    for seed in range(3):
        y, yh = _data(params, noise, seed)
        res = cptlaw.fit(cptlaw.CPTLaw, FIT_FEATS, y)
        assert res.success and res.unidentifiable == {}
        assert res.residual_std == pytest.approx(noise, rel=0.15) and res.residual_space == "log"
        pi = predict_interval(res, HELD_FEATS, level=0.95)
        cb = predict_interval(res, HELD_FEATS, level=0.95, kind="confidence")
        cov_pi, cov_cb = _coverage(pi, yh), _coverage(cb, yh)
        print(f"\nB={params['B']} noise {noise} seed {seed}: 95% prediction interval covers {cov_pi:.3f}, "
              f"confidence band {cov_cb:.3f} of {yh.size} held-out observations")
        assert 0.90 <= cov_pi <= 0.99
        assert cov_cb < 0.5  # a band of the mean curve is not an interval for observations
        assert np.all(cb.low >= pi.low) and np.all(cb.high <= pi.high)
        np.testing.assert_array_equal(pi.center, cb.center)
        pooled.append(cov_pi)
    assert 0.92 <= np.mean(pooled) <= 0.98


def test_bootstrap_prediction_interval_is_calibrated():
    y, yh = _data(P1_DCPT, 0.005, seed=0)
    res = cptlaw.fit(cptlaw.CPTLaw, FIT_FEATS, y)
    boot = cptlaw.bootstrap(res, FIT_FEATS, y, n_boot=100, method="residuals", seed=0, predict=HELD_FEATS)
    pi, cb = boot.prediction_interval(), boot.confidence_band()
    assert pi is boot["prediction_interval"] and cb is boot["confidence_band"]
    assert pi.kind == "prediction" and pi.name == "prediction_interval" and pi.method == "bootstrap"
    assert cb.kind == "confidence" and cb.name == "confidence_band"
    cov = _coverage(pi, yh)
    print(f"\nbootstrap 95% prediction interval covers {cov:.3f}, band {_coverage(cb, yh):.3f}")
    assert 0.90 <= cov <= 0.99
    assert _coverage(cb, yh) < 0.5
    # the methods give the same intervals as the stored ones (same seed, same draws)
    again = boot.prediction_interval(HELD_FEATS)
    np.testing.assert_array_equal(again.low, pi.low)
    np.testing.assert_allclose(boot.confidence_band(HELD_FEATS, level=0.5).high, np.quantile(
        np.stack([cptlaw.CPTLaw.from_vector(p)(**HELD_FEATS) for p in boot.samples]), 0.75, axis=0))


def test_least_squares_objective_gives_an_additive_interval():
    y, yh = _data(P1_DCPT, 0.01, seed=4, additive=True)
    res = cptlaw.fit(cptlaw.CPTLaw, FIT_FEATS, y, objective="least_squares")
    assert res.residual_space == "loss" and res.residual_std == pytest.approx(0.01, rel=0.15)
    pi = predict_interval(res, HELD_FEATS)
    np.testing.assert_allclose(pi.high - pi.center, pi.center - pi.low, rtol=1e-9)
    assert 0.90 <= _coverage(pi, yh) <= 0.99


def test_interval_is_unbounded_where_the_prediction_needs_undetermined_parameters():
    """Fitted on the PT phase alone, B, E, beta are not determined: PT predictions keep a
    finite interval, CPT predictions have none."""
    law = cptlaw.CPTLaw(**P1_DCPT)
    pt_feats = _areas(FIT_CPT[0], np.arange(99, 10000, 100))
    y = law(**pt_feats) * np.exp(0.005 * np.random.default_rng(0).standard_normal(pt_feats["s1_pt"].size))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", cptlaw.IdentifiabilityWarning)
        res = cptlaw.fit(cptlaw.CPTLaw, pt_feats, y)
    assert {"B", "E", "beta"} <= set(res.unidentifiable)
    feats = _areas(FIT_CPT[1], np.array([5000, 9999, 10500, 15000]))
    pi = predict_interval(res, feats)
    np.testing.assert_array_equal(pi.unbounded, [False, False, True, True])
    assert np.all(np.isfinite(pi.high[:2])) and np.all(pi.high[2:] == np.inf) and np.all(pi.low[2:] == 0)


def test_names_and_json():
    y, _ = _data(P1_DCPT, 0.005, seed=1)
    res = cptlaw.fit(cptlaw.CPTLaw, FIT_FEATS, y)
    feats = {k: v[:3] for k, v in HELD_FEATS.items()}
    for kind, name in (("prediction", "prediction_interval"), ("confidence", "confidence_band")):
        d = json.loads(json.dumps(predict_interval(res, feats, kind=kind).as_dict()))
        assert d["kind"] == kind and d["name"] == name and d["method"] == "delta" and len(d["low"]) == 3


def test_old_bootstrap_name_still_works_with_a_deprecation_warning():
    y, _ = _data(P1_DCPT, 0.005, seed=1)
    res = cptlaw.fit(cptlaw.CPTLaw, FIT_FEATS, y)
    feats = {k: v[:5] for k, v in HELD_FEATS.items()}
    boot = cptlaw.bootstrap(res, FIT_FEATS, y, n_boot=20, seed=0, predict=feats)
    with pytest.warns(DeprecationWarning, match="confidence_band"):
        old = boot.prediction
    np.testing.assert_array_equal(old["median"], boot.confidence_band()["median"])
    for key in ("low", "median", "high"):
        assert old[key].shape == (5,)


def test_bootstrap_without_predict_needs_features():
    y, _ = _data(P1_DCPT, 0.005, seed=1)
    res = cptlaw.fit(cptlaw.CPTLaw, FIT_FEATS, y)
    boot = cptlaw.bootstrap(res, FIT_FEATS, y, n_boot=20, seed=0)
    with pytest.raises(ValueError, match="^features"):
        boot.prediction_interval()
    assert boot.prediction_interval({k: v[:2] for k, v in HELD_FEATS.items()}).low.shape == (2,)


def test_bad_arguments():
    y, _ = _data(P1_DCPT, 0.005, seed=1)
    res = cptlaw.fit(cptlaw.CPTLaw, FIT_FEATS, y)
    feats = {k: v[:3] for k, v in HELD_FEATS.items()}
    with pytest.raises(ValueError, match="^kind"):
        predict_interval(res, feats, kind="credible")
    with pytest.raises(ValueError, match="^level"):
        predict_interval(res, feats, level=1.0)
    with pytest.raises(TypeError, match="^result"):
        predict_interval({"law": None}, feats)
    with pytest.raises(TypeError, match="^features"):
        predict_interval(res, [1, 2])
    with pytest.raises(TypeError, match="missing input"):
        predict_interval(res, {"s1_pt": 1.0})
