"""Sphinx configuration of the cptlaw documentation.

Build (from the repository root, with the package installed: ``pip install ".[docs]"``)::

    sphinx-build -W --keep-going -b html docs docs/_build/html
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "_ext"))

import cptlaw  # noqa: E402  (the installed package: the API and CLI pages are generated from it)

project = "cptlaw"
author = "the cptlaw authors"
copyright = "the cptlaw authors"
release = cptlaw.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "api_pages",
    "cli_reference",
    "execute_pages",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "_ext", ".gitignore"]
templates_path = []

# MyST: $...$ math, ::: fences, definition lists; anchors for headings down to ###.
myst_enable_extensions = ["dollarmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# Docstrings are NumPy style.
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
# The integrations import their frameworks lazily; the docs need neither.
autodoc_mock_imports = ["torch", "transformers", "accelerate"]

html_theme = "furo"
html_title = f"cptlaw {release}"
html_static_path = ["_static"]
html_css_files = ["cptlaw.css"]

# Docstring types such as "list of (step, Prediction)" become cross-references, and a bare
# "step" matches several attributes; those ambiguous links are left as plain text.
suppress_warnings = ["ref.python"]
