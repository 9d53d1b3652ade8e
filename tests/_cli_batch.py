"""Run many ``cptlaw`` command lines in one process (a subprocess of the tests): reads a JSON list
of argument lists on stdin (a list may start with ``--chdir FOLDER``: run that case there), runs
each through ``cptlaw.cli.main`` with its own stdout/stderr, and prints a JSON list of ``{"code", "stdout", "stderr", "escaped"}`` (``escaped``: the traceback of an
exception that got out of ``main``, which must never happen). A crash of the process itself
(abort, segfault) shows as a missing result. Used by ``test_cli_fuzz.py`` to keep the fuzzing
fast: one interpreter start for many cases."""

import contextlib
import io
import json
import os
import sys
import traceback
import warnings

os.environ.setdefault("MPLBACKEND", "Agg")


def run_one(argv):
    if argv[:1] == ["--chdir"]:  # each case may run in a folder of its own
        os.chdir(argv[1])
        argv = argv[2:]
    out, err = io.StringIO(), io.StringIO()
    escaped = None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
        try:
            from cptlaw.cli import main

            code = main(argv)
        except SystemExit as exc:  # --help / --version
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:  # noqa: BLE001 - reported, never hidden
            code = None
            escaped = traceback.format_exc()
    return {"code": code, "stdout": out.getvalue()[-2000:], "stderr": err.getvalue(), "escaped": escaped}


def main():
    cases = json.load(sys.stdin)
    results = []
    for argv in cases:
        results.append(run_one([str(a) for a in argv]))
    sys.stdout.write(json.dumps(results))


if __name__ == "__main__":
    main()
