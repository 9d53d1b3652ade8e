"""``cptlaw reproduce p1``: P1's qualitative findings recomputed from its parameter tables.

The assertions are the paper's trends (loss potential, peak LR, turning length, optimal peak LR
against the weight w), checked on the numbers themselves, plus the JSON contract of the
command (``null`` for an infinite turning length) run in a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cptlaw
from cptlaw import reproduce


@pytest.fixture(scope="module")
def result():
    return reproduce.reproduce_p1()


def check_findings(out):
    lp = out["loss_potential"]
    assert lp["loss_potentials"] == [0.0, 0.1, 0.3, 0.5, 1.0]
    for shape in ("cosine", "wsd"):
        assert set(lp["D_cpt"][shape]) == {"20000", "40000"}
        for vals in lp["D_cpt"][shape].values():
            assert np.all(np.diff(vals) < 0)  # higher loss potential -> lower final D_cpt loss
        # longer CPT -> lower domain loss
        assert np.all(np.array(lp["D_cpt"][shape]["40000"]) < np.array(lp["D_cpt"][shape]["20000"]))
    assert lp["trend_holds"] is True

    pk = out["peak_lr"]
    assert pk["peak_lrs"][0] == 2.5e-5 and pk["peak_lrs"][-1] == 2e-4
    for shape in ("cosine", "wsd"):
        for n in ("20000", "40000"):
            assert np.all(np.diff(pk["D_cpt"][shape][n]) < 0)  # D_cpt falls with the peak LR
            assert np.all(np.diff(pk["D_pt"][shape][n]) > 0)  # D_pt rises (forgetting)
            assert min(pk["D_pt"][shape][n]) > pk["loss_at_transfer"]["D_pt"]
            assert max(pk["D_cpt"][shape][n]) < pk["loss_at_transfer"]["D_cpt"]
    assert pk["trend_holds"] is True

    tl = out["turning_length"]
    steps = tl["constant"]
    assert tl["pt_steps"] == sorted(tl["pt_steps"])
    assert steps[0] is not None and steps[0] > 0  # short PT: the D_pt loss comes back
    assert steps[-1] is None  # long PT: never (null = infinite)
    finite = [s is not None for s in steps]
    assert finite == sorted(finite, reverse=True) and tl["finite"] == finite
    fin = [s for s in steps if s is not None]
    assert fin == sorted(fin)  # longer PT -> longer turning length
    assert tl["pre_critical"][0] and not tl["pre_critical"][-1]
    for pre, s in zip(tl["pre_critical"], steps):
        if pre:
            assert s is not None  # pre-critical implies a finite turning length
    fam = tl["cosine_family"]
    assert fam[0] is not None and fam[-1] is None
    assert tl["trend_holds"] is True

    op = out["optimal_peak_lr"]
    assert op["w"] == pytest.approx([0.1 * k for k in range(1, 10)])
    lo, hi = op["bounds"]
    for shape in ("cosine", "wsd"):
        vals = op["peak_lr"][shape]
        assert all(lo * (1 - 1e-3) <= v <= hi * (1 + 1e-3) for v in vals)
        assert all(b <= a * (1 + 1e-6) for a, b in zip(vals[:-1], vals[1:]))  # non-increasing in w
        assert vals[0] > vals[-1]
        assert len(op["at_bound"][shape]) == 9
    assert any(not b for b in op["at_bound"]["wsd"])  # some interior optima with WSD CPT
    assert op["trend_holds"] is True
    assert isinstance(out["notes"], list) and out["notes"]


def test_reproduce_p1_findings(result):
    check_findings(result)
    assert result["params"]["D_pt"]["B"] > 0 > result["params"]["D_cpt"]["B"]
    json.dumps(result, allow_nan=False)  # JSON-ready, no inf / nan


def test_reproduce_p1_numbers_are_the_laws(result):
    """One number recomputed by hand from per-step arrays."""
    law_pt, law_cpt = reproduce.p1_laws()
    st = reproduce.P1_SETTING
    pt = cptlaw.planner.wsd_pt_family(2e-4, st["pt_steps"], st["pt_steps"] // 10, st["pt_warmup"])(0.3)
    cpt = cptlaw.planner.cpt_schedule(2e-4, 20_000, "cosine", warmup=500, start_lr=0.3 * 2e-4)
    a = cptlaw.cpt_areas(pt.values(), cpt.values(), warmup_as_peak=500)
    got = result["loss_potential"]["D_cpt"]["cosine"]["20000"][2]
    assert got == pytest.approx(float(law_cpt(**a._asdict())[-1]), abs=1e-5)


def test_reproduce_setting_override():
    with pytest.raises(ValueError, match="setting"):
        reproduce.reproduce_p1({"nope": 1})


def test_main_text_and_errors(capsys):
    assert reproduce.main(["p1"]) == 0
    text = capsys.readouterr().out
    assert "Turning length" in text and "inf" in text and "trend holds: True" in text
    with pytest.raises(SystemExit):
        reproduce.main(["p3"])


def test_command_json_subprocess():
    pkg_root = str(Path(cptlaw.__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = pkg_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    proc = subprocess.run([sys.executable, "-m", "cptlaw.reproduce", "p1", "--json"], capture_output=True,
                          text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    check_findings(out)
    assert out["conventions"]["null"].startswith("an infinite turning length")


def test_console_command_reproduce_p1_json():
    import json
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    exe = Path(sys.executable).with_name("cptlaw")
    cmd = [str(exe)] if exe.exists() else ([shutil.which("cptlaw")] if shutil.which("cptlaw") else
                                          [sys.executable, "-m", "cptlaw.cli"])
    out = subprocess.run(cmd + ["reproduce", "p1", "--json"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["loss_potential"]["trend_holds"] and data["peak_lr"]["trend_holds"]
    bad = subprocess.run(cmd + ["reproduce", "p9"], capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
