"""Extrapolation warnings judge PT and CPT apart: CPT peak LR, CPT length and the checkpoint's
loss potential against the fitted CPT runs, PT against PT."""

import json
import warnings

import numpy as np
import pytest

import cptlaw
from _tinycpt import AREA_OPTIONS, tiny_runs

P = 3e-3  # tinycpt's PT peak LR


@pytest.fixture(scope="module")
def fitted():
    runs = tiny_runs(("pt_const", "pt_anneal", "cpt_const", "cpt_cos"))
    return cptlaw.fit_runs(cptlaw.CPTLaw, list(runs.values()), valset="cpt", **AREA_OPTIONS)


def _cpt_run(lr_cpt, name="planned", source="cpt_cos"):
    base = tiny_runs((source,))[source]
    n_pt = len(base._lr_pt)
    steps = n_pt + np.arange(50, len(lr_cpt) + 1, 50)
    return cptlaw.Run(base._lr_pt, steps, lr_cpt=lr_cpt, name=name)


def _by(checks):
    return {(c.phase, c.quantity): c for c in checks}


def test_domain_is_recorded_per_phase(fitted):
    dom = fitted.domain
    assert dom["pt"]["peak_lr"] == [P, P] and dom["pt"]["steps"] == [5000, 5000]
    assert dom["cpt"]["peak_lr"] == pytest.approx([P, P]) and dom["cpt"]["steps"] == [4000, 4000]
    assert dom["cpt"]["loss_potential"] == [1.0, 1.0]  # both CPT runs start from pt_const
    json.dumps({k: v for k, v in dom.items()})  # JSON-friendly
    # the old keys stay for readers of older results
    assert dom["peak_lr"] == (pytest.approx(P), pytest.approx(P)) and dom["max_step"] == 9000


def test_cpt_peak_lr_far_below_every_fitted_one_warns(fitted):
    """Before: Run.peak_lr is the maximum over PT and CPT, so the PT peak hid a CPT peak 100x
    below every fitted one and nothing was said."""
    t = np.arange(1, 4001)
    run = _cpt_run(P / 100 / 2 * (1 + np.cos(np.pi * t / 4000)))
    assert run.peak_lr == P  # what the old check looked at
    checks = _by(cptlaw.extrapolation_checks(fitted, run))
    c = checks[("cpt", "peak LR")]
    assert not c.inside and c.value == pytest.approx(P / 100, rel=1e-3) and c.fitted == pytest.approx((P, P))
    assert checks[("pt", "peak LR")].inside and checks[("cpt", "length")].inside
    with pytest.warns(cptlaw.ExtrapolationWarning, match=r"CPT peak LR 3e-05 is outside the fitted CPT runs' range \[0.003, 0.003\]") as rec:
        cptlaw.predict_run(fitted, run)
    assert [w.filename for w in rec if issubclass(w.category, cptlaw.ExtrapolationWarning)] == [__file__]


def test_cpt_length_is_judged_against_fitted_cpt_lengths(fitted):
    run = _cpt_run(np.full(13_000, P))  # 13k CPT steps > 3 x 4000
    checks = _by(cptlaw.extrapolation_checks(fitted, run))
    assert not checks[("cpt", "length")].inside and checks[("cpt", "length")].value == 13_000
    assert checks[("cpt", "peak LR")].inside and checks[("pt", "length")].inside
    with pytest.warns(cptlaw.ExtrapolationWarning, match="CPT length 13000 is outside"):
        cptlaw.predict_run(fitted, run)


def test_annealed_checkpoint_is_judged_by_its_loss_potential(fitted):
    run = tiny_runs(("cpt_ann_cos",))["cpt_ann_cos"]
    checks = _by(cptlaw.extrapolation_checks(fitted, run))
    c = checks[("cpt", "loss potential")]
    assert not c.inside and c.value == pytest.approx(0.1) and c.fitted == (1.0, 1.0)
    assert all(x.inside for k, x in checks.items() if k != ("cpt", "loss potential"))
    with pytest.warns(cptlaw.ExtrapolationWarning, match="loss potential 0.1 is outside"):
        cptlaw.predict_run(fitted, run)
    # with one CPT run from the annealed checkpoint in the fit, its sibling is inside
    runs = tiny_runs(("pt_const", "pt_anneal", "cpt_const", "cpt_ann_cos", "cpt_ann_rewarm_cos"))
    fit2 = cptlaw.fit_runs(cptlaw.CPTLaw, [runs[n] for n in ("pt_const", "pt_anneal", "cpt_const", "cpt_ann_cos")],
                           valset="cpt", **AREA_OPTIONS)
    assert fit2.domain["cpt"]["loss_potential"] == [pytest.approx(0.1), 1.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", cptlaw.ExtrapolationWarning)
        cptlaw.predict_run(fit2, runs["cpt_ann_rewarm_cos"])


def test_runs_like_the_fitted_ones_raise_nothing(fitted):
    runs = tiny_runs(("cpt_wsd", "cpt_rewarm_cos", "pt_const"))
    for run in runs.values():
        checks = cptlaw.extrapolation_checks(fitted, run)
        assert checks and all(c.inside for c in checks), [c.message for c in checks]
        assert {c.phase for c in checks} == ({"pt"} if run.name == "pt_const" else {"pt", "cpt"})
        with warnings.catch_warnings():
            warnings.simplefilter("error", cptlaw.ExtrapolationWarning)
            cptlaw.predict_run(fitted, run)


def test_a_third_of_every_fitted_cpt_peak_is_outside(fitted):
    """cpt_low_const (CPT at P/3; fitted CPT runs at P) is judged outside the 1.5x margin: it is
    also the worst-predicted run from the un-annealed checkpoint in the fidelity table."""
    run = tiny_runs(("cpt_low_const",))["cpt_low_const"]
    checks = _by(cptlaw.extrapolation_checks(fitted, run))
    assert [k for k, c in checks.items() if not c.inside] == [("cpt", "peak LR")]
    assert checks[("cpt", "peak LR")].value == pytest.approx(P / 3)


def test_pt_is_judged_against_pt(fitted):
    lr = np.full(5000, 10 * P)
    run = cptlaw.Run(lr, np.arange(100, 5001, 100), name="hot_pt")
    checks = _by(cptlaw.extrapolation_checks(fitted, run))
    assert not checks[("pt", "peak LR")].inside and ("cpt", "peak LR") not in checks
    with pytest.warns(cptlaw.ExtrapolationWarning, match="PT peak LR 0.03 is outside the fitted PT runs' range"):
        cptlaw.predict_run(fitted, run)


def test_no_fitted_cpt_run_means_the_cpt_phase_is_extrapolated():
    runs = tiny_runs(("pt_const", "pt_anneal", "cpt_cos"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", cptlaw.IdentifiabilityWarning)
        res = cptlaw.fit_runs(cptlaw.CPTLaw, [runs["pt_const"], runs["pt_anneal"]], valset="pt", **AREA_OPTIONS)
    assert res.domain["cpt"] is None
    checks = _by(cptlaw.extrapolation_checks(res, runs["cpt_cos"]))
    assert not checks[("cpt", "phase")].inside and checks[("cpt", "phase")].fitted is None
    with pytest.warns(cptlaw.ExtrapolationWarning, match="no fitted run has a CPT phase"):
        cptlaw.predict_run(res, runs["cpt_cos"])


def test_older_domains_without_phases_are_judged_as_before(fitted):
    old = dict(fitted, domain={"peak_lr": (P, P), "max_step": 9000, "area_options": fitted.domain["area_options"]})
    run = _cpt_run(np.full(4000, P / 100))
    assert all(c.inside for c in cptlaw.extrapolation_checks(old, run))  # what the old fields can tell
    far = cptlaw.Run(np.full(30_000, P), np.arange(1000, 30_001, 1000), name="long")
    checks = cptlaw.extrapolation_checks(old, far)
    assert [c.inside for c in checks] == [True, False]


def test_checks_as_data():
    assert cptlaw.extrapolation_checks(cptlaw.CPTLaw(1, 1, 0.5, 0.1, 0.1, 0.1, 10, 0.2), None) == []


def test_checks_serialise(fitted):
    run = tiny_runs(("cpt_ann_cos",))["cpt_ann_cos"]
    out = json.loads(json.dumps([c.as_dict() for c in cptlaw.extrapolation_checks(fitted, run)]))
    assert {d["quantity"] for d in out} == {"peak LR", "length", "loss potential"}
    assert [d["inside"] for d in out if d["quantity"] == "loss potential"] == [False]
