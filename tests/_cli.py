"""Running the ``cptlaw`` command line from the tests: as a real subprocess (the console script
when the imported cptlaw is the installed one, else ``python -m cptlaw``), and many command lines
in one subprocess (:func:`run_batch`, for fuzzing)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig

import cptlaw

HERE = os.path.dirname(os.path.abspath(__file__))
PKG_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(cptlaw.__file__)))


def command() -> list:
    """The console script when the imported cptlaw is the installed one, else ``python -m cptlaw``
    (e.g. a build on PYTHONPATH, which the script next to sys.executable would not run)."""
    script = shutil.which("cptlaw", path=os.path.dirname(sys.executable))
    site = {os.path.realpath(sysconfig.get_paths()[k]) for k in ("purelib", "platlib")}
    if script and os.path.realpath(PKG_ROOT) in site:
        return [script]
    return [sys.executable, "-m", "cptlaw"]


def environment(extra=None) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = PKG_ROOT + os.pathsep + env.get("PYTHONPATH", "")  # the same cptlaw as this process
    env.setdefault("MPLBACKEND", "Agg")
    env.update(extra or {})
    return env


def run_cli(*args, cwd=None, env=None, timeout=120):
    """One ``cptlaw`` command line as a subprocess (a CompletedProcess with text output)."""
    return subprocess.run(command() + [str(a) for a in args], capture_output=True, text=True, cwd=cwd,
                          env=environment(env), timeout=timeout)


def one_line_error(p, code=None) -> str:
    """The single stderr line of a failed command (asserting: non-zero status, one line, no traceback)."""
    assert p.returncode != 0, p.stdout
    if code is not None:
        assert p.returncode == code, (p.returncode, p.stderr)
    assert "Traceback" not in p.stderr, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    return lines[0]


def run_batch(cases, cwd, timeout=300) -> list:
    """Many command lines (lists of arguments) through ``cptlaw.cli.main`` in one subprocess; one
    result dict per case (see ``_cli_batch.py``)."""
    p = subprocess.run([sys.executable, os.path.join(HERE, "_cli_batch.py")], input=json.dumps(cases),
                       capture_output=True, text=True, cwd=cwd, env=environment(), timeout=timeout)
    assert p.returncode == 0, f"the batch process died (status {p.returncode}):\n{p.stderr[-3000:]}"
    results = json.loads(p.stdout)
    assert len(results) == len(cases)
    return results


__all__ = ["command", "environment", "one_line_error", "run_batch", "run_cli"]
