"""Grid search: fitted laws over the Cartesian product of schedule-family parameters.

:func:`grid` evaluates one or more fitted laws (:ref:`cpt-law`, :ref:`extensions`) for every combination of
CPT schedule parameters (shape, peak LR, length, warmup, re-warmup start LR, WSD decay
fraction and type, min LR), PT checkpoint, replay ratio and loss weight, at the end of CPT
or at chosen CPT steps. The areas come from the closed forms of the compiled core (the CPT
schedule entered with the PT checkpoint's final state), so no per-step LR array is ever
built; the loop over combinations runs in C++ on all threads with the GIL released.

Results come back as a pandas DataFrame with one row per combination and step, or as a
reduction (the best ``k`` rows, overall or per group) computed chunk by chunk so memory stays
bounded however large the grid. Long grids show a progress bar, Ctrl-C keeps what was
computed (:class:`GridInterrupted`), and ``client=`` runs the chunks on a Dask cluster or any
``concurrent.futures`` executor with results identical to the local run.

Example
-------
>>> import numpy as np, cptlaw
>>> law_pt = cptlaw.CPTLaw(3.057, 0.490, 0.497, 0.299, 0.298, 0.366, 28, 0.189)
>>> law_cpt = cptlaw.CPTLaw(3.024, 0.412, 0.677, 0.278, 0.324, -0.666, 5662, 0.146)
>>> pt = cptlaw.schedules.wsd(2e-4, 40000, decay_steps=4000, warmup=500)
>>> best = cptlaw.grid({"pt": law_pt, "cpt": law_cpt}, pt=pt, w=[0.1, 0.5, 0.9],
...                    cpt=dict(shape="cosine", peak_lr=np.geomspace(2.5e-5, 4e-4, 13),
...                             steps=[10000, 20000, 40000], warmup=500),
...                    reduce="min", group_by=["w", "cpt_steps"])    # best peak LR per (w, length)
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Optional

import numpy as np
from numpy.typing import ArrayLike

if TYPE_CHECKING:
    import pandas as pd

from . import _core, _limits, _validate, _warnings
from . import families as _families
from . import schedules as _schedules
from ._threads import get_num_threads
from .areas import SPLITS
from .laws import LAWS, Law

__all__ = ["GridInterrupted", "SHAPES", "DECAY_TYPES", "grid", "wsd_decay_steps"]


def __dir__():  # dir() and tab completion show the public names only
    return sorted(__all__)


# The schedule-family vocabulary (shapes, decay types, keys, defaults) is cptlaw.families'.
SHAPES = _families.SHAPES
DECAY_TYPES = _families.DECAY_TYPES
wsd_decay_steps = _families.wsd_decay_steps

# Axes of the compiled grid and its start_lr level codes (exported by the core).
_AX = _core.grid_axes
_PT, _SHAPE, _DTYPE, _PEAK, _STEPS = _AX["pt"], _AX["shape"], _AX["decay_type"], _AX["peak_lr"], _AX["steps"]
_WARMUP, _START, _FRAC, _MIN = _AX["warmup"], _AX["start_lr"], _AX["decay_frac"], _AX["min_lr"]
_REPLAY, _W, _STEP = _AX["replay"], _AX["w"], _AX["step"]
_N_SCHEDULE_AXES = _core.grid_schedule_axes
_N_AXES = _core.grid_n_axes
_START_CODES = {"hf": _core.grid_start_hf, "pt": _core.grid_start_pt}
# Levels are float64: integers (steps, warmup) must be exact there.
_MAX_INT = _limits.MAX_EXACT_INT
_reals = _families._reals
_NO_ROW = np.iinfo(np.int64).max


class GridInterrupted(KeyboardInterrupt):
    """Raised by :func:`grid` on Ctrl-C (KeyboardInterrupt) with what was computed so far.

    It is a KeyboardInterrupt, so an uncaught one still stops a script; catch it to keep
    the partial result.

    Attributes
    ----------
    partial : pandas.DataFrame
        What :func:`grid` would have returned for the work that finished: the rows of the
        schedules completed (``reduce=None``) or the reduction over the rows evaluated. ``partial.attrs`` has ``rows_done``,
        ``rows_total`` and ``complete`` (False).
    rows_done, rows_total : int
        Rows (combination x step) evaluated, and in the whole grid.
    """

    def __init__(self, partial, rows_done: int, rows_total: int):
        super().__init__(f"grid interrupted after {rows_done} of {rows_total} rows; the partial result is .partial")
        self.partial = partial
        self.rows_done = rows_done
        self.rows_total = rows_total


# ----------------------------------------------------------------------------- parsing
class _Levels:
    """Distinct values of one axis in order of first appearance (NaN is one value)."""

    def __init__(self):
        self.index = {}
        self.values = []

    def code(self, v: float) -> int:
        key = "nan" if isinstance(v, float) and math.isnan(v) else float(v)
        if key not in self.index:
            self.index[key] = len(self.values)
            self.values.append(float(v))
        return self.index[key]

    def array(self) -> np.ndarray:
        return np.array(self.values, dtype=np.float64)


def _parse_pt_family(spec, name: str, lam: float):
    """Expand a PT family into Schedules (:func:`cptlaw.families.pt_schedule`) and column values."""
    f = _families.parse_family(spec, name, pt=True)
    key = f["min_key"]
    scheds: list = []
    cols: dict[str, list] = {k: [] for k in ("shape", "peak_lr", "steps", "warmup", "decay_frac", "decay_type", "min")}
    nan = float("nan")
    for shape in f["shape"]:
        fracs = f["decay_frac"] if shape == "wsd" else [nan]
        dtypes: list[Any] = f["decay_type"] if shape == "wsd" else [None]
        mins = f["min"] if shape != "constant" else [nan]
        for peak in f["peak_lr"]:
            for n in f["steps"]:
                for w in f["warmup"]:
                    if w > n:
                        raise ValueError(f"{name}['warmup']: must be <= steps, got warmup {w} for steps {n}")
                    for dt in dtypes:
                        for frac in fracs:
                            for m in mins:
                                if key == "min_lr" and shape != "constant" and m > peak:
                                    raise ValueError(f"{name}['min_lr']: must be <= peak_lr, got {m} for {peak}")
                                opts: dict[str, Any] = {} if shape == "constant" else {key: m}
                                if shape == "wsd":
                                    opts.update(decay_frac=frac, decay_type=dt)
                                scheds.append(_families.pt_schedule(shape, peak, n, warmup=w, **opts))
                                for k, v in (("shape", shape), ("peak_lr", peak), ("steps", n), ("warmup", w),
                                             ("decay_frac", frac), ("decay_type", dt), ("min", m)):
                                    cols[k].append(v)
    has_wsd = "wsd" in f["shape"]
    has_min = any(s != "constant" for s in f["shape"])
    out = {"pt_shape": ("cat", SHAPES, cols["shape"]), "pt_peak_lr": ("f", None, cols["peak_lr"]),
           "pt_steps": ("i", None, cols["steps"]), "pt_warmup": ("i", None, cols["warmup"])}
    if has_wsd:
        out["pt_decay_frac"] = ("f", None, cols["decay_frac"])
        out["pt_decay_type"] = ("cat", DECAY_TYPES, cols["decay_type"])
    if has_min:
        out["pt_" + key] = ("f", None, cols["min"])
    return scheds, out


def _parse_pt(pt, lam: float, needs_pt: bool, warmup_as_peak=False):
    """PT checkpoints: (final states (n, 4), labels, family columns {name: (kind, cats, values)})."""
    if pt is None:
        if needs_pt:
            raise ValueError("pt: required (the laws use the PT areas); give a Schedule, Schedules or a PT family")
        return np.zeros((1, 4)), None, {}
    S = _schedules.Schedule
    labels, scheds, fam = [], [], {}
    if isinstance(pt, S):
        scheds, labels = [pt], [repr(pt)]
    elif isinstance(pt, Mapping) and pt and all(isinstance(v, S) for v in pt.values()):
        for key, s in pt.items():
            scheds.append(s)
            labels.append(str(key))
    elif isinstance(pt, Mapping):
        scheds, fam = _parse_pt_family(pt, "pt", lam)
    elif hasattr(pt, "__iter__") and not isinstance(pt, (str, bytes, np.ndarray)):
        items = list(pt)
        if not items:
            raise ValueError("pt: is empty")
        if all(isinstance(s, Mapping) for s in items):
            for i, spec in enumerate(items):
                sc, fm = _parse_pt_family(spec, f"pt[{i}]", lam)
                n_before = len(scheds)
                scheds += sc
                for col, (kind, cats, vals) in fm.items():
                    if col not in fam:
                        fam[col] = (kind, cats, [None if kind == "cat" else float("nan")] * n_before)
                    fam[col][2].extend(vals)
                for col, (kind, _, vals) in fam.items():
                    vals.extend([None if kind == "cat" else float("nan")] * (len(scheds) - len(vals)))
        else:
            for i, s in enumerate(items):
                if not isinstance(s, S):
                    raise TypeError(f"pt[{i}]: expected a Schedule, got {type(s).__name__}")
                scheds.append(s)
                labels.append(repr(s))
    else:
        raise TypeError(f"pt: expected a Schedule, a sequence or mapping of Schedules, or a PT family mapping, "
                        f"got {type(pt).__name__}")
    if not labels:
        labels = [repr(s) for s in scheds]
    # Categories must be unique.
    seen: dict = {}
    for i, lab in enumerate(labels):
        if lab in seen:
            labels[i] = f"{lab} #{i}"
        seen.setdefault(labels[i], i)
    # P2's warmup convention lifts the PT warmup to the peak before the checkpoint's state is taken.
    states = np.array([tuple(s._warmup_view(warmup_as_peak).final_state(lam)) for s in scheds],
                      dtype=np.float64).reshape(-1, 4)
    return states, labels, fam


def _parse_laws(laws, w):
    """(kinds, params, loss column names, weighted (a, b) or None, has replay law)."""
    if isinstance(laws, Law):
        named = {"": laws}
    elif isinstance(laws, Mapping):
        if not laws:
            raise ValueError("laws: is empty")
        named = {}
        for key, law in laws.items():
            if not isinstance(key, str) or not key:
                raise TypeError(f"laws: keys must be non-empty strings, got {key!r}")
            named[key] = law
    else:
        raise TypeError(f"laws: expected a fitted Law or a mapping of names to Laws, got {type(laws).__name__}")
    kinds, params, names = [], [], []
    for key, law in named.items():
        where = "laws" if key == "" else f"laws[{key!r}]"
        if not isinstance(law, Law):
            raise TypeError(f"{where}: expected a Law, got {type(law).__name__}")
        info = _core.laws[law._core_name]
        if info["grid_inputs"] is None:
            supported = ", ".join(c.__name__ for c in LAWS if _core.laws[c._core_name]["grid_inputs"] is not None)
            raise TypeError(f"{where}: {type(law).__name__} is not supported by grid (supported: {supported})")
        kinds.append(info["kind"])
        params.append(law.param_vector)
        names.append("loss" if key == "" else f"loss_{key}")
    weighted = None
    if w is not None:
        if not isinstance(laws, Mapping) or "pt" not in laws or "cpt" not in laws:
            raise ValueError("w: needs laws={'pt': law_for_D_pt, 'cpt': law_for_D_cpt} (loss = w*L_pt + (1-w)*L_cpt)")
        keys = list(named)
        weighted = (keys.index("pt"), keys.index("cpt"))
        if "loss" in names:
            raise ValueError("laws: a law named '' clashes with the weighted loss column 'loss'")
    has_replay = any("r_pt" in law.input_names for law in named.values())
    needs_pt = any(_core.laws[law._core_name]["grid_inputs"] != "cpt_only" for law in named.values())
    return kinds, params, names, weighted, has_replay, needs_pt


# ----------------------------------------------------------------------------- plan
class _Plan:
    """The compiled grid's spec (sent to workers) and what is needed to build columns."""

    def __init__(self, laws, pt, cpt, replay, w, steps, decay, split, warmup_as_peak=False):
        lam = _validate.decay(decay)
        mode = SPLITS.index(_validate.choice(split, "split", SPLITS))
        kinds, params, loss_names, weighted, has_replay, needs_pt = _parse_laws(laws, w)
        self.loss_names = loss_names + (["loss"] if weighted else [])

        # crossed axes
        if replay is not None and not has_replay:
            takers = " / ".join(c.__name__ for c in LAWS if "r_pt" in c.input_names)
            raise ValueError(f"replay: none of the laws takes a replay ratio (use {takers})")
        self.has_replay = has_replay
        self.replay = np.array(_reals(0.0 if replay is None else replay, "replay", lo=0.0, hi=1.0))
        self.w = None if w is None else np.array(_reals(w, "w", lo=0.0, hi=1.0))
        if isinstance(steps, str):
            _validate.choice(steps, "steps", ("final",))
            self.steps = None
        else:
            arr = np.asarray(steps)
            if arr.size == 0:
                raise ValueError("steps: is empty")
            if arr.dtype == object:  # Python ints beyond int64
                raise ValueError("steps: CPT step counts must be <= 2**53")
            if arr.dtype.kind == "f" and arr.size and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
                if np.abs(arr).max() > _MAX_INT:
                    raise ValueError(f"steps: CPT step counts must be <= 2**53, got {np.abs(arr).max():g}")
                arr = arr.astype(np.int64)
            if arr.dtype.kind not in "iu" or arr.ndim > 1:
                raise TypeError(f"steps: expected 'final' or integer CPT step counts, got {arr.dtype} "
                                f"array of {arr.ndim} dimensions")
            if arr.size == 0:
                raise ValueError("steps: is empty")
            if arr.min() < 0:
                raise ValueError(f"steps: CPT step counts must be >= 0, got {arr.min()}")
            if arr.max() > _MAX_INT:
                raise ValueError(f"steps: CPT step counts must be <= 2**53, got {arr.max()}")
            self.steps = np.unique(arr.astype(np.int64).reshape(-1))

        # PT checkpoints
        self.pt_state, self.pt_labels, self.pt_family = _parse_pt(pt, lam, needs_pt, warmup_as_peak)
        n_pt = self.pt_state.shape[0]

        # CPT families -> blocks
        specs = [cpt] if isinstance(cpt, Mapping) else cpt
        if specs is None or isinstance(specs, (str, bytes)) or not hasattr(specs, "__iter__"):
            raise TypeError(f"cpt: expected a mapping of CPT schedule parameters or a sequence of them, "
                            f"got {type(cpt).__name__}")
        specs = list(specs)
        if not specs:
            raise ValueError("cpt: is empty")
        families = [_families.parse_family(s, "cpt" if isinstance(cpt, Mapping) else f"cpt[{i}]", pt=False)
                    for i, s in enumerate(specs)]
        for f in families:
            f["start_lr"] = [_START_CODES[v] if isinstance(v, str) else v for v in f["start_lr"]]
        min_keys = {f["min_key"] for f in families}
        if len(min_keys) > 1:
            raise ValueError("cpt: use the same one of 'min_lr' / 'min_lr_ratio' in every mapping")
        self.min_key = min_keys.pop()
        levels = [_Levels() for _ in range(_N_SCHEDULE_AXES)]
        nan = float("nan")
        blocks = []
        for f in families:
            for shape in f["shape"]:
                code = float(SHAPES.index(shape))
                wsd = shape == "wsd"
                per_axis = {
                    _SHAPE: [code],
                    _DTYPE: [float(DECAY_TYPES.index(d)) for d in f["decay_type"]] if wsd else [nan],
                    _PEAK: f["peak_lr"],
                    _STEPS: [float(n) for n in f["steps"]],
                    _FRAC: f["decay_frac"] if wsd else [nan],
                    _MIN: f["min"] if shape != "constant" else [nan],
                }
                zero = [float(v) for v in f["warmup"] if v == 0]
                pos = [float(v) for v in f["warmup"] if v > 0]
                if zero and pos and len(set(f["start_lr"])) > 1:
                    # Rows without warmup do not depend on the start LR: one block for them.
                    parts = [(zero, [nan]), (pos, f["start_lr"])]
                elif pos:
                    parts = [([float(v) for v in f["warmup"]], f["start_lr"])]
                else:
                    parts = [(zero, [nan])]
                for warm, starts in parts:
                    axes = dict(per_axis)
                    axes[_WARMUP] = warm
                    axes[_START] = starts
                    blocks.append(axes)
        self.has_wsd = any(f and "wsd" in f["shape"] for f in families)
        self.has_min = any(s != "constant" for f in families for s in f["shape"])
        self.has_start = any(v > 0 for f in families for v in f["warmup"])

        sizes, offs, codes = [], [], []
        for axes in blocks:
            row_size, row_off = [n_pt], [len(codes)]
            codes.extend(range(n_pt))
            for a in range(1, _N_SCHEDULE_AXES):
                vals = axes[a]
                row_size.append(len(vals))
                row_off.append(len(codes))
                codes.extend(levels[a].code(v) for v in vals)
            sizes.append(row_size)
            offs.append(row_off)
        self.levels = [np.empty(0)] + [lv.array() for lv in levels[1:]]
        self.spec = {
            "pt_state": self.pt_state,
            "levels": self.levels,
            "block_size": np.array(sizes, dtype=np.int64),
            "block_code_off": np.array(offs, dtype=np.int64),
            "block_codes": np.array(codes, dtype=np.int32),
            "min_is_ratio": self.min_key != "min_lr",
            "replay": self.replay,
            "w": self.w,
            "w_law_a": weighted[0] if weighted else 0,
            "w_law_b": weighted[1] if weighted else 0,
            "steps": self.steps,
            "decay": lam,
            "split": mode,
            "law_kind": np.array(kinds, dtype=np.int32),
            "law_params": np.concatenate(params),
            "law_param_off": np.concatenate([[0], np.cumsum([len(p) for p in params])]).astype(np.int64),
        }
        self.schedules, self.rows_per_schedule, self.outputs = _core.grid_info(self.spec)
        self.rows = self.schedules * self.rows_per_schedule
        if self.rows >= 2**63:
            raise ValueError(f"cpt: the grid has {self.rows:.3g} rows, more than a row index can count (2**63)")

    # -- columns --------------------------------------------------------------------------
    def column_names(self) -> list:
        names = []
        if self.pt_labels is not None:
            names.append("pt")
        names += list(self.pt_family)
        names += ["cpt_shape", "cpt_peak_lr", "cpt_steps", "cpt_warmup"]
        if self.has_start:
            names.append("cpt_start_lr")
        if self.has_wsd:
            names += ["cpt_decay_type", "cpt_decay_frac"]
        if self.has_min:
            names.append("cpt_" + self.min_key)
        if self.has_replay:
            names.append("replay")
        if self.w is not None:
            names.append("w")
        names.append("step")
        return names

    def columns(self, vals, codes, start) -> dict:
        """Column arrays of computed rows (see _core.grid_materialize / grid_rows)."""
        import pandas as pd

        cols = {}
        pt = codes[_PT]
        if self.pt_labels is not None:
            cols["pt"] = pd.Categorical.from_codes(pt, categories=self.pt_labels)
        for name, (kind, cats, values) in self.pt_family.items():
            if kind == "cat":
                per = np.array([-1 if v is None else cats.index(v) for v in values], dtype=np.int64)
                cols[name] = pd.Categorical.from_codes(per[pt], categories=list(cats))
            else:
                arr = np.array(values, dtype=np.float64 if kind == "f" else np.int64)
                cols[name] = arr[pt]
        lv = self.levels
        cols["cpt_shape"] = pd.Categorical.from_codes(lv[_SHAPE][codes[_SHAPE]].astype(np.int64),
                                                      categories=list(SHAPES))
        cols["cpt_peak_lr"] = lv[_PEAK][codes[_PEAK]]
        cpt_steps = lv[_STEPS][codes[_STEPS]].astype(np.int64)
        cols["cpt_steps"] = cpt_steps
        cols["cpt_warmup"] = lv[_WARMUP][codes[_WARMUP]].astype(np.int64)
        if self.has_start:
            cols["cpt_start_lr"] = start
        if self.has_wsd:
            d = lv[_DTYPE][codes[_DTYPE]]
            cols["cpt_decay_type"] = pd.Categorical.from_codes(np.where(np.isnan(d), -1, d).astype(np.int64),
                                                               categories=list(DECAY_TYPES))
            cols["cpt_decay_frac"] = lv[_FRAC][codes[_FRAC]]
        if self.has_min:
            cols["cpt_" + self.min_key] = lv[_MIN][codes[_MIN]]
        if self.has_replay:
            cols["replay"] = self.replay[codes[_REPLAY]]
        if self.w is not None:
            cols["w"] = self.w[codes[_W]]
        cols["step"] = cpt_steps.copy() if self.steps is None else self.steps[codes[_STEP]]
        for name, v in zip(self.loss_names, vals):
            cols[name] = v
        return cols

    # -- reductions ---------------------------------------------------------------------
    def group_spec(self, group_by):
        """(groups, multipliers (12,), maps (12 int32 arrays)) for the reduction."""
        names = self.column_names()
        if group_by is None:
            group_by = []
        elif isinstance(group_by, str):
            group_by = [group_by]
        else:
            group_by = list(group_by)
        axis_of = {"pt": _PT, "cpt_shape": _SHAPE, "cpt_decay_type": _DTYPE, "cpt_peak_lr": _PEAK,
                   "cpt_steps": _STEPS, "cpt_warmup": _WARMUP, "cpt_start_lr": _START, "cpt_decay_frac": _FRAC,
                   "cpt_min_lr": _MIN, "cpt_min_lr_ratio": _MIN, "replay": _REPLAY, "w": _W,
                   "step": _STEPS if self.steps is None else _STEP}
        for name in self.pt_family:
            axis_of[name] = _PT
        by_axis = {}
        for name in group_by:
            if not isinstance(name, str) or name not in names:
                raise ValueError(f"group_by: unknown column {name!r}; expected some of {', '.join(names)}")
            by_axis.setdefault(axis_of[name], []).append(name)
        sizes = {_PT: self.pt_state.shape[0], _REPLAY: len(self.replay), _W: 1 if self.w is None else len(self.w),
                 _STEP: 1 if self.steps is None else len(self.steps)}
        for a in range(1, _N_SCHEDULE_AXES):
            sizes[a] = len(self.levels[a])
        maps, radix = {}, {}
        for a, cols in by_axis.items():
            if a == _PT:
                keys = []
                for i in range(sizes[_PT]):
                    key = []
                    for c in cols:
                        if c == "pt":
                            key.append(i)
                        else:
                            v = self.pt_family[c][2][i]
                            key.append(None if v is None or (isinstance(v, float) and math.isnan(v)) else v)
                    keys.append(tuple(key))
                index = {}
                m = np.array([index.setdefault(k, len(index)) for k in keys], dtype=np.int32)
                maps[a], radix[a] = m, len(index)
            else:
                maps[a], radix[a] = np.empty(0, dtype=np.int32), sizes[a]
        mul = np.zeros(_N_AXES, dtype=np.int64)
        groups = 1
        # The first group column varies slowest.
        order = []
        for name in group_by:
            if axis_of[name] not in order:
                order.append(axis_of[name])
        for a in reversed(order):
            mul[a] = groups
            groups *= radix[a]
        all_maps = [maps.get(a, np.empty(0, dtype=np.int32)) for a in range(_N_AXES)]
        return group_by, groups, mul, all_maps


# ----------------------------------------------------------------------------- chunk tasks
def _run_chunk(spec, s0: int, s1: int, red, threads: int):
    """One chunk of schedules [s0, s1): rows, or the chunk's best-k table (runs on workers too)."""
    if threads <= 0:
        threads = get_num_threads()
    if red is None:
        return _core.grid_materialize(spec, s0, s1, threads)
    objective, maximize, k, groups, mul, maps = red
    return _core.grid_reduce(spec, s0, s1, objective, maximize, k, groups, mul, maps, threads)


class _Rows:
    """Accumulates materialised chunks (possibly out of order)."""

    def __init__(self, plan):
        self.plan = plan
        self.parts = []

    def add(self, s0, s1, res):
        vals, codes, start = res
        self.parts.append((s0, self.plan.columns(vals, codes, start)))

    def add_partial(self, s0, s1, res) -> int:
        """Rows of the schedules an interrupted chunk finished; returns how many rows."""
        vals, codes, start, done = res
        rps = self.plan.rows_per_schedule
        flags = np.concatenate([[0], np.asarray(done, dtype=np.int8), [0]])
        edges = np.flatnonzero(np.diff(flags))  # runs of finished schedules: [a, b)
        for a, b in zip(edges[::2], edges[1::2]):
            sl = slice(a * rps, b * rps)
            self.parts.append((s0 + int(a), self.plan.columns(vals[:, sl], codes[:, sl], start[sl])))
        return int(np.count_nonzero(done)) * rps

    def frame(self):
        import pandas as pd

        plan = self.plan
        parts = sorted(self.parts, key=lambda p: p[0])
        names = plan.column_names() + plan.loss_names
        if not parts:
            empty = plan.columns(np.empty((plan.outputs, 0)), np.zeros((_N_AXES, 0), dtype=np.int32), np.empty(0))
            return pd.DataFrame(empty, columns=names, index=pd.Index([], dtype=np.int64, name="row"))
        cols = {}
        for name in names:
            pieces = [p[1][name] for p in parts]
            if isinstance(pieces[0], pd.Categorical):
                cols[name] = pd.Categorical.from_codes(np.concatenate([c.codes for c in pieces]),
                                                       categories=pieces[0].categories)
            else:
                cols[name] = np.concatenate(pieces)
        rps = plan.rows_per_schedule
        bounds = [(s0 * rps, s0 * rps + len(p[plan.loss_names[0]])) for s0, p in parts]
        contiguous = all(bounds[i][1] == bounds[i + 1][0] for i in range(len(bounds) - 1))
        if contiguous:
            index = pd.RangeIndex(bounds[0][0], bounds[-1][1], name="row")
        else:
            index = pd.Index(np.concatenate([np.arange(a, b) for a, b in bounds]), name="row")
        return pd.DataFrame(cols, index=index, copy=False)


class _Best:
    """Merges chunks' best-k tables (order-independent: ties go to the smaller row)."""

    def __init__(self, plan, spec_red, threads):
        self.plan = plan
        self.red = spec_red
        self.threads = threads
        _, _, k, groups, _, _ = spec_red
        self.k = k
        self.vals = np.empty((groups, 0))
        self.rows = np.empty((groups, 0), dtype=np.int64)

    def add(self, s0, s1, res):
        vals, rows, counts = res
        rows = np.where(rows < 0, _NO_ROW, rows)
        V = np.concatenate([self.vals, vals], axis=1)
        R = np.concatenate([self.rows, rows], axis=1)
        order = np.lexsort((R, V), axis=-1)[:, : self.k]
        self.vals, self.rows = np.take_along_axis(V, order, axis=1), np.take_along_axis(R, order, axis=1)

    def add_partial(self, s0, s1, res) -> int:
        """The reduction over the rows an interrupted chunk evaluated; returns how many rows."""
        vals, rows, counts, seen = res
        self.add(s0, s1, (vals, rows, counts))
        return int(seen)

    def frame(self, group_by, objective_name):
        import pandas as pd

        plan = self.plan
        sel = self.rows[self.rows != _NO_ROW]  # group-major, each group in rank order
        vals, codes, start = _core.grid_rows(plan.spec, np.ascontiguousarray(sel, dtype=np.int64), self.threads)
        df = pd.DataFrame(plan.columns(vals, codes, start), index=pd.Index(sel, name="row"), copy=False)
        df = df[plan.column_names() + plan.loss_names]
        if group_by:
            df = df.sort_values(list(group_by), kind="stable", na_position="last")
        return df


def _check_fits_in_memory(plan):
    """Refuse up front a DataFrame of every row that cannot fit in memory."""
    per_row = 8 * (len(plan.column_names()) + len(plan.loss_names) + 1)  # columns and index
    _limits.check_fits(plan.rows, per_row, "reduce", "a DataFrame of every grid row",
                       "use reduce='min' or 'max' (kept chunk by chunk) or a smaller grid")


# ----------------------------------------------------------------------------- progress
def _progress_bar(progress, total: int, chunks: int):
    if progress is False:
        return None
    if progress is None:
        try:
            if chunks < 2 or not sys.stderr.isatty():
                return None
        except (AttributeError, ValueError):
            return None
    elif progress is not True:
        raise TypeError(f"progress: expected None, True or False, got {progress!r}")
    try:
        from tqdm import tqdm
    except ImportError:
        if progress is True:
            _warnings.warn("progress: tqdm is not installed (pip install tqdm); no progress bar", RuntimeWarning)
        return None
    return tqdm(total=total, unit="row", unit_scale=True, file=sys.stderr, desc="cptlaw.grid", leave=False)


def _futures_as_completed(client, futures):
    mod = type(client).__module__ or ""
    if mod.startswith("distributed") or mod.startswith("dask"):
        from distributed import as_completed

        return as_completed(futures)
    from concurrent.futures import as_completed

    return as_completed(futures)


def _cancel(futures):
    for f in futures:
        try:
            f.cancel()
        except Exception:  # pragma: no cover - best effort
            pass


# ----------------------------------------------------------------------------- grid
def grid(
    laws: Law | Mapping[str, Law],
    *,
    cpt: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    pt: Any = None,
    replay: float | Sequence[float] | None = None,
    w: float | Sequence[float] | None = None,
    steps: str | ArrayLike = "final",
    decay: float = 0.999,
    split: str = "by_source",
    warmup_as_peak: bool | int = False,
    reduce: Optional[str] = None,
    objective: Optional[str] = None,
    k: int = 1,
    group_by: str | Sequence[str] | None = None,
    chunk_size: Optional[int] = None,
    progress: Optional[bool] = None,
    client: Any = None,
    device: str = "cpu",
) -> pd.DataFrame:
    """Evaluate fitted laws over the Cartesian product of schedule-family parameters.

    Parameters
    ----------
    laws : Law or mapping of str to Law
        The fitted law(s): one Law gives the column ``loss``; a mapping ``{name: law}`` gives
        ``loss_<name>`` columns. Any law whose inputs the grid has: the CPT laws on
        ``s1_pt, s2_pt, s1_cpt, s2_cpt`` (the replay laws also on ``r_pt`` from ``replay``),
        OpenSourceLaw on ``s1_cpt, s2_cpt`` only (``pt`` may then be None: a PT LR that ended
        at 0), and one-run laws (inputs ``s1, s2``) on ``s1_pt + s1_cpt, s2_pt + s2_cpt``.
    cpt : mapping, or sequence of mappings
        The CPT schedule family: each key maps to one value or a sequence of values, and the
        grid is their Cartesian product (a sequence of mappings: the concatenation of their
        products). The keys, their meaning and defaults are :mod:`cptlaw.families`' (the
        planner builds the same schedules); schedules are exactly those of
        :mod:`cptlaw.schedules` (Hugging Face's formulas, :ref:`schedule-families`), step ``t = 0 .. steps - 1`` of CPT:

        - ``shape`` (default ``"cosine"``): ``"cosine"`` (HF ``cosine_with_min_lr``), ``"linear"`` (HF
          linear with a min LR), ``"wsd"`` (HF ``get_wsd_schedule``), ``"1-sqrt"`` (a 1-sqrt
          decay over every step after the warmup, :func:`schedules.one_minus_sqrt`),
          ``"constant"`` (HF ``constant_with_warmup``).
        - ``peak_lr`` (required, > 0), ``steps`` (required, CPT length >= 1).
        - ``warmup``: (re-)warmup steps, default 0. Combinations with ``warmup > steps`` give NaN.
        - ``start_lr``: LR of the first warmup step: ``"pt"`` (default; None means it too: the
          PT checkpoint's final LR, a continuous re-warmup), ``"hf"`` (HF's own warmup, from 0,
          or from the min LR for ``"wsd"`` and ``"1-sqrt"``) or an LR; the warmup is then
          ``peak * ((t / W) * (1 - s) + s)``, ``s = start_lr / peak`` (:func:`schedules.rewarmup`).
          Irrelevant (NaN) without warmup; rows with warmup 0 are not repeated per start LR.
        - ``decay_frac`` (``"wsd"``; default 0.1): the share of the steps after the warmup spent
          decaying: :func:`wsd_decay_steps` ``= round(decay_frac * (steps - warmup))``, stable
          before.
        - ``decay_type`` (WSD): ``"linear"`` (default, as :func:`schedules.wsd`), ``"cosine"``,
          ``"1-sqrt"``. 1-sqrt decays have no closed form: they cost O(decay steps) each (the
          ``"1-sqrt"`` shape O(steps after the warmup)).
        - ``min_lr`` (absolute LR, default 0; rows with ``min_lr > peak_lr`` give NaN) or
          ``min_lr_ratio`` (fraction of the peak), not both (the same one in every mapping).

        Parameters a shape does not use (decay_frac/decay_type but for WSD, the min LR for
        constant) are not crossed with it: its rows hold NaN there.
    pt : Schedule, sequence or mapping of Schedules, or mapping (PT family)
        The PT checkpoint(s) CPT starts from (only its final state matters: S1, S2, momentum
        and LR after the last PT step). A mapping of names to Schedules names them in column
        ``pt``. A PT family mapping (or a list of them) is crossed like ``cpt``, with keys
        ``shape``, ``peak_lr``, ``steps`` (the PT length), ``warmup``, ``decay_frac``,
        ``decay_type``, and one of ``min_lr``, ``min_lr_ratio`` or ``loss_potential`` (final
        PT LR / peak PT LR, :ref:`loss-potential`, exactly: the PT schedule decays over ``steps - 1``
        steps towards ``loss_potential * peak_lr`` and holds it for the last step,
        :func:`cptlaw.families.pt_schedule`); its columns are ``pt_<key>``.
    replay : float or sequence, optional
        Replay ratios ``r_pt`` in [0, 1] (replay laws only; default 0).
    w : float or sequence, optional
        Weights in [0, 1]: adds the column ``loss = w * loss_pt + (1 - w) * loss_cpt`` (P1 Eq. 5);
        needs ``laws={"pt": ..., "cpt": ...}``.
    steps : "final" or array of int
        Where to evaluate: ``"final"`` (after the last CPT step, default) or CPT step counts
        ``k >= 0`` (``k`` CPT steps done, i.e. global step ``T_pt + k - 1``; ``k = 0`` is the
        PT checkpoint itself), sorted and de-duplicated; ``k > steps`` of a row gives NaN.
    decay : float
        Momentum factor lambda of S2.
    split : {"by_source", "by_time", "restart"}
        S2 split at the transfer (:ref:`s2-split`).
    warmup_as_peak : bool or int
        P2's warmup convention for the PT checkpoints, as in :func:`cptlaw.areas`: True
        counts the steps before the first peak at the peak, an int W the first W steps.
        Use the convention the laws were fitted with.
    reduce : {None, "min", "max"}
        None: every row. ``"min"`` / ``"max"``: only the ``k`` rows with the smallest /
        largest ``objective``, overall or per group of ``group_by`` (e.g. the best peak LR for
        each CPT length: ``group_by="cpt_steps"``), computed chunk by chunk without keeping the
        grid. Ties go to the earlier row; NaN rows are never selected.
    objective : str, optional
        The loss column ranked by ``reduce``; default ``"loss"`` when there is one (a single
        law, or the weighted loss), required otherwise.
    k : int
        Rows kept per group (``reduce`` only).
    group_by : str or sequence of str, optional
        Parameter columns defining the groups of ``reduce`` (not loss columns).
    chunk_size : int, optional
        Rows (combination x step) per chunk, rounded to whole schedules: the unit of
        progress and distribution. With ``reduce`` memory stays O(chunk_size).
        Default 1,000,000 (100,000,000 with ``device="cuda"`` and a ``reduce``).
    progress : bool, optional
        A tqdm progress bar on stderr: None (default) shows it for grids of more than one
        chunk when stderr is a terminal and tqdm is installed; True always (warns without
        tqdm); False never.
    client : dask.distributed.Client or concurrent.futures.Executor, optional
        Run the chunks there (``submit``); results are identical to the local run. Each
        task uses the worker's default thread count.
    device : {"cpu", "cuda", "cuda:N"}
        ``"cuda"``: each chunk is evaluated (and reduced) on a GPU (:mod:`cptlaw.cuda`); the
        same rows and best rows as on the CPU. Not with ``client``.

    Returns
    -------
    pandas.DataFrame
        One row per combination and step, indexed by the row's number in the full grid
        (``row``), with the parameter columns (``pt``, ``pt_*``, ``cpt_shape``, ``cpt_peak_lr``,
        ``cpt_steps``, ``cpt_warmup``, ``cpt_start_lr`` (the start LR actually used),
        ``cpt_decay_type``, ``cpt_decay_frac``, ``cpt_min_lr`` or ``cpt_min_lr_ratio``,
        ``replay``, ``w``, ``step``; those that cannot vary are left out) and the loss columns.
        Rows are ordered by CPT mapping, then shape, then ``pt, cpt_decay_type, cpt_peak_lr,
        cpt_steps, cpt_warmup, cpt_start_lr, cpt_decay_frac, cpt_min_lr, replay, w, step``
        (the last fastest). With ``reduce``: the selected rows, by group then rank.
        ``attrs``: ``rows_total``, ``rows_done``, ``complete``.

    Raises
    ------
    GridInterrupted
        On Ctrl-C (KeyboardInterrupt), within ~50 ms; its ``partial`` is the result over
        the work finished: the rows of every schedule completed (``reduce=None``; whole
        chunks with ``client=``), or the reduction over the rows evaluated.
    ValueError
        ``reduce=None`` on a grid whose DataFrame would not fit in this machine's memory.
    """
    try:
        import pandas  # noqa: F401
    except ImportError:
        raise ImportError("cptlaw.grid returns pandas DataFrames: pip install pandas") from None
    plan = _Plan(laws, pt, cpt, replay, w, steps, decay, split, warmup_as_peak)
    if reduce is not None:
        reduce = _validate.choice(reduce, "reduce", ("min", "max"))
        k = _validate.integer(k, "k", lo=1)
        if objective is None:
            if "loss" in plan.loss_names:
                objective = "loss"
            elif len(plan.loss_names) == 1:
                objective = plan.loss_names[0]
            else:
                raise ValueError(f"objective: required with several losses ({', '.join(plan.loss_names)})")
        if not isinstance(objective, str) or objective not in plan.loss_names:
            raise ValueError(f"objective: unknown loss column {objective!r}; expected one of "
                             f"{', '.join(plan.loss_names)}")
        group_by, groups, mul, maps = plan.group_spec(group_by)
        if groups * k > 50_000_000:
            raise ValueError(f"group_by: {groups} groups x k = {k} is too many to keep; use reduce=None")
        red = (plan.loss_names.index(objective), reduce == "max", k, groups, mul, maps)
    else:
        if objective is not None or group_by is not None:
            raise ValueError("objective, group_by: only used with reduce='min' or 'max'")
        red = None
    if device != "cpu" and client is not None:
        raise ValueError("device: 'cuda' runs the grid on this machine's GPU; it does not combine with client=")
    threads = get_num_threads()
    if device != "cpu":
        from . import cuda

        run_local = cuda._grid_runner(plan.spec, red, device)
    else:
        run_local = lambda s0, s1: _run_chunk(plan.spec, s0, s1, red, threads)  # noqa: E731
    if chunk_size is None:
        # GPU reductions stream large chunks; rows that come back to the host (reduce=None) are
        # materialised per chunk (a dozen columns each), so they keep the CPU's chunk size.
        chunk_size = 100_000_000 if device != "cpu" and reduce is not None else 1_000_000
    chunk_size = _validate.integer(chunk_size, "chunk_size", lo=1)
    if red is None:
        _check_fits_in_memory(plan)
    if client is not None and not callable(getattr(client, "submit", None)):
        raise TypeError(f"client: expected a dask.distributed Client or a concurrent.futures Executor, "
                        f"got {type(client).__name__}")

    per = max(1, chunk_size // plan.rows_per_schedule)
    bounds = [(s0, min(s0 + per, plan.schedules)) for s0 in range(0, plan.schedules, per)]
    acc: Any = _Rows(plan) if red is None else _Best(plan, red, threads)
    done = [0]

    def finish(complete: bool):
        df = acc.frame() if red is None else acc.frame(group_by, objective)
        df.attrs.update(rows_total=int(plan.rows), rows_done=int(done[0]), complete=complete)
        return df

    bar = _progress_bar(progress, plan.rows, len(bounds))
    futures = []
    try:
        if client is None:
            for s0, s1 in bounds:
                try:
                    res = run_local(s0, s1)
                except KeyboardInterrupt as exc:
                    # The CPU core stops within ~50 ms and hands over what it finished (a GPU
                    # chunk runs to its end: the interrupt comes after it).
                    part = getattr(exc, "_cptlaw_partial", None)
                    if part is not None:
                        done[0] += acc.add_partial(s0, s1, part)
                    raise
                acc.add(s0, s1, res)
                done[0] += (s1 - s0) * plan.rows_per_schedule
                if bar is not None:
                    bar.update((s1 - s0) * plan.rows_per_schedule)
        else:
            spec = plan.spec
            if callable(getattr(client, "scatter", None)):
                # hash=False: a content-hashed key is shared by identical grids, and releasing
                # one call's future can drop the data under the next call ("lost dependencies").
                spec = client.scatter([plan.spec], broadcast=True, hash=False)[0]  # a list: a dict would be keys
            futures = [client.submit(_run_chunk, spec, s0, s1, red, 0) for s0, s1 in bounds]
            where = {id(f): b for f, b in zip(futures, bounds)}
            for fut in _futures_as_completed(client, futures):
                s0, s1 = where[id(fut)]
                acc.add(s0, s1, fut.result())
                done[0] += (s1 - s0) * plan.rows_per_schedule
                if bar is not None:
                    bar.update((s1 - s0) * plan.rows_per_schedule)
    except KeyboardInterrupt:
        _cancel(futures)
        if bar is not None:
            bar.close()
            bar = None
        raise GridInterrupted(finish(False), done[0], plan.rows) from None
    except BaseException:
        _cancel(futures)
        raise
    finally:
        if bar is not None:
            bar.close()
    return finish(True)
