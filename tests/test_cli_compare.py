"""``cptlaw compare`` as a subprocess on tinycpt set A (the nine runs without replay, read from
their curve.csv files as ``cptlaw fit`` reads them), against :func:`cptlaw.compare` on the same
runs; the folds (run, checkpoint, a CSV column); bad input; and the readers' ``group_column``.

Measured (LRs interpolated from the logged ones, as the CLI reads these files), CPTLaw vs
CPTSharedCLaw: leave one run out, mean held-out MAE D_pt 0.038 vs 0.041, D_cpt 0.025 vs 0.024 (a
tie; the 7-parameter law preferred); leave one checkpoint out, the annealed-checkpoint runs D_pt
0.24-0.26 vs 0.048-0.064, D_cpt 0.066-0.072 vs 0.029-0.034, over both groups D_pt 0.232 vs 0.067,
D_cpt 0.154 vs 0.036.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from _cli import one_line_error, run_batch, run_cli
from _data import tiny_csv
from _tinycpt import CPT_FROM_ANNEAL, CPT_FROM_CONST, PT

import cptlaw
from cptlaw import io
from cptlaw.laws import law_names

NO_REPLAY = PT + CPT_FROM_CONST + CPT_FROM_ANNEAL
FILES = [tiny_csv(n) for n in NO_REPLAY]
HAS_SHARED = "cpt_shared_c" in law_names()
#: the law compared with CPTLaw: the shared-coefficient law once the build has it
OTHER = "cpt_shared_c" if HAS_SHARED else "cpt_power_s2"
needs_shared = pytest.mark.skipif(not HAS_SHARED, reason="CPTSharedCLaw is not in this build yet (issue 10, item 1)")


def _api(group_by=None, group_column=None):
    """cptlaw.compare on the runs the CLI reads."""
    with pytest.warns(io.InterpolatedLRWarning):
        runs = io.read_runs(FILES, group_column=group_column) if group_column else io.read_runs(FILES)
    runs, _ = io.drop_shared_history(runs)
    return cptlaw.compare(["cpt", OTHER], runs, group_by=group_by, warmup_as_peak=True)


def _maes(doc, law, valset, runs=None):
    rows = [r for r in doc["rows"] if r["law"] == law and r["valset"] == valset and (runs is None or r["run"] in runs)]
    assert rows and all(r["status"] == "ok" for r in rows), rows
    return [r["mae"] for r in rows]


@pytest.fixture(scope="module")
def by_run():
    p = run_cli("compare", *FILES, "--laws", f"cpt,{OTHER}", "--warmup-as-peak", "--json", "-q")
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_json_is_cptlaw_compare_on_the_same_runs(by_run):
    want = _api().to_dict()
    assert by_run == json.loads(json.dumps(want))  # NaN as null, as the CLI writes it
    folds = {f"A_{n}" for n in CPT_FROM_CONST + CPT_FROM_ANNEAL}
    assert set(by_run["folds"]) == folds  # the PT runs are never held out
    assert np.mean(_maes(by_run, "CPTLaw", "pt")) <= 0.057  # measured 0.038
    assert np.mean(_maes(by_run, "CPTLaw", "cpt")) <= 0.038  # measured 0.025


def test_text_table_statistics_and_recommendation(by_run, tmp_path):
    out = tmp_path / "cmp.json"
    p = run_cli("compare", *FILES, "--laws", f"cpt,{OTHER}", "--warmup-as-peak", "-o", out, "-q")
    assert p.returncode == 0, p.stderr
    text = p.stdout
    assert json.loads(out.read_text()) == by_run  # -o writes the JSON
    names = ["CPTLaw", cptlaw.laws.law_class(OTHER).__name__]
    assert f"compare {', '.join(names)} on 9 runs (7 with a CPT phase, held out): leave one run out, 7 folds" in text
    assert "validation set pt" in text and "validation set cpt" in text
    # one row per held-out run: its MAE per validation set and law, as in the JSON
    for fold in by_run["folds"]:
        (line,) = [ln for ln in text.splitlines() if ln.split()[:1] == [fold]]
        cells = [float(c.rstrip("*")) for c in line.split()[1:]]
        want = [r["mae"] for vs in ("pt", "cpt") for law in names for r in by_run["rows"]
                if r["fold"] == fold and r["law"] == law and r["valset"] == vs]
        np.testing.assert_allclose(cells, want, atol=6e-5)
    # the joint fits' statistics and the recommendation line
    for s in by_run["summary"]:
        (line,) = [ln for ln in text.splitlines() if ln.split()[:2] == [s["law"], s["valset"]]]
        k, points, objective, r2, aic, bic = line.split()[2:8]
        assert int(k) == s["k"] and int(points) == s["n_points"]
        assert float(r2) == pytest.approx(s["r2"], abs=6e-6) and float(bic) == pytest.approx(s["bic"], abs=0.06)
    assert f"recommendation: {by_run['recommendation']}" in text
    assert "(left out 700 PT-phase points of CPT runs that repeat a PT run" in text


def test_group_by_checkpoint_and_by_a_column(tmp_path):
    """--group-by checkpoint finds the two PT checkpoints from the runs' PT learning rates;
    --group-by source reads them from a column of a long-format CSV: the same folds, the same
    numbers. CPTLaw fitted on one checkpoint's runs predicts the other's badly on D_pt."""
    p = run_cli("compare", *FILES, "--laws", f"cpt,{OTHER}", "--warmup-as-peak", "--group-by", "checkpoint",
                "--json", "-q")
    assert p.returncode == 0, p.stderr
    ck = json.loads(p.stdout)
    assert ck == json.loads(json.dumps(_api(group_by="checkpoint").to_dict()))
    assert sorted(map(sorted, ck["folds"].values())) == sorted(
        [sorted(f"A_{n}" for n in CPT_FROM_CONST), sorted(f"A_{n}" for n in CPT_FROM_ANNEAL)])
    ann = [f"A_{n}" for n in CPT_FROM_ANNEAL]
    assert min(_maes(ck, "CPTLaw", "pt", ann)) >= 0.15  # measured 0.24-0.26
    # the same runs as one long-format CSV with a source column
    long = tmp_path / "runs.csv"
    with open(long, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["run", "phase", "step", "lr", "loss_pt", "loss_cpt", "source"])
        for name, path in zip(NO_REPLAY, FILES):
            source = name if name in PT else ("pt_anneal" if name in CPT_FROM_ANNEAL else "pt_const")
            with open(path, newline="") as f:
                for row in csv.DictReader(f):
                    out.writerow([f"A_{name}", row["phase"], row["global_step"], row["lr"], row["loss_pt"],
                                  row["loss_cpt"], source])
    q = run_cli("compare", long, "--laws", f"cpt,{OTHER}", "--warmup-as-peak", "--group-by", "source", "--json",
                "-q")
    assert q.returncode == 0, q.stderr
    col = json.loads(q.stdout)
    assert col["group_by"] == "group"
    assert {k: sorted(v) for k, v in col["folds"].items()} == {
        "pt_const": sorted(f"A_{n}" for n in CPT_FROM_CONST), "pt_anneal": sorted(ann)}
    key = {(r["law"], r["valset"], r["run"]): r["mae"] for r in ck["rows"]}
    for r in col["rows"]:
        assert r["mae"] == pytest.approx(key[(r["law"], r["valset"], r["run"])], rel=1e-9)
    t = run_cli("compare", long, "--laws", f"cpt,{OTHER}", "--warmup-as-peak", "--group-by", "source", "-q")
    assert "leave one group out (groups from the column 'source'), 2 folds" in t.stdout
    assert "  pt_anneal" in t.stdout.splitlines()  # the fold, then its runs indented
    assert "*: the held-out run lies outside the fold's fitted runs" in t.stdout  # another checkpoint


@needs_shared
def test_the_two_pictures_of_set_a():
    """Leave one run out: a tie (each annealed-checkpoint run has its sibling in the fit); by
    checkpoint: the shared-coefficient law wins on the annealed-checkpoint runs."""
    p = run_cli("compare", *FILES, "--laws", "cpt,cpt_shared_c", "--warmup-as-peak", "-q")
    assert p.returncode == 0, p.stderr
    line = next(ln for ln in p.stdout.splitlines() if ln.startswith("recommendation: "))
    assert "ties with" in line
    q = run_cli("compare", *FILES, "--laws", "cpt,cpt_shared_c", "--warmup-as-peak", "--group-by", "checkpoint",
                "--json", "-q")
    doc = json.loads(q.stdout)
    shared = cptlaw.laws.law_class("cpt_shared_c").__name__
    ann = [f"A_{n}" for n in CPT_FROM_ANNEAL]
    assert doc["best"] == shared and doc["recommendation"].startswith(f"{shared}: lowest mean held-out MAE")
    assert max(_maes(doc, shared, "pt", ann)) <= 0.1 < min(_maes(doc, "CPTLaw", "pt", ann))


def test_bad_input_one_line(tmp_path):
    """Usage errors exit 2, data errors 1, each one line naming the argument or file."""
    long = tmp_path / "long.csv"
    long.write_text("run,phase,step,lr,loss,src\na,pt,1,1e-3,3.0,\na,pt,2,1e-3,2.9,\nb,pt,1,1e-3,3.0,x\n"
                    "b,pt,2,1e-3,2.9,x\nb,cpt,3,1e-3,2.8,x\nb,cpt,4,1e-3,2.7,y\n")
    nogroup = tmp_path / "nogroup.csv"
    nogroup.write_text(long.read_text().replace(",x\n", ",\n").replace(",y\n", ",\n"))
    wandb = tmp_path / "h.json"
    wandb.write_text("{}")
    names = [n for n in law_names() if n not in ("model_size", "out_of_domain")]
    cases = [
        (["compare", FILES[2], "--laws", "cpt"], 1, "runs: compare needs at least two runs"),
        (["compare", FILES[0], FILES[1], "--laws", "cpt"], 1, "no run has a CPT phase"),
        (["compare", *FILES[:3], "--laws", "cpt,nope"], 2, "--laws: unknown law 'nope'; expected some of "
                                                           + ", ".join(names)),
        (["compare", *FILES[:3], "--laws", "replay"], 2, "--laws: replay is a family"),
        (["compare", *FILES[:3], "--laws", "model-size"], 2, "--laws: model_size (ModelSizeLaw) needs inputs"),
        (["compare", *FILES[:3], "--laws", "cpt,CPTLaw"], 2, "--laws: cpt given twice"),
        (["compare", *FILES[:3], "--laws", " , "], 2, "--laws: expected law names"),
        (["compare", *FILES[:3]], 2, "the following arguments are required: --laws"),
        (["compare", *FILES[:3], "--laws", "cpt", "--group-by", "nope"], 1, "no group column 'nope'"),
        (["compare", long, "--laws", "cpt", "--group-by", "src"], 1, "group changes within run 'b'"),
        (["compare", nogroup, "--laws", "cpt", "--group-by", "src"], 1,
         "--group-by src: run 'b' has a CPT phase but no value in the column 'src'"),
        (["compare", *FILES[:3], wandb, "--laws", "cpt", "--group-by", "src"], 2, "is a W&B history"),
        (["compare", *FILES[:3], "--laws", "cpt", "-o", FILES[0]], 2, "is the input"),
        (["compare", *FILES[:3], "--laws", "cpt", "--valset", "nope"], 2, "--valset 'nope'"),
    ]
    results = run_batch([[str(a) for a in argv] for argv, _, _ in cases], cwd=tmp_path)
    for (argv, code, text), res in zip(cases, results):
        assert res["escaped"] is None, res["escaped"]
        assert res["code"] == code, (argv, res)
        lines = res["stderr"].strip().splitlines()
        errors = [ln for ln in lines if not ln.startswith("cptlaw: warning:")]
        assert len(errors) == 1 and text in errors[0], (argv, res["stderr"])
    # a subprocess, for the real exit path
    p = run_cli("compare", FILES[2], "--laws", "cpt")
    assert "compare needs at least two runs" in one_line_error(p, 1)


# -- the readers' group_column (what --group-by COLUMN uses) ------------------------------------
def test_group_column_sets_run_group_and_survives_selection(tmp_path):
    import pandas as pd

    path = tmp_path / "g.csv"
    path.write_text("run,phase,step,lr,loss,source\na,pt,1,1e-3,3.0,\na,pt,2,1e-3,2.9,\nb,pt,1,1e-3,3.0,ck\n"
                    "b,pt,2,1e-3,2.9,\nb,cpt,3,1e-3,2.8,ck\n")
    runs = io.read_runs(path, group_column="source")
    assert [(r.name, r.group) for r in runs] == [("a", None), ("b", "ck")]  # empty cells leave it unset
    assert io.select(runs[1], phase="cpt").group == "ck"
    assert [r.group for r in io.drop_shared_history(runs)[0]] == [None, "ck"]
    assert [r.group for r in io.read_runs(pd.read_csv(path), group_column="SOURCE")] == [None, "ck"]
    assert [r.group for r in io.read_runs(path)] == [None, None]
    with pytest.raises(TypeError, match="group_column: expected a column name"):
        io.read_runs(path, group_column=3)
    with pytest.raises(ValueError, match="group_column: names a column of CSV files"):
        io.read_runs([path, tmp_path / "h.json"], group_column="source")
