"""Runs from Weights & Biases history exports (JSON, JSON lines; the layouts W&B and pandas
write), including runs resumed from another run's checkpoint."""

from __future__ import annotations

import math
import os
import re

from ..runs import Run
from ._limits import MAX_STEPS, steps_text
from ._located import DataError, Doc, file_path, load_json, read_text
from .assemble import LR_COLUMNS, VAL_LOSS, build_runs, parse_table
from .csv_runs import run_name_from_path
from .options import COMMON, WANDB_ONLY, canonical, checked
from .tables import Table

_WB_STEP = ("trainer/global_step", "train/global_step", "global_step", "iter", "iteration", "step", "_step")


def read_wandb_history(path, *, schedule=None, name=None, loss_columns=None, lr_column=None, step_column=None,
                       step_offset=0, lr_shift=0, min_step=1, base=None, search=None, r_pt=None, pt_steps=None,
                       **deprecated) -> Run:
    """One run from a Weights & Biases history export (JSON or JSON lines).

    Accepted layouts: ``{"history": {group: {"iter": [...], "val_loss": [...]}, ...}}`` (as
    in the lr-scheduling data), ``{"history": [row, ...]}`` or a list of row objects
    (``run.history()`` / ``scan_history()`` rows, steps in ``_step`` or ``global_step``),
    columns ``{"_step": [...], "val/loss": [...]}`` (also pandas ``to_json()``), and
    ``.jsonl`` files with one row per line.

    ``loss_columns``: the validation-loss columns (default: every ``val*loss*`` column that
    is not a ``final`` summary; several become validation sets named after the column; a dict
    maps columns to set names); ``lr_column``: the logged LR (default ``lr``, ``train_lr``,
    ``learning_rate``, ...); ``step_column``: the step column. The options are those of
    :func:`cptlaw.io.read_csv_runs` (``loss_keys``, ``lr_key``, ``step_key`` are their former,
    deprecated names). Repeated steps (restarted runs) keep the last value.

    Resumed runs: when ``config.resume_from`` names a checkpoint ``.../<run name>/.../<step>``
    of another run, that run's history before ``<step>`` is prepended. It is looked up in
    ``base`` (a path), else among ``search`` (paths) and the ``.json`` files next to
    ``path``; a :class:`DataError` says so if it cannot be found.
    """
    given = dict(loss_columns=loss_columns, lr_column=lr_column, step_column=step_column)
    for key, value in canonical(deprecated, set(COMMON) | set(WANDB_ONLY), "read_wandb_history").items():
        if key not in given:
            raise TypeError(f"read_wandb_history: {key}= is given twice")
        if given[key] is not None:
            raise TypeError(f"read_wandb_history: {key}= is given twice (once under its former name)")
        given[key] = value
    o = checked(dict(given, step_offset=step_offset, lr_shift=lr_shift, min_step=min_step, r_pt=r_pt,
                     pt_steps=pt_steps))
    doc = _wandb_doc(path)
    keys, cols_loss, cols_lr, cfg, run_name = _wandb_rows(doc, o["loss_columns"], o["lr_column"], o["step_column"])
    run_name = name or run_name or run_name_from_path(path)
    resume = cfg.get("resume_from") if isinstance(cfg, dict) else None
    if isinstance(resume, str) and resume.strip():
        parts = [q for q in re.split(r"[\\/]", resume.rstrip("/\\")) if q]
        start = int(parts[-1]) if parts and parts[-1].isdigit() and len(parts[-1]) < 12 else None
        if start:
            bdoc = _find_base(path, parts, base, search)
            if bdoc is None:
                raise doc.error(f"run resumed from step {start} of another run (config.resume_from {resume!r}), "
                                "whose history is not among the inputs nor next to this file; pass it too "
                                "(--base FILE / base=)", ("config", "resume_from"))
            _, bl, blr, _, _ = _wandb_rows(bdoc, keys, o["lr_column"], o["step_column"])
            cols_loss = [(s, v) for s, v in bl if s < start] + cols_loss
            cols_lr = [(s, v) for s, v in blr if s < start] + cols_lr
    # one table of rows, LR rows and loss rows interleaved in file order (last wins)
    valsets = list(keys)
    if not cols_loss:
        raise doc.error("no validation-loss values in the history", ("history",))
    names = ["step", "lr"] + [f"loss:{v}" for v in valsets]
    table_cols: dict[str, list] = {n: [] for n in names}
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
    table = Table(doc.path, names, table_cols, labels=None)
    table.error = lambda row, col, msg: doc.error(f"{msg}", ("history",))  # type: ignore[method-assign]  # noqa: E731
    mapping = _valset_names(valsets, o["loss_columns"])
    parsed, _, _ = parse_table(table, step_column="step", lr_column="lr", loss_columns=mapping,
                               step_offset=o["step_offset"], run_name=run_name)
    return build_runs(parsed, has_lr=bool(cols_lr), schedule=schedule, lr_shift=o["lr_shift"],
                      pt_steps=o["pt_steps"], r_pt=o["r_pt"], min_step=o["min_step"])[0]


def _valset_names(valsets, given):
    if isinstance(given, dict):
        return {f"loss:{v}": given[v] for v in valsets}
    if len(valsets) == 1:
        return {f"loss:{valsets[0]}": None}
    return {f"loss:{v}": _valset_name(v) for v in valsets}


def _valset_name(key):
    m = VAL_LOSS.match(key)
    if m and m.group("name"):
        return m.group("name")
    return key


def _wandb_doc(path):
    path = file_path(path)
    if path.lower().endswith(".jsonl"):
        rows = []
        for i, ln in enumerate(read_text(path).splitlines()):
            if ln.strip():
                rows.append(load_json(ln, path, line=i + 1))
        return Doc(path, text="", data=rows)
    return Doc(path)


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


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _wandb_rows(doc, loss_columns, lr_column, step_column):
    data = doc.data
    tables = _wb_tables(doc)
    allcols = [k for _, c, _ in tables for k in c]
    shown = (", ".join(allcols) if len(allcols) <= 30 else ", ".join(allcols[:30]) + ", ...") or "(no columns)"
    if loss_columns is None:
        loss = [k for k in allcols if re.search(r"val|eval", k, re.I) and re.search(r"loss", k, re.I)
                and not re.search(r"final|step|iter|time", k, re.I)]
        if not loss:
            loss = [k for k in allcols if k.lower() == "loss"]
        if not loss:
            raise doc.error(f"no validation-loss column found among {shown}; name it (--loss-column)",
                            ("history",) if isinstance(data, dict) and "history" in data else ())
    else:
        loss = [loss_columns] if isinstance(loss_columns, str) else list(loss_columns)
        missing = [k for k in loss if k not in allcols]
        if missing:
            raise doc.error(f"no column {missing[0]!r} in the history; it has {shown}")
    if lr_column is None:
        lr = next((k for k in allcols if k.lower() in LR_COLUMNS), None)
        if lr is None:
            lr = next((k for k in allcols if re.search(r"(^|[/_])lr($|[/_-])|learning_rate", k, re.I)), None)
    else:
        lr = lr_column
        if lr not in allcols:
            raise doc.error(f"no column {lr!r} in the history; it has {shown}")
    cands = (step_column,) if step_column is not None else _WB_STEP

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
                if not _is_number(s) or not math.isfinite(s) or s < 0 or s != int(s):
                    raise doc.error(f"step {s!r} is not a whole number >= 0", cell(step, j))
                if s > MAX_STEPS:
                    raise doc.error(f"step {s:.0f} is beyond the {steps_text()} updates cptlaw reads per run",
                                    cell(step, j))
                vals = {}
                for k in present:
                    col = cols[k]
                    v = col[j] if j < len(col) else None
                    if v is None or (isinstance(v, float) and math.isnan(v)):
                        continue
                    if not _is_number(v) or not math.isfinite(v) or v < 0:
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
        stem = run_name_from_path(c)
        try:
            doc = Doc(c)
        except DataError:
            if base is not None and os.path.abspath(c) == os.path.abspath(str(base)):
                raise
            continue
        nm = doc.data.get("name") if isinstance(doc.data, dict) else None
        if (base is not None and os.path.abspath(c) == os.path.abspath(str(base))) or stem in parts or nm in parts:
            return doc
    return None


__all__ = ["read_wandb_history"]


def __dir__():  # dir() and tab completion show the public names only
    return sorted(__all__)
