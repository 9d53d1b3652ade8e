"""The README's example runs as printed and shows what it says it shows.

The first ```python block of README.md runs in a fresh interpreter (cwd: a temporary
folder). Its comments claim that the fit, with E held at its true value, recovers the other
seven parameters within a few percent and within their standard errors, and that the fitted
run predicts its own observations closely; this test holds it to that.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import cptlaw

ROOT = Path(__file__).resolve().parents[1]

#: appended to the example: what it computed, as JSON on the last line
_REPORT = """
import json as _json
print("README-RESULT " + _json.dumps({
    "true": law.params, "fitted": res.params, "stderr": res.stderr, "success": bool(res.success),
    "at_bound": list(res.at_bound), "grad_shape": list(grad.shape),
    "predicted": [float(x) for x in cptlaw.predict_run(fitted, run)], "observed_true": [float(x) for x in loss[steps]],
}))
"""


def _example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Example"):]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "README.md: no ```python block in the Example section"
    first = re.search(r"```python\n(.*?)```", text, re.S)
    assert first.group(1) == match.group(1), "the Example block is no longer the README's first python block"
    return match.group(1)


def test_readme_example_runs_and_recovers_what_it_claims(tmp_path):
    code = _example()
    assert 'fixed={"E": 5662}' in code  # the example says E is held; the checks below rely on it
    env = dict(os.environ)
    package_root = str(Path(cptlaw.__file__).resolve().parents[1])  # the same cptlaw as this process
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    proc = subprocess.run([sys.executable, "-W", "error::UserWarning", "-c", code + _REPORT], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert lines[-1].startswith("README-RESULT ")
    got = json.loads(lines[-1][len("README-RESULT "):])
    assert lines[0].startswith("converged") and got["success"] and not got["at_bound"]
    assert got["grad_shape"] == [30_000, 8]
    true, fitted, stderr = got["true"], got["fitted"], got["stderr"]
    assert fitted["E"] == true["E"] and stderr["E"] == 0.0
    for name in true:
        if name == "E":
            continue
        assert abs(fitted[name] - true[name]) <= 0.1 * abs(true[name]), (name, fitted[name], true[name])
        assert 0 < stderr[name] < 0.2 * abs(true[name]), (name, stderr[name])
        assert abs(fitted[name] - true[name]) <= 3 * stderr[name], (name, fitted[name], true[name], stderr[name])
    # the example prints one line per parameter, with the truth beside the fit
    printed = [line.split(":")[0].strip() for line in lines[1:1 + len(true)]]
    assert printed == list(true)
    # the fitted run follows the noiseless truth at every observation
    pred, obs = got["predicted"], got["observed_true"]
    assert len(pred) == len(obs) == 300
    assert max(abs(p / o - 1) for p, o in zip(pred, obs)) < 2e-3
