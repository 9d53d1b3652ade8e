"""``cptlaw plan`` and ``cptlaw grid``, run as real subprocesses.

The fits come from the real tinycpt runs bundled with the package (``cptlaw fit --json`` over them, and
``cptlaw demo``'s summary.json), plus P1's published parameter sets written as fit files; the PT
schedules are spec files written here. JSON outputs are checked against the Python API
(:mod:`cptlaw.planner`, :func:`cptlaw.grid`); bad inputs give one line and a non-zero exit.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from _cli import one_line_error, run_cli
from _data import tiny_csv

import cptlaw
from cptlaw import io
from cptlaw import planner as P

TINY_FIT = [tiny_csv(n) for n in ("pt_const", "pt_anneal", "cpt_const", "cpt_cos")]
PT_SPEC = {"kind": "wsd", "peak_lr": 0.003, "steps": 5000, "decay_steps": 1000, "warmup": 200, "min_lr": 0.0003}

# P1's published parameter sets (LAW.md 7), as fit files: a short WSD PT is pre-critical
P1 = {"law": "CPTLaw", "valsets": {
    "pt": {"params": dict(L0=3.057, A=0.490, alpha=0.497, C1=0.299, C2=0.298, B=0.366, E=28, beta=0.189)},
    "cpt": {"params": dict(L0=3.024, A=0.412, alpha=0.677, C1=0.278, C2=0.324, B=-0.666, E=5662, beta=0.146)}}}
P1_REPLAY = {"valsets": {
    "general": {"law": "ReplayPTLaw", "params": dict(L0=3.067, A=0.480, alpha=0.510, C1=0.280, C2=0.263, a1=0.055,
                                                     B=0.276, E=99.35, beta=0.2, a2=3.238)},
    "domain": {"law": "ReplayCPTLaw", "params": dict(L0=2.992, A=0.456, alpha=0.510, C1=0.285, C2=0.279, a1=0.037,
                                                     B=-0.526, E=100.34, beta=0.2, a2=1.0)}}}
P1_PT = {"pt": {"kind": "wsd", "peak_lr": 2e-4, "steps": 2000, "decay_steps": 200, "warmup": 200},
         "cpt": {"kind": "constant", "lr": 1e-4, "steps": 100}}  # a predict spec: its pt phase is used


def run_json(*args):
    p = run_cli(*args, "--json")
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def _write(path, obj):
    path.write_text(json.dumps(obj))
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("plan")
    fit = d / "fit.json"
    p = run_cli("fit", *TINY_FIT, "--warmup-as-peak", "-o", fit, "-q")
    assert p.returncode == 0, p.stderr
    return {"dir": d, "fit": fit, "pt": _write(d / "pt.json", PT_SPEC), "p1": _write(d / "p1.json", P1),
            "p1_pt": _write(d / "p1_pt.json", P1_PT), "replay": _write(d / "replay.json", P1_REPLAY)}


def _laws(path, pt="pt", cpt="cpt"):
    fits = io.read_fit(path)
    area = dict(fits[pt]["domain"]["area_options"] if fits[pt].get("domain") else fits[pt]["area_options"])
    return fits[pt]["law"], fits[cpt]["law"], area


def _pt(spec):
    return io.schedule_from_spec(spec["pt"] if "pt" in spec else spec)


# ======================================================================================
# plan
# ======================================================================================


def test_plan_json_matches_planner(files):
    out = run_json("plan", "--params", files["fit"], "--pt", files["pt"], "--w", "0.2", "0.5,0.9",
                   "--cpt-steps", 2000, "--optimize", "peak_lr,steps", "--steps-bounds", "10:20000")
    law_pt, law_cpt, area = _laws(files["fit"])
    assert area["warmup_as_peak"] is True and out["fits"]["area_options"] == area
    assert out["fits"]["valsets"] == {"pt": "pt", "cpt": "cpt"}
    pt = _pt(PT_SPEC)
    assert out["pt_schedule"]["steps"] == 5000 and out["pt_schedule"]["peak_lr"] == 0.003
    assert out["loss_potential"] == pytest.approx(P.loss_potential(pt), rel=1e-12)
    cp = P.critical_point(law_pt, pt, **area)
    assert out["critical_point"]["level"] == pytest.approx(cp.level, rel=1e-12)
    assert out["critical_point"]["pre_critical"] is cp.pre_critical
    assert out["loss_at_transfer"]["pt"] == pytest.approx(cp.loss_at_transfer, rel=1e-12)
    tl = P.turning_length(law_pt, pt, **area)
    assert out["turning_length"]["finite"] is tl.finite
    assert out["turning_length"]["steps"] == (int(tl.steps) if tl.finite else None)
    assert [r["w"] for r in out["results"]] == [0.2, 0.5, 0.9]
    assert out["peak_lr_bounds"] == [pytest.approx(3e-5), 0.003]
    for r in out["results"]:
        o = P.optimal_peak_lr(law_pt, law_cpt, r["w"], pt, 2000, bounds=(3e-5, 3e-3), **area)
        got = r["optima"]["peak_lr"]
        assert got["value"] == pytest.approx(o.value, rel=1e-9)
        assert got["at_bound"] is o.at_bound and (got["bound"] is None) == (not o.at_bound)
        for k in ("loss_pt", "loss_cpt", "objective"):
            assert got[k] == pytest.approx(getattr(o, k), rel=1e-12)
        s = P.optimal_cpt_steps(law_pt, law_cpt, r["w"], pt, o.value, bounds=(10, 20000), **area)
        got = r["optima"]["steps"]
        assert got["value"] == s.value and isinstance(got["value"], int)
        assert got["objective"] == pytest.approx(s.objective, rel=1e-12)
        assert got["plan"]["peak_lr"] == pytest.approx(o.value, rel=1e-12)


def test_plan_text(files):
    p = run_cli("plan", "--params", files["fit"], "--pt", files["pt"], "--w", "0.1:0.9:3")
    assert p.returncode == 0, p.stderr
    for s in ("loss potential", "critical point (D_pt)", "turning length (D_pt)", "post-critical", "infinite",
              "peak LR searched in [3e-05, 0.003]", "peak_lr"):
        assert s in p.stdout, (s, p.stdout)
    rows = [ln.split() for ln in p.stdout.splitlines() if ln.split()[:2] in (["0.1", "peak_lr"], ["0.5", "peak_lr"],
                                                                                  ["0.9", "peak_lr"])]
    assert len(rows) == 3
    # what was judged about extrapolation: the PT checkpoint once, then each plan's CPT schedule
    text = p.stdout.split("extrapolation judged against the fitted runs", 1)[1].splitlines()[1:]
    assert text[0].split()[:4] == ["PT", "checkpoint", "peak", "LR"]
    plans = [ln for ln in text if ln.split()[:1] == ["w"]]
    assert len(plans) == 3 and all("CPT peak LR" in ln and "loss potential" in ln for ln in plans)
    out = run_json("plan", "--params", files["fit"], "--pt", files["pt"], "--w", "0.1:0.9:3")
    flagged = 0
    for r, line in zip(out["results"], plans):
        checks = r["optima"]["peak_lr"]["extrapolation"]
        assert set(checks) == {"pt", "cpt"}
        cpt = {c["quantity"]: c for c in checks["pt"] if c["phase"] == "cpt"}
        assert cpt["peak LR"]["value"] == pytest.approx(r["optima"]["peak_lr"]["value"])
        assert cpt["length"]["value"] == out["plan"]["steps"]
        assert ("OUTSIDE" in line) == (not all(c["inside"] for c in checks["pt"]))
        flagged += "OUTSIDE" in line
    # one warning line for all the plans judged outside (none when none is)
    assert p.stderr.count("cptlaw: warning:") == (1 if flagged else 0)
    if flagged:
        assert f"{flagged} of 3 plans lie outside the runs the laws were fitted on" in p.stderr


def test_plan_on_demo_summary_and_fixed_peak(files):
    out_dir = files["dir"] / "demo"
    p = run_cli("demo", "--out", out_dir, "--n-boot", 0, "--no-plot")
    assert p.returncode == 0, p.stderr
    summary = out_dir / "summary.json"
    out = run_json("plan", "--params", summary, "--pt", files["pt"], "--peak-lr", 1e-4, "--shape", "wsd",
                   "--decay-frac", 0.2, "--warmup", 100, "--w", "0,0.5,1")
    assert out["optimize"] == [] and out["plan"]["peak_lr"] == 1e-4
    law_pt, law_cpt, area = _laws(summary)
    pt = _pt(PT_SPEC)
    ev = P.evaluate(law_pt, law_cpt, pt, {"peak_lr": [1e-4], "steps": [5000], "shape": ["wsd"], "warmup": [100],
                                          "decay_frac": [0.2]}, w=0.5, **area)
    for r in out["results"]:
        assert r["loss_pt"] == pytest.approx(ev["loss_pt"][0], rel=1e-12)
        assert r["loss_cpt"] == pytest.approx(ev["loss_cpt"][0], rel=1e-12)
        assert r["objective"] == pytest.approx(r["w"] * r["loss_pt"] + (1 - r["w"]) * r["loss_cpt"], rel=1e-12)


def test_plan_finite_turning_length_and_other_optima(files):
    """P1's laws after a short WSD PT: pre-critical, finite turning length; WSD decay fraction,
    re-warmup and final LR optimised at the optimal peak LR."""
    out = run_json("plan", "--params", files["p1"], "--pt", files["p1_pt"], "--cpt-steps", 20000, "--shape", "wsd",
                   "--warmup", 500, "--w", 0.7, "--optimize", "peak_lr,decay_frac,warmup,min_lr_ratio")
    law_pt, law_cpt, area = _laws(files["p1"])
    pt = _pt(P1_PT)
    assert out["pt_schedule"]["steps"] == 2000
    tl = P.turning_length(law_pt, pt, **area)
    assert tl.finite and out["turning_length"] == {**out["turning_length"], "steps": int(tl.steps), "finite": True}
    assert out["critical_point"]["pre_critical"] is True
    (r,) = out["results"]
    plan = dict(shape="wsd", warmup=500, decay_frac=0.1, min_lr_ratio=0.0)
    o = P.optimal_peak_lr(law_pt, law_cpt, 0.7, pt, 20000, bounds=(2e-6, 2e-4), **plan, **area)
    assert r["optima"]["peak_lr"]["value"] == pytest.approx(o.value, rel=1e-9)
    fixed = dict(plan, peak_lr=o.value, steps=20000)
    for q in ("decay_frac", "warmup", "min_lr_ratio"):
        kw = {k: v for k, v in fixed.items() if k != q}
        want = P.optimize_cpt(law_pt, law_cpt, 0.7, pt, q, None, **kw, **area)
        assert r["optima"][q]["value"] == pytest.approx(want.value, rel=1e-9), q
        assert r["optima"][q]["objective"] == pytest.approx(want.objective, rel=1e-12), q


def test_plan_replay_laws_and_guessed_valsets(files):
    out = run_json("plan", "--params", files["replay"], "--pt", files["p1_pt"], "--cpt-steps", 20000, "--w", 0.8,
                   "--replay", 0.25, "--optimize", "peak_lr,replay")
    assert out["fits"]["valsets"] == {"pt": "general", "cpt": "domain"}
    assert out["fits"]["laws"] == {"pt": "ReplayPTLaw", "cpt": "ReplayCPTLaw"}
    law_pt, law_cpt, area = _laws(files["replay"], "general", "domain")
    pt = _pt(P1_PT)
    cp = P.critical_point(law_pt, pt, r_pt=0.25, **area)
    assert out["critical_point"]["level"] == pytest.approx(cp.level, rel=1e-12)
    o = P.optimal_peak_lr(law_pt, law_cpt, 0.8, pt, 20000, bounds=(2e-6, 2e-4), r_pt=0.25, **area)
    rr = P.optimal_replay_ratio(law_pt, law_cpt, 0.8, pt, o.value, 20000, **area)
    got = out["results"][0]["optima"]
    assert got["peak_lr"]["value"] == pytest.approx(o.value, rel=1e-9)
    assert got["r_pt"]["value"] == pytest.approx(rr.value, rel=1e-9, abs=1e-12)
    assert got["r_pt"]["loss_pt"] == pytest.approx(rr.loss_pt, rel=1e-12)


def test_plan_valset_flags(files):
    renamed = json.loads(files["p1"].read_text())
    renamed["valsets"] = {"prose": renamed["valsets"]["pt"], "code": renamed["valsets"]["cpt"]}
    path = _write(files["dir"] / "renamed.json", renamed)
    line = one_line_error(run_cli("plan", "--params", path, "--pt", files["p1_pt"]), 2)
    assert "--pt-valset" in line and "'prose', 'code'" in line
    out = run_json("plan", "--params", path, "--pt", files["p1_pt"], "--pt-valset", "prose", "--cpt-valset", "code")
    ref = run_json("plan", "--params", files["p1"], "--pt", files["p1_pt"])
    assert out["results"] == ref["results"] and out["critical_point"] == ref["critical_point"]


# ======================================================================================
# grid
# ======================================================================================

GRID_ARGS = ("--shape", "cosine,wsd", "--peak-lr", "1e-5:2e-3:8", "--steps", "1000,2000", "--decay-frac", "0.1,0.2",
             "--warmup", "0:100:2", "--w", "0.5")


def _api_grid(path, **kw):
    law_pt, law_cpt, area = _laws(path)
    pt = _pt(PT_SPEC)._warmup_view(area["warmup_as_peak"])  # areas with the fit's warmup convention
    cpt = dict(shape=["cosine", "wsd"], peak_lr=np.geomspace(1e-5, 2e-3, 8), steps=[1000, 2000], warmup=[0, 100],
               start_lr="pt", min_lr_ratio=0.0, decay_frac=[0.1, 0.2], decay_type="linear")
    return cptlaw.grid({"pt": law_pt, "cpt": law_cpt}, pt=pt, cpt=cpt, w=0.5, decay=area["decay"],
                       split=area["split"], **kw)


def test_grid_best_json_matches_api(files):
    out = run_json("grid", "--params", files["fit"], "--pt", files["pt"], *GRID_ARGS, "--best", 5)
    ref = _api_grid(files["fit"], reduce="min", k=5)
    assert out["rows_total"] == 8 * 2 * 2 + 8 * 2 * 2 * 2 == ref.attrs["rows_total"]
    assert out["objective"] == "loss" and out["by"] == [] and out["best"] == 5
    assert [r["row"] for r in out["rows"]] == list(ref.index) and [r["rank"] for r in out["rows"]] == [1, 2, 3, 4, 5]
    for r, (_, want) in zip(out["rows"], ref.iterrows()):
        assert r["cpt_shape"] == want["cpt_shape"] and r["cpt_steps"] == want["cpt_steps"]
        assert r["cpt_peak_lr"] == pytest.approx(want["cpt_peak_lr"], rel=1e-12)
        for k in ("loss_pt", "loss_cpt", "loss"):
            assert r[k] == pytest.approx(want[k], rel=1e-12)
    assert "pt" not in out["columns"] and "step" not in out["columns"]


def test_grid_csv_full_grid_and_text(files, tmp_path):
    csv = tmp_path / "grid.csv"
    p = run_cli("grid", "--params", files["fit"], "--pt", files["pt"], *GRID_ARGS, "--csv", csv, "--best", 3,
                "--by", "steps")
    assert p.returncode == 0, p.stderr
    assert "best 3 per steps of 96 rows by loss" in p.stdout and f"all rows written to {csv}" in p.stdout
    df = pd.read_csv(csv, index_col="row")
    ref = _api_grid(files["fit"])
    assert len(df) == len(ref) == 96 and list(df.index) == list(ref.index)
    np.testing.assert_allclose(df["cpt_peak_lr"], ref["cpt_peak_lr"], rtol=1e-15)
    assert sorted(set(df["cpt_peak_lr"])) == pytest.approx(np.geomspace(1e-5, 2e-3, 8), rel=1e-12)
    assert sorted(set(df["cpt_warmup"])) == [0, 100]
    for k in ("loss_pt", "loss_cpt", "loss"):
        np.testing.assert_allclose(df[k], ref[k], rtol=1e-14)
    # the printed best rows equal the streaming reduction's
    best = _api_grid(files["fit"], reduce="min", k=3, group_by="cpt_steps")
    table = [ln.split() for ln in p.stdout.splitlines() if ln.split() and ln.split()[0] in ("1", "2", "3")]
    assert len(table) == 6
    assert [float(t[-1]) for t in table] == pytest.approx(best["loss"].round(5).tolist(), abs=1e-12)
    # the JSON rows of the CSV path and of the reduction agree
    a = run_json("grid", "--params", files["fit"], "--pt", files["pt"], *GRID_ARGS, "--best", 3, "--by", "steps",
                 "--csv", tmp_path / "again.csv")
    b = run_json("grid", "--params", files["fit"], "--pt", files["pt"], *GRID_ARGS, "--best", 3, "--by", "steps")
    assert a["rows"] == b["rows"] and a["csv"] and b["csv"] is None


def test_grid_agrees_with_planner(files):
    """The grid's rows (re-warmup from the checkpoint's LR) are the planner's plans."""
    out = run_json("grid", "--params", files["fit"], "--pt", files["pt"], "--shape", "cosine,constant",
                   "--peak-lr", "3e-5,3e-4", "--steps", 1500, "--warmup", "0,200", "--w", "0.3,0.6", "--best", 100)
    assert out["by"] == ["w"] and len(out["rows"]) == 16
    law_pt, law_cpt, area = _laws(files["fit"])
    pt = _pt(PT_SPEC)
    for r in out["rows"]:
        ev = P.evaluate(law_pt, law_cpt, pt, {"peak_lr": [r["cpt_peak_lr"]], "steps": [1500],
                                              "shape": [r["cpt_shape"]], "warmup": [r["cpt_warmup"]]},
                        w=r["w"], **area)
        assert r["loss_pt"] == pytest.approx(ev["loss_pt"][0], rel=1e-11)
        assert r["loss_cpt"] == pytest.approx(ev["loss_cpt"][0], rel=1e-11)
        assert r["loss"] == pytest.approx(ev["objective"][0], rel=1e-11)


def test_grid_replay_and_objective(files):
    out = run_json("grid", "--params", files["replay"], "--pt", files["p1_pt"], "--peak-lr", "2e-5:2e-4:4",
                   "--steps", 20000, "--replay", "0:0.5:3", "--objective", "loss_pt", "--best", 1, "--by", "replay")
    assert [r["replay"] for r in out["rows"]] == [0.0, 0.25, 0.5] and out["objective"] == "loss_pt"
    law_pt, law_cpt, area = _laws(files["replay"], "general", "domain")
    ref = cptlaw.grid({"pt": law_pt, "cpt": law_cpt}, pt=_pt(P1_PT), replay=[0, 0.25, 0.5],
                      cpt=dict(shape="cosine", peak_lr=np.geomspace(2e-5, 2e-4, 4), steps=20000, start_lr="pt",
                               min_lr_ratio=0.0),
                      reduce="min", objective="loss_pt", group_by="replay")
    assert [r["row"] for r in out["rows"]] == list(ref.index)
    assert [r["loss_pt"] for r in out["rows"]] == pytest.approx(ref["loss_pt"].tolist(), rel=1e-12)


# ======================================================================================
# bad inputs and help
# ======================================================================================

BAD = [
    (("grid", "--peak-lr", "1e-5:2e-4"), 2, "--peak-lr: expected start:stop:count"),
    (("grid", "--peak-lr", "0:1e-3:4"), 2, "--peak-lr: values must be > 0"),
    (("grid", "--peak-lr", "1e-5:2e-4:x"), 2, "--peak-lr: expected start:stop:count with a whole count"),
    (("grid", "--steps", "10.5"), 2, "--steps: expected a whole number"),
    (("grid", "--steps", "1000,,2000"), 2, "--steps: empty item"),
    (("grid", "--shape", "cosine,foo"), 2, "--shape: unknown value 'foo'"),
    (("grid", "--w", "1.5"), 2, "--w: values must be in [0, 1]"),
    (("grid", "--by", "nothing"), 2, "--by: no column 'nothing'"),
    (("grid", "--objective", "loss"), 2, "--objective loss: the weighted loss needs --w"),
    (("grid", "--replay", "0.1"), 2, "--replay: the fitted laws take no replay ratio"),
    (("grid", "--best", "0"), 2, "--best: must lie in 1..100,000, got 0"),
    (("plan", "--w", "2"), 2, "--w: values must be in [0, 1]"),
    (("plan", "--optimize", "foo"), 2, "--optimize: unknown quantity 'foo'"),
    (("plan", "--optimize", "decay_fraction"), 2, "--optimize decay_frac: needs --shape wsd"),
    (("plan", "--peak-lr", "1e-4", "--optimize", "peak_lr"), 2, "--peak-lr: fixes the peak LR"),
    (("plan", "--max-lr", "-1"), 2, "--max-lr: must be a finite number > 0"),
    (("plan", "--steps-bounds", "100"), 2, "--steps-bounds: only used with --optimize steps"),
    (("plan", "--optimize", "steps", "--steps-bounds", "5:1"), 2, "--steps-bounds: LOW must be <= HIGH"),
    (("plan", "--warmup", "9000"), 2, "--warmup: must be <= the CPT steps (5000)"),
    (("plan", "--pt-valset", "nope"), 2, "--pt-valset 'nope': not among the validation sets"),
    (("plan", "--cpt-valset", "pt"), 2, "--pt-valset, --cpt-valset: both name 'pt'"),
    (("plan", "--optimize", "r_pt"), 2, "--optimize r_pt: the fitted laws take no replay ratio"),
    (("plan", "--cpt-steps", "x"), 2, "argument --cpt-steps: expected a whole number, got 'x'"),
]


def _bad_argv(files, args):
    cmd, *rest = args
    base = ["--params", str(files["fit"]), "--pt", str(files["pt"])]
    if cmd == "grid" and "--peak-lr" not in rest:
        base += ["--peak-lr", "1e-4"]
    if cmd == "grid" and "--steps" not in rest:
        base += ["--steps", "1000"]
    return [cmd, *base, *rest]


@pytest.mark.parametrize("args,code,message", BAD, ids=[" ".join(b[0]) for b in BAD])
def test_bad_arguments(files, args, code, message, capsys):
    """In process (cptlaw.cli.main, fast): exit status and one line naming the argument."""
    from cptlaw.cli import main

    assert main(_bad_argv(files, args)) == code
    err = capsys.readouterr()
    assert err.out == ""
    lines = err.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cptlaw: error: ") and message in lines[0], err.err


@pytest.mark.parametrize("i", [0, 12, 22], ids=lambda i: " ".join(BAD[i][0]))
def test_bad_arguments_console_script(files, i):
    """The same through the real console script: one line, no traceback."""
    args, code, message = BAD[i]
    line = one_line_error(run_cli(*_bad_argv(files, args)), code)
    assert line.startswith("cptlaw: error: ") and message in line, line


def test_bad_files(files, tmp_path):
    pt = files["pt"]
    line = one_line_error(run_cli("plan", "--params", tmp_path / "missing.json", "--pt", pt), 1)
    assert line == f"{tmp_path / 'missing.json'}: error: file not found"
    bad = tmp_path / "bad.json"
    bad.write_text('{"kind": "wsd",\n "peak_lr": 3e-3, "steps": 5000,\n}')
    line = one_line_error(run_cli("grid", "--params", files["fit"], "--pt", bad, "--peak-lr", "1e-4", "--steps", 10), 1)
    assert line.startswith(f"{bad}:3:1: error: invalid JSON")
    no_decay = _write(tmp_path / "wsd.json", {"kind": "wsd", "peak_lr": 3e-3, "steps": 5000})
    line = one_line_error(run_cli("plan", "--params", files["fit"], "--pt", no_decay), 1)
    assert line.startswith(f"{no_decay}:1:1: error: schedule 'wsd' needs 'decay_steps'")
    runs = _write(tmp_path / "runs.json", {"runs": {"a": PT_SPEC, "b": PT_SPEC}})
    line = one_line_error(run_cli("plan", "--params", files["fit"], "--pt", runs), 2)
    assert "the spec holds several runs ('a', 'b'); pick one with --pt-run" in line
    assert run_cli("plan", "--params", files["fit"], "--pt", runs, "--pt-run", "b").returncode == 0
    single = tmp_path / "single.json"
    p = run_cli("fit", TINY_FIT[0], "--valset", "cpt", "-o", single, "-q")
    assert p.returncode == 0, p.stderr
    line = one_line_error(run_cli("grid", "--params", single, "--pt", pt, "--peak-lr", "1e-4", "--steps", 10), 1)
    assert line.startswith(f"{single}: error: holds the fit of a single validation set ('cpt')")
    annealing = json.loads(files["p1"].read_text())
    annealing["valsets"]["pt"] = {"law": "AnnealingLaw", "params": dict(L0=3.0, A=0.5, alpha=0.5, C=0.3)}
    path = _write(tmp_path / "annealing.json", annealing)
    line = one_line_error(run_cli("plan", "--params", path, "--pt", pt), 1)
    assert "AnnealingLaw is not a CPT law" in line


def test_help_documents_ranges_and_json(files):
    p = run_cli("grid", "--help")
    assert p.returncode == 0
    text = " ".join(p.stdout.split())
    assert "start:stop:count" in text and "log-spaced for learning rates" in text and "linear for step counts" in text
    p = run_cli("plan", "--help")
    text = " ".join(p.stdout.split())
    assert "an infinite turning length is null (finite: false)" in text.replace("JSON has no infinity: a", "a")
    p = run_cli("--help")
    assert " plan " in p.stdout and " grid " in p.stdout


def test_in_process_main(files, capsys):
    """cptlaw.cli.main itself (no subprocess): the same JSON, and usage errors as exit status 2."""
    from cptlaw.cli import main

    assert main(["plan", "--params", str(files["p1"]), "--pt", str(files["p1_pt"]), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["turning_length"]["finite"] is True and math.isfinite(out["results"][0]["optima"]["peak_lr"]["value"])
    assert main(["grid", "--params", str(files["p1"]), "--pt", str(files["p1_pt"]), "--peak-lr", "1e-4:1e-3",
                 "--steps", "10"]) == 2
    assert capsys.readouterr().err.strip() == "cptlaw: error: --peak-lr: expected start:stop:count, got '1e-4:1e-3'"
