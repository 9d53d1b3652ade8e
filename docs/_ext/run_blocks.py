"""Run the ```python blocks of a documentation page, in order, in one namespace.

Used twice, so that what CI tests is what the docs show:

- ``tests/test_docs.py`` runs every page marked for execution (front matter ``execute: true``)
  through :func:`run_page` and fails on the first error;
- the Sphinx extension ``execute_pages`` runs the same blocks at build time and shows each
  block's output (printed text, warnings, matplotlib figures) under it.

Blocks run in a fresh subprocess (``python run_blocks.py``, JSON on stdin and stdout) with
matplotlib's Agg backend, in a scratch working directory, so a page can neither see nor
change the process that builds or tests it. Only the standard library is needed here.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import traceback
import warnings

#: the front matter of a page: a block between two ``---`` lines at its very start
FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)^---[ \t]*$", re.S | re.M)
#: the front matter line that marks a page for execution
MARKER = re.compile(r"^execute:[ \t]*true[ \t]*$", re.M)
#: a fenced python block: ```python ... ``` at the start of a line (MyST / CommonMark)
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)


def is_marked(text: str) -> bool:
    """Whether a page's front matter asks for its python blocks to be executed."""
    front = FRONT_MATTER.match(text)
    return bool(front and MARKER.search(front.group(1)))


def python_blocks(text: str) -> list:
    """The source of every ```python fenced block of a markdown page, in order."""
    return [m.group(1) for m in FENCE.finditer(text)]


def run_blocks(blocks, *, timeout: float = 600.0, env=None) -> list:
    """Run ``blocks`` in one subprocess; one result dict per block that ran:
    ``output`` (stdout, stderr and warnings, interleaved as printed), ``figures``
    (base64 PNGs of the figures the block left open) and ``error`` (a traceback or None).
    Execution stops at the first error."""
    run_env = dict(os.environ if env is None else env)
    run_env["MPLBACKEND"] = "Agg"
    # The blocks run in a scratch directory: keep relative PYTHONPATH entries (PYTHONPATH=python
    # in a source checkout) pointing where they pointed.
    if run_env.get("PYTHONPATH"):
        run_env["PYTHONPATH"] = os.pathsep.join(os.path.abspath(p) for p in run_env["PYTHONPATH"].split(os.pathsep) if p)
    with tempfile.TemporaryDirectory(prefix="cptlaw-docs-") as scratch:
        proc = subprocess.run(
            [sys.executable, os.path.abspath(__file__)],
            input=json.dumps(list(blocks)),
            capture_output=True,
            text=True,
            cwd=scratch,
            env=run_env,
            timeout=timeout,
        )
    if proc.returncode != 0:
        raise RuntimeError(f"the block runner failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout)


def run_page(path: str, **kwargs) -> list:
    """:func:`run_blocks` on the python blocks of the page at ``path``."""
    with open(path, encoding="utf-8") as fh:
        return run_blocks(python_blocks(fh.read()), **kwargs)


# -- inside the subprocess -----------------------------------------------------------------


def _figures() -> list:
    """PNGs of the open matplotlib figures (then closed); none if matplotlib is not loaded."""
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None:
        return []
    out = []
    for num in plt.get_fignums():
        buf = io.BytesIO()
        plt.figure(num).savefig(buf, format="png", dpi=90, bbox_inches="tight")
        out.append(base64.b64encode(buf.getvalue()).decode("ascii"))
    plt.close("all")
    return out


def _show_warning(message, category, filename, lineno, file=None, line=None):
    # One line per warning, as a notebook shows it, without the path of the library file.
    print(f"{category.__name__}: {message}", file=sys.stderr)


def _main() -> int:
    blocks = json.loads(sys.stdin.read())
    namespace = {"__name__": "__main__"}
    results = []
    real_stdout = sys.stdout
    warnings.showwarning = _show_warning
    for i, source in enumerate(blocks):
        buf = io.StringIO()
        error = None
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
            try:
                code = compile(source, f"<block {i + 1}>", "exec")
                exec(code, namespace)
            except BaseException:  # report anything, including SystemExit, as the block's error
                error = traceback.format_exc()
        results.append({"output": buf.getvalue(), "figures": _figures(), "error": error})
        if error:
            break
    real_stdout.write(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(_main())
