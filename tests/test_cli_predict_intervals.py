"""What ``cptlaw fit`` writes for predictions and ``cptlaw predict`` / ``plan`` make of it: the
per-phase fitted domain, the parameters the data do not determine, the covariance and residual
scale behind prediction intervals (``--interval``, ``--level``), and the extrapolation
judgements printed and in JSON. Fit files of earlier versions still work."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from _cli import one_line_error, run_cli
from _data import tiny_csv

import cptlaw
from cptlaw import io
from cptlaw.intervals import predict_interval

FIT_FILES = [tiny_csv(n) for n in ("pt_const", "pt_anneal", "cpt_const", "cpt_cos")]
SPEC = {"runs": {
    "wsd": {"pt": {"kind": "constant", "lr": 3e-3, "steps": 5000},
            "cpt": {"kind": "wsd", "peak_lr": 3e-3, "steps": 4000, "decay_steps": 800}},
    "low": {"pt": {"kind": "constant", "lr": 3e-3, "steps": 5000},
            "cpt": {"kind": "cosine", "peak_lr": 3e-5, "steps": 4000}}}}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("intervals")
    p = run_cli("fit", *FIT_FILES, "--warmup-as-peak", "-o", d / "fit.json", "-q")
    assert p.returncode == 0, p.stderr
    (d / "spec.json").write_text(json.dumps(SPEC))
    return d


# ======================================================================================
# the fit file
# ======================================================================================


def test_fit_file_records_what_predictions_use(files):
    doc = json.loads((files / "fit.json").read_text())
    for vs in ("pt", "cpt"):
        rec = doc["valsets"][vs]
        dom = rec["domain"]
        assert dom["pt"] == {"peak_lr": [0.003, 0.003], "steps": [5000, 5000]}
        assert dom["cpt"]["steps"] == [4000, 4000] and dom["cpt"]["loss_potential"] == [1.0, 1.0]
        assert dom["max_step"] == 9000 and dom["peak_lr"] == [0.003, 0.003]
        assert rec["unidentifiable"] == {}
        assert np.shape(rec["covariance"]) == (8, 8) and rec["dof"] == rec["n_points"] - 8
        assert rec["residual_space"] == "log" and 0 < rec["residual_std"] < 0.05
    fits = io.read_fit(files / "fit.json")
    cov = fits["pt"]["covariance"]
    assert cov.shape == (8, 8) and np.allclose(cov, cov.T) and np.all(np.diag(cov) > 0)
    assert fits["pt"]["domain"]["cpt"]["loss_potential"] == (1.0, 1.0)


_OLD = {"law": "AnnealingLaw", "params": {"L0": 2.0, "A": 1.0, "alpha": 0.5, "C": 0.3},
        "domain": {"peak_lr": [1e-4, 3e-4], "max_step": 5000}}
_NEW = dict(_OLD, domain=dict(_OLD["domain"], pt={"peak_lr": [1e-4, 3e-4], "steps": [5000, 5000]}, cpt=None),
            covariance=[[1e-4, 0, 0, 0], [0, 1e-4, 0, 0], [0, 0, 1e-4, 0], [0, 0, 0, None]],
            residual_std=0.01, residual_space="log", dof=96, unidentifiable={"C": "no LR decay"})


def _text(**change):
    fit = json.loads(json.dumps(_NEW))
    for key, value in change.items():
        node = fit
        *parents, last = key.split("__")
        for p in parents:
            node = node[p]
        node[last] = value
    return json.dumps(fit, indent=1)


@pytest.mark.parametrize("text, match, where", [
    (_text(domain__pt__steps=[5000.5, 6000]), "domain.pt.steps must be [low, high]: two whole numbers", '"steps"'),
    (_text(domain__pt__peak_lr=[0, 1e-3]), "domain.pt.peak_lr must be [low, high]: two learning rates > 0",
     '"peak_lr"'),
    (_text(domain__pt__extra=1), "unknown key 'extra' in domain.pt", '"extra"'),
    (_text(domain__cpt={"peak_lr": [1e-4, 1e-4], "steps": [10, 10]}), "domain.cpt lacks 'loss_potential'",
     '"cpt"'),
    (_text(domain__cpt=[1]), "domain.cpt must be an object", '"cpt"'),
    (_text(covariance=[[1, 2], [3, 4]]), "\"covariance\" must be a 4 x 4 matrix", '"covariance"'),
    (_text(residual_std=-1), "\"residual_std\" must be a finite number >= 0", '"residual_std"'),
    (_text(residual_space="linear"), "\"residual_space\" must be \"log\" or \"loss\"", '"residual_space"'),
    (_text(dof=2.5), "\"dof\" must be a whole number", '"dof"'),
    (_text(unidentifiable={"gamma": "x"}), "unknown parameter 'gamma' in \"unidentifiable\"", '"gamma"'),
    (_text(unidentifiable=["C"]), "\"unidentifiable\" must map parameter names to reasons", '"unidentifiable"'),
])
def test_read_fit_validates_the_new_fields(tmp_path, text, match, where):
    p = tmp_path / "fit.json"
    p.write_text(text)
    with pytest.raises(io.DataError, match=re.escape(match)) as exc:
        io.read_fit(p)
    line = text.splitlines()[exc.value.line - 1]
    assert where in line, (str(exc.value), line)


def test_read_fit_new_and_old_files(tmp_path):
    from cptlaw.io.fitfile import interval_inputs

    p = tmp_path / "new.json"
    p.write_text(_text())
    (fit,) = io.read_fit(p).values()
    assert fit["domain"]["pt"] == {"peak_lr": (1e-4, 3e-4), "steps": (5000, 5000)} and fit["domain"]["cpt"] is None
    assert np.isnan(fit["covariance"][3, 3]) and fit["unidentifiable"] == {"C": "no LR decay"}
    assert interval_inputs(fit) is None
    p.write_text(json.dumps(_OLD))
    (old,) = io.read_fit(p).values()
    assert "pt" not in old["domain"] and old["covariance"] is None and old["unidentifiable"] == {}
    assert interval_inputs(old) == "covariance, residual_std, dof"


# ======================================================================================
# predict: intervals
# ======================================================================================


def test_predict_prediction_intervals_are_the_delta_method(files):
    p = run_cli("predict", "--params", files / "fit.json", "--schedule", files / "spec.json", "--run", "wsd",
                "--steps", "5000:9000:5", "--json", "-q")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["interval"] == {"kind": "prediction", "name": "prediction_interval", "columns": ["pi_lo", "pi_hi"],
                               "level": 0.95, "method": "delta", "meaning": out["interval"]["meaning"]}
    assert "observation noise" in out["interval"]["meaning"]
    run = out["runs"]["wsd"]
    fits = io.read_fit(files / "fit.json")
    sched = cptlaw.schedules.wsd(peak_lr=3e-3, steps=4000, decay_steps=800)
    r = cptlaw.Run(np.full(5000, 3e-3), run["steps"], lr_cpt=sched.values())
    for vs in ("pt", "cpt"):
        iv = predict_interval(fits[vs], r.features(cptlaw.CPTLaw, warmup_as_peak=True), level=0.95)
        np.testing.assert_allclose(run["pi_lo"][vs], iv.low, rtol=1e-12)
        np.testing.assert_allclose(run["pi_hi"][vs], iv.high, rtol=1e-12)
        lo, mid, hi = (np.array(run[k][vs]) for k in ("pi_lo", "loss", "pi_hi"))
        assert np.all(lo < mid) and np.all(mid < hi)
    # a confidence band is narrower (no observation noise); a lower level narrows too
    c = json.loads(run_cli("predict", "--params", files / "fit.json", "--schedule", files / "spec.json", "--run",
                           "wsd", "--steps", "5000:9000:5", "--json", "-q", "--interval", "confidence").stdout)
    half = json.loads(run_cli("predict", "--params", files / "fit.json", "--schedule", files / "spec.json", "--run",
                              "wsd", "--steps", "5000:9000:5", "--json", "-q", "--level", "0.5").stdout)
    assert c["interval"]["columns"] == ["ci_lo", "ci_hi"] and "pi_lo" not in c["runs"]["wsd"]
    for vs in ("pt", "cpt"):
        width = np.subtract(run["pi_hi"][vs], run["pi_lo"][vs])
        assert np.all(np.subtract(c["runs"]["wsd"]["ci_hi"][vs], c["runs"]["wsd"]["ci_lo"][vs]) < width)
        assert np.all(np.subtract(half["runs"]["wsd"]["pi_hi"][vs], half["runs"]["wsd"]["pi_lo"][vs]) < width)
    none = json.loads(run_cli("predict", "--params", files / "fit.json", "--schedule", files / "spec.json", "--run",
                              "wsd", "--json", "-q", "--interval", "none").stdout)
    assert none["interval"] is None and "pi_lo" not in none["runs"]["wsd"]


def test_fit_file_without_interval_inputs(tmp_path):
    """An older fit file: no intervals by default (with a note); asking for one is a located error."""
    fit = tmp_path / "old.json"
    fit.write_text(json.dumps(_OLD))
    spec = tmp_path / "s.json"
    spec.write_text(json.dumps({"kind": "cosine", "peak_lr": 2e-4, "steps": 100}))
    p = run_cli("predict", "--params", fit, "--schedule", spec, "--steps", "10,100", "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["interval"] is None
    assert p.stderr.strip() == (f"cptlaw: warning: no prediction intervals: {fit} lacks covariance, residual_std, dof "
                                "(a fit file of an earlier cptlaw, or written by hand; `cptlaw fit -o` writes them); "
                                "--interval none silences this")
    q = run_cli("predict", "--params", fit, "--schedule", spec, "--interval", "prediction")
    assert one_line_error(q, 1).startswith(f"{fit}: error: --interval prediction: needs the fit's covariance")
    r = run_cli("predict", "--params", fit, "--schedule", spec, "--interval", "none", "--level", "0.9")
    assert "--level: sets the coverage of an interval" in one_line_error(r, 2)
    for bad in ("1", "0", "nan", "1.5"):
        assert "argument --level" in one_line_error(run_cli("predict", "--params", fit, "--schedule", spec,
                                                            "--level", bad), 2)


# ======================================================================================
# predict and fit: what the data do not determine, what is extrapolated
# ======================================================================================


def test_predict_prints_and_returns_its_extrapolation_judgements(files):
    p = run_cli("predict", "--params", files / "fit.json", "--schedule", files / "spec.json", "--steps",
                "5000:9000:3")
    assert p.returncode == 0, p.stderr
    blocks = p.stdout.split("run ")[1:]
    wsd, low = (b for b in blocks)
    assert "extrapolation judged against the fitted runs: inside" in wsd
    assert "extrapolation judged against the fitted runs: 1 of 5 OUTSIDE" in low
    (line,) = [ln for ln in low.splitlines() if "CPT peak LR" in ln]
    assert line.split()[:4] == ["CPT", "peak", "LR", "3e-05"] and "fitted [0.003, 0.003]" in line
    assert "OUTSIDE (judged inside [0.002, 0.0045])" in line
    assert p.stdout.rstrip().splitlines()[-1].startswith("pi_lo, pi_hi: the 95% prediction interval")
    # the warning, once per run (not per validation set)
    assert p.stderr.count("CPT peak LR 3e-05 is outside the fitted CPT runs' range") == 1
    j = json.loads(run_cli("predict", "--params", files / "fit.json", "--schedule", files / "spec.json", "--json",
                           "-q").stdout)
    for vs in ("pt", "cpt"):
        checks = {(c["phase"], c["quantity"]): c for c in j["runs"]["low"]["extrapolation"][vs]}
        assert set(checks) == {("pt", "peak LR"), ("pt", "length"), ("cpt", "peak LR"), ("cpt", "length"),
                               ("cpt", "loss potential")}
        bad = checks[("cpt", "peak LR")]
        assert bad["inside"] is False and bad["value"] == pytest.approx(3e-5) and bad["fitted"][1] == 0.003
        assert all(c["inside"] for c in j["runs"]["wsd"]["extrapolation"][vs])


def test_pt_only_fit_says_what_it_cannot_determine(tmp_path):
    """`cptlaw fit pt_only.csv --law cpt`: the shift parameters undetermined, said per validation
    set (text), in the fit file and on stderr with --json; a CPT prediction from it has an
    unbounded interval and is judged outside (no fitted run has a CPT phase)."""
    fit = tmp_path / "fit.json"
    p = run_cli("fit", tiny_csv("pt_const"), "--law", "cpt", "--warmup-as-peak", "-o", fit, "-q")
    assert p.returncode == 0, p.stderr
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("  not determined by the data")]
    assert len(lines) == 2  # one per validation set
    for ln in lines:
        assert "B, E, beta (no CPT steps in the data: s1_cpt is 0 at every point)" in ln
    doc = json.loads(fit.read_text())
    for vs in ("pt", "cpt"):
        un = doc["valsets"][vs]["unidentifiable"]
        assert {"B", "E", "beta"} <= set(un) and doc["valsets"][vs]["domain"]["cpt"] is None
    j = run_cli("fit", tiny_csv("pt_const"), "--law", "cpt", "--warmup-as-peak", "--json")
    assert sum("not determined by the data: " in ln for ln in j.stderr.splitlines()) == 2
    spec = tmp_path / "s.json"
    spec.write_text(json.dumps(SPEC["runs"]["wsd"]))
    q = run_cli("predict", "--params", fit, "--schedule", spec, "--steps", "4000,6000", "--json")
    assert q.returncode == 0, q.stderr
    out = json.loads(q.stdout)
    for vs in ("pt", "cpt"):
        assert out["pi_lo"][vs][0] is not None and out["pi_hi"][vs][1] is None  # unbounded in the CPT phase
        phase = [c for c in out["extrapolation"][vs] if c["quantity"] == "phase"]
        assert len(phase) == 1 and phase[0]["inside"] is False and phase[0]["fitted"] is None
    assert "prediction interval is unbounded at 1 of 2 steps" in q.stderr
    assert "no fitted run has a CPT phase" in q.stderr
    t = run_cli("predict", "--params", fit, "--schedule", spec, "--steps", "4000,6000", "-q")
    (line,) = [ln for ln in t.stdout.splitlines() if ln.split()[:2] == ["CPT", "phase"]]
    assert "OUTSIDE: no fitted run has a CPT phase" in line
