"""The ``cptlaw`` command line, run as a real subprocess on the real files in tests/data.

The console script is used when it is installed next to this Python (``pip install .``);
otherwise ``python -m cptlaw`` (the same ``main``). Checks: exit codes, JSON output
against the Python API, one-line errors with file:line:column on bad input, and the README
quick start (``cptlaw demo --out DIR``).
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from _cli import environment, one_line_error, run_cli
from _data import DATA, LRS_DIR, load_tiny, lrs_files, tiny_csv

import cptlaw
from cptlaw import io

MPL = os.path.join(DATA, "MultiPowerLaw", "loss_curve_repo", "csv_100")
TINY_FIT = [tiny_csv(n) for n in ("pt_const", "pt_anneal", "cpt_const", "cpt_cos")]


# ======================================================================================
# the README quick start
# ======================================================================================


def test_readme_quickstart_demo(tmp_path):
    """`cptlaw demo --out DIR`: chooses the law by cross-validation, fits both validation sets on the
    bundled tinycpt runs, predicts the held-out runs with 95% prediction intervals; summary.json,
    demo.png and the table."""
    from cptlaw.demo import CANDIDATES, FIT_RUNS, HELD_OUT

    out = tmp_path / "demo"
    p = run_cli("demo", "--out", out, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    for text in ("choosing the law", "cpt_wsd (held out)", "R^2 (fit)", "% in PI)", "95% prediction interval (delta "
                 "method): where a single observed loss should fall"):
        assert text in p.stdout, text
    s = json.loads((out / "summary.json").read_text())
    candidates = [cptlaw.laws.law_class(n).__name__ for n in CANDIDATES if n in cptlaw.laws.law_names()]
    assert s["law"] in candidates and s["law_choice"]["candidates"] == candidates
    assert s["law_choice"]["recommendation"] in p.stdout
    assert s["law_choice"]["compare"]["group_by"] == "group"  # the fit runs start from two checkpoints
    assert s["fit_runs"] == list(FIT_RUNS) and s["held_out"] == list(HELD_OUT)
    assert s["area_options"]["warmup_as_peak"] is True
    iv = s["intervals"]
    assert (iv["kind"], iv["name"], iv["level"], iv["method"]) == ("prediction", "prediction_interval", 0.95, "delta")
    # measured (CPTSharedCLaw chosen): 90% of the held-out observations inside (D_pt 94%, D_cpt 86%), 5 of 6
    # final losses
    assert 0.8 <= iv["coverage"]["held_out_points"] <= 1.0
    # measured with CPTSharedCLaw: D_pt .041 / .041 / .034, D_cpt .013 / .023 / .030 (CPTLaw: .040 / .030 / .031,
    # .013 / .023 / .030)
    for vs, bound in (("pt", 0.06), ("cpt", 0.045)):
        v = s["valsets"][vs]
        assert v["success"] and v["r2"] > 0.99
        assert set(v["params"]) == set(cptlaw.laws.law_class(s["law"]).param_names) == set(v["stderr"])
        assert (v["params"]["B"] > 0) == (vs == "pt")
        for run in HELD_OUT:
            assert 0 < v["prediction_mae"][run] <= bound
            f = v["final_loss"][run]
            assert f["pi_lo"] < f["predicted"] < f["pi_hi"]
            assert f["observed_inside"] == (f["pi_lo"] <= f["observed"] <= f["pi_hi"])
        assert 0.7 <= v["coverage"]["held_out_points"] <= 1.0
    png = out / "demo.png"
    if s["plot"]:
        assert png.stat().st_size > 20_000
        mpl_image = pytest.importorskip("matplotlib.image")
        img = mpl_image.imread(png)
        assert img.shape[0] > 400 and img.shape[1] > 600 and float(img[..., :3].std()) > 0.05
    else:  # matplotlib missing in this environment
        assert "pip install cptlaw[plot]" in p.stdout
    # the summary is a fit file: predict reads it, with its intervals
    spec = tmp_path / "wsd.json"
    spec.write_text(json.dumps({"pt": {"kind": "constant", "lr": 3e-3, "steps": 5000},
                                "cpt": {"kind": "wsd", "peak_lr": 3e-3, "steps": 4000, "decay_steps": 800}}))
    q = run_cli("predict", "--params", out / "summary.json", "--schedule", spec, "--json")
    assert q.returncode == 0, q.stderr
    pred = json.loads(q.stdout)
    assert set(pred["loss"]) == {"pt", "cpt"} and pred["steps"][-1] == 9000
    assert pred["interval"]["kind"] == "prediction" and set(pred["pi_lo"]) == {"pt", "cpt"}


def test_demo_without_matplotlib(tmp_path):
    """matplotlib is optional: without it the demo writes summary.json (intervals included), says how
    to get the plot and exits 0."""
    block = tmp_path / "block"
    (block / "matplotlib").mkdir(parents=True)
    (block / "matplotlib" / "__init__.py").write_text("raise ImportError('matplotlib blocked for this test')\n")
    path = os.pathsep.join([str(block)] + [p for p in environment()["PYTHONPATH"].split(os.pathsep) if p])
    p = run_cli("demo", "--out", tmp_path / "d", env={"PYTHONPATH": path})
    assert p.returncode == 0, p.stderr
    assert "pip install cptlaw[plot]" in p.stdout
    assert not (tmp_path / "d" / "demo.png").exists()
    s = json.loads((tmp_path / "d" / "summary.json").read_text())
    assert s["plot"] is None and s["intervals"]["method"] == "delta"
    assert "pi_lo" in s["valsets"]["cpt"]["final_loss"]["cpt_wsd"]


def test_console_script_is_declared():
    """pyproject's [project.scripts] entry (checked on the installed metadata when there is one)."""
    from importlib import metadata

    try:
        eps = metadata.distribution("cptlaw").entry_points
    except metadata.PackageNotFoundError:
        pytest.skip("cptlaw is not installed as a distribution")
    scripts = {e.name: e.value for e in eps if e.group == "console_scripts"}
    assert scripts.get("cptlaw") == "cptlaw.cli:main"
    p = run_cli("--version")
    assert p.returncode == 0 and p.stdout.strip() == f"cptlaw {cptlaw.__version__}"


# ======================================================================================
# fit
# ======================================================================================


def test_fit_tinycpt_json_matches_python_api(tmp_path):
    """`cptlaw fit` on tinycpt curve.csv files (LR interpolated, with a warning) equals the Python
    API on the same runs; both validation sets; JSON has params, stderr, objective, r2."""
    p = run_cli("fit", *TINY_FIT, "--warmup-as-peak", "--json")
    assert p.returncode == 0, p.stderr
    assert "interpolated" in p.stderr and p.stderr.count("\n") == 1
    out = json.loads(p.stdout)
    assert out["law"] == "CPTLaw" and set(out["valsets"]) == {"pt", "cpt"}
    with pytest.warns(io.InterpolatedLRWarning):
        runs = io.read_runs(TINY_FIT)
    runs, dropped = io.drop_shared_history(runs)
    assert dropped == 200
    for vs, fj in out["valsets"].items():
        for key in ("params", "stderr", "objective", "r2", "mae", "area_options", "domain", "runs"):
            assert key in fj
        res = cptlaw.fit_runs(cptlaw.CPTLaw, runs, valset=vs, warmup_as_peak=True, nan_policy="omit")
        for k, v in res.params.items():
            assert fj["params"][k] == pytest.approx(v, rel=1e-12)
            assert fj["stderr"][k] == pytest.approx(res.stderr[k], rel=1e-9)
        assert fj["r2"] == pytest.approx(res.r2, rel=1e-12) and fj["r2"] > 0.99
        assert fj["objective"] == pytest.approx(res.objective, rel=1e-12)
        assert fj["area_options"] == {"decay": 0.999, "split": "by_source", "warmup_as_peak": True}
        assert [r["name"] for r in fj["runs"]] == ["A_pt_const", "A_pt_anneal", "A_cpt_const", "A_cpt_cos"]
    # the text report (options before the files too)
    q = run_cli("fit", "--warmup-as-peak", *TINY_FIT, "--valset", "cpt", "--quiet")
    assert q.returncode == 0 and q.stderr == ""
    assert "validation set 'cpt'" in q.stdout and "R^2 0.99" in q.stdout and "beta" in q.stdout


def test_fit_notes_a_literal_warmup():
    """A fit whose annealing coefficient ends at its bound on runs that warm up from far below
    their peak, counted as given, gets a note pointing at --warmup-as-peak (the literal count
    drives S2 negative: on these runs the annealing law ends with C at 0); choosing either
    convention explicitly drops it; a good literal fit (MultiPowerLaw's, next test) gets none."""
    pt_runs = [tiny_csv("pt_const"), tiny_csv("pt_anneal")]
    p = run_cli("fit", *pt_runs, "--law", "annealing", "--valset", "pt", "--json")
    assert p.returncode == 0, p.stderr
    assert "--warmup-as-peak" in p.stderr and "warm up (from 25% of the peak over 199 steps)" in p.stderr
    literal = json.loads(p.stdout)
    assert literal["params"]["C"] == 0.0 and "C" in literal["at_bound"]
    for choice in (["--warmup-as-peak"], ["--warmup-steps", "0"]):
        q = run_cli("fit", *pt_runs, "--law", "annealing", "--valset", "pt", "--json", *choice)
        assert q.returncode == 0, q.stderr
        assert "--warmup-as-peak" not in q.stderr
    assert json.loads(q.stdout)["params"]["C"] == literal["params"]["C"]  # 0 steps: as given
    peak = json.loads(run_cli("fit", *pt_runs, "--law", "annealing", "--valset", "pt", "--json",
                              "--warmup-as-peak").stdout)
    assert peak["params"]["C"] > 0.05 and peak["objective"] < literal["objective"]


def test_fit_multipowerlaw_with_schedule_spec(tmp_path):
    """Per-run schedule specs make the LRs exact (no warning) and the fit equal to the test loader's."""
    warm = {"kind": "linear", "peak_lr": 3e-4, "steps": 2160, "warmup": 2159}
    spec = {"runs": {
        "cosine_24000": [warm, {"kind": "cosine", "peak_lr": 3e-4, "steps": 21840, "min_lr": 3e-5}],
        "constant_24000": [warm, {"kind": "constant", "lr": 3e-4, "steps": 21840}],
        "wsdcon_9": [warm, {"kind": "constant", "lr": 3e-4, "steps": 5840}, {"kind": "constant", "lr": 9e-5,
                                                                             "steps": 8000}],
    }}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    files = [os.path.join(MPL, f"{n}.csv") for n in spec["runs"]]
    p = run_cli("fit", *files, "--schedule", tmp_path / "spec.json", "--step-offset", "1", "--json",
                "-o", tmp_path / "fit.json")
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    fj = json.loads(p.stdout)
    assert fj["law"] == "AnnealingLaw" and fj["valset"] is None  # auto: no CPT phase
    assert json.loads((tmp_path / "fit.json").read_text())["params"] == fj["params"]
    from test_fit_real_data import _mpl_fit

    _, res = _mpl_fit("100", False)
    for k, v in res.params.items():
        assert fj["params"][k] == pytest.approx(v, rel=1e-7)
    assert fj["r2"] > 0.998  # measured 0.99923 (tests/test_fit_real_data.py)
    # predict the held-out wsd_20000_24000 schedule from its spec, compare with the data
    wsd = [warm, {"kind": "constant", "lr": 3e-4, "steps": 20000 - 2160},
           {"kind": "values", "values": (3e-4 ** ((24000 - np.arange(20000, 24000)) / 4000)
                                         * 3e-5 ** ((np.arange(20000, 24000) - 20000) / 4000)).tolist()}]
    (tmp_path / "wsd.json").write_text(json.dumps(wsd))
    data = np.loadtxt(os.path.join(MPL, "wsd_20000_24000.csv"), delimiter=",", skiprows=1)
    steps = data[:, 0].astype(int) + 1  # 0-based step indices in the file
    q = run_cli("predict", "--params", tmp_path / "fit.json", "--schedule", tmp_path / "wsd.json",
                "--steps", ",".join(map(str, steps)), "--json")
    assert q.returncode == 0, q.stderr
    pred = json.loads(q.stdout)
    assert pred["steps"] == steps.tolist()
    err = np.abs(np.array(pred["loss"]) - data[:, 2])
    assert len(err) > 100 and np.mean(err) < 0.0045  # measured 0.0027 (tests/test_fit_real_data.py)


def test_fit_wandb_histories_with_resumed_run():
    """lr-scheduling W&B exports: the resumed cooldown run finds its base next to it."""
    files = lrs_files("0.003")
    paths = [os.path.join(LRS_DIR, files[k]) for k in ("stable", "cos", "wsd0.2")]
    p = run_cli("fit", *paths, "--lr-shift", "1", "--min-step", "1000", "--json")
    assert p.returncode == 0, p.stderr
    assert "interpolated" in p.stderr
    fj = json.loads(p.stdout)
    assert fj["law"] == "AnnealingLaw" and fj["success"] and fj["r2"] > 0.99
    assert [r["n_points"] for r in fj["runs"]] == [245, 245, 245]  # iters 1000..49800 every 200
    assert fj["params"]["alpha"] == pytest.approx(0.64, abs=0.1)


def test_fit_long_format_with_replay(tmp_path):
    """A long-format CSV (run, phase, step, lr, loss_pt, loss_cpt, r_pt) of PT + CPT runs with
    replay; `--law replay` takes P1's Eq. 8 for each validation set. (The replay laws are hard
    to fit on these runs, see tests/test_fit_real_data.py: the fit may stop at its iteration
    limit, which exits 1 after printing the result.)"""
    rows = ["run,phase,step,lr,loss_pt,loss_cpt,r_pt"]
    for n in ("pt_const", "cpt_cos", "cpt_replay25_cos", "cpt_replay50_cos"):
        t = load_tiny(n)
        for ph, g, lr, a, b in zip(t.phase, t.global_step, t.logged_lr, t.loss["pt"], t.loss["cpt"]):
            if n == "pt_const" or ph == "cpt":  # CPT runs: only their CPT rows (the PT run is in the file)
                rows.append(f"{n},{ph},{g},{float(lr)!r},{a},{b},{t.replay}")
    (tmp_path / "replay.csv").write_text("\n".join(rows) + "\n")
    p = run_cli("fit", tmp_path / "replay.csv", "--law", "replay", "--warmup-as-peak", "--json")
    assert p.returncode in (0, 1) and "Traceback" not in p.stderr, p.stderr
    out = json.loads(p.stdout)
    assert out["valsets"]["pt"]["law"] == "ReplayPTLaw" and out["valsets"]["cpt"]["law"] == "ReplayCPTLaw"
    assert [r["name"] for r in out["valsets"]["pt"]["runs"]] == ["pt_const", "cpt_cos", "cpt_replay25_cos",
                                                                 "cpt_replay50_cos"]
    assert set(out["valsets"]["pt"]["params"]) == set(cptlaw.ReplayPTLaw.param_names)
    assert out["left_out_points"] == 3  # the CPT runs' step-0 rows repeat pt_const's last point
    with pytest.warns(io.InterpolatedLRWarning):
        runs = io.read_csv_runs(tmp_path / "replay.csv")
    assert [r.r_pt for r in runs] == [0.0, 0.0, 0.25, 0.5]
    assert all(len(r.lr_pt) == 5000 for r in runs) and [r.lr_cpt is None for r in runs] == [True, False, False, False]


def test_fit_then_predict_roundtrip(tmp_path):
    """fit --json -o FILE, then predict --lr FILE (per-step LRs with a phase column) reproduces
    cptlaw.predict_run with the fitted law, and predicts the held-out cpt_wsd run."""
    fit_file = tmp_path / "fit.json"
    p = run_cli("fit", *TINY_FIT, "--warmup-as-peak", "-o", fit_file, "--quiet")
    assert p.returncode == 0, p.stderr
    assert f"wrote {fit_file}" in p.stdout
    t = load_tiny("cpt_wsd")
    lr_csv = tmp_path / "lr.csv"
    with open(lr_csv, "w") as fh:
        fh.write("phase,lr\n")
        fh.writelines(f"pt,{float(x)!r}\n" for x in t.lr_pt)
        fh.writelines(f"cpt,{float(x)!r}\n" for x in t.lr_cpt)
    steps = t.global_step[t.global_step > 5000]
    q = run_cli("predict", "--params", fit_file, "--lr", lr_csv, "--steps", ",".join(map(str, steps)), "--json")
    assert q.returncode == 0, q.stderr
    pred = json.loads(q.stdout)
    assert pred["steps"] == sorted(set(steps.tolist()))
    fits = io.read_fit(fit_file)
    run = cptlaw.Run(t.lr_pt, pred["steps"], lr_cpt=t.lr_cpt)
    for vs in ("pt", "cpt"):
        want = cptlaw.predict_run(fits[vs]["law"], run, warmup_as_peak=True)
        np.testing.assert_allclose(pred["loss"][vs], want, rtol=1e-13)
        obs = dict(zip(t.global_step, t.loss[vs]))
        mae = np.mean([abs(a - obs[s]) for s, a in zip(pred["steps"], pred["loss"][vs])])
        assert mae < {"pt": 0.06, "cpt": 0.02}[vs]  # measured .039 / .013 with exact LRs
    # the text table, one validation set, the same LRs as .npy
    np.save(tmp_path / "lr.npy", np.concatenate([t.lr_pt, t.lr_cpt]))
    r = run_cli("predict", "--params", fit_file, "--lr", tmp_path / "lr.npy", "--pt-steps", "5000",
                "--valset", "cpt", "--steps", "9000")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    head = lines[0].split()
    assert head == ["step", "phase", "lr", "loss_cpt", "pi_lo_cpt", "pi_hi_cpt"]
    row = dict(zip(head, lines[1].split()))
    assert row["step"] == "9000" and row["phase"] == "cpt"
    assert float(row["loss_cpt"]) == pytest.approx(pred["loss"]["cpt"][-1], rel=1e-5)
    assert float(row["pi_lo_cpt"]) < float(row["loss_cpt"]) < float(row["pi_hi_cpt"])
    assert "extrapolation judged against the fitted runs: inside" in r.stdout
    assert lines[-1].startswith("pi_lo, pi_hi: the 95% prediction interval of the loss you will observe")


# ======================================================================================
# errors
# ======================================================================================


BAD_FILES = [
    ("bad.csv", "step,lr,loss\n1,0.1,3.0\n2,0.1,abc\n", "bad.csv:3:7: error: column 'loss': expected a number"),
    ("short.csv", "step,lr,loss\n1,0.1,3.0\n2,0.1\n", "short.csv:3:1: error: expected 3 fields"),
    ("neg.csv", "step,lr,loss\n1,0.1,3.0\n2,-1,2.9\n", "neg.csv:3:3: error: column 'lr': must be >= 0"),
    ("nolr.csv", "step,loss\n1,3.0\n2,2.9\n", "nolr.csv:1:1: error: run 'nolr': no learning-rate column"),
    ("phase.csv", "phase,step,lr,loss\npt,1,0.1,3\nft,2,0.1,3\n", "phase.csv:3:1: error: column 'phase'"),
    ("hist.json", '{"history": [{"_step": 1, "val/loss": 3.0, "lr": 0.1},\n {"_step": 2, "val/loss": null, "lr": "x"}]}',
     "hist.json:2:39: error: lr 'x' is not a finite number"),
    ("broken.json", '{"history": [', "broken.json:1:14: error: invalid JSON"),
]


@pytest.mark.parametrize("name, text, expected", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_fit_bad_file_gives_one_located_line(tmp_path, name, text, expected):
    (tmp_path / name).write_text(text)
    p = run_cli("fit", name, cwd=tmp_path)
    line = one_line_error(p)
    assert p.returncode == 1
    assert line.startswith(expected), line


BAD_SPECS = [
    ('{"pt": {"kind": "wsd", "peak_lr": 3e-3,\n  "steps": 5000, "decay_stepz": 10}}',
     "spec.json:2:18: error: unknown argument 'decay_stepz' for schedule 'wsd'"),
    ('{"pt": {"kind": "wsd", "peak_lr": 3e-3, "steps": 100, "decay_steps": 200}}',
     "spec.json:1:70: error: schedule 'wsd': decay_steps: must be <= steps"),
    ('{"pt": {"kind": "cosin", "peak_lr": 3e-3, "steps": 100}}', "spec.json:1:17: error: unknown schedule kind 'cosin'"),
]


@pytest.mark.parametrize("text, expected", BAD_SPECS)
def test_predict_bad_schedule_gives_one_located_line(tmp_path, text, expected):
    (tmp_path / "fit.json").write_text(json.dumps({"law": "AnnealingLaw",
                                                   "params": {"L0": 2.0, "A": 1.0, "alpha": 0.5, "C": 0.3}}))
    (tmp_path / "spec.json").write_text(text)
    p = run_cli("predict", "--params", "fit.json", "--schedule", "spec.json", cwd=tmp_path)
    line = one_line_error(p)
    assert line.startswith(expected), line


def test_predict_bad_fit_file_and_usage_errors(tmp_path):
    (tmp_path / "spec.json").write_text('{"kind": "constant", "lr": 1e-3, "steps": 100}')
    (tmp_path / "fit.json").write_text('{"law": "AnnealingLaw",\n "params": {"L0": 2.0, "A": 1.0, "alpha": 0.5}}')
    p = run_cli("predict", "--params", "fit.json", "--schedule", "spec.json", cwd=tmp_path)
    assert one_line_error(p).startswith("fit.json:2:") and "lacks C" in p.stderr
    (tmp_path / "fit.json").write_text('{"law": "AnnealingLaw", "params": {"L0": 2.0, "A": 1.0, "alpha": 0.5, "C": 1}}')
    ok = run_cli("predict", "--params", "fit.json", "--schedule", "spec.json", "--steps", "10:100:10", "--json",
                 cwd=tmp_path)
    assert ok.returncode == 0 and json.loads(ok.stdout)["steps"] == list(range(10, 101, 10))
    for args, expected in [
        (("predict", "--params", "fit.json", "--schedule", "spec.json", "--steps", "0:200"), "--steps"),
        (("predict", "--params", "fit.json"), "one of the arguments --schedule --lr is required"),
        (("fit", "x.csv", "--law", "nope"), "--law: unknown law 'nope'"),
        (("fit",), "required: FILE"),
        (("frobnicate",), "invalid choice"),
        (("predict", "--params", "missing.json", "--schedule", "spec.json"), "missing.json: error: file not found"),
    ]:
        p = run_cli(*args, cwd=tmp_path)
        line = one_line_error(p)
        assert expected in line, (args, line)
        assert p.returncode in (1, 2)
