"""The command line's entry points and outputs: ``python -m cptlaw``, ``fit --plot``, ``predict
--plot / --csv``, the ``--law`` names (from the law classes), one meaning of ``start:stop:count``,
outputs that never overwrite inputs, and a quiet end on a closed pipe."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from _cli import command, environment, one_line_error, run_cli
from _data import DATA, tiny_csv

import cptlaw
from cptlaw.cli import build_parser, main
from cptlaw.cli.fit import RUN_INPUTS, fittable_laws
from cptlaw.cli.predict import parse_steps
from cptlaw.laws import law_class, law_names

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MPL = os.path.join(DATA, "MultiPowerLaw", "loss_curve_repo", "csv_100")
MPL_FILES = [os.path.join(MPL, f"{n}.csv") for n in ("cosine_24000", "constant_24000", "wsdcon_9")]
SPEC = {"runs": {
    "wsd": {"pt": {"kind": "constant", "lr": 3e-3, "steps": 5000},
            "cpt": {"kind": "wsd", "peak_lr": 3e-3, "steps": 4000, "decay_steps": 800}},
    "rewarm": {"pt": {"kind": "constant", "lr": 3e-3, "steps": 5000},
               "cpt": {"kind": "cosine", "peak_lr": 3e-3, "steps": 4000, "warmup": 100}}}}


@pytest.fixture(scope="module")
def tiny_fit(tmp_path_factory):
    d = tmp_path_factory.mktemp("outputs")
    fit = d / "fit.json"
    files = [tiny_csv(n) for n in ("pt_const", "pt_anneal", "cpt_const", "cpt_cos")]
    p = run_cli("fit", *files, "--warmup-as-peak", "-o", fit, "-q")
    assert p.returncode == 0, p.stderr
    (d / "spec.json").write_text(json.dumps(SPEC))
    return d


def test_python_m_cptlaw_and_cptlaw_cli():
    env = environment()
    p = subprocess.run([sys.executable, "-m", "cptlaw", "--help"], capture_output=True, text=True, env=env,
                       timeout=120)
    assert p.returncode == 0 and p.stderr == ""
    listed = [line.split()[0] for line in p.stdout.split("COMMAND\n", 1)[1].splitlines() if line.startswith("    ")
              and not line.startswith("      ")]
    assert listed == ["demo", "fit", "predict", "compare", "reproduce", "plan", "grid"]
    q = subprocess.run([sys.executable, "-m", "cptlaw.cli", "--version"], capture_output=True, text=True, env=env,
                       timeout=120)
    assert q.returncode == 0 and q.stdout.strip() == f"cptlaw {cptlaw.__version__}"
    assert build_parser().prog == "cptlaw"


def test_fit_plot_writes_a_png(tmp_path):
    """`cptlaw fit FILES --law annealing --plot fit.png` (MultiPowerLaw runs, one validation set)."""
    pytest.importorskip("matplotlib")
    png = tmp_path / "fit.png"
    p = run_cli("fit", *MPL_FILES, "--step-offset", "1", "--law", "annealing", "--plot", png, "-q")
    assert p.returncode == 0, p.stderr
    assert f"wrote {png}" in p.stdout
    assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 20_000


def test_fit_plot_two_validation_sets(tiny_fit, tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib.image

    png = tmp_path / "two.png"
    files = [tiny_csv(n) for n in ("pt_const", "cpt_cos")]
    p = run_cli("fit", *files, "--warmup-as-peak", "--plot", png, "--json", "-q")
    assert p.returncode == 0, p.stderr
    assert set(json.loads(p.stdout)["valsets"]) == {"pt", "cpt"}  # --json output unchanged by --plot
    img = matplotlib.image.imread(png)
    assert img.shape[1] > 1.8 * img.shape[0]  # two panels side by side
    assert float(img[..., :3].std()) > 0.05


def test_predict_csv_and_plot(tiny_fit, tmp_path):
    out_csv, png = tmp_path / "pred.csv", tmp_path / "pred.png"
    p = run_cli("predict", "--params", tiny_fit / "fit.json", "--schedule", tiny_fit / "spec.json",
                "--steps", "5000:9000:5", "--csv", out_csv, "--plot", png, "-q")
    assert p.returncode == 0, p.stderr
    assert f"wrote {out_csv}" in p.stdout and f"wrote {png}" in p.stdout
    j = run_cli("predict", "--params", tiny_fit / "fit.json", "--schedule", tiny_fit / "spec.json",
                "--steps", "5000:9000:5", "--json", "-q")
    want = json.loads(j.stdout)["runs"]
    with open(out_csv, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["run", "step", "phase", "lr", "loss_pt", "pi_lo_pt", "pi_hi_pt", "loss_cpt", "pi_lo_cpt",
                             "pi_hi_cpt"]
    assert len(rows) == 10
    for r in rows:
        run = want[r["run"]]
        k = run["steps"].index(int(r["step"]))
        assert r["phase"] == run["phase"][k]
        assert float(r["lr"]) == run["lr"][k]
        for vs in ("pt", "cpt"):
            assert float(r[f"loss_{vs}"]) == pytest.approx(run["loss"][vs][k], rel=1e-15)
            for col in ("pi_lo", "pi_hi"):
                assert float(r[f"{col}_{vs}"]) == pytest.approx(run[col][vs][k], rel=1e-15)
    if os.path.exists(png):
        assert png.read_bytes()[:8] == PNG_MAGIC
    else:  # no matplotlib here: then the command must have said so and failed
        pytest.importorskip("matplotlib")


def test_predict_csv_single_run_single_valset(tmp_path):
    fit = tmp_path / "fit.json"
    fit.write_text(json.dumps({"law": "AnnealingLaw", "params": {"L0": 2.0, "A": 1.0, "alpha": 0.5, "C": 0.3}}))
    spec = tmp_path / "s.json"
    spec.write_text(json.dumps({"kind": "cosine", "peak_lr": 1e-3, "steps": 100}))
    assert main(["predict", "--params", str(fit), "--schedule", str(spec), "--steps", "10,100",
                 "--csv", str(tmp_path / "p.csv"), "-q"]) == 0
    lines = (tmp_path / "p.csv").read_text().splitlines()
    assert lines[0] == "step,phase,lr,loss" and [ln.split(",")[0] for ln in lines[1:]] == ["10", "100"]


def test_predict_warns_about_losses_that_are_not_finite(tmp_path):
    """An LR of 0 before step 1 leaves S1 = 0 (the law is undefined there); a peak LR of 1e308 breaks
    the law: the numbers are printed as they are (null in JSON), with a warning saying where."""
    fit = tmp_path / "fit.json"
    fit.write_text(json.dumps({"law": "AnnealingLaw", "params": {"L0": 2.0, "A": 1.0, "alpha": 0.5, "C": 0.3}}))
    np.save(tmp_path / "lr.npy", np.concatenate([[0.0], np.full(99, 1e-3)]))
    p = run_cli("predict", "--params", fit, "--lr", tmp_path / "lr.npy", "--steps", "1,50,100", "--json",
                "--interval", "none")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["loss"][0] is None and all(math.isfinite(x) for x in out["loss"][1:])
    (line,) = p.stderr.strip().splitlines()
    assert line.startswith("cptlaw: warning: the predicted loss is not a finite number at 1 of 3 steps (first at "
                           "step 1: ")


# ======================================================================================
# law names from the law classes
# ======================================================================================


def test_law_choices_come_from_the_law_classes(capsys):
    names = fittable_laws()
    fit_from_runs = [n for n in law_names() if set(law_class(n).input_names) <= RUN_INPUTS]
    assert [n for n in names if n in law_names()] == fit_from_runs
    assert "replay" in names and "out_of_domain" not in names  # a family; a law of losses, not areas
    help_text = " ".join(build_parser()._subparsers._group_actions[0].choices["fit"].format_help().split())
    assert f"one of {', '.join(names)}" in help_text
    assert main(["fit", "x.csv", "--law", "nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"cptlaw: error: --law: unknown law 'nope'; expected one of {', '.join(names)}"
    assert main(["fit", "x.csv", "--law", "out-of-domain"]) == 2
    assert "needs loss_cpt, loss_pt, which runs read from files do not provide" in capsys.readouterr().err


def test_law_names_accept_dashes(tmp_path):
    p = run_cli("fit", *MPL_FILES, "--step-offset", "1", "--law", "cpt-power-s2", "--json", "-q")
    assert p.returncode in (0, 1), p.stderr  # a PT-only fit of a CPT law may not converge; no usage error
    assert json.loads(p.stdout)["law"] == "CPTPowerS2Law"


# ======================================================================================
# start:stop:count means the same everywhere
# ======================================================================================


def test_predict_steps_ranges_count_like_plan_and_grid():
    notes = []
    np.testing.assert_array_equal(parse_steps("10:100:10", 5000, notes.append), np.arange(10, 101, 10))
    assert notes == []  # the count and the old step size agree here
    np.testing.assert_array_equal(parse_steps("100:1000:10", 5000, notes.append), np.arange(100, 1001, 100))
    assert len(notes) == 1 and "for those steps write 100:1000:91" in notes.pop()
    np.testing.assert_array_equal(parse_steps("1000:9000:5", 9000, notes.append), [1000, 3000, 5000, 7000, 9000])
    assert len(notes) == 1 and "start:stop:count means 5 steps from 1000 to 9000" in notes[0]
    assert "step size of 5 (1000, 1005, 1010, ...); for those steps write 1000:9000:1601" in notes[0]
    np.testing.assert_array_equal(parse_steps("::3", 9, None), [1, 5, 9])  # empty ends: first and last update
    np.testing.assert_array_equal(parse_steps("3:6", 9, None), [3, 4, 5, 6])  # start:stop: every step
    np.testing.assert_array_equal(parse_steps("all", 4, None), [1, 2, 3, 4])
    # the same parser as plan/grid: the same errors
    from cptlaw.cli._common import UsageError

    for text, msg in [("1:9:x", "with a whole count"), ("1:9:1", "must be >= 2"), ("0:9:3", "values must be in 1.."),
                      ("1:9:1000000", "at most 100,000 per argument"), ("1:20", "steps must lie in 1..9"),
                      ("1e30", "beyond cptlaw's limit")]:
        with pytest.raises(UsageError, match=msg):
            parse_steps(text, 9, None)


def test_predict_warns_when_the_old_step_size_reading_differs(tiny_fit):
    p = run_cli("predict", "--params", tiny_fit / "fit.json", "--schedule", tiny_fit / "spec.json", "--run", "wsd",
                "--steps", "1000:9000:1000", "--json")
    assert p.returncode == 0, p.stderr
    assert len(json.loads(p.stdout)["runs"]["wsd"]["steps"]) == 1000
    assert "cptlaw 0.1 read it as a step size of 1000 (1000, 2000, 3000, ...); for those steps write 1000:9000:9" \
        in p.stderr


# ======================================================================================
# outputs never overwrite inputs
# ======================================================================================


def test_outputs_never_overwrite_inputs(tiny_fit, tmp_path):
    data = tmp_path / "d.csv"
    data.write_bytes(open(tiny_csv("pt_const"), "rb").read())
    before = data.read_bytes()
    link = tmp_path / "link.csv"
    os.symlink(data, link)
    fit, spec = tiny_fit / "fit.json", tiny_fit / "spec.json"
    fit_bytes = fit.read_bytes()
    (tmp_path / "pt.json").write_text(json.dumps({"kind": "constant", "lr": 3e-3, "steps": 5000}))
    cases = [
        (["fit", data, "-o", data], f"-o/--output {data}: is the input {data} (FILE)"),
        (["fit", data, "-o", link], "is the input"),
        (["fit", data, "--plot", tmp_path / "sub" / ".." / "d.csv"], "is the input"),
        (["fit", data, "-o", tmp_path / "x.json", "--plot", tmp_path / "x.json"], "--plot"),
        (["fit", data, "-o", tmp_path / "missing" / "x.json"], "does not exist"),
        (["fit", data, "-o", tmp_path], "is a folder"),
        (["grid", "--params", fit, "--pt", tmp_path / "pt.json", "--peak-lr", "1e-4", "--steps", "100",
          "--csv", fit], "--csv"),
        (["predict", "--params", fit, "--schedule", spec, "--csv", spec], "(--schedule)"),
        (["predict", "--params", fit, "--schedule", spec, "--plot", fit], "(--params)"),
    ]
    for argv, expected in cases:
        p = run_cli(*argv, cwd=tmp_path)
        line = one_line_error(p, 2)
        assert expected in line, (argv, line)
    assert data.read_bytes() == before and fit.read_bytes() == fit_bytes and os.path.islink(link)


# ======================================================================================
# a closed pipe
# ======================================================================================


def test_closed_pipe_ends_quietly(tiny_fit):
    """`cptlaw predict ... --steps all | head -1`: no message, status 0 or 141 (SIGPIPE-style)."""
    args = ["predict", "--params", str(tiny_fit / "fit.json"), "--schedule", str(tiny_fit / "spec.json"),
            "--steps", "all"]
    proc = subprocess.Popen(command() + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment())
    first = proc.stdout.readline()
    proc.stdout.close()  # the reader goes away, as `head -1` does
    err = proc.stderr.read()
    code = proc.wait(timeout=120)
    proc.stderr.close()
    assert first.startswith(b"run ")
    assert code in (0, 141) and err == b"", (code, err)
