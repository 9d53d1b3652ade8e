"""The compiled core against the independent pure-Python reference (cptlaw.reference).

Property-based: random schedules, batch shapes, decays, split modes, warmup options and
LR exponents for the areas; random realistic parameters and inputs for every law, value
and gradient (the reference gradient is a complex-step derivative, independent of the
core's hand-derived one). Then the API's handling of odd-but-valid inputs (broadcasting,
non-contiguous, read-only, float32, integer lists) and of bad inputs (errors must name
the argument).
"""

from __future__ import annotations

import importlib.util
import os
import pathlib
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import cptlaw
from _area_tolerance import s2_rounding_floor

try:
    from cptlaw import reference as ref
except ImportError:  # an installed build that predates reference.py: use the source tree's copy
    _path = pathlib.Path(__file__).resolve().parents[1] / "python" / "cptlaw" / "reference.py"
    _spec = importlib.util.spec_from_file_location("cptlaw_reference", _path)
    ref = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(ref)


RTOL = 1e-10
# Absolute floor, relative to the scale of the data. S2 is a running sum of momenta of
# both signs (drops and re-warmups), so it can cross or end near zero while its terms
# were large: any summation order then differs by a few ulps of the *largest* partial
# sums, and a purely relative test at a near-zero element is meaningless. 1e-12 times
# the largest |value| in the compared group is ~10^4 ulps of that scale: far above the
# rounding noise of n <= 600 steps, far below any formula error.
FLOOR = 1e-12

# CPTLAW_DEEP=k multiplies the example counts (a longer hunt: CPTLAW_DEEP=20 pytest ...)
_DEEP = max(1, int(os.environ.get("CPTLAW_DEEP", "1") or 1))
SETTINGS = settings(max_examples=60 * _DEEP, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SETTINGS_FEW = settings(max_examples=25 * _DEEP, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_close(actual, expected, *, scale=None, rtol=RTOL, floor=FLOOR, cond=0.0, what=""):
    """|actual - expected| <= rtol*|expected| + floor*scale + cond, NaNs in the same places.

    ``scale`` defaults to max|expected| over the array (see FLOOR); it may be an array
    broadcasting against ``expected`` for an elementwise floor. ``cond``: the absolute error
    the input's condition allows any float64 evaluation (``_area_tolerance``), per element.
    """
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    nan_a, nan_e = np.isnan(actual), np.isnan(expected)
    assert np.array_equal(nan_a, nan_e), f"{what}: NaN at {np.argwhere(nan_a != nan_e)[:5].tolist()}"
    ok = ~nan_e
    if not ok.any():
        return
    if scale is None:
        scale = np.max(np.abs(expected[ok]))
    scale = np.broadcast_to(np.asarray(scale, dtype=np.float64), expected.shape)
    err = np.abs(actual - expected)
    tol = rtol * np.abs(expected) + floor * scale + cond
    bad = ok & ~(err <= tol)
    if bad.any():
        i = tuple(np.argwhere(bad)[0])
        raise AssertionError(
            f"{what}: {int(bad.sum())} element(s) off; first at {i}: core {actual[i]!r}, "
            f"reference {expected[i]!r}, |err| {err[i]:.3g} > tol {tol[i]:.3g}"
        )


# ---------------------------------------------------------------------------------
# Schedules
# ---------------------------------------------------------------------------------

levels = st.one_of(
    st.just(0.0),
    st.floats(-6.0, -2.0).map(lambda u: 10.0**u),
)

PIECES = ("const", "linear", "cosine", "zeros", "exp", "rewarm")


@st.composite
def schedule_row(draw, n):
    """One schedule of exactly n steps, a concatenation of random pieces."""
    out = []
    while len(out) < n:
        kind = draw(st.sampled_from(PIECES))
        length = draw(st.integers(1, max(1, min(n - len(out), 120))))
        a, b = draw(levels), draw(levels)
        t = np.arange(length) / max(1, length - 1) if length > 1 else np.zeros(1)
        if kind == "const":
            piece = np.full(length, a)
        elif kind == "linear":  # decaying or rising, depending on a and b
            piece = a + (b - a) * t
        elif kind == "cosine":
            piece = b + 0.5 * (a - b) * (1 + np.cos(np.pi * t))
        elif kind == "zeros":
            piece = np.zeros(length)
        elif kind == "exp":
            piece = a * np.exp(-draw(st.floats(0.0, 8.0)) * t)
        else:  # re-warmup: 0 (or low) up to a peak
            lo, hi = min(a, b), max(a, b)
            piece = lo + (hi - lo) * t
        out.extend(float(v) for v in piece)
    row = np.array(out[:n])
    return np.maximum(row, 0.0)  # exact zeros stay zeros; rounding never goes negative


@st.composite
def schedules(draw, batch_shapes=((), (3,), (2, 3)), min_len=1, max_len=300):
    shape = draw(st.sampled_from(batch_shapes))
    n = draw(st.integers(min_len, max_len))
    rows = [draw(schedule_row(n)) for _ in range(int(np.prod(shape, dtype=int)))]
    return np.array(rows).reshape(shape + (n,))


decays = st.one_of(
    st.sampled_from([0.0, 1.0, 0.999, 1.0 - 1e-9, 0.5, 0.9]),
    st.floats(0.0, 1.0),
)
warmups = st.sampled_from([False, True, 0, 1, 5, 50, 400])
exponents = st.one_of(st.none(), st.sampled_from([0.0, 0.5, 1.0]), st.floats(0.0, 2.0))
splits = st.sampled_from(["by_source", "by_time", "restart"])


def _rows(a):
    return a.reshape(-1, a.shape[-1])


@SETTINGS
@given(lr=schedules(), decay=decays, warm=warmups, eps=exponents)
def test_areas_match_reference(lr, decay, warm, eps):
    got = cptlaw.areas(lr, decay, warmup_as_peak=warm, s2_lr_exponent=eps)
    assert got.s1.shape == lr.shape and got.s2.shape == lr.shape
    assert got.s1.dtype == np.float64 and got.s2.dtype == np.float64
    for r, (row, s1, s2) in enumerate(zip(_rows(lr), _rows(got.s1), _rows(got.s2))):
        e1, e2 = ref.areas(row, decay, warmup_as_peak=warm, s2_lr_exponent=eps)
        # S1 is a sum of non-negative terms: no cancellation, purely relative test
        assert_close(s1, e1, floor=0.0, what=f"s1 row {r}")
        assert_close(s2, e2, cond=s2_rounding_floor(row, decay, eps), what=f"s2 row {r}")


@SETTINGS
@given(
    pt=schedules(max_len=200),
    n_cpt=st.integers(0, 200),
    data=st.data(),
    decay=decays,
    split=splits,
    warm=warmups,
    eps=exponents,
)
def test_cpt_areas_match_reference(pt, n_cpt, data, decay, split, warm, eps):
    lead = pt.shape[:-1]
    cpt = np.array([data.draw(schedule_row(n_cpt)) for _ in range(int(np.prod(lead, dtype=int)))])
    cpt = cpt.reshape(lead + (n_cpt,))
    got = cptlaw.cpt_areas(pt, cpt, decay, split, warmup_as_peak=warm, s2_lr_exponent=eps)
    n = pt.shape[-1] + n_cpt
    for a in got:
        assert a.shape == lead + (n,)
    for r in range(int(np.prod(lead, dtype=int))):
        exp = ref.cpt_areas(
            _rows(pt)[r], _rows(cpt)[r] if n_cpt else [], decay, split, warmup_as_peak=warm, s2_lr_exponent=eps
        )
        s1_pt, s2_pt, s1_cpt, s2_cpt = (_rows(a)[r] if n else a for a in got)
        # The two S2 columns share one floor scale: by_time's S2_cpt is a difference of
        # full-timeline sums, exact only to ulps of max|S2_full| <= max|S2_pt| + max|S2_cpt|.
        s2_scale = max(np.max(np.abs(exp[1])), np.max(np.abs(exp[3])))
        cond = s2_rounding_floor(np.concatenate([_rows(pt)[r], _rows(cpt)[r] if n_cpt else []]), decay, eps)
        assert_close(s1_pt, exp[0], floor=0.0, what=f"s1_pt row {r}")
        assert_close(s1_cpt, exp[2], floor=0.0, what=f"s1_cpt row {r}")
        assert_close(s2_pt, exp[1], scale=s2_scale, cond=cond, what=f"s2_pt row {r}")
        assert_close(s2_cpt, exp[3], scale=s2_scale, cond=cond, what=f"s2_cpt row {r}")


@SETTINGS_FEW
@given(data=st.data(), decay=decays, split=splits, eps=exponents)
def test_cpt_areas_broadcast_leading_axes(data, decay, split, eps):
    """PT rows (3, n) against CPT rows (2, 1, m) broadcast to (2, 3, n + m)."""
    n, m = data.draw(st.integers(1, 60)), data.draw(st.integers(0, 60))
    pt = np.array([data.draw(schedule_row(n)) for _ in range(3)])
    cpt = np.array([data.draw(schedule_row(m)) for _ in range(2)]).reshape(2, 1, m)
    got = cptlaw.cpt_areas(pt, cpt, decay, split, s2_lr_exponent=eps)
    for a in got:
        assert a.shape == (2, 3, n + m)
    for i in range(2):
        for j in range(3):
            exp = ref.cpt_areas(pt[j], cpt[i, 0], decay, split, s2_lr_exponent=eps)
            s2_scale = max(np.max(np.abs(exp[1])), np.max(np.abs(exp[3])))
            cond = s2_rounding_floor(np.concatenate([pt[j], cpt[i, 0]]), decay, eps)
            for k, name in enumerate(("s1_pt", "s2_pt", "s1_cpt", "s2_cpt")):
                assert_close(got[k][i, j], exp[k], scale=s2_scale if k % 2 else None, cond=cond if k % 2 else 0.0,
                             what=name)


@SETTINGS_FEW
@given(lr=schedules(batch_shapes=((),), max_len=120), decay=decays)
def test_areas_negative_exponent_on_positive_schedules(lr, decay):
    """Eq. 9 with eps < 0 is well defined where every LR is > 0."""
    lr = np.maximum(lr, 1e-6)
    eps = -0.5
    got = cptlaw.areas(lr, decay, s2_lr_exponent=eps)
    e1, e2 = ref.areas(lr, decay, s2_lr_exponent=eps)
    assert_close(got.s1, e1, floor=0.0, what="s1")
    assert_close(got.s2, e2, cond=s2_rounding_floor(lr, decay, eps), what="s2")


def _assert_same_special(actual, expected, what, cond=0.0):
    """NaN and +-inf where the reference has them, close elsewhere (``cond`` as in assert_close)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert np.array_equal(np.isnan(actual), np.isnan(expected)), f"{what}: NaN positions differ"
    inf_e = np.isinf(expected)
    assert np.array_equal(np.isinf(actual), inf_e), f"{what}: inf positions differ"
    assert np.array_equal(actual[inf_e], expected[inf_e]), f"{what}: inf signs differ"
    fin = np.isfinite(expected)
    assert_close(actual[fin], expected[fin], cond=np.broadcast_to(cond, expected.shape)[fin], what=what)


@SETTINGS_FEW
@given(lr=schedules(batch_shapes=((),), min_len=2, max_len=80), decay=decays,
       eps=st.sampled_from([-0.5, -1.0, -2.0]), split=splits, data=st.data())
def test_negative_exponent_special_values_match_reference(lr, decay, eps, split, data):
    """Eq. 9 with eps < 0 and LRs of 0: 0**eps = inf and 0 * inf = NaN, in the core as in
    the reference (the core used to weight such steps by 0)."""
    lr = lr.copy()
    lr[data.draw(st.integers(0, lr.size - 1))] = 0.0
    got = cptlaw.areas(lr, decay, s2_lr_exponent=eps)
    e1, e2 = ref.areas(lr, decay, s2_lr_exponent=eps)
    cond = s2_rounding_floor(lr, decay, eps)
    _assert_same_special(got.s1, e1, "s1")
    _assert_same_special(got.s2, e2, "s2", cond)
    T = data.draw(st.integers(1, lr.size - 1))
    got = cptlaw.cpt_areas(lr[:T], lr[T:], decay, split, s2_lr_exponent=eps)
    exp = ref.cpt_areas(lr[:T], lr[T:], decay, split, s2_lr_exponent=eps)
    for k, name in enumerate(("s1_pt", "s2_pt", "s1_cpt", "s2_cpt")):
        _assert_same_special(got[k], exp[k], name, cond if k % 2 else 0.0)


def test_negative_exponent_zero_lr_is_nan_not_minus_one():
    """The case that was silently wrong: S2 was -1 where the reference gives NaN."""
    lr = [1.0, 0.0, 0.0]
    got = cptlaw.areas(lr, 0.9, s2_lr_exponent=-1).s2
    exp = ref.areas(lr, 0.9, s2_lr_exponent=-1)[1]
    _assert_same_special(got, exp, "s2")
    assert np.isnan(got[1]) or np.isinf(got[1])


def test_exponent_zero_is_plain_s2():
    """eps = 0 weights every momentum by x**0 = 1 (also at x = 0): plain S2."""
    lr = [2e-4, 2e-4, 1e-4, 0.0, 0.0, 1e-4, 0.0]
    plain = cptlaw.areas(lr, 0.9)
    zero = cptlaw.areas(lr, 0.9, s2_lr_exponent=0.0)
    np.testing.assert_allclose(zero.s2, plain.s2, rtol=1e-15, atol=0)
    np.testing.assert_allclose(ref.areas(lr, 0.9, s2_lr_exponent=0.0)[1], plain.s2, rtol=1e-12, atol=0)


def test_exponent_weights_zero_lr_steps_by_zero():
    """eps > 0: 0**eps = 0, so a step at LR 0 adds nothing to S2."""
    lr = [1e-3, 0.0, 0.0, 0.0]
    got = cptlaw.areas(lr, 0.5, s2_lr_exponent=1.0)
    np.testing.assert_array_equal(got.s2, [0.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(ref.areas(lr, 0.5, s2_lr_exponent=1.0)[1], [0.0, 0.0, 0.0, 0.0])


def test_warmup_int_longer_than_schedule():
    """warmup_as_peak=W with W > steps: every step counts at the maximum."""
    lr = np.array([1e-4, 3e-4, 2e-4])
    got = cptlaw.areas(lr, 0.99, warmup_as_peak=10)
    np.testing.assert_allclose(got.s1, [3e-4, 6e-4, 9e-4], rtol=1e-14)
    np.testing.assert_array_equal(got.s2, [0.0, 0.0, 0.0])


def test_warmup_true_peak_at_start_is_literal():
    lr = np.array([3e-4, 1e-4, 2e-4])
    np.testing.assert_array_equal(cptlaw.areas(lr, 0.9, warmup_as_peak=True).s2, cptlaw.areas(lr, 0.9).s2)


def test_areas_many_rows_threads():
    """A large batch (all threads) matches the reference on a sample of rows."""
    rng = np.random.default_rng(7)
    lr = rng.uniform(0, 1e-3, size=(257, 97))
    lr[:, 40:50] = 0.0
    lr[::3, 60:] *= np.linspace(0, 2, 37)
    got = cptlaw.areas(lr, 0.995, s2_lr_exponent=0.7)
    for r in (0, 1, 128, 255, 256):
        e1, e2 = ref.areas(lr[r], 0.995, s2_lr_exponent=0.7)
        assert_close(got.s1[r], e1, floor=0.0)
        assert_close(got.s2[r], e2)
    cptlaw.set_num_threads(1)
    try:
        one = cptlaw.areas(lr, 0.995, s2_lr_exponent=0.7)
    finally:
        cptlaw.set_num_threads(0)
    np.testing.assert_array_equal(one.s1, got.s1)
    np.testing.assert_array_equal(one.s2, got.s2)


# ---------------------------------------------------------------------------------
# Laws
# ---------------------------------------------------------------------------------

# Every law of the compiled registry, through its Python class.
LAW_CLASSES = {cls._core_name: cls for cls in cptlaw.LAWS}
LAW_FUNCS = ref.LAWS


def test_every_registered_law_has_a_class_and_a_reference():
    from cptlaw import _core

    assert list(LAW_CLASSES) == list(_core.laws)
    assert set(LAW_FUNCS) == set(_core.laws)
    assert cptlaw.laws.law_names() == tuple(_core.laws)
    for name, info in _core.laws.items():
        cls = LAW_CLASSES[name]
        assert cptlaw.laws.law_class(name) is cls and cptlaw.laws.law_class(cls.__name__) is cls
        assert (info["n_params"], info["n_inputs"]) == (len(cls.param_names), len(cls.input_names))
        assert set(cls.linear_params) <= set(cls.param_names) and set(cls.signed_params) <= set(cls.param_names)


def _no_tiny(strategy):
    """Snap |v| < 1e-12 to 0. Complex-step puts h*f' (h = 1e-30) in the imaginary part,
    which underflows for derivatives below ~1e-290 (e.g. d/dC2 = -s2_cpt at s2_cpt =
    1e-300, or d/dE at B = 1e-308); such values are not realistic anyway. Exact zeros
    are kept."""
    return strategy.map(lambda v: 0.0 if abs(v) < 1e-12 else v)


def _f(lo, hi):
    return _no_tiny(st.floats(lo, hi, allow_nan=False, allow_infinity=False))


# realistic ranges, both signs of B (and of the model-size exponents g1, g2, and w1, w2)
PARAM_RANGES = {
    "L0": _f(0.5, 5.0),
    "A": _f(0.01, 2.0),
    "alpha": _f(0.05, 1.5),
    "C": _f(1e-3, 2.0),
    "C1": _f(1e-3, 2.0),
    "C2": _f(1e-3, 2.0),
    "B": _f(-2.0, 2.0),
    "E": _f(0.1, 1e4),
    "beta": _f(0.01, 1.5),
    "a1": _f(0.0, 0.5),
    "a2": _f(0.05, 8.0),
    "g1": _f(-0.5, 0.5),
    "g2": _f(-0.5, 0.5),
    "F": _f(0.0, 10.0),
    "g3": _f(0.01, 1.0),
    "S1_pt_hat": _f(0.01, 100.0),
    "z1": _f(0.2, 2.0),
    "z2": _f(0.2, 2.0),
    "w1": _f(-3.0, 3.0),
    "w2": _f(-3.0, 3.0),
}

INPUT_RANGES = {
    "s1": _f(1e-4, 20.0),
    "s1_pt": _f(1e-4, 20.0),
    "s1_cpt": st.one_of(st.just(0.0), _f(0.0, 20.0)),
    "s2": _f(-5.0, 20.0),
    "s2_pt": st.one_of(st.just(0.0), _f(-5.0, 20.0)),
    "s2_cpt": st.one_of(st.just(0.0), _f(-5.0, 20.0)),
    "r_pt": st.one_of(st.sampled_from([0.0, 1.0]), _f(0.0, 1.0)),
    "N": _f(1.0, 1e4),
    "loss_pt": _f(0.0, 10.0),
    "loss_cpt": _f(0.0, 10.0),
}


@st.composite
def law_case(draw, name):
    params = {k: draw(PARAM_RANGES[k]) for k in ref.PARAM_NAMES[name]}
    # sizes straddle SIMD widths (scalar tails and full vectors)
    shape = draw(st.sampled_from([(), (1,), (3,), (7,), (2, 9), (33,)]))
    inputs = {}
    for k in ref.INPUT_NAMES[name]:
        inputs[k] = draw(hnp.arrays(np.float64, shape, elements=INPUT_RANGES[k]))
    return params, inputs


def _grad_scale(g):
    """Per-column floor scale of a gradient: max |column| over the array (see FLOOR)."""
    g = np.asarray(g)
    fin = np.where(np.isfinite(g), np.abs(g), 0.0)
    return np.max(fin.reshape(-1, g.shape[-1]), axis=0) if g.size else 0.0


def check_law(name, params, inputs):
    law = LAW_CLASSES[name](**params)
    value = law(**inputs)
    expected = np.asarray(LAW_FUNCS[name](params, **inputs), dtype=np.float64)
    # elementwise floor: the sum of |terms| (a near-zero loss can be a cancellation of
    # large terms, e.g. a negative B; its rounding error is ulps of the terms, not of it)
    mag = ref.magnitude(name, params, **inputs)
    assert_close(value, expected, scale=mag, what=f"{name} value")
    v2, g = law.value_and_grad(**inputs)
    # the value-only and value-and-gradient paths may round differently (1 ulp seen)
    assert_close(v2, value, rtol=1e-14, scale=mag, floor=1e-15, what=f"{name} value_and_grad value")
    np.testing.assert_array_equal(law.grad(**inputs), g)
    eg = ref.grad(name, params, **inputs)
    assert g.shape == eg.shape == np.shape(expected) + (len(ref.PARAM_NAMES[name]),)
    # Where the loss is NaN (a non-positive base) the reference gradient is all NaN;
    # the core computes partial derivatives term by term, so only the terms that hold
    # the bad power are NaN (d/dL0 stays 1). Require at least one NaN per such row.
    bad = np.isnan(expected)
    if bad.any():
        assert np.isnan(g[bad]).any(axis=-1).all(), f"{name}: NaN loss with an all-finite gradient"
    good = ~bad
    g, eg = g[good], eg[good]
    for k, pname in enumerate(ref.PARAM_NAMES[name]):
        assert_close(g[..., k], eg[..., k], scale=_grad_scale(eg)[k] if eg.size else 0.0, what=f"{name} d/d{pname}")


@pytest.mark.parametrize("name", list(LAW_CLASSES))
@SETTINGS
@given(data=st.data())
def test_law_value_and_grad_match_reference(name, data):
    params, inputs = data.draw(law_case(name))
    check_law(name, params, inputs)


def test_law_class_names_match_reference():
    for name, cls in LAW_CLASSES.items():
        assert tuple(cls.param_names) == ref.PARAM_NAMES[name], name
        assert tuple(cls.input_names) == ref.INPUT_NAMES[name], name


P1_SETS = [
    dict(L0=3.057, A=0.490, alpha=0.497, C1=0.299, C2=0.298, B=0.366, E=28.0, beta=0.189),
    dict(L0=3.024, A=0.412, alpha=0.677, C1=0.278, C2=0.324, B=-0.666, E=5662.0, beta=0.146),
    dict(L0=3.064, A=0.482, alpha=0.511, C1=0.294, C2=0.264, B=1.353, E=37.0, beta=0.262),
    dict(L0=2.978, A=0.485, alpha=0.701, C1=0.274, C2=0.298, B=-1.409, E=383.0, beta=0.368),
]


@pytest.mark.parametrize("params", P1_SETS)
def test_cpt_law_on_real_schedules(params):
    """P1's fitted sets on WSD PT + re-warmed cosine CPT areas, all splits, large arrays."""
    steps = np.arange(20000)
    pt = np.where(steps < 500, 2e-4 * steps / 500, 2e-4)
    pt[16000:] = 2e-4 * (1 - (steps[16000:] - 16000) / 4000) + 2e-5 * (steps[16000:] - 16000) / 4000
    c = np.arange(10001)
    cpt_lr = np.where(c < 200, 2e-4 * c / 200, 0.5 * 2e-4 * (1 + np.cos(np.pi * (c - 200) / 9800)))
    for split in ("by_source", "by_time", "restart"):
        a = cptlaw.cpt_areas(pt, cpt_lr, split=split)
        inputs = dict(s1_pt=a.s1_pt, s2_pt=a.s2_pt, s1_cpt=a.s1_cpt, s2_cpt=a.s2_cpt)
        check_law("cpt", params, inputs)


@pytest.mark.parametrize("name", [n for n in LAW_CLASSES if n != "out_of_domain"])
def test_law_wide_random_large_arrays(name):
    """Thousands of points over wide ranges (every SIMD lane and thread, odd length)."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    n = 10007
    ranges = {
        "s1": (1e-6, 1e3), "s1_pt": (1e-6, 1e3), "s1_cpt": (0.0, 1e3), "s2": (-50.0, 1e3),
        "s2_pt": (-50.0, 1e3), "s2_cpt": (-50.0, 1e3), "r_pt": (0.0, 1.0), "N": (0.5, 1e5),
    }
    inputs = {}
    for k in ref.INPUT_NAMES[name]:
        lo, hi = ranges[k]
        if k.startswith("s1") or k == "N":  # log-uniform over the decades
            lo = max(lo, 1e-9)
            v = np.exp(rng.uniform(np.log(lo), np.log(hi), n))
        else:
            v = rng.uniform(lo, hi, n)
        inputs[k] = v
    if "s1_cpt" in inputs:
        inputs["s1_cpt"][::5] = 0.0
    for k in ("s2_pt", "s2_cpt"):
        if k in inputs:
            inputs[k][::7] = 0.0
    for trial in range(3):
        params = {}
        for k in ref.PARAM_NAMES[name]:
            strat_lo, strat_hi = {
                "L0": (0.5, 5), "A": (0.01, 2), "alpha": (0.05, 1.5), "C": (1e-3, 2), "C1": (1e-3, 2),
                "C2": (1e-3, 2), "B": (-2, 2), "E": (0.1, 1e4), "beta": (0.01, 1.5), "a1": (0, 0.5),
                "a2": (0.05, 8), "g1": (-0.5, 0.5), "g2": (-0.5, 0.5), "F": (0, 10), "g3": (0.01, 1),
                "S1_pt_hat": (0.01, 100), "z1": (0.2, 2), "z2": (0.2, 2),
            }[k]
            params[k] = float(rng.uniform(strat_lo, strat_hi))
        check_law(name, params, inputs)


@pytest.mark.parametrize(
    "name, bad_inputs",
    [
        ("annealing", dict(s1=[0.0, -1.0, 2.0], s2=[0.1, 0.1, 0.1])),
        ("cpt", dict(s1_pt=[0.0, -1.0, 1.0], s2_pt=0.1, s1_cpt=[0.0, 0.5, -1.0], s2_cpt=0.0)),
        ("open_source", dict(s1_cpt=[0.0, 1.0], s2_cpt=0.0)),
        ("cpt_power_s2", dict(s1_pt=[0.0, 2.0], s2_pt=-0.1, s1_cpt=[0.0, -2.0], s2_cpt=0.3)),
        ("cpt_shared_c", dict(s1_pt=[0.0, -1.0, 1.0], s2_pt=0.1, s1_cpt=[0.0, 0.5, -1.0], s2_cpt=0.0)),
        ("model_size", dict(s1_pt=[0.0, 1.0, 1.0], s2_pt=0.1, s1_cpt=0.0, s2_cpt=0.1, N=[100.0, 0.0, -5.0])),
    ],
)
def test_non_positive_base_gives_nan(name, bad_inputs):
    params = {k: 0.5 for k in ref.PARAM_NAMES[name]}
    if name == "open_source":
        params["S1_pt_hat"] = -1.0  # s1_cpt + S1_pt_hat: -1 and 0
    expected = LAW_FUNCS[name](params, **bad_inputs)
    assert np.isnan(expected).any()
    check_law(name, params, bad_inputs)


# ---------------------------------------------------------------------------------
# Accepted input forms
# ---------------------------------------------------------------------------------

P_CPT = P1_SETS[1]


def test_law_broadcast_scalar_against_arrays():
    law = cptlaw.CPTLaw(**P_CPT)
    s1_cpt = np.linspace(0, 3, 12).reshape(3, 4)
    s2_cpt = np.linspace(-0.1, 0.2, 4)
    got, g = law.value_and_grad(s1_pt=4.0, s2_pt=0.15, s1_cpt=s1_cpt, s2_cpt=s2_cpt)
    assert got.shape == (3, 4) and g.shape == (3, 4, 8)
    assert_close(got, ref.cpt(P_CPT, 4.0, 0.15, s1_cpt, s2_cpt))
    assert_close(g, ref.grad("cpt", P_CPT, s1_pt=4.0, s2_pt=0.15, s1_cpt=s1_cpt, s2_cpt=s2_cpt), scale=1.0)
    # (1, 1)-shaped and (3, 1) x (1, 4) inputs
    col = np.array([[1.0], [2.0], [3.0]])
    got = law(s1_pt=np.array([[4.0]]), s2_pt=col * 0.01, s1_cpt=s1_cpt[:1], s2_cpt=0.0)
    assert got.shape == (3, 4)
    assert_close(got, ref.cpt(P_CPT, 4.0, col * 0.01, s1_cpt[:1], 0.0))
    # all scalars: a 0-d result
    got = law(s1_pt=4.0, s2_pt=0.1, s1_cpt=1.0, s2_cpt=0.05)
    assert np.shape(got) == ()
    assert_close(got, ref.cpt(P_CPT, 4.0, 0.1, 1.0, 0.05))
    assert law.grad(s1_pt=4.0, s2_pt=0.1, s1_cpt=1.0, s2_cpt=0.05).shape == (8,)


def test_law_non_contiguous_read_only_float32_int_lists():
    law = cptlaw.CPTLaw(**P_CPT)
    base = np.linspace(0.5, 6.0, 40).reshape(5, 8)
    s1_pt = base.T[::2]  # (4, 5), transposed and strided
    s2_pt = base[:, ::2].T * 0.01  # (4, 5), a fresh array
    ro = np.linspace(0, 2, 4)
    ro.setflags(write=False)
    s1_cpt = ro[:, None]  # (4, 1), read-only view
    s2_cpt = np.linspace(-0.05, 0.05, 5).astype(np.float32)  # (5,) float32
    assert not s1_pt.flags.c_contiguous and not s1_cpt.flags.writeable
    got = law(s1_pt=s1_pt, s2_pt=s2_pt, s1_cpt=s1_cpt, s2_cpt=s2_cpt)
    assert got.shape == (4, 5)
    assert_close(got, ref.cpt(P_CPT, s1_pt, s2_pt, s1_cpt, s2_cpt.astype(np.float64)))
    g = law.grad(s1_pt=s1_pt, s2_pt=s2_pt, s1_cpt=s1_cpt, s2_cpt=s2_cpt)
    eg = ref.grad("cpt", P_CPT, s1_pt=s1_pt, s2_pt=s2_pt, s1_cpt=s1_cpt, s2_cpt=s2_cpt.astype(np.float64))
    assert_close(g, eg, scale=np.max(np.abs(eg), axis=(0, 1)))
    # read-only, non-contiguous, float32 directly
    a = np.arange(1, 21, dtype=np.float32)[::3]
    a.setflags(write=False)
    got = law(s1_pt=a, s2_pt=0.1, s1_cpt=a[::-1] * 0.1, s2_cpt=0.0)
    assert_close(got, ref.cpt(P_CPT, a.astype(np.float64), 0.1, (a[::-1] * 0.1).astype(np.float64), 0.0))
    # integer lists
    got = law(s1_pt=[1, 2, 3], s2_pt=[0, 0, 1], s1_cpt=[0, 1, 2], s2_cpt=0)
    assert_close(got, ref.cpt(P_CPT, [1.0, 2.0, 3.0], [0.0, 0.0, 1.0], [0.0, 1.0, 2.0], 0.0))
    g = law.grad(s1_pt=[1, 2, 3], s2_pt=[0, 0, 1], s1_cpt=[0, 1, 2], s2_cpt=0)
    assert_close(g, ref.grad("cpt", P_CPT, s1_pt=[1, 2, 3], s2_pt=[0, 0, 1], s1_cpt=[0, 1, 2], s2_cpt=0), scale=1.0)
    # integer and numpy-scalar parameters
    law2 = cptlaw.CPTLaw(**{k: (np.float32(v) if k == "A" else v) for k, v in P_CPT.items()})
    assert law2.params["A"] == float(np.float32(P_CPT["A"]))
    law3 = cptlaw.AnnealingLaw(L0=3, A=1, alpha=np.float64(0.5), C=np.int64(2))
    assert_close(law3(s1=4, s2=0), 3.5)


def test_law_empty_inputs():
    law = cptlaw.AnnealingLaw(L0=3.0, A=0.5, alpha=0.5, C=0.3)
    v, g = law.value_and_grad(s1=np.zeros(0), s2=np.zeros(0))
    assert v.shape == (0,) and g.shape == (0, 4)


def test_areas_input_forms():
    base = np.linspace(1e-3, 0, 41)
    e1, e2 = ref.areas(base[::2], 0.9)
    for lr in (
        base[::2],  # non-contiguous
        [float(v) for v in base[::2]],
    ):
        got = cptlaw.areas(lr, 0.9)
        assert_close(got.s1, e1, floor=0.0)
        assert_close(got.s2, e2)
    ro = base.copy()
    ro.setflags(write=False)
    got = cptlaw.areas(ro[::2], 0.9)
    assert_close(got.s2, e2)
    # float32 input: computed in float64 from the float32 values
    f32 = base.astype(np.float32)
    got = cptlaw.areas(f32, 0.9)
    assert got.s2.dtype == np.float64
    assert_close(got.s2, ref.areas(f32.astype(np.float64), 0.9)[1])
    # integer lists
    got = cptlaw.areas([3, 2, 2, 1, 0, 1], 0.5)
    e1, e2 = ref.areas([3.0, 2.0, 2.0, 1.0, 0.0, 1.0], 0.5)
    assert_close(got.s1, e1, floor=0.0)
    assert_close(got.s2, e2)
    # non-contiguous 2-D (transposed), Fortran order
    m = np.asfortranarray(np.linspace(1e-3, 0, 60).reshape(6, 10))
    got = cptlaw.areas(m.T, 0.9)
    for r in range(10):
        assert_close(got.s2[r], ref.areas(m.T[r], 0.9)[1])
    pt, cp = m[:, ::2], m[::-1, 1::3]  # (6, 5) and (6, 4), both strided
    got = cptlaw.cpt_areas(pt, cp, 0.9, "by_time")
    for r in range(6):
        exp = ref.cpt_areas(pt[r], cp[r], 0.9, "by_time")
        for k in range(4):
            assert_close(got[k][r], exp[k], scale=max(np.abs(exp[1]).max(), np.abs(exp[3]).max()) if k % 2 else None)


# ---------------------------------------------------------------------------------
# Bad inputs: every error must name the argument
# ---------------------------------------------------------------------------------

ERRORS = (ValueError, TypeError)


@pytest.mark.parametrize(
    "lr",
    [
        [1e-3, float("nan"), 1e-4],
        [1e-3, float("inf")],
        [1e-3, -1e-4],
        np.array([[1e-3, 1e-3], [1e-3, -np.inf]]),
        [],
        np.zeros((3, 0)),
        1e-3,  # a scalar has no steps axis
        "1e-3",
        ["a", "b"],
        [1e-3, None],
        [[1e-3, 1e-3], [1e-3]],  # ragged
        np.array([1e-3 + 1e-4j]),
        np.array([True, False]),
    ],
)
def test_areas_bad_lr(lr):
    with pytest.raises(ERRORS, match=r"\blr\b"):
        cptlaw.areas(lr)


@pytest.mark.parametrize("decay", [-0.1, 1.0 + 1e-12, 2.0, float("nan"), float("inf"), "0.9", None, [0.9]])
def test_areas_bad_decay(decay):
    with pytest.raises(ERRORS, match="decay"):
        cptlaw.areas([1e-3, 1e-4], decay)
    with pytest.raises(ERRORS, match="decay"):
        cptlaw.cpt_areas([1e-3, 1e-4], [1e-4], decay)


@pytest.mark.parametrize("warm", [-1, 1.5, "yes", float("nan")])
def test_areas_bad_warmup(warm):
    with pytest.raises(ERRORS, match="warmup_as_peak"):
        cptlaw.areas([1e-3, 1e-4], warmup_as_peak=warm)
    with pytest.raises(ERRORS, match="warmup_as_peak"):
        cptlaw.cpt_areas([1e-3, 1e-4], [1e-4], warmup_as_peak=warm)


@pytest.mark.parametrize("eps", [float("nan"), float("inf"), "0.5", [0.5]])
def test_areas_bad_exponent(eps):
    with pytest.raises(ERRORS, match="s2_lr_exponent"):
        cptlaw.areas([1e-3, 1e-4], s2_lr_exponent=eps)
    with pytest.raises(ERRORS, match="s2_lr_exponent"):
        cptlaw.cpt_areas([1e-3, 1e-4], [1e-4], s2_lr_exponent=eps)


@pytest.mark.parametrize(
    "pt, cpt, match",
    [
        ([], [1e-4], "lr_pt"),
        (np.zeros((2, 0)), [1e-4], "lr_pt"),
        ([1e-3, float("nan")], [1e-4], "lr_pt"),
        ([1e-3, -1.0], [1e-4], "lr_pt"),
        ("abc", [1e-4], "lr_pt"),
        ([1e-3], [1e-4, float("nan")], "lr_cpt"),
        ([1e-3], [1e-4, float("inf")], "lr_cpt"),
        ([1e-3], [-1e-4], "lr_cpt"),
        ([1e-3], "abc", "lr_cpt"),
        ([1e-3], 1e-4, "lr_cpt"),
        (np.ones((3, 4)), np.ones((2, 5)), "lr_pt"),  # leading shapes (3,) vs (2,)
    ],
)
def test_cpt_areas_bad_schedules(pt, cpt, match):
    with pytest.raises(ERRORS, match=match):
        cptlaw.cpt_areas(pt, cpt)


@pytest.mark.parametrize("split", ["bysource", "BY_TIME", "", None, 0])
def test_cpt_areas_bad_split(split):
    with pytest.raises(ERRORS, match="split"):
        cptlaw.cpt_areas([1e-3], [1e-4], split=split)


@pytest.mark.parametrize("lead", [(), (2,)])
def test_cpt_areas_empty_cpt_is_pt_only(lead):
    """A zero-step lr_cpt gives PT-only areas (regression: it used to crash in a reshape)."""
    pt = np.broadcast_to(np.array([3e-4, 2e-4, 1e-4]), lead + (3,))
    got = cptlaw.cpt_areas(pt, np.zeros(lead + (0,)))
    for k in range(4):
        assert got[k].shape == lead + (3,)
    exp = ref.cpt_areas(pt.reshape(-1, 3)[0], [])
    plain = cptlaw.areas(pt)
    for k in range(4):
        assert_close(got[k].reshape(-1, 3)[-1], exp[k])
    assert_close(got.s2_pt, plain.s2)
    np.testing.assert_array_equal(got.s1_cpt, 0.0)


def test_reference_empty_cpt_is_pt_only():
    pt = np.array([3e-4, 2e-4, 1e-4])
    exp = ref.cpt_areas(pt, [])
    plain = cptlaw.areas(pt)
    assert_close(exp[0], plain.s1, floor=0.0)
    assert_close(exp[1], plain.s2)
    np.testing.assert_array_equal(exp[2], 0.0)
    np.testing.assert_array_equal(exp[3], 0.0)


@pytest.mark.parametrize("name", list(LAW_CLASSES))
def test_law_missing_and_unknown_params(name):
    cls = LAW_CLASSES[name]
    full = {k: 0.5 for k in ref.PARAM_NAMES[name]}
    for k in ref.PARAM_NAMES[name]:
        partial = dict(full)
        del partial[k]
        with pytest.raises(ERRORS, match=rf"\b{k}\b"):
            cls(**partial)
    with pytest.raises(ERRORS, match="bogus"):
        cls(**full, bogus=1.0)
    k0 = ref.PARAM_NAMES[name][-1]
    for bad in (float("nan"), float("inf"), "0.5", None, [0.5], np.array([0.5, 0.5]), True):
        with pytest.raises(ERRORS, match=rf"\b{k0}\b"):
            cls(**{**full, k0: bad})


@pytest.mark.parametrize("name", list(LAW_CLASSES))
def test_law_bad_inputs(name):
    law = LAW_CLASSES[name](**{k: 0.5 for k in ref.PARAM_NAMES[name]})
    names = ref.INPUT_NAMES[name]
    good = {k: np.ones(3) for k in names}
    law(**good)
    last = names[-1]
    # non-broadcasting shapes: the message names the inputs involved
    with pytest.raises(ValueError, match=rf"\b{last}\b"):
        law(**{**good, last: np.ones(4)})
    with pytest.raises(ValueError, match=rf"\b{last}\b"):
        law.grad(**{**good, last: np.ones((2, 2))})
    for bad in ("1.0", ["a"], [1.0, None, 2.0], np.array([1 + 1j, 1, 1]), [[1.0], [1.0, 2.0]]):
        with pytest.raises(ERRORS, match=rf"\b{last}\b"):
            law(**{**good, last: bad})
    missing = dict(good)
    del missing[names[0]]
    with pytest.raises(TypeError, match=rf"\b{names[0]}\b"):
        law(**missing)
    with pytest.raises(TypeError, match="bogus"):
        law(**good, bogus=np.ones(3))


def test_reference_rejects_what_it_should():
    """The reference itself refuses bad arguments (it is used unguarded by benchmarks)."""
    with pytest.raises(ValueError, match="decay"):
        ref.areas([1.0], 1.5)
    with pytest.raises(ValueError, match="lr"):
        ref.areas([1.0, -1.0])
    with pytest.raises(ValueError, match="lr_pt"):
        ref.cpt_areas([], [1.0])
    with pytest.raises(ValueError, match="split"):
        ref.cpt_areas([1.0], [1.0], split="nope")
    with pytest.raises(KeyError, match="beta"):
        ref.cpt({"L0": 1, "A": 1, "alpha": 1, "C1": 1, "C2": 1, "B": 1, "E": 1}, 1, 0, 0, 0)
