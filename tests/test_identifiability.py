"""Which parameters the data cannot determine: ``result.unidentifiable``, stderr inf,
``IdentifiabilityWarning`` at the caller's line, and the per-fit flags of ``fit_many``."""

import threading
import warnings

import numpy as np
import pytest

import cptlaw
from cptlaw import _warnings
from _tinycpt import AREA_OPTIONS, tiny_runs

P1_DCPT = dict(L0=3.024, A=0.412, alpha=0.677, C1=0.278, C2=0.324, B=-0.666, E=5662.0, beta=0.146)
SHIFT = ("B", "E", "beta")


def _fit_runs(names, valset="pt", **options):
    runs = tiny_runs(names)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", cptlaw.IdentifiabilityWarning)
        return cptlaw.fit_runs(cptlaw.CPTLaw, list(runs.values()), valset=valset, **AREA_OPTIONS, **options)


def test_warning_class_is_exported():
    assert issubclass(cptlaw.IdentifiabilityWarning, UserWarning)
    assert "IdentifiabilityWarning" in cptlaw.__all__


@pytest.mark.parametrize("valset", ["pt", "cpt"])
def test_shift_parameters_from_pt_only_runs(valset):
    """A PT-only fit of the CPT law: B, E, beta act only in CPT (and C2 only on CPT decay)."""
    res = _fit_runs(("pt_const", "pt_anneal"), valset)
    assert res.success, res.message
    assert set(res.unidentifiable) == set(SHIFT) | {"C2"}
    for name in SHIFT:
        assert "no CPT steps" in res.unidentifiable[name] and "s1_cpt" in res.unidentifiable[name]
        assert res.stderr[name] == np.inf
        assert np.all(np.isnan(res.covariance[res.law.param_names.index(name)]))
    assert "s2_cpt" in res.unidentifiable["C2"]
    for name in ("L0", "A", "alpha", "C1"):  # the PT part is still determined, with finite stderr
        assert 0 < res.stderr[name] < np.inf, name
    assert "not determined by the data" in res.message and "B" in res.message


def test_warning_points_at_the_callers_line_through_fit_runs():
    runs = list(tiny_runs(("pt_const",)).values())
    with pytest.warns(cptlaw.IdentifiabilityWarning, match="do not determine") as rec:
        cptlaw.fit_runs(cptlaw.CPTLaw, runs, valset="pt", **AREA_OPTIONS)  # <- this line
    w = [r for r in rec if issubclass(r.category, cptlaw.IdentifiabilityWarning)][0]
    assert w.filename == __file__
    assert "cptlaw.fit_runs" in open(__file__).read().splitlines()[w.lineno - 1]


def test_c1_undetermined_without_pt_annealing_and_determined_with_it():
    """No run anneals in PT (warmup counted at the peak): S2_pt is 0 everywhere, so C1 has
    nothing to act on while C2 is fitted from the CPT decays. With the PT annealing branch in
    the fit both are determined and nothing is reported."""
    res = _fit_runs(("pt_const", "cpt_const", "cpt_cos"))
    assert list(res.unidentifiable) == ["C1"]
    assert "s2_pt is 0" in res.unidentifiable["C1"]
    assert res.stderr["C1"] == np.inf and 0 < res.stderr["C2"] < np.inf
    runs = list(tiny_runs(("pt_const", "pt_anneal", "cpt_const", "cpt_cos")).values())
    with warnings.catch_warnings():
        warnings.simplefilter("error", cptlaw.IdentifiabilityWarning)
        res = cptlaw.fit_runs(cptlaw.CPTLaw, runs, valset="pt", **AREA_OPTIONS)
    assert res.unidentifiable == {}
    assert all(0 < v < np.inf for v in res.stderr.values()), res.stderr


def test_covariance_of_the_determined_parameters_is_that_of_a_fit_with_the_others_fixed():
    feats_runs = tiny_runs(("pt_const", "pt_anneal"))
    feats = [r.features(cptlaw.CPTLaw, **AREA_OPTIONS) for r in feats_runs.values()]
    f = {k: np.concatenate([d[k] for d in feats]) for k in feats[0]}
    y = np.concatenate([r.losses("pt") for r in feats_runs.values()])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", cptlaw.IdentifiabilityWarning)
        res = cptlaw.fit(cptlaw.CPTLaw, f, y)
    fixed = {n: res.params[n] for n in res.unidentifiable}
    with warnings.catch_warnings():
        warnings.simplefilter("error", cptlaw.IdentifiabilityWarning)
        ref = cptlaw.fit(cptlaw.CPTLaw, f, y, fixed=fixed, starts=res.law, multistart=False)
    for n in ("L0", "A", "alpha", "C1"):
        assert res.stderr[n] == pytest.approx(ref.stderr[n], rel=1e-4), n  # (the refit moves a little)


def _synthetic_cpt(n=80, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(1, n + 1)
    feats = dict(s1_pt=np.full(n, 2.0), s2_pt=np.full(n, 0.3), s1_cpt=t * 0.01, s2_cpt=np.where(t > n // 2, 0.002 * (t - n // 2), 0.0))
    y = cptlaw.CPTLaw(**P1_DCPT)(**feats) * (1 + 1e-3 * rng.standard_normal(n))
    return feats, y


def test_collinear_columns_give_a_combination_reason():
    """s2_pt constant over the data: C1 * s2_pt is a constant, indistinguishable from L0."""
    feats, y = _synthetic_cpt()
    with pytest.warns(cptlaw.IdentifiabilityWarning):
        res = cptlaw.fit(cptlaw.CPTLaw, feats, y)
    assert set(res.unidentifiable) == {"L0", "C1"}
    for n in ("L0", "C1"):
        why = res.unidentifiable[n]
        assert "combination" in why and "L0" in why and "C1" in why, why
        assert res.stderr[n] == np.inf
    assert all(0 < res.stderr[n] < np.inf for n in ("A", "alpha", "C2", "B", "E", "beta")), res.stderr
    # fixing one of the two resolves it
    with warnings.catch_warnings():
        warnings.simplefilter("error", cptlaw.IdentifiabilityWarning)
        res = cptlaw.fit(cptlaw.CPTLaw, feats, y, fixed={"C1": 0.278})
    assert res.unidentifiable == {}


def test_zero_weights_count_as_missing_data():
    feats, y = _synthetic_cpt()
    feats = dict(feats, s2_pt=np.linspace(0.1, 0.5, y.size))
    w = np.where(feats["s2_cpt"] > 0, 0.0, 1.0)  # the CPT decay carries no weight
    with pytest.warns(cptlaw.IdentifiabilityWarning):
        res = cptlaw.fit(cptlaw.CPTLaw, feats, y, weights=w)
    assert "C2" in res.unidentifiable


def test_fit_many_flags_each_fit_vectorised():
    """Half the batch observes only the PT phase: those fits flag B, E, beta and C2; the
    others (PT and CPT observed) flag nothing. The flags agree with fit() on the same curves."""
    rng = np.random.default_rng(3)
    pt = np.r_[np.full(8000, 2e-4), np.linspace(2e-4, 2e-5, 2000)]
    cpt = 1e-4 * (1 + np.cos(np.pi * np.arange(6000) / 6000))
    a = cptlaw.cpt_areas(pt, cpt)
    with_cpt = np.r_[np.arange(499, 10000, 500), np.arange(10249, 16000, 500)]
    pt_only = np.linspace(299, 9999, with_cpt.size).astype(int)
    K = 40
    no_cpt = np.arange(K) % 2 == 0
    idx = np.where(no_cpt[:, None], pt_only, with_cpt)
    feats = {k: getattr(a, k)[idx] for k in ("s1_pt", "s2_pt", "s1_cpt", "s2_cpt")}
    y = cptlaw.CPTLaw(**P1_DCPT)(**feats) * (1 + 2e-3 * rng.standard_normal(idx.shape))
    res = cptlaw.fit_many(cptlaw.CPTLaw, feats, y)
    assert res.success.all()
    names = cptlaw.CPTLaw.param_names
    assert res.unidentifiable.shape == (K, len(names)) and res.unidentifiable.dtype == bool
    expect = np.zeros((K, len(names)), dtype=bool)
    expect[np.ix_(no_cpt, [names.index(p) for p in ("C2",) + SHIFT])] = True
    np.testing.assert_array_equal(res.unidentifiable, expect)
    np.testing.assert_array_equal(res.identified, ~no_cpt)
    assert all(("not determined" in m) == bool(f) for m, f in zip(res.message, no_cpt))
    for i in (0, 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", cptlaw.IdentifiabilityWarning)
            one = cptlaw.fit(cptlaw.CPTLaw, {k: v[i] for k, v in feats.items()}, y[i])
        assert set(one.unidentifiable) == {p for p, f in zip(names, res.unidentifiable[i]) if f}


def test_a_saturated_shift_is_reported_as_a_combination_with_l0():
    """E at its upper bound makes the shift term a constant B over every observation: only
    L0 + B is determined. (Found by fit_many on CPT data observed far past the shift's knee.)"""
    feats, y = _synthetic_cpt()
    law = cptlaw.CPTLaw(**dict(P1_DCPT, E=1e6, beta=3.0))
    with pytest.warns(cptlaw.IdentifiabilityWarning):
        res = cptlaw.fit(cptlaw.CPTLaw, dict(feats, s2_pt=np.linspace(0.1, 0.5, y.size)),
                         law(**dict(feats, s2_pt=np.linspace(0.1, 0.5, y.size))), fixed={"E": 1e6, "beta": 3.0})
    assert {"L0", "B"} <= set(res.unidentifiable)
    assert "combination" in res.unidentifiable["B"]


def test_fixed_parameters_are_never_reported():
    res_runs = tiny_runs(("pt_const", "pt_anneal"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", cptlaw.IdentifiabilityWarning)
        res = cptlaw.fit_runs(cptlaw.CPTLaw, list(res_runs.values()), valset="pt", **AREA_OPTIONS,
                              fixed={"C2": 0.1, "B": 0.3, "E": 30.0, "beta": 0.2})
    assert res.unidentifiable == {} and res.stderr["B"] == 0.0


def test_quiet_silences_only_the_current_thread():
    """compare() fits in worker threads under _warnings.quiet(); the user's own thread keeps
    its warnings (warnings.catch_warnings would change process-wide state instead)."""
    runs = list(tiny_runs(("pt_const",)).values())
    other = []
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        with _warnings.quiet():
            res = cptlaw.fit_runs(cptlaw.CPTLaw, runs, valset="pt", **AREA_OPTIONS)
            th = threading.Thread(target=lambda: other.append(getattr(_warnings._state, "quiet", 0)))
            th.start()
            th.join()
        assert not [r for r in rec if issubclass(r.category, cptlaw.IdentifiabilityWarning)]
        cptlaw.fit_runs(cptlaw.CPTLaw, runs, valset="pt", **AREA_OPTIONS)
        assert [r for r in rec if issubclass(r.category, cptlaw.IdentifiabilityWarning)]
    assert res.unidentifiable  # still recorded in the result
    assert other == [0]


def test_one_model_size_leaves_the_size_exponents_open_and_says_why():
    """ModelSizeLaw on runs of one model size: N**g is a constant, so g1, g2, F, g3 mix with
    C1, C2 and L0; the reason names the input that would tell them apart."""
    pt = np.r_[np.full(8000, 2e-4), np.linspace(2e-4, 2e-5, 2000)]
    t = np.arange(6000)
    parts = []
    for cpt in (np.full(6000, 2e-4), 1e-4 * (1 + np.cos(np.pi * t / 6000))):
        a = cptlaw.cpt_areas(pt, cpt)
        idx = np.arange(499, 16000, 250)
        parts.append({k: getattr(a, k)[idx] for k in ("s1_pt", "s2_pt", "s1_cpt", "s2_cpt")})
    feats = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    feats["N"] = np.full(feats["s1_pt"].size, 106.0)
    law = cptlaw.ModelSizeLaw(L0=3.0, A=0.4, alpha=0.6, C1=0.3, C2=0.3, g1=0.0, g2=0.0, B=-0.6, E=500.0,
                              beta=0.2, F=0.1, g3=0.3)
    y = law(**feats) * (1 + 0.002 * np.random.default_rng(0).standard_normal(feats["N"].size))
    with pytest.warns(cptlaw.IdentifiabilityWarning, match="N = 106 at every point"):
        res = cptlaw.fit(cptlaw.ModelSizeLaw, feats, y)
    assert {"g1", "g2", "g3", "F"} <= set(res.unidentifiable)
    assert {"A", "alpha", "B", "E", "beta"}.isdisjoint(res.unidentifiable)
