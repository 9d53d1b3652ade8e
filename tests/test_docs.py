"""The documentation: executed pages run, cited documents exist, stable anchors stay.

- Every page of ``docs/`` whose front matter says ``execute: true`` has its ```python blocks
  run in order, in one namespace, in a subprocess with matplotlib's Agg backend, by the same
  runner (``docs/_ext/run_blocks.py``) that shows their output in the built docs.
- Every ``.md`` / ``.rst`` document named in ``python/`` (docstrings, messages) must be a file
  of the repository: users cannot read documents that ship nowhere.
- The section labels that docstrings and messages may link to (``docs/laws.md#areas``, ...)
  must stay where they are.

Building the site itself (Sphinx, ``-W``) is a separate CI step.
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _runner():
    spec = importlib.util.spec_from_file_location("run_blocks", DOCS / "_ext" / "run_blocks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run_blocks = _runner()
EXECUTED = sorted(p.name for p in DOCS.glob("*.md") if run_blocks.is_marked(p.read_text(encoding="utf-8")))


def test_the_tutorial_is_executed():
    # Guards the marker itself: without it the tutorial's code would silently stop running.
    assert "tutorial.md" in EXECUTED
    assert "getting-started.md" in EXECUTED


@pytest.mark.parametrize("page", EXECUTED)
def test_executed_page_runs(page):
    pytest.importorskip("matplotlib")
    pytest.importorskip("pandas")
    blocks = run_blocks.python_blocks((DOCS / page).read_text(encoding="utf-8"))
    assert blocks, f"{page} is marked for execution but has no ```python blocks"
    results = run_blocks.run_blocks(blocks)
    for i, res in enumerate(results):
        assert res["error"] is None, f"{page}, python block {i + 1} of {len(blocks)}:\n{res['error']}"
    assert len(results) == len(blocks)


# -- the runner itself ---------------------------------------------------------------------


def test_blocks_are_taken_from_python_fences_only():
    text = (
        "---\nexecute: true\n---\n# Title\n\n```python\nx = 1\n```\n\n"
        "```bash\nls\n```\n\n```{code-block} python\nnot_run()\n```\n\n"
        "```python\nprint(x + 1)\n```\n"
    )
    assert run_blocks.is_marked(text)
    assert run_blocks.python_blocks(text) == ["x = 1\n", "print(x + 1)\n"]
    assert not run_blocks.is_marked("# Title\n\nexecute: true\n")
    assert not run_blocks.is_marked("---\nexecute: false\n---\n")
    assert not run_blocks.is_marked("---\ntitle: x\n---\n\nexecute: true\n\n---\n")


def test_runner_shares_a_namespace_captures_output_and_stops_at_an_error():
    results = run_blocks.run_blocks([
        "import warnings\nx = 41\nprint('hello')",
        "warnings.warn('careful', UserWarning)\nprint(x + 1)",
        "raise ValueError('boom')",
        "print('never reached')",
    ])
    assert [r["output"] for r in results[:2]] == ["hello\n", "UserWarning: careful\n42\n"]
    assert len(results) == 3
    assert results[0]["error"] is None and results[1]["error"] is None
    assert "ValueError: boom" in results[2]["error"]


def test_runner_returns_open_figures():
    pytest.importorskip("matplotlib")
    (res,) = run_blocks.run_blocks(["import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.figure()"])
    assert res["error"] is None
    assert len(res["figures"]) == 2
    assert all(f.startswith("iVBORw0KGgo") for f in res["figures"])  # base64 of the PNG signature


# -- documents cited by the package ----------------------------------------------------------

_CITED = re.compile(r"(?<![\w./-])([\w./-]+\.(?:md|rst))\b")
_SKIP_DIRS = {".git", "build", "_build", ".ci-venv", "node_modules", "__pycache__", ".pytest_cache"}


def _repository_files() -> set:
    out = set()
    for dirpath, dirnames, filenames in os.walk(ROOT):
        dirnames[:] = [d for d in dirnames if d not in _SKIP_DIRS]
        for name in filenames:
            out.add(os.path.relpath(os.path.join(dirpath, name), ROOT).replace(os.sep, "/"))
    return out


def _citations() -> list:
    found = []
    for path in sorted((ROOT / "python").rglob("*.py")):
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in _CITED.finditer(line):
                if line[:match.start()].endswith(":"):  # part of a URL (https://...), not a file
                    continue
                found.append((f"{path.relative_to(ROOT)}:{lineno}", match.group(1)))
    return found


def _exists(name: str, files: set) -> bool:
    name = name.lstrip("./")
    return any(f == name or f.endswith("/" + name) for f in files)


def test_every_document_cited_by_the_package_exists():
    files = _repository_files()
    missing = [f"{where}: {name}" for where, name in _citations() if not _exists(name, files)]
    assert not missing, "documents cited in python/ but not in the repository:\n" + "\n".join(missing)


def test_citation_finder_finds_citations():
    # Keeps the xfail test above honest: it must see the citations it judges.
    files = {"docs/laws.md", "README.md"}
    assert _exists("docs/laws.md", files) and _exists("laws.md", files) and _exists("README.md", files)
    assert not _exists("LAW.md", files)
    line = "see LAW.md section 6, docs/laws.md#limits and `README.md`; not a.mdx or x.md5"
    assert [m.group(1) for m in _CITED.finditer(line)] == ["LAW.md", "docs/laws.md", "README.md"]


# -- stable anchors ---------------------------------------------------------------------------

#: Labels that docstrings, messages and the README may point to, by page. Renaming one breaks
#: those links: add the new label and keep the old one.
STABLE_LABELS = {
    "laws.md": ["laws", "areas", "decay-lambda", "lr-weighted-s2", "annealing-law", "cpt-law", "shared-c",
                "extensions", "replay", "model-size", "open-source", "powered-s2", "out-of-domain",
                "derived-quantities", "loss-potential", "critical-point", "turning-length", "balance",
                "published-parameters", "choosing-a-law"],
    "conventions.md": ["conventions", "step-counting", "warmup", "rewarmup", "s2-split", "options-travel"],
    "fitting.md": ["fitting", "objective", "solver", "bounds", "identifiability", "uncertainty", "limits"],
    "schedules.md": ["schedules", "step-index", "schedule-families", "wsd", "rewarmup-schedule", "composition",
                     "schedule-areas", "from-torch"],
    "tutorial.md": ["tutorial"],
    "cli.md": ["cli"],
    "performance.md": ["performance", "benchmark-table", "running-benchmarks"],
    "data.md": ["data", "data-tinycpt", "data-multipowerlaw", "data-lr-scheduling"],
}


@pytest.mark.parametrize("page", sorted(STABLE_LABELS))
def test_stable_labels_exist(page):
    text = (DOCS / page).read_text(encoding="utf-8")
    labels = set(re.findall(r"^\(([\w-]+)\)=\s*$", text, re.M))
    missing = [label for label in STABLE_LABELS[page] if label not in labels]
    assert not missing, f"docs/{page} lost the label(s) {missing}"
