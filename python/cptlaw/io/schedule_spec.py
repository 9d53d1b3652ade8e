"""Schedule specs: learning-rate schedules written as JSON/YAML, built with :mod:`cptlaw.schedules`.

A spec names a constructor of :mod:`cptlaw.schedules` and its keyword arguments; a file holds one
schedule, a PT and a CPT phase, or per-run schedules. Every error points at the key it is about.
"""

from __future__ import annotations

import inspect
import math
import os
import re
from typing import NamedTuple

import numpy as np

from .. import _validate
from ._limits import MAX_STEPS, steps_text
from ._located import DataError, Doc, fmt_path


class PhaseSchedules(NamedTuple):
    """The schedules of a run: ``pt`` and optionally ``cpt`` (each a ``cptlaw.schedules.Schedule``
    or a per-step LR array)."""

    pt: object
    cpt: object = None

    def lr(self):
        """``(lr_pt, lr_cpt)`` as per-step arrays (``lr_cpt`` None without a CPT phase)."""
        return _values(self.pt), (None if self.cpt is None else _values(self.cpt))

    @property
    def pt_steps(self) -> int:
        return _length(self.pt)

    @property
    def total_steps(self) -> int:
        return self.pt_steps + (0 if self.cpt is None else _length(self.cpt))


def _values(s):
    if hasattr(s, "values") and callable(s.values):
        return np.asarray(s.values(), dtype=np.float64)
    return np.asarray(s, dtype=np.float64)


def _length(s) -> int:
    steps = getattr(s, "steps", None)
    if isinstance(steps, (int, np.integer)) and not isinstance(steps, bool):
        return int(steps)
    return len(_values(s))


_ALIASES = {
    "const": "constant",
    "cos": "cosine",
    "1-sqrt": "one_minus_sqrt",
    "1_minus_sqrt": "one_minus_sqrt",
    "inverse-sqrt": "inverse_sqrt",
    "cyclic": "cyclic_cosine",
    "rewarm": "rewarmup",
    "re-warmup": "rewarmup",
    "hf": "from_hf",
    "warmup_stable_decay": "wsd",
}
_CONSTRUCTORS = (
    "constant", "cosine", "linear", "wsd", "one_minus_sqrt", "exponential", "inverse_sqrt",
    "polynomial", "multistep", "cyclic_cosine", "rewarmup", "from_hf",
)


def _schedule_kinds():
    from .. import schedules

    return [k for k in _CONSTRUCTORS if hasattr(schedules, k)] + ["values", "concat"]


def _int_params(params):
    """Names of a constructor's whole-number arguments (annotated ``int``): step counts."""
    out = set()
    for p in params.values():
        ann = p.annotation if isinstance(p.annotation, str) else getattr(p.annotation, "__name__", "")
        if re.search(r"\bint\b", str(ann)):
            out.add(p.name)
    return out | {"milestones"}


def _finite(v) -> bool:
    try:
        return math.isfinite(v)
    except OverflowError:  # an int beyond the float range
        return False


def _too_large(v):
    return (isinstance(v, (int, float)) and not isinstance(v, bool) and (isinstance(v, int) or math.isfinite(v))
            and abs(v) > MAX_STEPS)


def schedule_from_spec(spec, *, _doc=None, _path=()):
    """Build a ``cptlaw.schedules.Schedule`` from a spec.

    A spec is a dict ``{"kind": NAME, **kwargs}`` naming a constructor of
    :mod:`cptlaw.schedules` (``constant``, ``cosine``, ``linear``, ``wsd``,
    ``one_minus_sqrt``, ``exponential``, ``inverse_sqrt``, ``polynomial``, ``multistep``,
    ``cyclic_cosine``, ``rewarmup``, ``from_hf``; aliases ``const``, ``cos``, ``1-sqrt``,
    ``hf``) and its keyword arguments, e.g. ``{"kind": "wsd", "peak_lr": 3e-4,
    "steps": 5000, "decay_steps": 1000}``; or ``{"kind": "values", "values": [...]}`` (or a
    bare list of numbers) for explicit per-step LRs; or ``{"kind": "concat", "parts":
    [spec, ...]}`` (or a list of specs) for pieces one after the other. Schedules longer
    than ``cptlaw.io.MAX_STEPS`` updates are refused.
    """
    sched = _build(spec, _doc, _path)
    _check_built(sched, _doc, _path)
    return sched


def _error(doc, msg, path, key=False):
    if doc is not None:
        return doc.error(msg, path, key)
    return DataError(f"spec.{fmt_path(path)}: {msg}" if path else f"spec: {msg}")  # an in-memory spec


def _build(spec, doc, path):
    from .. import schedules

    def err(msg, where=path, key=False):
        return _error(doc, msg, where, key)

    if isinstance(spec, list):
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in spec):
            spec = {"kind": "values", "values": spec}
        elif spec and all(isinstance(v, dict) for v in spec):
            parts = [_build(v, doc, path + (i,)) for i, v in enumerate(spec)]
            return _concat(schedules, parts, err)
        else:
            raise err("a list must hold either learning rates (numbers) or schedule specs (objects)")
    if not isinstance(spec, dict):
        raise err(f"expected a schedule spec (an object with \"kind\"), got {_type_name(spec)}")
    if "kind" not in spec:
        raise err(f"schedule spec needs \"kind\" (one of {', '.join(_schedule_kinds())})")
    kind = spec["kind"]
    if not isinstance(kind, str):
        raise err("\"kind\" must be a string", path + ("kind",))
    name = _ALIASES.get(kind.lower(), kind.lower())
    kwargs = {k: v for k, v in spec.items() if k != "kind"}
    if name == "values":
        extra = [k for k in kwargs if k != "values"]
        if extra:
            raise err(f"unknown key {extra[0]!r} in a \"values\" schedule (expected \"values\")", path + (extra[0],),
                      True)
        vals = kwargs.get("values")
        if not isinstance(vals, list) or not vals:
            raise err("\"values\" must be a non-empty list of learning rates", path + ("values",))
        if len(vals) > MAX_STEPS:
            raise err(f"\"values\" lists {len(vals):,} learning rates; at most {steps_text()} updates are read",
                      path + ("values",))
        for i, v in enumerate(vals):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not _finite(v) or v < 0:
                raise err(f"learning rate {_validate.describe(v)} is not a finite number >= 0", path + ("values", i))
        return schedules.from_values(np.asarray(vals, dtype=np.float64))
    if name == "concat":
        parts = kwargs.get("parts")
        extra = [k for k in kwargs if k != "parts"]
        if extra:
            raise err(f"unknown key {extra[0]!r} in a \"concat\" schedule (expected \"parts\")", path + (extra[0],),
                      True)
        if not isinstance(parts, list) or not parts:
            raise err("\"parts\" must be a non-empty list of schedule specs", path + ("parts",))
        built = [_build(v, doc, path + ("parts", i)) for i, v in enumerate(parts)]
        return _concat(schedules, built, err)
    if name not in _CONSTRUCTORS or not hasattr(schedules, name):
        raise err(f"unknown schedule kind {kind!r}; expected one of {', '.join(_schedule_kinds())}", path + ("kind",))
    fn = getattr(schedules, name)
    params = inspect.signature(fn).parameters
    takes_var = any(p.kind == p.VAR_KEYWORD for p in params.values())
    if not takes_var:
        for k in kwargs:
            if k not in params:
                raise err(f"unknown argument {k!r} for schedule {name!r}; it takes {', '.join(params)}",
                          path + (k,), True)
    missing = [p.name for p in params.values()
               if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
               and p.name not in kwargs]
    if missing:
        raise err(f"schedule {name!r} needs {', '.join(repr(m) for m in missing)}")
    counts = _int_params(params)
    for k, v in list(kwargs.items()):
        if k not in counts:
            continue
        items = v if (k == "milestones" and isinstance(v, list)) else [v]
        for j, x in enumerate(items):
            if _too_large(x):
                where = path + ((k, j) if items is v else (k,))
                shown = f"{x:g}" if _finite(x) else _validate.describe(x)  # %g overflows on huge ints
                raise err(f"{k}: {shown} is out of range (cptlaw reads schedules of at most {steps_text()} updates)",
                          where)
        if isinstance(v, float) and v.is_integer():  # JSON numbers like 5000.0 or 1e3 for step counts
            kwargs[k] = int(v)
    try:
        return fn(**kwargs)
    except (TypeError, ValueError, ArithmeticError, IndexError, KeyError) as exc:
        msg = " ".join(str(exc).split())
        if isinstance(exc, OverflowError):
            detail = exc.args[-1] if exc.args else "overflow"
            msg = f"its learning rates overflow a float ({detail}); check {', '.join(repr(k) for k in kwargs)}"
        m = re.match(r"(\w+):", msg)
        where = path + (m.group(1),) if m and m.group(1) in kwargs else path
        raise err(f"schedule {name!r}: {msg}", where) from None


def _concat(schedules, parts, err):
    try:
        return schedules.concat(*parts)
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise err(f"cannot join the schedules: {' '.join(str(exc).split())}") from None


def _type_name(v):
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(v), "a number" if isinstance(v, (int, float)) else type(v).__name__)


def _check_built(sched, doc, path):
    """A schedule read from a file must fit in memory and give finite learning rates >= 0."""
    n = _length_of(sched)
    if n is not None and n > MAX_STEPS:
        raise _error(doc, f"the schedule has {n:,} updates; cptlaw reads schedules of at most {steps_text()}",
                     _steps_key(doc, path))
    try:
        with np.errstate(all="ignore"):
            lr = _values(sched)
    except (TypeError, ValueError, ArithmeticError, MemoryError) as exc:
        raise _error(doc, f"cannot evaluate the schedule: {' '.join(str(exc).split())}", path) from None
    bad = np.flatnonzero(~np.isfinite(lr) | (lr < 0))
    if bad.size:
        raise _error(doc, f"the schedule's learning rate at update {bad[0] + 1} is {lr[bad[0]]!r}, not a finite "
                          "number >= 0", path)


def _length_of(sched):
    steps = getattr(sched, "steps", None)
    if isinstance(steps, (int, np.integer)) and not isinstance(steps, bool):
        return int(steps)
    return None


def _steps_key(doc, path):
    node = doc.data if doc is not None else None
    try:
        for p in path:
            node = node[p]
    except (KeyError, IndexError, TypeError):
        return path
    return path + ("steps",) if isinstance(node, dict) and "steps" in node else path


def _phase_schedules(node, doc, path):
    if isinstance(node, dict) and "kind" not in node and ("pt" in node or "cpt" in node):
        extra = [k for k in node if k not in ("pt", "cpt")]
        if extra:
            raise doc.error(f"unknown key {extra[0]!r} (expected \"pt\" and \"cpt\")", path + (extra[0],), True)
        if "pt" not in node:
            raise doc.error("a schedule with a \"cpt\" phase needs its \"pt\" phase too", path)
        pt = schedule_from_spec(node["pt"], _doc=doc, _path=path + ("pt",))
        cpt = None if node.get("cpt") is None else schedule_from_spec(node["cpt"], _doc=doc, _path=path + ("cpt",))
        if cpt is not None and _length(pt) + _length(cpt) > MAX_STEPS:
            raise doc.error(f"PT and CPT have {_length(pt) + _length(cpt):,} updates together; cptlaw reads runs of "
                            f"at most {steps_text()}", path)
        return PhaseSchedules(pt, cpt)
    return PhaseSchedules(schedule_from_spec(node, _doc=doc, _path=path))


def read_schedule(path: str | os.PathLike[str]) -> dict[str | None, PhaseSchedules]:
    """Read a schedule spec file (JSON, or YAML with PyYAML installed).

    The file holds one of

    * a schedule spec (see :func:`schedule_from_spec`): a PT-only run;
    * ``{"pt": spec, "cpt": spec}``: a CPT run (the CPT schedule follows the PT one);
    * ``{"runs": {name: spec or {"pt": ..., "cpt": ...}, ...}}``: per-run schedules
      (names as the runs are named when read, see :func:`cptlaw.io.read_runs`).

    Returns a dict mapping run names to :class:`PhaseSchedules`; the key ``None`` holds a
    schedule that applies to every run.
    """
    doc = Doc(path)
    data = doc.data
    if isinstance(data, dict) and "runs" in data and "kind" not in data:
        extra = [k for k in data if k != "runs"]
        if extra:
            raise doc.error(f"unknown key {extra[0]!r} next to \"runs\"", (extra[0],), True)
        if not isinstance(data["runs"], dict) or not data["runs"]:
            raise doc.error("\"runs\" must map run names to schedule specs", ("runs",))
        return {str(k): _phase_schedules(v, doc, ("runs", k)) for k, v in data["runs"].items()}
    return {None: _phase_schedules(data, doc, ())}


__all__ = ["PhaseSchedules", "read_schedule", "schedule_from_spec"]


def __dir__():  # dir() and tab completion show the public names only
    return sorted(__all__)
