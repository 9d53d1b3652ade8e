"""cptlaw.results: every result type prints itself as a readable table (``repr``) and as HTML
for notebooks (``_repr_html_``), on real fits (tinycpt set A) and what is computed from them.

Each rendering must be non-empty, name the parameters (or fields) with their values, and the
HTML must be well formed (every tag closed in order, checked with ``html.parser``).
"""

from __future__ import annotations

import html.parser
import warnings

import numpy as np
import pytest
from _tinycpt import AREA_OPTIONS, CPT_FROM_CONST, PT, tiny_runs

import cptlaw
from cptlaw import planner as P
from cptlaw import schedules as S
from cptlaw.results import DictResult, Result, fmt

_VOID = {"br", "hr", "img", "meta", "input", "link", "col", "wbr"}


class _Checker(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.errors, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        if tag not in _VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def check_renders(result, *must_contain):
    """repr and HTML: non-empty, containing every string of ``must_contain``, HTML well formed."""
    assert isinstance(result, Result)
    text = repr(result)
    assert text.strip() and str(result) == text
    page = result._repr_html_()
    checker = _Checker()
    checker.feed(page)
    checker.close()
    assert not checker.errors and not checker.stack, (checker.errors, checker.stack, page)
    shown = " ".join(checker.text)
    for s in must_contain:
        assert s in text, (s, text)
        assert s in shown, (s, page)
    return text


@pytest.fixture(scope="module")
def fitted():
    runs = list(tiny_runs(PT + CPT_FROM_CONST[:2]).values())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {vs: cptlaw.fit_runs(cptlaw.CPTLaw, runs, valset=vs, **AREA_OPTIONS) for vs in ("pt", "cpt")}, runs


def params_shown(res):
    """Parameter names and values as the tables print them."""
    out = []
    for name, v in res["params"].items():
        out += [name, format(v, ".6g")]
    return out


def test_fit_result(fitted):
    fits, runs = fitted
    res = fits["cpt"]
    assert res.success and res["r2"] == res.r2  # still a dict with attribute access
    text = check_renders(res, "CPTLaw fit", "R^2", *params_shown(res), format(res.stderr["beta"], ".3g"))
    assert "split by_source" in text  # the area options of fit_runs' domain
    # a fit file's record renders as its fit (what `cptlaw fit` prints)
    record = cptlaw.io.fitfile.fit_record(res, cptlaw.CPTLaw, "cpt", runs, AREA_OPTIONS,
                                          {r.name: 0.01 for r in runs})
    text = check_renders(cptlaw.FitResult(record), "validation set 'cpt'", "runs", *params_shown(res))
    assert all(r.name in text for r in runs)
    # a failed fit renders too
    bad = cptlaw.fit(cptlaw.AnnealingLaw, {"s1": np.arange(1.0, 11), "s2": np.zeros(10)}, np.full(10, 3.0))
    assert not bad.success
    check_renders(bad, "L0", "nan", bad.message)


def test_fit_many_result(fitted):
    fits, runs = fitted
    r = runs[0]
    feats = r.features(cptlaw.AnnealingLaw, **{k: v for k, v in AREA_OPTIONS.items() if k != "split"})
    y = r.losses("pt")
    n = (len(y) // 3) * 3
    curves = {k: v[:n].reshape(3, -1) for k, v in feats.items()}
    many = cptlaw.fit_many(cptlaw.AnnealingLaw, curves, y[:n].reshape(3, -1))
    text = check_renders(many, "FitManyResult: 3 fits", "alpha", format(many.params[0, 2], ".4g"))
    assert "_pending" not in text and "_pending" in many  # a repr does not run the identifiability screen
    assert many.message[0]  # attribute access computes it


def test_bootstrap_and_intervals(fitted):
    fits, runs = fitted
    res = fits["cpt"]
    feats = {}
    for r in runs:
        for k, v in r.features(cptlaw.CPTLaw, **AREA_OPTIONS).items():
            feats.setdefault(k, []).append(v)
    feats = {k: np.concatenate(v) for k, v in feats.items()}
    y = np.concatenate([r.losses("cpt") for r in runs])
    predict = {k: v[-5:] for k, v in feats.items()}
    boot = cptlaw.bootstrap(res, feats, y, n_boot=40, seed=1, predict=predict)
    lo, hi = boot.ci["alpha"]
    check_renders(boot, "CPTLaw bootstrap", "alpha", format(lo, ".6g"), format(hi, ".6g"), "confidence_band")
    band = boot.confidence_band()
    check_renders(band, "confidence_band", format(band.center[0], ".6g"))
    interval = cptlaw.intervals.predict_interval(res, predict, kind="prediction")
    check_renders(interval, "prediction_interval", format(interval.low[0], ".6g"), format(interval.high[0], ".6g"))
    one = cptlaw.intervals.predict_interval(res, {k: v[-1] for k, v in feats.items()})
    check_renders(one, "center", format(float(one.center), ".6g"))


def test_planner_results(fitted):
    fits, _ = fitted
    law_pt, law_cpt = fits["pt"].law, fits["cpt"].law
    pt = S.wsd(3e-3, 5000, decay_steps=1000, warmup=200)
    opts = dict(AREA_OPTIONS, warmup_as_peak=200)
    cp = P.critical_point(law_pt, pt, **opts)
    check_renders(cp, "CriticalPoint", "level", format(cp.level, ".6g"), "pre_critical")
    tl = P.turning_length(law_pt, pt, **opts)
    check_renders(tl, "TurningLength", "loss_at_transfer", format(tl.loss_at_transfer, ".6g"))
    o = P.optimal_peak_lr(law_pt, law_cpt, 0.5, pt, 2000, **opts)
    text = check_renders(o, "Optimum: peak_lr", "objective", format(o.objective, ".6g"), "plan")
    assert "grid_objective" not in text  # fields declared repr=False stay out
    table = P.Optimum.table([(0.5, {"peak_lr": o})]).text()
    assert table.splitlines()[1].split()[:2] == ["0.5", "peak_lr"]
    front = P.pareto_front(law_pt, law_cpt, pt, {"peak_lr": np.geomspace(3e-5, 3e-3, 7), "steps": [1000, 4000]},
                           **opts)
    check_renders(front, "ParetoFront", "loss_pt", format(front.loss_pt[0], ".5f"))
    pytest.importorskip("scipy")
    so = P.optimize_schedule(law_pt, law_cpt, 0.5, pt, 500, 3e-3, knots=3, **opts)
    check_renders(so, "ScheduleOptimum", "knot step", format(so.loss_cpt, ".6g"))


def test_compare_result():
    runs = list(tiny_runs(PT + CPT_FROM_CONST[:3]).values())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = cptlaw.compare([cptlaw.CPTLaw, cptlaw.CPTSharedCLaw], runs, **AREA_OPTIONS)
    text = check_renders(res, "CompareResult", res.recommendation[:40], "CPTLaw", "score")
    assert res["best"] == res.best and "CPTSharedCLaw" in text


def test_live_results(fitted):
    _, runs = fitted
    run = next(r for r in runs if r.name == "cpt_cos")
    live = cptlaw.LivePredictor(planned_lr_pt=run.lr_pt, planned_lr_cpt=run.lr_cpt, valsets=("cpt",))
    y = run.losses("cpt")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for s, v in zip(run.steps[::4], y[::4]):
            live.observe(int(s), float(v))
    p = live.prediction("cpt")
    assert p.available, p.reason
    check_renders(p, "valset 'cpt'", "interval", format(p.loss, ".6g"), format(p.upper, ".6g"))
    many = live.predict(run.steps[-10:], "cpt")
    check_renders(many, "10 steps", "lower", format(many.loss[0], ".6g"))
    early = cptlaw.LivePredictor(planned_lr_pt=run.lr_pt, planned_lr_cpt=run.lr_cpt, valsets=("cpt",))
    check_renders(early.prediction("cpt"), "not available", "no observations yet")
    exc = cptlaw.live.Excursion("cpt", 100, 3.5, 3.0, 2.9, 3.1, True)
    check_renders(exc, "Excursion", "predicted", "3.5")


def test_dict_results_keep_dict_and_attribute_access():
    r = cptlaw.FitResult(a=1.0)
    r.b = 2
    assert r["b"] == 2 and r.a == 1.0 and isinstance(r, dict) and isinstance(r, DictResult)
    del r.b
    assert "b" not in r
    with pytest.raises(AttributeError):
        r.missing  # noqa: B018
    assert "a" in dir(r)


def test_fmt_shows_laws_and_schedules_by_their_own_repr_in_full():
    class Custom(cptlaw.CPTLaw):  # a user's law, defined outside the package
        pass

    law = Custom(*[1.123456789012345] * 8)
    sched = S.wsd(1e-3, 1000, decay_steps=100, warmup=10)
    assert len(repr(law)) > 100 and fmt(law) == repr(law)  # not cut at the width of other values
    assert fmt(sched) == repr(sched) and fmt(cptlaw.CPTLaw) == "CPTLaw"

    class Other:
        def __repr__(self):
            return "x" * 150

    assert fmt(Other()) == "x" * 97 + "..."
    assert fmt(cptlaw.areas(np.ones(3))) == "([1, 2, 3], [0, 0, 0])"  # a named tuple, element by element
