"""Sphinx extension: run the python blocks of marked pages and show their output.

A page whose front matter says ``execute: true`` has its ```python blocks run in order, in
one namespace, by :mod:`run_blocks` (a subprocess, matplotlib Agg) when Sphinx reads it.
Under each block that printed something the output appears as a literal block, and each
figure the block left open as an image (embedded as a data URI). A block that raises fails
the build with a warning pointing at the block. The same runner is what
``tests/test_docs.py`` uses, so the tested code is the code shown.
"""

from __future__ import annotations

import os
import sys

from docutils import nodes
from sphinx.util import logging

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_blocks  # noqa: E402

logger = logging.getLogger(__name__)


def _is_marked(app, docname) -> bool:
    value = app.env.metadata.get(docname, {}).get("execute")
    return value is True or str(value).strip().lower() == "true"


def _execute(app, doctree):
    docname = app.env.docname
    if not _is_marked(app, docname):
        return
    # The blocks are taken from the page source exactly as tests/test_docs.py takes them, so
    # what CI tests is what runs here; ```{code-block} python examples are shown, not run.
    with open(app.env.doc2path(docname), encoding="utf-8") as fh:
        sources = run_blocks.python_blocks(fh.read())
    if not sources:
        return
    try:
        results = run_blocks.run_blocks(sources)
    except Exception as exc:  # the runner itself broke (timeout, crash)
        logger.warning("executing %s: %s", docname, exc, location=docname)
        return
    nodes_by_text = [n for n in doctree.findall(nodes.literal_block) if n.get("language") == "python"]
    for source, res in zip(sources, results):
        node = next((n for n in nodes_by_text if n.astext().rstrip("\n") == source.rstrip("\n")), None)
        if node is None:
            logger.warning("%s: cannot find the rendered block of:\n%s", docname, source, location=docname)
            continue
        nodes_by_text.remove(node)
        extra = []
        if res["output"]:
            out = nodes.literal_block(res["output"], res["output"], language="none")
            out["classes"].append("cell-output")
            extra.append(out)
        for png in res["figures"]:
            img = nodes.image(uri="data:image/png;base64," + png, alt="figure produced by the code above")
            img["classes"].append("cell-figure")
            extra.append(img)
        if res["error"]:
            logger.warning("a python block of %s raised:\n%s", docname, res["error"], location=node)
        parent = node.parent
        index = parent.index(node)
        for k, new in enumerate(extra):
            parent.insert(index + 1 + k, new)


def setup(app):
    # Before the image collector (priority 500) so that the figures are registered.
    app.connect("doctree-read", _execute, priority=400)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
