"""Bootstrap intervals and prediction bands around a fit."""

import numpy as np
import pytest

import cptlaw
from p2_fixture import features_and_loss


@pytest.fixture(scope="module")
def p2_fit():
    feats, loss = features_and_loss(cptlaw.areas)
    return feats, loss, cptlaw.fit(cptlaw.AnnealingLaw, feats, loss)


@pytest.mark.parametrize("method", ["pairs", "residuals"])
def test_intervals_cover_the_point_fit_and_agree_with_stderr(p2_fit, method):
    feats, loss, res = p2_fit
    lr = cptlaw.schedules.cosine(peak_lr=2e-4, steps=30_000, warmup=500).values()
    s1, s2 = cptlaw.areas(lr, warmup_as_peak=500)
    predict = {"s1": s1[::1000], "s2": s2[::1000]}
    boot = cptlaw.bootstrap(res, feats, loss, n_boot=300, method=method, seed=1, predict=predict)
    assert boot.success_rate > 0.95
    for name, value in res.params.items():
        lo, hi = boot.ci[name]
        assert lo <= value <= hi, name
        # Same order of magnitude as the Jacobian standard error.
        assert res.stderr[name] / 4 < boot.std[name] < res.stderr[name] * 4, name
    band = boot.confidence_band()
    assert np.all(np.isfinite(band["low"])) and np.all(band["low"] <= band["median"])
    assert np.all(band["median"] <= band["high"])
    # Extrapolating past the fitted 20k steps widens the band.
    width = band["high"] - band["low"]
    assert width[-1] > width[10]


def test_bad_arguments(p2_fit):
    feats, loss, res = p2_fit
    with pytest.raises(ValueError, match="method"):
        cptlaw.bootstrap(res, feats, loss, method="jackknife")
    with pytest.raises(ValueError, match="n_boot"):
        cptlaw.bootstrap(res, feats, loss, n_boot=1)
    with pytest.raises(TypeError, match="result"):
        cptlaw.bootstrap(None, feats, loss)
    with pytest.raises(ValueError, match="level"):
        cptlaw.bootstrap(res, feats, loss, level=1.0)


def test_residual_resamples_are_scaled_and_overflows_are_failed_refits(p2_fit):
    feats, loss, res = p2_fit
    boot = cptlaw.bootstrap(res, feats, loss, n_boot=20, method="residuals", seed=2)
    n, k = loss.size, len(res.params)
    r = np.log(loss) - np.log(res.law(**feats))
    np.testing.assert_allclose(boot.residuals, (r - r.mean()) * np.sqrt(n / (n - k)), rtol=1e-12)
    # one absurd point (a loss of 1e300): resamples that overflow are failed refits, not an error
    bad = loss.copy()
    bad[0] = 1e300
    boot = cptlaw.bootstrap(res, feats, bad, n_boot=20, method="residuals", seed=2)
    assert 0 <= boot.success_rate < 1 and boot.samples.shape[1] == k
