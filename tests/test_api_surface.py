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
import subprocess
import sys
from pathlib import Path

import numpy as np
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


def _optional(module, name) -> bool:
    """Whether ``module.name`` needs an optional dependency that is not installed here (the
    Hugging Face callbacks without transformers): it exists, and says what to install."""
    try:
        getattr(module, name)
    except ImportError as exc:
        if "pip install" not in str(exc):
            raise
        return True
    except AttributeError:
        pass
    return False


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
        if _optional(module, name):
            continue
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
    missing = [n for n in _module(modname).__all__ if _optional(_module(modname), n)]
    if missing:
        pytest.skip(f"{modname}: {missing[0]} needs an optional dependency that is not installed")
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


# -- warnings point at the caller's line ----------------------------------------------------------


def test_tracker_warning_points_at_the_caller():
    tracker = cptlaw.Tracker(warmup_as_peak=10, peak_lr=1e-3)
    with pytest.warns(RuntimeWarning, match="exceeds peak_lr") as rec:
        tracker.step(2e-3)
    assert rec[0].filename == __file__


def test_live_warnings_point_at_the_caller():
    from cptlaw.live import BandWarning, LivePredictor, PlanWarning

    lr_pt, lr_cpt = np.full(100, 1e-3), np.full(50, 5e-4)
    live = LivePredictor(planned_lr_pt=lr_pt, planned_lr_cpt=lr_cpt)
    with pytest.warns(BandWarning, match="not finite") as rec:
        live.observe(10, {"pt": float("nan"), "cpt": 3.0})
    assert rec[0].filename == __file__ and isinstance(rec[0].message, BandWarning)

    tracker = cptlaw.Tracker()
    live = LivePredictor(tracker, planned_lr_pt=lr_pt, planned_lr_cpt=lr_cpt)
    for _ in range(5):
        tracker.step(2e-3)
    with pytest.warns(PlanWarning, match="does not follow the plan") as rec:
        live.observe({"pt": 3.0, "cpt": 3.0})
    assert rec[0].filename == __file__


def test_a_warning_through_nested_package_calls_points_at_the_caller():
    # fit_runs -> fit -> the identifiability screen: three cptlaw frames deep, one warning here.
    lr = np.full(400, 1e-3)
    steps = np.arange(40, 401, 40)
    s1, s2 = cptlaw.areas(lr)
    law = cptlaw.CPTLaw(L0=3.0, A=0.4, alpha=0.5, C1=0.3, C2=0.3, B=0.3, E=30.0, beta=0.2)
    loss = law(s1_pt=s1, s2_pt=s2, s1_cpt=0.0, s2_cpt=0.0)[steps - 1]
    run = cptlaw.Run(lr_pt=lr, steps=steps, loss=loss)
    with pytest.warns(cptlaw.IdentifiabilityWarning) as rec:
        cptlaw.fit_runs(cptlaw.CPTLaw, [run])
    assert [w.filename for w in rec if issubclass(w.category, cptlaw.IdentifiabilityWarning)] == [__file__]


def test_deprecated_reader_option_warning_points_at_the_caller(tmp_path):
    path = tmp_path / "run.csv"
    path.write_text("step,lr,loss\n" + "".join(f"{s},0.001,{3 - 1e-3 * s}\n" for s in range(1, 21)))
    with pytest.warns(DeprecationWarning, match="lr_key= is deprecated") as rec:
        cptlaw.io.read_runs([path], lr_key="lr")
    assert rec[0].filename == __file__


# -- signatures -------------------------------------------------------------------------------------


def _public_callables():
    seen, out = set(), []
    for modname in PUBLIC_MODULES:
        module = _module(modname)
        for name in module.__all__:
            if _optional(module, name):
                continue
            obj = getattr(module, name)
            if inspect.ismodule(obj) or not callable(obj) or id(obj) in seen:
                continue
            seen.add(id(obj))
            out.append((f"{modname}.{name}", obj))
            if inspect.isclass(obj):
                for attr, member in vars(obj).items():
                    if not attr.startswith("_") and inspect.isfunction(member):
                        out.append((f"{modname}.{name}.{attr}", member))
    return out


PUBLIC_CALLABLES = _public_callables()


def test_public_callables_are_found():
    names = {name for name, _ in PUBLIC_CALLABLES}
    assert {"cptlaw.fit", "cptlaw.CPTLaw", "cptlaw.Tracker.step", "cptlaw.schedules.cosine"} <= names
    assert len(names) > 150


@pytest.mark.parametrize("name, obj", PUBLIC_CALLABLES, ids=[n for n, _ in PUBLIC_CALLABLES])
def test_every_public_callable_has_a_signature(name, obj):
    if inspect.isclass(obj) and issubclass(obj, BaseException):
        pytest.skip("exceptions and warnings take the builtin message argument")
    if inspect.isclass(obj) and issubclass(obj, dict) and "__init__" not in vars(obj):
        pytest.skip("a result record: cptlaw makes it, and it constructs like dict")
    inspect.signature(obj)  # raises ValueError / TypeError when there is none


@pytest.mark.parametrize("cls", cptlaw.LAWS, ids=[c.__name__ for c in cptlaw.LAWS])
def test_every_law_signature_names_its_parameters_and_inputs(cls):
    params = list(inspect.signature(cls).parameters)
    assert params == list(cls.param_names)
    law = cls(*np.linspace(0.3, 0.9, len(cls.param_names)))
    call = inspect.signature(law)
    assert list(call.parameters) == list(cls.input_names) + ["out"]
    assert call.parameters["out"].kind is inspect.Parameter.KEYWORD_ONLY and call.parameters["out"].default is None
    for method in (law.grad, law.value_and_grad):
        assert list(inspect.signature(method).parameters) == list(cls.input_names)
    # the signatures describe calls that work, and those calls behave as before
    inputs = {n: np.linspace(1.0, 2.0, 3) for n in cls.input_names}
    bound = call.bind(**inputs)
    np.testing.assert_array_equal(law(*bound.args, **bound.kwargs), law(**inputs))
    np.testing.assert_array_equal(law.grad(**inputs), law.value_and_grad(**inputs)[1])
    assert cls(*inspect.signature(cls).bind(*law.param_vector).args) == law
    with pytest.raises(TypeError, match="missing parameter"):
        cls()
    assert cls.__init__.__doc__ and cls.param_names[0] in cls.__init__.__doc__


def test_law_signatures_leave_an_overriding_subclass_alone():
    class Doubled(cptlaw.CPTLaw):
        def grad(self, *args, **inputs):
            return 2 * super().grad(*args, **inputs)

    p = np.linspace(0.3, 0.9, 8)
    feats = dict(s1_pt=1.0, s2_pt=0.1, s1_cpt=0.5, s2_cpt=0.0)
    np.testing.assert_allclose(Doubled(*p).grad(**feats), 2 * cptlaw.CPTLaw(*p).grad(**feats))
    assert list(inspect.signature(Doubled).parameters) == list(cptlaw.CPTLaw.param_names)


# -- static types --------------------------------------------------------------------------------------


def test_the_package_ships_its_type_information():
    package = Path(cptlaw.__file__).parent
    assert (package / "py.typed").exists()
    assert (package / "_core.pyi").exists()


def test_mypy_passes_on_the_package(tmp_path):
    pytest.importorskip("mypy")
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), "--cache-dir",
         str(tmp_path / "mypy-cache"), str(ROOT / "python" / "cptlaw")],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "MYPY_FORCE_COLOR": "0"},
    )
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
