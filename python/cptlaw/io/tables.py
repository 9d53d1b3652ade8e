"""Tables of raw cells that remember where each cell came from: CSV text files (line, column)
and pandas DataFrames (row label, column name). Cells are converted on demand, with errors that
point at the cell."""

from __future__ import annotations

import csv
import math

import numpy as np

from ._limits import MAX_STEPS, steps_text
from ._located import DataError, file_path, read_text

MISSING = {"", "nan", "NaN", "NAN", "null", "None", "NA", "N/A", "-"}


class Table:
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
        """The cell as a float (NaN when missing); errors for text, infinities, fractions of a
        step (``integer``) and values below ``lo``."""
        v = self.cols[col][row]
        if v is None:
            return math.nan
        if isinstance(v, str):
            s = v.strip()
            if s in MISSING:
                return math.nan
            try:
                x = float(s)
            except ValueError:
                raise self.error(row, col, f"expected a number, got {_short(s)!r}") from None
        elif isinstance(v, (bool, np.bool_)):
            raise self.error(row, col, f"expected a number, got {v!r}")
        else:
            try:
                x = float(v)
            except (TypeError, ValueError, OverflowError):
                raise self.error(row, col, f"expected a number, got {_short(v)!r}") from None
        if math.isnan(x):
            return x
        if not math.isfinite(x):
            raise self.error(row, col, f"expected a finite number, got {_short(v)!r}")
        if integer and x != round(x):
            raise self.error(row, col, f"expected a whole number of steps, got {_short(v)!r}")
        if lo is not None and x < lo:
            raise self.error(row, col, f"must be >= {lo:g}, got {_short(v)!r}")
        return x

    def step(self, row, col, offset=0):
        """A step count: a whole number >= 0 that, after ``offset``, stays within MAX_STEPS."""
        s = self.number(row, col, integer=True)
        if math.isnan(s):
            raise self.error(row, col, "missing step")
        if s < 0:
            raise self.error(row, col, f"step must be >= 0, got {_short(self.raw(row, col))!r}")
        if s + offset > MAX_STEPS:
            raise self.error(row, col, f"step {s:.0f} is beyond the {steps_text()} updates cptlaw reads per run")
        return int(s) + int(offset)

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
        raise self.error(row, col, f"phase must be 'pt' or 'cpt', got {_short(self.text(row, col))!r}")


def _short(v, n=40):
    s = str(v)
    return s if len(s) <= n else s[:n] + "..."


def _split(line, delim, path, lineno):
    try:
        return next(csv.reader([line], delimiter=delim))
    except (csv.Error, StopIteration) as exc:
        raise DataError(f"not a CSV line ({exc})", path, lineno, 1) from None


def read_text_table(path, header_optional=False) -> Table:
    """A CSV (``,`` ``;`` or tab separated) with a header; ``header_optional``: a file of
    numbers only is read as one ``lr`` column (or columns ``c0, c1, ...``)."""
    path = file_path(path)
    text = read_text(path)
    if "\x00" in text:
        i = text.index("\x00")
        line = text.count("\n", 0, i) + 1
        raise DataError("not a text file (it holds NUL bytes)", path, line, i - (text.rfind("\n", 0, i) + 1) + 1)
    lines = text.splitlines()
    first = next((i for i, ln in enumerate(lines) if ln.strip() and not ln.lstrip().startswith("#")), None)
    if first is None:
        raise DataError("the file is empty", path, 1, 1)
    head = lines[first]
    delim = "\t" if ("\t" in head and "," not in head) else (";" if (";" in head and "," not in head) else ",")
    header = [h.strip() for h in _split(head, delim, path, first + 1)]
    numeric_header = all(_is_number(h) for h in header)
    if numeric_header and header_optional:
        header = ["lr"] if len(header) == 1 else [f"c{i}" for i in range(len(header))]
        data_start = first
    else:
        if numeric_header:
            raise DataError("the first line must be a header naming the columns (e.g. step,lr,loss)", path,
                            first + 1, 1)
        data_start = first + 1
        seen = set()
        for j, h in enumerate(header):
            if not h:
                raise DataError(f"empty column name in the header (column {j + 1})", path, first + 1,
                                _field_offsets(head, delim)[j])
            if h.lower() in seen:
                raise DataError(f"column {_short(h)!r} appears twice in the header", path, first + 1,
                                _field_offsets(head, delim)[j])
            seen.add(h.lower())
    cols: dict[str, list] = {h: [] for h in header}
    rows_line, rows_off = [], []
    for i in range(data_start, len(lines)):
        ln = lines[i]
        if not ln.strip() or ln.lstrip().startswith("#"):
            continue
        fields = _split(ln, delim, path, i + 1)
        if len(fields) != len(header):
            raise DataError(f"expected {len(header)} fields ({_short(delim.join(header), 60)}), found {len(fields)}",
                            path, i + 1, 1)
        for h, f in zip(header, fields):
            cols[h].append(f)
        rows_line.append(i + 1)
        rows_off.append(_field_offsets(ln, delim))
    if not rows_line:
        raise DataError("no data rows after the header", path, first + 1, 1)
    return Table(path, header, cols, lines=rows_line, offsets=rows_off)


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


def dataframe_table(df) -> Table:
    """A pandas DataFrame as a Table (errors name the row label and column)."""
    if not hasattr(df, "columns") or not hasattr(df, "to_dict"):
        raise TypeError(f"df: expected a pandas DataFrame, got {type(df).__name__}")
    names = [str(c) for c in df.columns]
    if len(set(n.lower() for n in names)) < len(names):
        raise DataError("df: duplicated column names")
    cols = {str(c): list(df[c].tolist()) for c in df.columns}
    if not cols or len(df) == 0:
        raise DataError("df: no rows")
    return Table("DataFrame", names, cols, labels=list(df.index))


__all__ = ["MISSING", "Table", "dataframe_table", "read_text_table"]


def __dir__():  # dir() and tab completion show the public names only
    return sorted(__all__)
