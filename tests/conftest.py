"""Shared test setup.

The helper modules next to the tests (``_data``: the real curves in ``tests/data`` and the
package's bundled tinycpt runs; ``_cli``: running the command line) are imported as top-level
modules: pytest's default ``prepend`` import mode puts this folder on the module search path for
the test modules here (the folder has no ``__init__.py``), so no test edits the path itself.
"""

from __future__ import annotations

import os

import pytest

# plots in the tests and in the command lines they start never need a display
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def tiny_fit_files():
    """The tinycpt curves ``cptlaw demo`` fits on (two PT runs, two CPT runs)."""
    from _data import tiny_csv

    return [tiny_csv(n) for n in ("pt_const", "pt_anneal", "cpt_const", "cpt_cos")]
