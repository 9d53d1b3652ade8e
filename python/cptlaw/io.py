"""Reading training runs and schedules from files: CSV logs, Weights & Biases history
exports, pandas DataFrames, schedule specs (JSON/YAML) and fit results.

Everything returns :class:`cptlaw.Run` objects (per-step learning rates plus observed
losses), ready for :func:`cptlaw.fit_runs` / :func:`cptlaw.predict_run`.

Step conventions
----------------
``step`` counts the optimizer updates done before the loss on that row was measured
(``cptlaw.Run``'s ``steps``), and ``lr`` on that row is the learning rate of update number
``step`` (the last update before the evaluation; updates are numbered from 1). Logs that
count differently are shifted with ``step_offset`` (added to every step: a log whose
``step`` is the 0-based index of the last update needs ``step_offset=1``) and ``lr_shift``
(the logged LR belongs to update ``step + lr_shift``: loops that log after
``scheduler.step()`` log the LR of the *next* update, ``lr_shift=1``). Rows with ``step < 1``
(after the offset) give no observation (the areas are 0 there).

Learning rates
--------------
The laws need the LR of *every* update. When the file logs it at every update, it is used
as is. When it is logged only every k updates, give the schedule (``schedule=``, a spec
read by :func:`read_schedule`) to rebuild it exactly, or the LRs are interpolated linearly
between the logged points, within each phase (PT, CPT) separately, holding the first /
last logged value at the phase's ends, with an :class:`InterpolatedLRWarning`.

Bad input raises :class:`DataError`, a ``ValueError`` whose message starts with
``file:line:column:`` (for DataFrames, the row label and column name).
"""

from __future__ import annotations

import csv
import inspect
import json
import math
import os
import re
import warnings
from typing import NamedTuple

import numpy as np

from .runs import Run

__all__ = [
    "DataError",
    "DataWarning",
    "InterpolatedLRWarning",
    "PhaseSchedules",
    "drop_shared_history",
    "read_csv_runs",
    "read_fit",
    "read_lr_file",
    "read_runs",
    "read_schedule",
    "read_wandb_history",
    "runs_from_dataframe",
    "schedule_from_spec",
    "select",
]


# ======================================================================================
# errors and warnings
# ======================================================================================


class DataError(ValueError):
    """Bad input data, located: ``str(err)`` is ``path:line:column: message``."""

    def __init__(self, message: str, path=None, line=None, column=None):
        self.message = message
        self.path = None if path is None else str(path)
        self.line = line
        self.column = column
        super().__init__(message)

    def __str__(self) -> str:
        loc = self.path or "<input>"
        if self.line is not None:
            loc += f":{self.line}"
            if self.column is not None:
                loc += f":{self.column}"
        return f"{loc}: {self.message}"


class DataWarning(UserWarning):
    """Something in the input data is suspicious but usable."""


class InterpolatedLRWarning(DataWarning):
    """Per-step learning rates were rebuilt by interpolating an LR logged every k steps."""


def _warn(message, category=DataWarning):
    warnings.warn(message, category, stacklevel=3)


# ======================================================================================
# documents with positions (JSON / YAML)
# ======================================================================================

_WS = re.compile(r"[ \t\n\r]*")


class _Doc:
    """A parsed JSON/YAML file that can say where a value (by key path) sits in the text."""

    def __init__(self, path, text=None, data=None):
        self.path = str(path)
        if text is None:
            try:
                with open(self.path, encoding="utf-8") as fh:
                    text = fh.read()
            except FileNotFoundError:
                raise DataError("file not found", self.path) from None
            except IsADirectoryError:
                raise DataError("is a directory, expected a file", self.path) from None
            except UnicodeDecodeError as exc:
                raise DataError(f"not a UTF-8 text file ({exc.reason} at byte {exc.start})", self.path) from None
        self.text = text
        self.yaml = self.path.lower().endswith((".yaml", ".yml"))
        self.data = self._parse() if data is None else data

    def _parse(self):
        if self.yaml:
            try:
                import yaml
            except ImportError:
                raise DataError("reading YAML needs PyYAML (pip install pyyaml); or write the spec as JSON",
                                self.path) from None
            try:
                return yaml.safe_load(self.text)
            except yaml.MarkedYAMLError as exc:
                mark = exc.problem_mark or exc.context_mark
                line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
                raise DataError(f"invalid YAML: {exc.problem or exc.context}", self.path, line, col) from None
            except yaml.YAMLError as exc:
                raise DataError(f"invalid YAML: {exc}", self.path) from None
        try:
            return json.loads(self.text)
        except json.JSONDecodeError as exc:
            raise DataError(f"invalid JSON: {exc.msg}", self.path, exc.lineno, exc.colno) from None

    # -- positions ---------------------------------------------------------------------
    def _line_col(self, offset):
        line = self.text.count("\n", 0, offset) + 1
        col = offset - (self.text.rfind("\n", 0, offset) + 1) + 1
        return line, col

    def where(self, path=(), key=False):
        """(line, column) of the value at ``path`` (of its key when ``key``), or of the
        deepest part of the path that exists."""
        try:
            if self.yaml:
                return self._where_yaml(tuple(path), key)
            return self._where_json(tuple(path), key)
        except Exception:  # locating is best effort: never hide the real error
            return None, None

    def _where_json(self, want, key):
        text = self.text
        dec = json.JSONDecoder()
        best = [0]

        def ws(i):
            return _WS.match(text, i).end()

        def value(i, cur):
            i = ws(i)
            depth = len(cur)
            if cur == want[:depth]:
                best[0] = i
            if cur != want[:depth] or depth == len(want):
                return dec.raw_decode(text, i)[1]
            c = text[i]
            if c == "{":
                i = ws(i + 1)
                if text[i] == "}":
                    return i + 1
                while True:
                    kpos = i
                    k, i = json.decoder.scanstring(text, i + 1)
                    i = ws(i) + 1  # ':'
                    if cur + (k,) == want and key:
                        best[0] = kpos
                        return dec.raw_decode(text, ws(i))[1]
                    i = ws(value(i, cur + (k,)))
                    if text[i] == ",":
                        i = ws(i + 1)
                        continue
                    return i + 1
            if c == "[":
                i = ws(i + 1)
                if text[i] == "]":
                    return i + 1
                n = 0
                while True:
                    i = ws(value(i, cur + (n,)))
                    n += 1
                    if text[i] == ",":
                        i = ws(i + 1)
                        continue
                    return i + 1
            return dec.raw_decode(text, i)[1]

        value(0, ())
        return self._line_col(best[0])

    def _where_yaml(self, want, key):
        import yaml

        node = yaml.compose(self.text)
        mark = node.start_mark if node is not None else None
        for part in want:
            nxt = None
            if isinstance(node, yaml.MappingNode):
                for k, v in node.value:
                    if k.value == part or (isinstance(part, (int, float)) and k.value == str(part)):
                        nxt = (k, v)
                        break
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                nxt = (node.value[part], node.value[part])
            if nxt is None:
                break
            mark = nxt[0].start_mark if (key and part == want[-1]) else nxt[1].start_mark
            node = nxt[1]
        return (mark.line + 1, mark.column + 1) if mark else (None, None)

    def error(self, message, path=(), key=False):
        line, col = self.where(path, key)
        return DataError(message, self.path, line, col)


def _fmt_path(path):
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "top level"


# ======================================================================================
# schedule specs
# ======================================================================================


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
        return len(_values(self.pt))

    @property
    def total_steps(self) -> int:
        return self.pt_steps + (0 if self.cpt is None else len(_values(self.cpt)))


def _values(s):
    if hasattr(s, "values") and callable(s.values):
        return np.asarray(s.values(), dtype=np.float64)
    return np.asarray(s, dtype=np.float64)


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
    from . import schedules

    return [k for k in _CONSTRUCTORS if hasattr(schedules, k)] + ["values", "concat"]


def schedule_from_spec(spec, *, _doc=None, _path=()):
    """Build a ``cptlaw.schedules.Schedule`` from a spec.

    A spec is a dict ``{"kind": NAME, **kwargs}`` naming a constructor of
    :mod:`cptlaw.schedules` (``constant``, ``cosine``, ``linear``, ``wsd``,
    ``one_minus_sqrt``, ``exponential``, ``inverse_sqrt``, ``polynomial``, ``multistep``,
    ``cyclic_cosine``, ``rewarmup``, ``from_hf``; aliases ``const``, ``cos``, ``1-sqrt``,
    ``hf``) and its keyword arguments, e.g. ``{"kind": "wsd", "peak_lr": 3e-4,
    "steps": 5000, "decay_steps": 1000}``; or ``{"kind": "values", "values": [...]}`` (or a
    bare list of numbers) for explicit per-step LRs; or ``{"kind": "concat", "parts":
    [spec, ...]}`` (or a list of specs) for pieces one after the other.
    """
    from . import schedules

    doc = _doc

    def err(msg, path=_path, key=False):
        if doc is not None:
            return doc.error(msg, path, key)
        return DataError(f"{_fmt_path(path)}: {msg}" if path else msg)

    if isinstance(spec, list):
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in spec):
            spec = {"kind": "values", "values": spec}
        elif all(isinstance(v, dict) for v in spec):
            parts = [schedule_from_spec(v, _doc=doc, _path=_path + (i,)) for i, v in enumerate(spec)]
            return schedules.concat(*parts)
        else:
            raise err("a list must hold either learning rates (numbers) or schedule specs (objects)")
    if not isinstance(spec, dict):
        raise err(f"expected a schedule spec (an object with \"kind\"), got {type(spec).__name__}")
    if "kind" not in spec:
        raise err(f"schedule spec needs \"kind\" (one of {', '.join(_schedule_kinds())})")
    kind = spec["kind"]
    if not isinstance(kind, str):
        raise err("\"kind\" must be a string", _path + ("kind",))
    name = _ALIASES.get(kind.lower(), kind.lower())
    kwargs = {k: v for k, v in spec.items() if k != "kind"}
    if name == "values":
        extra = [k for k in kwargs if k != "values"]
        if extra:
            raise err(f"unknown key {extra[0]!r} in a \"values\" schedule (expected \"values\")", _path + (extra[0],), True)
        vals = kwargs.get("values")
        if not isinstance(vals, list) or not vals:
            raise err("\"values\" must be a non-empty list of learning rates", _path + ("values",))
        for i, v in enumerate(vals):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise err(f"learning rate {v!r} is not a finite number >= 0", _path + ("values", i))
        return schedules.from_values(np.asarray(vals, dtype=np.float64))
    if name == "concat":
        parts = kwargs.get("parts")
        extra = [k for k in kwargs if k != "parts"]
        if extra:
            raise err(f"unknown key {extra[0]!r} in a \"concat\" schedule (expected \"parts\")", _path + (extra[0],), True)
        if not isinstance(parts, list) or not parts:
            raise err("\"parts\" must be a non-empty list of schedule specs", _path + ("parts",))
        built = [schedule_from_spec(v, _doc=doc, _path=_path + ("parts", i)) for i, v in enumerate(parts)]
        return schedules.concat(*built)
    if name not in _CONSTRUCTORS or not hasattr(schedules, name):
        raise err(f"unknown schedule kind {kind!r}; expected one of {', '.join(_schedule_kinds())}", _path + ("kind",))
    fn = getattr(schedules, name)
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # pragma: no cover - builtins
        sig = None
    if sig is not None:
        params = sig.parameters
        takes_var = any(p.kind == p.VAR_KEYWORD for p in params.values())
        if not takes_var:
            for k in kwargs:
                if k not in params:
                    raise err(f"unknown argument {k!r} for schedule {name!r}; it takes {', '.join(params)}",
                              _path + (k,), True)
        missing = [p.name for p in params.values()
                   if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
                   and p.name not in kwargs]
        if missing:
            raise err(f"schedule {name!r} needs {', '.join(repr(m) for m in missing)}")
    for k, v in kwargs.items():  # JSON numbers like 5000.0 or 1e3 for step counts
        if isinstance(v, float) and v.is_integer() and k in ("steps", "warmup", "decay_steps", "timescale",
                                                              "cycle_steps", "num_warmup_steps",
                                                              "num_training_steps"):
            kwargs[k] = int(v)
    try:
        return fn(**kwargs)
    except (TypeError, ValueError) as exc:
        msg = str(exc)
        m = re.match(r"(\w+):", msg)
        where = _path + (m.group(1),) if m and m.group(1) in kwargs else _path
        raise err(f"schedule {name!r}: {msg}", where) from None


def _phase_schedules(node, doc, path):
    if isinstance(node, dict) and "kind" not in node and ("pt" in node or "cpt" in node):
        extra = [k for k in node if k not in ("pt", "cpt")]
        if extra:
            raise doc.error(f"unknown key {extra[0]!r} (expected \"pt\" and \"cpt\")", path + (extra[0],), True)
        if "pt" not in node:
            raise doc.error("a schedule with a \"cpt\" phase needs its \"pt\" phase too", path)
        pt = schedule_from_spec(node["pt"], _doc=doc, _path=path + ("pt",))
        cpt = None if node.get("cpt") is None else schedule_from_spec(node["cpt"], _doc=doc, _path=path + ("cpt",))
        return PhaseSchedules(pt, cpt)
    return PhaseSchedules(schedule_from_spec(node, _doc=doc, _path=path))


def read_schedule(path) -> dict:
    """Read a schedule spec file (JSON, or YAML with PyYAML installed).

    The file holds one of

    * a schedule spec (see :func:`schedule_from_spec`): a PT-only run;
    * ``{"pt": spec, "cpt": spec}``: a CPT run (the CPT schedule follows the PT one);
    * ``{"runs": {name: spec or {"pt": ..., "cpt": ...}, ...}}``: per-run schedules
      (names as the runs are named when read, see :func:`read_runs`).

    Returns a dict mapping run names to :class:`PhaseSchedules`; the key ``None`` holds a
    schedule that applies to every run.
    """
    doc = _Doc(path)
    data = doc.data
    if isinstance(data, dict) and "runs" in data and "kind" not in data:
        extra = [k for k in data if k != "runs"]
        if extra:
            raise doc.error(f"unknown key {extra[0]!r} next to \"runs\"", (extra[0],), True)
        if not isinstance(data["runs"], dict) or not data["runs"]:
            raise doc.error("\"runs\" must map run names to schedule specs", ("runs",))
        return {str(k): _phase_schedules(v, doc, ("runs", k)) for k, v in data["runs"].items()}
    return {None: _phase_schedules(data, doc, ())}


def read_lr_file(path, *, pt_steps=None) -> PhaseSchedules:
    """Per-step learning rates from a file: ``.npy`` (1-D), or a text/CSV file with one LR per
    line or an ``lr`` column (and optionally a ``phase`` column, pt/cpt, splitting the
    schedule). ``pt_steps`` splits a single schedule into PT (the first ``pt_steps`` updates)
    and CPT. Row k is the LR of update k+1."""
    path = str(path)
    if not os.path.exists(path):
        raise DataError("file not found", path)
    if path.lower().endswith(".npy"):
        try:
            arr = np.load(path, allow_pickle=False)
        except Exception as exc:
            raise DataError(f"cannot read as a NumPy .npy file ({exc})", path) from None
        if arr.ndim != 1 or arr.dtype.kind not in "iuf":
            raise DataError(f"expected a 1-D numeric array, got shape {arr.shape} dtype {arr.dtype}", path)
        lr = arr.astype(np.float64)
        bad = np.flatnonzero(~np.isfinite(lr) | (lr < 0))
        if bad.size:
            raise DataError(f"learning rate at index {bad[0]} is {lr[bad[0]]!r}, expected a finite number >= 0", path)
        phase = None
    else:
        table = _read_text_table(path, header_optional=True)
        lr_col = table.find(("lr", "learning_rate", "train_lr", "train/lr")) or (
            table.names[0] if len(table.names) == 1 else None)
        if lr_col is None:
            raise DataError(f"no learning-rate column: expected 'lr' among {', '.join(table.names)}", path, 1, 1)
        lr = np.array([table.number(i, lr_col, lo=0.0) for i in range(table.n)])
        bad = np.flatnonzero(np.isnan(lr))
        if bad.size:
            raise table.error(bad[0], lr_col, "missing learning rate (every update needs one in an LR file)")
        pcol = table.find(("phase",))
        phase = None if pcol is None else [table.phase(i, pcol) for i in range(table.n)]
    if lr.size == 0:
        raise DataError("no learning rates in the file", path)
    if phase is not None:
        ph = np.array(phase)
        n_pt = int(np.sum(ph == "pt"))
        if not np.all(ph[:n_pt] == "pt") or not np.all(ph[n_pt:] == "cpt"):
            raise DataError("the phase column must list all pt rows before the cpt rows", path)
        if pt_steps is not None and pt_steps != n_pt:
            raise DataError(f"--pt-steps {pt_steps} disagrees with the file's {n_pt} pt rows", path)
        pt_steps = n_pt
    if pt_steps is not None:
        if not 1 <= pt_steps <= lr.size:
            raise DataError(f"pt_steps {pt_steps} is outside 1..{lr.size} (the file's updates)", path)
        return PhaseSchedules(lr[:pt_steps], lr[pt_steps:] if pt_steps < lr.size else None)
    return PhaseSchedules(lr)


# ======================================================================================
# tables (CSV files and DataFrames) with positions
# ======================================================================================

_MISSING = {"", "nan", "NaN", "NAN", "null", "None", "NA", "N/A", "-"}


class _Table:
    """Columns of raw cells plus where each cell came from."""

    def __init__(self, path, names, cols, lines=None, offsets=None, labels=None):
        self.path = str(path)
        self.names = list(names)
        self.cols = cols  # name -> list of raw cells
        self.n = len(next(iter(cols.values()))) if cols else 0
        self.lines = lines  # row -> file line (CSV)
        self.offsets = offsets  # row -> list of 1-based character columns per field (CSV)
        self.labels = labels  # row -> index label (DataFrame)

    def find(self, candidates):
        low = {n.lower(): n for n in self.names}
        for c in candidates:
            if c in low:
                return low[c]
        return None

    def error(self, row, col, message):
        if self.lines is not None:
            j = self.names.index(col) if col in self.names else 0
            offs = self.offsets[row] if self.offsets else None
            colno = offs[j] if offs and j < len(offs) else None
            return DataError(f"column {col!r}: {message}" if col else message, self.path, self.lines[row], colno)
        label = self.labels[row] if self.labels is not None else row
        return DataError(f"row {label!r}, column {col!r}: {message}", self.path)

    def raw(self, row, col):
        return self.cols[col][row]

    def number(self, row, col, *, lo=None, integer=False):
        v = self.cols[col][row]
        if v is None:
            return math.nan
        if isinstance(v, str):
            s = v.strip()
            if s in _MISSING:
                return math.nan
            try:
                x = float(s)
            except ValueError:
                raise self.error(row, col, f"expected a number, got {s!r}") from None
        elif isinstance(v, (bool, np.bool_)):
            raise self.error(row, col, f"expected a number, got {v!r}")
        else:
            try:
                x = float(v)
            except (TypeError, ValueError):
                raise self.error(row, col, f"expected a number, got {v!r}") from None
        if math.isnan(x):
            return x
        if not math.isfinite(x):
            raise self.error(row, col, f"expected a finite number, got {v!r}")
        if integer and x != round(x):
            raise self.error(row, col, f"expected a whole number of steps, got {v!r}")
        if lo is not None and x < lo:
            raise self.error(row, col, f"must be >= {lo:g}, got {v!r}")
        return x

    def text(self, row, col):
        v = self.cols[col][row]
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return ""
        return str(v).strip()

    def phase(self, row, col):
        s = self.text(row, col).lower()
        if s in ("pt", "pretrain", "pre-train", "pretraining", "pre-training"):
            return "pt"
        if s in ("cpt", "continual", "continual-pretrain", "continual_pretrain"):
            return "cpt"
        raise self.error(row, col, f"phase must be 'pt' or 'cpt', got {self.text(row, col)!r}")


def _read_text_table(path, header_optional=False) -> _Table:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise DataError("file not found", path) from None
    except IsADirectoryError:
        raise DataError("is a directory, expected a file", path) from None
    except UnicodeDecodeError as exc:
        raise DataError(f"not a UTF-8 text file ({exc.reason} at byte {exc.start})", path) from None
    lines = text.splitlines()
    first = next((i for i, ln in enumerate(lines) if ln.strip() and not ln.lstrip().startswith("#")), None)
    if first is None:
        raise DataError("the file is empty", path, 1, 1)
    head = lines[first]
    delim = "\t" if ("\t" in head and "," not in head) else (";" if (";" in head and "," not in head) else ",")
    header = next(csv.reader([head], delimiter=delim))
    header = [h.strip() for h in header]
    numeric_header = all(_is_number(h) for h in header)
    if numeric_header and header_optional:
        header = ["lr"] if len(header) == 1 else [f"c{i}" for i in range(len(header))]
        data_start = first
    else:
        if numeric_header:
            raise DataError("the first line must be a header naming the columns (e.g. step,lr,loss)", path, first + 1, 1)
        data_start = first + 1
        seen = set()
        for j, h in enumerate(header):
            if not h:
                raise DataError(f"empty column name in the header (column {j + 1})", path, first + 1,
                                _field_offsets(head, delim)[j])
            if h.lower() in seen:
                raise DataError(f"column {h!r} appears twice in the header", path, first + 1,
                                _field_offsets(head, delim)[j])
            seen.add(h.lower())
    cols = {h: [] for h in header}
    rows_line, rows_off = [], []
    for i in range(data_start, len(lines)):
        ln = lines[i]
        if not ln.strip() or ln.lstrip().startswith("#"):
            continue
        fields = next(csv.reader([ln], delimiter=delim))
        if len(fields) != len(header):
            raise DataError(f"expected {len(header)} fields ({delim.join(header)}), found {len(fields)}",
                            path, i + 1, 1)
        for h, f in zip(header, fields):
            cols[h].append(f)
        rows_line.append(i + 1)
        rows_off.append(_field_offsets(ln, delim))
    if not rows_line:
        raise DataError("no data rows after the header", path, first + 1, 1)
    return _Table(path, header, cols, lines=rows_line, offsets=rows_off)


def _is_number(s):
    try:
        float(s)
        return True
    except ValueError:
        return False


def _field_offsets(line, delim):
    """1-based character column where each field starts (plain CSV; quoted fields approximate)."""
    offs, pos, quoted = [1], 0, False
    for ch in line:
        pos += 1
        if ch == '"':
            quoted = not quoted
        elif ch == delim and not quoted:
            offs.append(pos + 1)
    return offs


# ======================================================================================
# building runs from rows
# ======================================================================================

_STEP_COLS = ("global_step", "trainer/global_step", "train/global_step", "step", "iter", "iteration", "_step")
_LR_COLS = ("lr", "learning_rate", "train_lr", "train/lr", "train/learning_rate", "lr-adamw", "lr_0")
_RUN_COLS = ("run", "run_name", "run_id")
_SOURCE_COLS = ("source", "source_run", "source_pt_run")
_REPLAY_COLS = ("r_pt", "replay")
_VAL_LOSS = re.compile(r"^(?:val|eval|valid|validation)[_/\-]?loss(?:[_/\-](?P<name>.+))?$", re.I)
_LOSS = re.compile(r"^loss(?:[_/\-](?P<name>.+))?$", re.I)


def _loss_columns(names, loss_columns, path):
    """Map loss columns to validation-set names (None: the only one)."""
    if loss_columns is not None:
        if isinstance(loss_columns, str):
            loss_columns = [loss_columns]
        if isinstance(loss_columns, dict):
            mapping = dict(loss_columns)
        else:
            mapping = {}
            for c in loss_columns:
                m = _VAL_LOSS.match(c) or _LOSS.match(c)
                mapping[c] = (m.group("name") if m else None) or c
            if len(mapping) == 1:
                mapping = {c: None for c in mapping}
        low = {n.lower(): n for n in names}
        out = {}
        for c, v in mapping.items():
            if c.lower() not in low:
                raise DataError(f"no loss column {c!r}; the columns are {', '.join(names)}", path, 1, 1)
            out[low[c.lower()]] = v
        return out
    val = [(n, _VAL_LOSS.match(n)) for n in names]
    val = [(n, m.group("name")) for n, m in val if m]
    plain = [(n, m.group("name")) for n, m in ((n, _LOSS.match(n)) for n in names) if m]
    chosen = val or plain
    if not chosen:
        raise DataError(f"no loss column: expected 'loss', 'loss_<set>' or 'val_loss' among {', '.join(names)}",
                        path, 1, 1)
    named = [(n, v) for n, v in chosen if v]
    if len(chosen) == 1:
        n, v = chosen[0]
        return {n: v}
    if named and len(named) < len(chosen):
        # e.g. "loss" (training) next to "loss_pt", "loss_cpt": use the named sets only
        chosen = named
    names_ = [v or n for n, v in chosen]
    if len(set(names_)) < len(names_):
        return {n: n for n, _ in chosen}
    return {n: v or n for n, v in chosen}


class _RunRows:
    """The rows of one run, parsed."""

    def __init__(self, name):
        self.name = name
        self.steps = []  # after offset
        self.rows = []  # table row index
        self.phase = []  # "pt"/"cpt"/None
        self.lr = []
        self.loss = []  # dict per row
        self.r_pt = math.nan
        self.source = None
        self.table = None


def _parse_table(table, *, step_column=None, lr_column=None, loss_columns=None, step_offset=0, run_name=None):
    names = table.names
    step_col = None
    if step_column is not None:
        step_col = table.find((step_column.lower(),))
        if step_col is None:
            raise DataError(f"no step column {step_column!r}; the columns are {', '.join(names)}", table.path, 1, 1)
    else:
        step_col = table.find(_STEP_COLS)
        if step_col is None:
            raise DataError(f"no step column: expected one of {', '.join(_STEP_COLS[:6])} among {', '.join(names)}",
                            table.path, 1, 1)
    if lr_column is not None:
        lr_col = table.find((lr_column.lower(),))
        if lr_col is None:
            raise DataError(f"no learning-rate column {lr_column!r}; the columns are {', '.join(names)}",
                            table.path, 1, 1)
    else:
        lr_col = table.find(_LR_COLS)
    losses = _loss_columns([n for n in names if n not in (step_col, lr_col)], loss_columns, table.path)
    run_col = table.find(_RUN_COLS)
    phase_col = table.find(("phase",))
    source_col = table.find(_SOURCE_COLS)
    replay_col = table.find(_REPLAY_COLS)
    runs = {}
    for i in range(table.n):
        name = table.text(i, run_col) if run_col else (run_name or "run")
        if run_col and not name:
            raise table.error(i, run_col, "empty run name")
        r = runs.get(name)
        if r is None:
            r = runs[name] = _RunRows(name)
            r.table = table
        s = table.number(i, step_col, integer=True)
        if math.isnan(s):
            raise table.error(i, step_col, "missing step")
        if s < 0:
            raise table.error(i, step_col, f"step must be >= 0, got {table.raw(i, step_col)!r}")
        r.steps.append(int(s) + int(step_offset))
        r.rows.append(i)
        r.phase.append(table.phase(i, phase_col) if phase_col else None)
        r.lr.append(table.number(i, lr_col, lo=0.0) if lr_col else math.nan)
        r.loss.append({v: table.number(i, c, lo=0.0) for c, v in losses.items()})
        for v, c in zip(r.loss[-1].values(), losses):
            if v == 0.0:
                raise table.error(i, c, "loss must be > 0")
        if replay_col:
            x = table.number(i, replay_col, lo=0.0)
            if not math.isnan(x):
                if x > 1:
                    raise table.error(i, replay_col, f"replay ratio must lie in [0, 1], got {x:g}")
                if not math.isnan(r.r_pt) and x != r.r_pt:
                    raise table.error(i, replay_col, f"replay ratio changes within run {name!r} ({r.r_pt:g} -> {x:g})")
                r.r_pt = x
        if source_col:
            src = table.text(i, source_col)
            if src:
                if r.source is not None and src != r.source:
                    raise table.error(i, source_col, f"source run changes within run {name!r}")
                r.source = src
    return list(runs.values()), list(losses.values()), lr_col is not None


def _lr_from_points(points, lo, hi):
    """Per-step LRs for updates lo..hi (1-based, inclusive) from {update: lr}; None if no point."""
    n = hi - lo + 1
    if n <= 0:
        return np.zeros(0), False
    us = np.array(sorted(u for u in points if lo <= u <= hi), dtype=np.int64)
    if us.size == 0:
        return None, False
    vals = np.array([points[u] for u in us])
    if us.size == n:
        return vals, False
    grid = np.arange(lo, hi + 1)
    return np.interp(grid, us, vals), True


def _build_runs(parsed, *, has_lr, schedule=None, lr_shift=0, pt_steps=None, r_pt=None, min_step=1,
                check_lr=True):
    """Turn parsed rows into Runs (resolving CPT runs whose PT history is another run)."""
    built = {}
    pending = []
    for r in parsed:
        sched = _schedule_for(schedule, r.name)
        steps = np.array(r.steps, dtype=np.int64)
        phase = np.array([p or "" for p in r.phase])
        has_phase = any(p for p in r.phase)
        t_pt = None
        if sched is not None and sched.cpt is not None:
            t_pt = sched.pt_steps
        elif pt_steps is not None:
            t_pt = int(pt_steps)
        if has_phase:
            is_pt, is_cpt = phase == "pt", phase == "cpt"
            if is_cpt.any():
                if not is_pt.any():
                    pending.append((r, steps, sched))
                    continue
                last_pt = int(steps[is_pt].max())
                if t_pt is None:
                    t_pt = last_pt
                if int(steps[is_cpt].min()) < last_pt:  # CPT steps restart: they count within the phase
                    steps = np.where(is_cpt, steps + t_pt, steps)
        built[r.name] = _finish_run(r, steps, t_pt, sched, has_lr, lr_shift, r_pt, min_step, check_lr)
    for r, steps, sched in pending:
        src_name = r.source
        if src_name is None:
            pt_only = [n for n, b in built.items() if b[1] is None]
            if len(pt_only) != 1:
                i = r.rows[0]
                raise r.table.error(i, "phase", f"run {r.name!r} has only cpt rows: name the PT run it continues in "
                                    "a 'source' column (or give its PT rows)")
            src_name = pt_only[0]
        if src_name not in built:
            raise r.table.error(r.rows[0], "source", f"source run {src_name!r} of run {r.name!r} not found in the file")
        src_run, src_tpt = built[src_name]
        lr_src = np.asarray(src_run.lr_pt, dtype=np.float64)
        t_pt = len(lr_src) if src_tpt is None else src_tpt
        if int(steps.min()) < t_pt:  # steps count within the CPT phase
            steps = steps + t_pt
        built[r.name] = _finish_run(r, steps, t_pt, sched, has_lr, lr_shift, r_pt, min_step, check_lr,
                                    pt_lr=lr_src[:t_pt])
    return [built[r.name][0] for r in parsed if r.name in built]


def _schedule_for(schedule, name):
    if schedule is None:
        return None
    if isinstance(schedule, PhaseSchedules):
        return schedule
    if isinstance(schedule, dict):
        if name in schedule:
            return schedule[name]
        return schedule.get(None)
    return PhaseSchedules(schedule)


def _finish_run(r, steps, t_pt, sched, has_lr, lr_shift, r_pt, min_step, check_lr, pt_lr=None):
    table = r.table
    order = np.argsort(steps, kind="stable")
    # observations: last occurrence of each step wins, per validation set
    obs = {}
    for k in order:
        s = int(steps[k])
        for v, x in r.loss[k].items():
            if not math.isnan(x):
                obs.setdefault(s, {})[v] = x
    valsets = list(r.loss[0].keys()) if r.loss else [None]
    keep = sorted(s for s in obs if s >= max(1, min_step))
    if not keep:
        raise (table.error(r.rows[0], None, f"run {r.name!r} has no loss observation at step >= {max(1, min_step)}")
               if table is not None else DataError(f"run {r.name!r} has no loss observations"))
    t_total = int(steps.max())
    if sched is not None:
        lr_pt, lr_cpt = sched.lr()
        if t_pt is not None and sched.cpt is None and t_pt < len(lr_pt):
            lr_pt, lr_cpt = lr_pt[:t_pt], lr_pt[t_pt:]
        total = len(lr_pt) + (0 if lr_cpt is None else len(lr_cpt))
        if keep[-1] > total:
            k = int(np.flatnonzero(steps == keep[-1])[-1])
            raise table.error(r.rows[k], None, f"run {r.name!r}: step {keep[-1]} is beyond the schedule's "
                              f"{total} steps")
        if has_lr and check_lr:
            full = np.concatenate([lr_pt] + ([] if lr_cpt is None else [lr_cpt]))
            worst, where = 0.0, None
            for k in range(len(steps)):
                u = int(steps[k]) + lr_shift
                x = r.lr[k]
                if 1 <= u <= total and not math.isnan(x):
                    d = abs(full[u - 1] - x)
                    if d > worst:
                        worst, where = d, k
            if where is not None and worst > 1e-6 * max(float(full.max()), 1e-300):
                line = table.lines[r.rows[where]] if table is not None and table.lines else None
                _warn(f"{table.path if table else ''}{':' + str(line) if line else ''}: run {r.name!r}: the logged "
                      f"lr {r.lr[where]:.6g} at step {int(steps[where])} differs from the schedule's "
                      f"{full[int(steps[where]) + lr_shift - 1]:.6g} (check the schedule spec or --lr-shift)")
    else:
        if not has_lr and pt_lr is None:
            raise DataError(f"run {r.name!r}: no learning-rate column (lr); give the schedule instead (--schedule)",
                            table.path if table else None, 1, 1)
        points = {}
        for k in order:
            x = r.lr[k]
            u = int(steps[k]) + lr_shift
            if not math.isnan(x) and 1 <= u <= t_total:
                points[u] = x
        if pt_lr is not None and t_total <= t_pt:
            raise DataError(f"run {r.name!r}: its cpt rows end at step {t_total}, within the PT phase of its "
                            f"source run ({t_pt} updates)", table.path if table else None)
        if t_pt is None or t_pt >= t_total:
            segments = [("the run", 1, t_total)]
        else:
            segments = ([("PT", 1, t_pt)] if pt_lr is None else []) + [("CPT", t_pt + 1, t_total)]
        parts, interp = [], []
        for label, lo, hi in segments:
            arr, was_interp = _lr_from_points(points, lo, hi)
            if arr is None:
                raise DataError(f"run {r.name!r}: no learning rate logged in {label if label != 'the run' else 'it'} "
                                f"(updates {lo}..{hi}); give the schedule (--schedule)",
                                table.path if table else None)
            parts.append(arr)
            if was_interp:
                got = sum(1 for u in points if lo <= u <= hi)
                interp.append(f"{got} of {hi - lo + 1} {'' if label == 'the run' else label + ' '}updates")
        if interp:
            _warn(f"{table.path if table else ''}: run {r.name!r}: learning rate logged at only "
                  f"{'; '.join(interp)}; per-step LRs interpolated linearly between the logged values, "
                  f"the first/last value held before/after them (give the schedule with --schedule / schedule= "
                  f"for exact areas)", InterpolatedLRWarning)
        if pt_lr is not None:
            lr_pt, lr_cpt = pt_lr, parts[0]
        elif t_pt is None or t_pt >= t_total:
            lr_pt, lr_cpt = parts[0], None
        else:
            lr_pt, lr_cpt = parts[0], parts[1]
    keep_arr = np.array(keep, dtype=np.int64)
    if valsets == [None]:
        loss = np.array([obs[s].get(None, math.nan) for s in keep])
    else:
        loss = {v: np.array([obs[s].get(v, math.nan) for s in keep]) for v in valsets}
    rp = r.r_pt if not math.isnan(r.r_pt) else (0.0 if r_pt is None else float(r_pt))
    run = Run(lr_pt=lr_pt, steps=keep_arr, loss=loss, lr_cpt=lr_cpt if lr_cpt is None or len(lr_cpt) else None,
              r_pt=rp, name=r.name)
    return run, (None if lr_cpt is None else len(lr_pt))


# ======================================================================================
# public readers
# ======================================================================================


def read_csv_runs(path, *, schedule=None, name=None, loss_columns=None, step_column=None, lr_column=None,
                  step_offset=0, lr_shift=0, pt_steps=None, r_pt=None, min_step=1) -> list:
    """Runs from a CSV file (``,`` ``;`` or tab separated, with a header).

    Formats:

    * ``step,lr,loss``: one run (named ``name`` or after the file);
    * long format: ``run`` (optional: one run without it), ``phase`` (``pt``/``cpt``),
      ``step`` (or ``global_step``), ``lr``, and one or more loss columns, e.g.
      ``loss_pt, loss_cpt`` (validation sets ``"pt"``, ``"cpt"``). Optional ``r_pt`` /
      ``replay`` (replay ratio, constant per run) and ``source`` (the PT run a CPT run
      continues, when its file has only CPT rows). ``step`` may restart at 0 in the CPT
      phase (it then counts within the phase). Cells may be empty (LR and losses logged at
      different steps).

    Loss columns are found by name (``loss``, ``loss_<set>``, ``val_loss``,
    ``val/loss_<set>``...) unless ``loss_columns`` lists them (or maps them to set names).
    ``lr`` may be missing when ``schedule`` (from :func:`read_schedule`, a
    :class:`PhaseSchedules`, or a dict by run name) gives it; if both are there, they are
    compared and a :class:`DataWarning` says where they disagree. Duplicated steps: the
    last row wins. See the module docs for ``step_offset``, ``lr_shift``; ``pt_steps`` puts
    the transfer after that many updates when the file has no phase column. Observations
    before ``min_step`` are dropped.
    """
    table = _read_text_table(str(path))
    default = name or _run_name_from_path(path)
    parsed, _, has_lr = _parse_table(table, step_column=step_column, lr_column=lr_column,
                                     loss_columns=loss_columns, step_offset=step_offset, run_name=default)
    return _build_runs(parsed, has_lr=has_lr, schedule=schedule, lr_shift=lr_shift, pt_steps=pt_steps, r_pt=r_pt,
                       min_step=min_step)


def runs_from_dataframe(df, *, schedule=None, name="run", loss_columns=None, step_column=None, lr_column=None,
                        step_offset=0, lr_shift=0, pt_steps=None, r_pt=None, min_step=1) -> list:
    """Runs from a pandas DataFrame with the columns of :func:`read_csv_runs` (long or
    one-run format; the index is ignored). Errors name the row label and column."""
    if not hasattr(df, "columns") or not hasattr(df, "to_dict"):
        raise TypeError(f"df: expected a pandas DataFrame, got {type(df).__name__}")
    names = [str(c) for c in df.columns]
    if len(set(n.lower() for n in names)) < len(names):
        raise DataError("df: duplicated column names")
    cols = {str(c): list(df[c].tolist()) for c in df.columns}
    if not cols or len(df) == 0:
        raise DataError("df: no rows")
    table = _Table("DataFrame", names, cols, labels=list(df.index))
    parsed, _, has_lr = _parse_table(table, step_column=step_column, lr_column=lr_column,
                                     loss_columns=loss_columns, step_offset=step_offset, run_name=name)
    return _build_runs(parsed, has_lr=has_lr, schedule=schedule, lr_shift=lr_shift, pt_steps=pt_steps, r_pt=r_pt,
                       min_step=min_step)


def _run_name_from_path(path):
    stem = os.path.splitext(os.path.basename(str(path)))[0]
    return stem


# -- Weights & Biases ------------------------------------------------------------------

_WB_STEP = ("trainer/global_step", "train/global_step", "global_step", "iter", "iteration", "step", "_step")


def _wb_tables(doc):
    """(group path, {column: list}) tables from the layouts W&B exports come in."""
    data = doc.data
    hist_path = ()
    if isinstance(data, dict) and "history" in data:
        hist, hist_path = data["history"], ("history",)
    else:
        hist = data
    tables = []  # (path of the table, {column: values}, (column, row) -> path of a cell)
    if isinstance(hist, list):
        if not all(isinstance(r, dict) for r in hist):
            i = next(i for i, r in enumerate(hist) if not isinstance(r, dict))
            raise doc.error("history rows must be objects (one per logged step)", hist_path + (i,))
        keys = []
        for r in hist:
            for k in r:
                if k not in keys:
                    keys.append(k)
        tables.append((hist_path, {k: [r.get(k) for r in hist] for k in keys},
                       lambda k, j, p=hist_path: p + (j, k)))
    elif isinstance(hist, dict):
        if hist and all(isinstance(v, dict) for v in hist.values()) and not _is_index_dict(hist):
            for g, t in hist.items():
                cols = {k: (list(v.values()) if isinstance(v, dict) else v) for k, v in t.items()}
                tables.append((hist_path + (g,), cols, lambda k, j, p=hist_path + (g,): p + (k, j)))
        else:
            labels = {k: list(v) for k, v in hist.items() if isinstance(v, dict)}
            cols = {k: (list(v.values()) if isinstance(v, dict) else v) for k, v in hist.items()}
            tables.append((hist_path, cols, lambda k, j, p=hist_path, lab=labels:
                           p + (k, lab[k][j] if k in lab else j)))
    else:
        raise doc.error("expected a W&B history: an object with \"history\", a list of rows, or columns", hist_path)
    for p, cols, _ in tables:
        for k, v in cols.items():
            if not isinstance(v, list):
                raise doc.error(f"history column {k!r} must be a list of values", p + (k,))
    return tables


def _is_index_dict(hist):
    """pandas ``to_json(orient="columns")``: {column: {"0": v, "1": v}} — inner keys are row labels."""
    inner = next(iter(hist.values()))
    return bool(inner) and all(isinstance(k, str) and k.isdigit() for k in inner)


def read_wandb_history(path, *, schedule=None, name=None, loss_keys=None, lr_key=None, step_key=None,
                       lr_shift=0, min_step=1, base=None, search=None, r_pt=None, pt_steps=None) -> Run:
    """One run from a Weights & Biases history export (JSON or JSON lines).

    Accepted layouts: ``{"history": {group: {"iter": [...], "val_loss": [...]}, ...}}`` (as
    in the lr-scheduling data), ``{"history": [row, ...]}`` or a list of row objects
    (``run.history()`` / ``scan_history()`` rows, steps in ``_step`` or ``global_step``),
    columns ``{"_step": [...], "val/loss": [...]}`` (also pandas ``to_json()``), and
    ``.jsonl`` files with one row per line.

    ``loss_keys``: the validation-loss columns (default: every ``val*loss*`` column that is
    not a ``final`` summary; several become validation sets named after the column);
    ``lr_key``: the logged LR (default ``lr``, ``train_lr``, ``learning_rate``, ...);
    ``step_key``: the step column. Repeated steps (restarted runs) keep the last value.

    Resumed runs: when ``config.resume_from`` names a checkpoint ``.../<run name>/.../<step>``
    of another run, that run's history before ``<step>`` is prepended. It is looked up in
    ``base`` (a path), else among ``search`` (paths) and the ``.json`` files next to
    ``path``; a :class:`DataError` says so if it cannot be found.
    """
    doc = _wandb_doc(path)
    keys, cols_loss, cols_lr, cfg, run_name = _wandb_rows(doc, loss_keys, lr_key, step_key)
    run_name = name or run_name or _run_name_from_path(path)
    resume = cfg.get("resume_from") if isinstance(cfg, dict) else None
    if isinstance(resume, str) and resume.strip():
        parts = [q for q in re.split(r"[\\/]", resume.rstrip("/\\")) if q]
        start = int(parts[-1]) if parts and parts[-1].isdigit() else None
        if start:
            bdoc = _find_base(path, parts, base, search)
            if bdoc is None:
                raise doc.error(f"run resumed from step {start} of another run (config.resume_from {resume!r}), "
                                "whose history is not among the inputs nor next to this file; pass it too "
                                "(--base FILE / base=)", ("config", "resume_from"))
            _, bl, blr, _, _ = _wandb_rows(bdoc, keys, lr_key, step_key)
            cols_loss = [(s, v) for s, v in bl if s < start] + cols_loss
            cols_lr = [(s, v) for s, v in blr if s < start] + cols_lr
    # one table of rows, LR rows and loss rows interleaved in file order (last wins)
    valsets = list(keys)
    if not cols_loss:
        raise doc.error("no validation-loss values in the history", ("history",))
    single = len(valsets) == 1
    names = ["step", "lr"] + [f"loss:{v}" for v in valsets]
    table_cols = {n: [] for n in names}
    for s, d in cols_loss:
        table_cols["step"].append(s)
        table_cols["lr"].append(None)
        for v in valsets:
            table_cols[f"loss:{v}"].append(d.get(v))
    for s, x in cols_lr:
        table_cols["step"].append(s)
        table_cols["lr"].append(x)
        for v in valsets:
            table_cols[f"loss:{v}"].append(None)
    table = _Table(doc.path, names, table_cols, labels=None)
    table.error = lambda row, col, msg: doc.error(f"{msg}", ("history",))  # noqa: E731
    mapping = {f"loss:{v}": (None if single else _valset_name(v)) for v in valsets}
    parsed, _, _ = _parse_table(table, step_column="step", lr_column="lr", loss_columns=mapping,
                                step_offset=0, run_name=run_name)
    return _build_runs(parsed, has_lr=bool(cols_lr), schedule=schedule, lr_shift=lr_shift, pt_steps=pt_steps,
                       r_pt=r_pt, min_step=min_step)[0]


def _valset_name(key):
    m = _VAL_LOSS.match(key)
    if m and m.group("name"):
        return m.group("name")
    return key


def _wandb_doc(path):
    path = str(path)
    if path.lower().endswith(".jsonl"):
        try:
            with open(path, encoding="utf-8") as fh:
                lines = fh.read().splitlines()
        except FileNotFoundError:
            raise DataError("file not found", path) from None
        rows = []
        for i, ln in enumerate(lines):
            if not ln.strip():
                continue
            try:
                rows.append(json.loads(ln))
            except json.JSONDecodeError as exc:
                raise DataError(f"invalid JSON: {exc.msg}", path, i + 1, exc.colno) from None
        return _Doc(path, text="", data=rows)
    return _Doc(path)


def _wandb_rows(doc, loss_keys, lr_key, step_key):
    data = doc.data
    tables = _wb_tables(doc)
    allcols = [k for _, c, _ in tables for k in c]
    if loss_keys is None:
        loss = [k for k in allcols if re.search(r"val|eval", k, re.I) and re.search(r"loss", k, re.I)
                and not re.search(r"final|step|iter|time", k, re.I)]
        if not loss:
            loss = [k for k in allcols if k.lower() == "loss"]
        if not loss:
            raise doc.error(f"no validation-loss column found among {', '.join(allcols)}; name it (--loss-column)",
                            ("history",) if isinstance(data, dict) and "history" in data else ())
    else:
        loss = [loss_keys] if isinstance(loss_keys, str) else list(loss_keys)
        missing = [k for k in loss if k not in allcols]
        if missing:
            raise doc.error(f"no column {missing[0]!r} in the history; it has {', '.join(allcols)}")
    if lr_key is None:
        lr = next((k for k in allcols if k.lower() in _LR_COLS), None)
        if lr is None:
            lr = next((k for k in allcols if re.search(r"(^|[/_])lr($|[/_-])|learning_rate", k, re.I)), None)
    else:
        lr = lr_key
        if lr not in allcols:
            raise doc.error(f"no column {lr!r} in the history; it has {', '.join(allcols)}")
    if step_key is not None:
        cands = (step_key,)
    else:
        cands = _WB_STEP

    def series(keys):
        out = []
        for p, cols, cell in tables:
            present = [k for k in keys if k in cols]
            if not present:
                continue
            low = {k.lower(): k for k in cols}
            step = next((low[c.lower()] for c in cands if c.lower() in low and low[c.lower()] not in present), None)
            if step is None:
                raise doc.error(f"no step column next to {present[0]!r} (expected one of {', '.join(cands)})", p)
            steps = cols[step]
            for j, s in enumerate(steps):
                if s is None or (isinstance(s, float) and math.isnan(s)):
                    continue
                if isinstance(s, bool) or not isinstance(s, (int, float)) or s < 0 or s != int(s):
                    raise doc.error(f"step {s!r} is not a whole number >= 0", cell(step, j))
                vals = {}
                for k in present:
                    col = cols[k]
                    v = col[j] if j < len(col) else None
                    if v is None or (isinstance(v, float) and math.isnan(v)):
                        continue
                    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                        raise doc.error(f"{k} {v!r} is not a finite number >= 0", cell(k, j))
                    vals[k] = float(v)
                if vals:
                    out.append((int(s), vals))
        return out

    loss_rows = series(loss)
    lr_rows = [(s, d[lr]) for s, d in series([lr])] if lr is not None else []
    cfg = data.get("config", {}) if isinstance(data, dict) else {}
    if isinstance(cfg, dict):  # W&B API exports wrap config values as {"value": x}
        cfg = {k: (v["value"] if isinstance(v, dict) and set(v) <= {"value", "desc"} and "value" in v else v)
               for k, v in cfg.items()}
    run_name = data.get("name") if isinstance(data, dict) and isinstance(data.get("name"), str) else None
    return loss, loss_rows, lr_rows, cfg, run_name


def _find_base(path, parts, base, search):
    cands = []
    if base is not None:
        cands.append(str(base))
    cands += [str(s) for s in (search or [])]
    d = os.path.dirname(os.path.abspath(str(path)))
    try:
        cands += sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".json"))
    except OSError:
        pass
    me = os.path.abspath(str(path))
    for c in cands:
        if os.path.abspath(c) == me:
            continue
        stem = _run_name_from_path(c)
        try:
            doc = _Doc(c)
        except DataError:
            continue
        nm = doc.data.get("name") if isinstance(doc.data, dict) else None
        if (base is not None and os.path.abspath(c) == os.path.abspath(str(base))) or stem in parts or nm in parts:
            return doc
    return None


# -- any file --------------------------------------------------------------------------


def read_runs(paths, *, schedule=None, **options) -> list:
    """Runs from several files: ``.csv``/``.tsv``/``.txt`` by :func:`read_csv_runs`, ``.json``/``.jsonl``
    by :func:`read_wandb_history` (other inputs are searched for the base of resumed runs).
    Runs are named after their files (or the ``run`` column / W&B name); names that repeat
    (e.g. ``A_cpt_cos/curve.csv``, ``A_pt_const/curve.csv``) get their folder prefixed.
    ``options`` are passed on (unknown ones for a format are ignored)."""
    paths = [str(p) for p in paths]
    if not paths:
        raise DataError("no input files")
    stems = [_run_name_from_path(p) for p in paths]
    parents = [os.path.basename(os.path.dirname(os.path.abspath(p))) for p in paths]
    out = []
    for p, stem, parent in zip(paths, stems, parents):
        name = stem
        if stems.count(stem) > 1:  # e.g. A_pt_const/curve.csv, A_cpt_cos/curve.csv: name them by folder
            name = parent if parent and parents.count(parent) == 1 else f"{parent}/{stem}"
        low = p.lower()
        if low.endswith((".json", ".jsonl")):
            kw = {k: v for k, v in options.items() if k in ("loss_keys", "lr_key", "step_key", "lr_shift",
                                                             "min_step", "base", "r_pt", "pt_steps")}
            run = read_wandb_history(p, schedule=schedule, name=None, search=paths, **kw)
            if stems.count(stem) > 1 or not run.name:
                run.name = name
            out.append(run)
        else:
            kw = {k: v for k, v in options.items() if k in ("loss_columns", "step_column", "lr_column",
                                                             "step_offset", "lr_shift", "pt_steps", "r_pt",
                                                             "min_step")}
            out.extend(read_csv_runs(p, schedule=schedule, name=name, **kw))
    seen = {}
    for r in out:
        if r.name in seen:
            seen[r.name] += 1
            r.name = f"{r.name}#{seen[r.name]}"
        else:
            seen[r.name] = 1
    return out


# ======================================================================================
# run helpers
# ======================================================================================


def select(run: Run, *, min_step=None, max_step=None, phase=None) -> Run:
    """A copy of ``run`` keeping the observations with ``min_step <= step <= max_step``
    and, with ``phase="pt"`` / ``"cpt"``, only those of that phase (same learning rates)."""
    steps = np.asarray(run.steps)
    m = np.ones(steps.shape, bool)
    if min_step is not None:
        m &= steps >= min_step
    if max_step is not None:
        m &= steps <= max_step
    n_pt = len(np.asarray(run.lr_pt if not hasattr(run.lr_pt, "values") else run.lr_pt.values()))
    if phase == "pt":
        m &= steps <= n_pt
    elif phase == "cpt":
        m &= steps > n_pt
    elif phase is not None:
        raise ValueError(f"phase: expected 'pt', 'cpt' or None, got {phase!r}")
    if not m.any():
        raise ValueError(f"run {run.name!r}: no observations left after selecting")
    loss = run.loss
    if isinstance(loss, dict):
        loss = {k: np.asarray(v)[m] for k, v in loss.items()}
    elif loss is not None:
        loss = np.asarray(loss)[m]
    return Run(lr_pt=run.lr_pt, steps=steps[m], loss=loss, lr_cpt=run.lr_cpt, r_pt=run.r_pt, name=run.name)


def _lr_array(x):
    if x is None:
        return None
    return np.asarray(x.values() if hasattr(x, "values") and callable(x.values) else x, dtype=np.float64)


def drop_shared_history(runs) -> tuple:
    """Drop the PT observations of CPT runs that repeat a PT-only run among ``runs``.

    A CPT run's log usually starts with the PT history of its checkpoint; when that PT run
    is fitted too, its points would count twice. A CPT run's PT-phase observations are
    dropped when a PT-only run has the same PT learning rates. Returns ``(runs, dropped)``
    with ``dropped`` the number of observations removed.
    """
    runs = list(runs)
    pt_only = [_lr_array(r.lr_pt) for r in runs if r.lr_cpt is None]
    out, dropped = [], 0
    for r in runs:
        if r.lr_cpt is not None:
            lp = _lr_array(r.lr_pt)
            if any(p.shape == lp.shape and np.array_equal(p, lp) for p in pt_only):
                n_pt = len(lp)
                n = int(np.sum(np.asarray(r.steps) <= n_pt))
                if 0 < n < len(r.steps):
                    r = select(r, phase="cpt")
                    dropped += n
        out.append(r)
    return out, dropped


# ======================================================================================
# fit results (the JSON written by `cptlaw fit --json`)
# ======================================================================================

def law_class(name):
    """A law class from its short name or class name (see :func:`cptlaw.laws.law_class`)."""
    from . import laws

    return laws.law_class(name)


def read_fit(path) -> dict:
    """Read a fit written by ``cptlaw fit --json``.

    Returns ``{valset: fit}`` (key None for a single validation set) where each fit is a
    dict usable by :func:`cptlaw.predict_run`: ``law`` (instance), ``params``, ``domain``
    (with ``area_options``) and the rest of the JSON fields.
    """
    from .fit import FitResult

    doc = _Doc(path)
    data = doc.data
    if not isinstance(data, dict):
        raise doc.error("expected a fit object written by `cptlaw fit --json`")
    top_law = data.get("law")
    if "valsets" in data:
        if not isinstance(data["valsets"], dict) or not data["valsets"]:
            raise doc.error("\"valsets\" must map validation-set names to fits", ("valsets",))
        items = [(k, v, ("valsets", k)) for k, v in data["valsets"].items()]
    else:
        items = [(data.get("valset"), data, ())]
    out = {}
    for vs, fit, p in items:
        if not isinstance(fit, dict):
            raise doc.error("expected a fit object", p)
        law_name = fit.get("law", top_law)
        if law_name is None:
            raise doc.error("missing \"law\" (e.g. \"CPTLaw\")", p)
        try:
            cls = law_class(law_name)
        except ValueError as exc:
            raise doc.error(str(exc), p + ("law",) if "law" in fit else ("law",)) from None
        params = fit.get("params")
        if not isinstance(params, dict):
            raise doc.error("missing \"params\" (an object of parameter values)", p + (("params",) if "params" in fit else ()))
        for k, v in params.items():
            if k not in cls.param_names:
                raise doc.error(f"unknown parameter {k!r} for {cls.__name__} (expected {', '.join(cls.param_names)})",
                                p + ("params", k), True)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise doc.error(f"parameter {k!r} must be a finite number, got {v!r}", p + ("params", k))
        missing = [n for n in cls.param_names if n not in params]
        if missing:
            raise doc.error(f"\"params\" lacks {', '.join(missing)} for {cls.__name__}", p + ("params",))
        opts = fit.get("area_options", data.get("area_options", {})) or {}
        if not isinstance(opts, dict):
            raise doc.error("\"area_options\" must be an object", p + ("area_options",))
        area = {"decay": 0.999, "split": "by_source", "warmup_as_peak": False}
        for k, v in opts.items():
            if k not in area:
                raise doc.error(f"unknown area option {k!r} (expected decay, split, warmup_as_peak)",
                                p + ("area_options", k), True)
            area[k] = v
        from .areas import SPLITS

        if area["split"] not in SPLITS:
            raise doc.error(f"split must be one of {', '.join(SPLITS)}", p + ("area_options", "split"))
        if isinstance(area["decay"], bool) or not isinstance(area["decay"], (int, float)) or not 0 <= area["decay"] <= 1:
            raise doc.error("decay must be a number in [0, 1]", p + ("area_options", "decay"))
        res = FitResult(fit)
        res["law"] = cls(**params)
        res["params"] = res["law"].params
        dom = fit.get("domain")
        domain = {"area_options": area}
        if isinstance(dom, dict) and isinstance(dom.get("peak_lr"), list) and len(dom["peak_lr"]) == 2 \
                and isinstance(dom.get("max_step"), (int, float)):
            domain.update(peak_lr=tuple(float(x) for x in dom["peak_lr"]), max_step=int(dom["max_step"]))
            res["domain"] = domain
        else:
            res["domain"] = None
            res["area_options"] = area
        out[vs] = res
    return out
