"""fit / fit_many never answer silently wrong: impossible or contradictory options are a
ValueError naming the argument, statuses agree with the result, and the scale of the losses
does not change the fit."""

from __future__ import annotations

import numpy as np
import pytest

import cptlaw
from cptlaw._fit_problem import _prepare

S1 = np.linspace(1, 10, 60)
S2 = np.linspace(0, 1, 60)
Y = (3 + 0.5 * S1**-0.5 - 0.1 * S2) * (1 + 0.001 * np.sin(np.arange(60)))
FEATS = dict(s1=S1, s2=S2)
MANY = dict(s1=np.tile(S1, (3, 1)), s2=np.tile(S2, (3, 1)))
LAW = cptlaw.AnnealingLaw


@pytest.mark.parametrize("batch", [False, True])
def test_fixed_value_outside_its_bounds_is_an_error(batch):
    call = (lambda **kw: cptlaw.fit_many(LAW, MANY, np.tile(Y, (3, 1)), **kw)) if batch else \
        (lambda **kw: cptlaw.fit(LAW, FEATS, Y, **kw))
    with pytest.raises(ValueError, match=r"^fixed\['alpha'\]: 12.0 lies outside its bounds \[0.0, 10.0\]"):
        call(fixed={"alpha": 12.0})  # was clipped to 10 with success
    with pytest.raises(ValueError, match=r"^fixed\['C'\]: .*bounds"):
        call(fixed={"C": 0.5}, bounds={"C": (0.0, 0.2)})
    res = call(fixed={"alpha": 12.0}, bounds={"alpha": (0, 20)})  # widened: fine
    params = res.params if batch else np.array([res.params[n] for n in LAW.param_names])[None]
    np.testing.assert_array_equal(np.asarray(params)[:, 2], 12.0)


@pytest.mark.parametrize("bounds", [{"alpha": (2, 1)}, {"alpha": (np.inf, np.inf)}, {"alpha": (None, -np.inf)},
                                    {"alpha": (np.inf, None)}])
def test_impossible_bounds_are_an_error(bounds):
    with pytest.raises(ValueError, match=r"^bounds: "):
        cptlaw.fit(LAW, FEATS, Y, bounds=bounds)
    with pytest.raises(ValueError, match=r"^bounds: "):
        cptlaw.fit_many(LAW, MANY, np.tile(Y, (3, 1)), bounds=bounds)


@pytest.mark.parametrize("name", ["ftol", "xtol", "gtol"])
@pytest.mark.parametrize("value", [float("nan"), -1.0, float("inf"), "1e-8"])
def test_bad_tolerances(name, value):
    err = TypeError if isinstance(value, str) else ValueError
    with pytest.raises(err, match=rf"^{name}: "):
        cptlaw.fit(LAW, FEATS, Y, **{name: value})
    with pytest.raises(err, match=rf"^{name}: "):
        cptlaw.fit_many(LAW, MANY, np.tile(Y, (3, 1)), **{name: value})


@pytest.mark.parametrize("name, value", [("max_iter", 2**40), ("max_iter", 0), ("keep", 2**31), ("delta", 0.0),
                                         ("delta", float("nan"))])
def test_bad_counts_and_delta(name, value):
    with pytest.raises(ValueError, match=rf"^{name}: "):
        cptlaw.fit(LAW, FEATS, Y, **{name: value})


def test_starts_of_the_wrong_width_or_law():
    with pytest.raises(ValueError, match=r"^starts: expected rows of 4 values"):
        cptlaw.fit(LAW, FEATS, Y, starts=np.ones((2, 5)))
    with pytest.raises(ValueError, match=r"^starts\[0\]: a CPTLaw cannot start"):
        cptlaw.fit(LAW, FEATS, Y, starts=[cptlaw.CPTLaw(*range(1, 9))])  # was reshaped into two starts
    with pytest.raises(ValueError, match=r"^starts"):
        cptlaw.fit(LAW, FEATS, Y, starts=[3.0, 0.5, np.nan, 0.1])
    with pytest.raises(ValueError, match=r"^starts\[0\]\['alpha'\]"):
        cptlaw.fit(LAW, FEATS, Y, starts={"L0": 3, "A": 0.5, "alpha": float("nan"), "C": 0.1})
    # rows of the right width are starts, as are dicts and laws of the same class
    for starts in (np.array([3.0, 0.5, 0.5, 0.1]), [[3.0, 0.5, 0.5, 0.1]], LAW(3.0, 0.5, 0.5, 0.1)):
        assert cptlaw.fit(LAW, FEATS, Y, starts=starts, multistart=False).success


def test_all_zero_weights():
    with pytest.raises(ValueError, match=r"^weights: only 0 points have a weight > 0"):
        cptlaw.fit(LAW, FEATS, Y, weights=np.zeros(60))
    w = np.ones((3, 60))
    w[1] = 0.0
    res = cptlaw.fit_many(LAW, MANY, np.tile(Y, (3, 1)), weights=w)
    assert list(res.success) == [True, False, True]
    assert res.message[1].startswith("weights: all zero")


@pytest.mark.parametrize("objective", ["huber_log", "log_least_squares", "least_squares"])
@pytest.mark.parametrize("scale", [1e-90, 1e-20, 1e-5, 1e5, 1e20, 1e90])
def test_the_scale_of_the_losses_does_not_change_the_fit(objective, scale):
    base = cptlaw.fit(LAW, FEATS, Y, objective=objective)
    res = cptlaw.fit(LAW, FEATS, Y * scale, objective=objective)
    assert base.success and res.success, res.message
    assert res.at_bound == base.at_bound
    for name in LAW.param_names:
        s = scale if name in LAW.linear_params else 1.0
        assert res.params[name] / s == pytest.approx(base.params[name], rel=1e-6), name
        assert res.stderr[name] / s == pytest.approx(base.stderr[name], rel=1e-4), name
    ratio = scale**2 if objective == "least_squares" else 1.0
    assert res.objective / ratio == pytest.approx(base.objective, rel=1e-6)
    many = cptlaw.fit_many(LAW, MANY, np.tile(Y, (3, 1)) * scale, objective=objective)
    assert many.success.all()
    np.testing.assert_allclose(many.params[:, 2], base.params["alpha"], rtol=1e-4)


def test_losses_too_small_to_fit_get_an_honest_message():
    res = cptlaw.fit(LAW, FEATS, Y * 1e-200)
    assert not res.success and res.status < 0
    assert res.message.startswith("loss: values of magnitude") and "constant" not in res.message
    many = cptlaw.fit_many(LAW, MANY, np.stack([Y, Y * 1e-200, np.full(60, 2.0)]))
    assert list(many.success) == [True, False, False]
    assert many.message[1].startswith("loss: values of magnitude")
    assert many.message[2].startswith("loss is constant")


def test_a_fit_without_parameters_never_reports_convergence():
    # Every start NaN: the model cannot be evaluated anywhere.
    res = cptlaw.fit(LAW, dict(s1=-S1, s2=S2), Y)
    assert not res.success and res.status <= 0
    assert not res.message.startswith("converged")


def test_prepare_returns_a_named_problem():
    pb = _prepare(LAW, FEATS, Y, None, None, {"C": 0.1}, None, None, True, "huber_log", "raise", False)
    assert pb.law_cls is LAW and pb.y.shape == (60,) and pb.starts.shape[1] == 4
    assert list(pb.fixed_mask) == [0, 0, 0, 1] and list(pb.linear_mask) == [1, 1, 0, 1]
    args = pb.core_args()
    assert set(args) >= {"inputs", "y", "w", "lo", "hi", "fixed", "linear", "starts", "grid", "objective"}
    x, *_ = cptlaw._core.fit_one[LAW._core_name](**args)
    assert np.all(np.isfinite(x)) and x[3] == 0.1
