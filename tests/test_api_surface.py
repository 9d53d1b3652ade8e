"""The public API as tools see it: ``__all__``, ``dir()``, signatures and type checking.

- Every public module (``cptlaw`` and each submodule whose dotted name has no part
  starting with ``_``) has an ``__all__`` that lists exactly its public names: each exists,
  none is private, every public class or function defined in the module is listed, and
  ``dir(module)`` shows nothing else but submodules (a stray ``np`` or ``math`` fails).
- Every public callable has a signature ``inspect.signature`` can read, and every law's
  constructor, call and gradient name the law's parameters and inputs.
- ``mypy`` passes on the package (when mypy is installed).
"""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import cptlaw

ROOT = Path(__file__).resolve().parents[1]


def _public_modules() -> list:
    names = ["cptlaw"]
    for info in pkgutil.walk_packages(cptlaw.__path__, "cptlaw."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names)


PUBLIC_MODULES = _public_modules()


def _module(name):
    return importlib.import_module(name)


def _is_submodule(obj, modname: str) -> bool:
    return inspect.ismodule(obj) and obj.__name__.startswith(modname + ".")


def test_public_modules_are_found():
    # Guards the walk itself: without these the tests below would check almost nothing.
    for name in ("cptlaw", "cptlaw.laws", "cptlaw.io", "cptlaw.io.csv_runs", "cptlaw.integrations.torch",
                 "cptlaw.cli"):
        assert name in PUBLIC_MODULES
    assert not any("._" in name for name in PUBLIC_MODULES)


@pytest.mark.parametrize("modname", PUBLIC_MODULES)
def test_all_lists_existing_public_names(modname):
    module = _module(modname)
    assert hasattr(module, "__all__"), f"{modname} has no __all__"
    names = list(module.__all__)
    assert all(isinstance(n, str) for n in names)
    assert len(set(names)) == len(names), f"{modname}.__all__ has duplicates"
    private = [n for n in names if n.startswith("_")]
    assert not private, f"{modname}.__all__ lists private names {private}"
    for name in names:
        if not hasattr(module, name):  # a submodule that is imported on demand
            importlib.import_module(f"{modname}.{name}")
        assert hasattr(module, name), f"{modname}.__all__ lists {name!r}, which does not exist"


@pytest.mark.parametrize("modname", PUBLIC_MODULES)
def test_every_public_definition_is_in_all(modname):
    module = _module(modname)
    defined = [n for n, v in vars(module).items()
               if not n.startswith("_") and (inspect.isclass(v) or inspect.isfunction(v))
               and getattr(v, "__module__", None) == modname]
    missing = sorted(set(defined) - set(module.__all__))
    assert not missing, f"{modname} defines public {missing} but leaves them out of __all__"


@pytest.mark.parametrize("modname", PUBLIC_MODULES)
def test_dir_shows_only_the_public_names_and_submodules(modname):
    module = _module(modname)
    extra = [n for n in dir(module)
             if not n.startswith("_") and n not in module.__all__ and not _is_submodule(getattr(module, n), modname)]
    assert not extra, f"dir({modname}) shows names that are not in its __all__: {extra}"


@pytest.mark.parametrize("modname", PUBLIC_MODULES)
def test_star_import_exports_exactly_all(modname):
    namespace: dict = {}
    exec(f"from {modname} import *", namespace)
    exported = {n for n in namespace if n != "__builtins__"}
    assert exported == set(_module(modname).__all__)


def test_a_stray_import_is_caught():
    # The checks above on a module made for the purpose: a helper import left visible fails.
    import types

    module = types.ModuleType("cptlaw.fake")
    exec("import math\nimport numpy as np\n__all__ = ['f']\ndef f():\n    return np.pi\n", module.__dict__)
    module.__dict__["f"].__module__ = "cptlaw.fake"
    extra = [n for n in dir(module) if not n.startswith("_") and n not in module.__all__
             and not _is_submodule(getattr(module, n), "cptlaw.fake")]
    assert extra == ["math", "np"]
