"""One base for cptlaw's result objects: a readable text table and HTML for notebooks.

Every result (:class:`cptlaw.FitResult`, :class:`cptlaw.BootstrapResult`, the planner's
optima, live predictions, intervals, comparisons) is a :class:`Result`: ``repr(result)`` (and
``print``) shows a short table of what matters, Jupyter shows the same as HTML
(``_repr_html_``), and IPython's pretty printer uses the text. Results that behave like
scipy's ``OptimizeResult`` (a dict with attribute access) derive from :class:`DictResult`;
the others are dataclasses and keep their attribute access.

A result describes itself once, as a title and a list of blocks (:class:`Text`,
:class:`Fields`, :class:`Inline`, :class:`Table`); this module lays them out as text or HTML.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field, fields, is_dataclass

import numpy as np

__all__ = ["DictResult", "Fields", "Inline", "Result", "Table", "Text", "fmt", "render_html", "render_text"]


def __dir__():  # dir() and tab completion show the public names only
    return sorted(__all__)

_WIDTH = 100  # the longest value shown in full
# Laws and schedules show their own repr, in full. They are known by their base classes' names,
# since this module sits below cptlaw.laws and cptlaw.schedules and imports neither.
_OWN_REPR = {("cptlaw.laws", "Law"), ("cptlaw.schedules", "Schedule")}


def _shows_own_repr(value) -> bool:
    return any((c.__module__, c.__qualname__) in _OWN_REPR for c in type(value).__mro__)


def fmt(value, spec: str = ".6g") -> str:
    """A value as a short string: numbers with ``spec``, arrays and containers summarised."""
    if value is None:
        return "-"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return str(v) if not math.isfinite(v) else format(v, spec)
    if isinstance(value, str):
        return value if len(value) <= _WIDTH else value[: _WIDTH - 3] + "..."
    if isinstance(value, np.ndarray):
        return _array(value, spec)
    if isinstance(value, Result):
        return value._title()
    if isinstance(value, type):
        return value.__name__
    if _shows_own_repr(value):
        return repr(value)
    if isinstance(value, dict):
        text = "{" + ", ".join(f"{k}: {fmt(v, spec)}" for k, v in value.items()) + "}"
    elif isinstance(value, (list, tuple)):
        inner = ", ".join(fmt(v, spec) for v in value)
        text = f"[{inner}]" if isinstance(value, list) else f"({inner})"
    else:
        text = repr(value)
    return text if len(text) <= _WIDTH else text[: _WIDTH - 3] + "..."


def _array(a: np.ndarray, spec: str) -> str:
    if a.size <= 6 and a.ndim <= 1:
        return "[" + ", ".join(fmt(x, spec) for x in a.reshape(-1).tolist()) + "]"
    shape = "x".join(map(str, a.shape))
    if a.dtype.kind in "fiu" and a.size:
        finite = a[np.isfinite(a)] if a.dtype.kind == "f" else a
        if finite.size:
            return f"array {shape} ({fmt(finite.min(), spec)} .. {fmt(finite.max(), spec)})"
    return f"array {shape} ({a.dtype})"


# -- blocks ----------------------------------------------------------------------------------------


@dataclass
class Text:
    """A line (or paragraph) of text."""

    text: str


@dataclass
class Fields:
    """Name-value pairs, one per line (values already formatted, or formatted with :func:`fmt`)."""

    items: list


@dataclass
class Inline:
    """Name-value pairs on one line."""

    items: list


@dataclass
class Table:
    """A table: column headers and rows of cells (formatted with :func:`fmt` unless strings).

    ``right``: columns aligned right in text (default: every column but the first).
    """

    headers: list
    rows: list
    right: tuple | None = field(default=None)
    note: str = ""

    def cells(self) -> list:
        return [[c if isinstance(c, str) else fmt(c) for c in row] for row in self.rows]

    def text(self, indent: str = "") -> str:
        """The table as aligned text lines."""
        return "\n".join(_text_table(self, indent))


def _text_table(t: Table, indent: str) -> list:
    rows = t.cells()
    heads = [str(h) for h in t.headers]
    widths = [max([len(heads[i])] + [len(r[i]) for r in rows]) for i in range(len(heads))]
    right = set(range(1, len(heads))) if t.right is None else set(t.right)

    def line(cells):
        return indent + "  ".join(c.rjust(w) if i in right else c.ljust(w)
                                  for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    out = [line(heads)] + [line(r) for r in rows]
    if t.note:
        out.append(indent + t.note)
    return out


def render_text(title: str, blocks, indent: str = "  ") -> str:
    lines = [title]
    for b in blocks:
        if isinstance(b, Text):
            lines += [indent + ln for ln in b.text.splitlines()]
        elif isinstance(b, Inline):
            lines.append(indent + "   ".join(f"{k} {v if isinstance(v, str) else fmt(v)}" for k, v in b.items))
        elif isinstance(b, Fields):
            if b.items:
                w = max(len(str(k)) for k, _ in b.items)
                lines += [f"{indent}{str(k).ljust(w)}  {v if isinstance(v, str) else fmt(v)}" for k, v in b.items]
        elif isinstance(b, Table):
            lines += _text_table(b, indent)
    return "\n".join(lines)


def render_html(title: str, blocks) -> str:
    e = html.escape
    out = ['<div class="cptlaw-result">', f"<strong>{e(title)}</strong>"]
    for b in blocks:
        if isinstance(b, Text):
            out.append(f"<p>{e(b.text)}</p>")
        elif isinstance(b, (Fields, Inline)):
            out.append("<table><tbody>")
            for k, v in b.items:
                out.append(f"<tr><th style=\"text-align:left\">{e(str(k))}</th>"
                           f"<td style=\"text-align:left\">{e(v if isinstance(v, str) else fmt(v))}</td></tr>")
            out.append("</tbody></table>")
        elif isinstance(b, Table):
            out.append("<table><thead><tr>" + "".join(f"<th>{e(str(h))}</th>" for h in b.headers)
                       + "</tr></thead><tbody>")
            for row in b.cells():
                out.append("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>")
            out.append("</tbody></table>")
            if b.note:
                out.append(f"<p>{e(b.note)}</p>")
    out.append("</div>")
    return "\n".join(out)


# -- the base classes --------------------------------------------------------------------------------


class Result:
    """Base of cptlaw's results: ``repr`` is a readable table, ``_repr_html_`` the same as HTML.

    Subclasses describe themselves with :meth:`_title` and :meth:`_blocks`; the default shows
    a dataclass's fields (those declared with ``repr=True``).
    """

    __slots__ = ()

    def _title(self) -> str:
        return type(self).__name__

    def _blocks(self) -> list:
        if is_dataclass(self):
            return [Fields([(f.name, getattr(self, f.name)) for f in fields(self) if f.repr])]
        return []

    def __repr__(self) -> str:
        return render_text(self._title(), self._blocks())

    def _repr_html_(self) -> str:
        return render_html(self._title(), self._blocks())

    def _repr_pretty_(self, p, cycle) -> None:  # IPython
        p.text(f"{type(self).__name__}(...)" if cycle else repr(self))


class DictResult(Result, dict):
    """A result that is a dict with attribute access (like scipy's ``OptimizeResult``):
    ``result.x`` is ``result["x"]``, and setting an attribute sets the key."""

    __slots__ = ()

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name, value):
        self[name] = value

    def __delattr__(self, name):
        try:
            del self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __dir__(self):
        return list(super().__dir__()) + [k for k in self.keys() if isinstance(k, str)]

    def _blocks(self) -> list:
        return [Fields([(k, v) for k, v in self.items() if not str(k).startswith("_")])]
