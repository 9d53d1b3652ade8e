"""Errors located at ``file:line:column``, and JSON/YAML documents that can say where a value sits.

Every reader raises :class:`DataError` (a ``ValueError``) whose text starts with the place of the
problem, so the command line can print one line a user can jump to. Parsing is defensive:
duplicate keys, nesting deeper than :data:`MAX_DEPTH`, numbers with thousands of digits and
undecodable bytes are errors with a position, never a ``RecursionError`` or a silent choice.
"""

from __future__ import annotations

import json
import os
import re

from .. import _warnings
from ._limits import MAX_DEPTH


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


def warn(message: str, category: type[Warning] = DataWarning) -> None:
    """Warn, attributed to the first caller outside cptlaw (the line that called the reader)."""
    _warnings.warn(message, category)


def file_path(path) -> str:
    """A file path argument as a str (a TypeError naming ``path`` for anything else)."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected a file path (str or os.PathLike), got {type(path).__name__}")
    return os.fsdecode(path)


def read_text(path) -> str:
    """The text of a UTF-8 file (a byte-order mark is skipped), or a DataError saying why it
    cannot be read (located at the first byte that is not UTF-8)."""
    path = file_path(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        raise DataError("file not found", path) from None
    except IsADirectoryError:
        raise DataError("is a directory, expected a file", path) from None
    except PermissionError:
        raise DataError("permission denied", path) from None
    except MemoryError:
        raise DataError("file too large to read", path) from None
    except OSError as exc:
        raise DataError(f"cannot read the file ({exc.strerror or exc})", path) from None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataError("a UTF-16 file (it starts with a UTF-16 byte-order mark); save it as UTF-8", path, 1, 1)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = len(raw[raw.rfind(b"\n", 0, exc.start) + 1:exc.start].decode("utf-8", "replace")) + 1
        raise DataError(f"not a UTF-8 text file ({exc.reason} at byte {exc.start})", path, line, col) from None
    # the text as Python reads it with universal newlines
    return text.replace("\r\n", "\n").replace("\r", "\n")


def fmt_path(path) -> str:
    """A key path as text: ``runs.a.pt.steps``, ``history[3]``."""
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "top level"


# ======================================================================================
# JSON with checks
# ======================================================================================

_WS = re.compile(r"[ \t\n\r]*")
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.S)
_LONG_NUMBER = re.compile(r"-?\d{1000,}")


def _line_col(text, offset):
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, col


def _too_deep_offset(text):
    """Offset of the first bracket past MAX_DEPTH levels (None if there is none)."""
    depth = 0
    for m in _TOKENS.finditer(text):
        c = m.group()
        if c in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return m.start()
        elif c in "]}":
            depth -= 1
    return None


def _depth_exceeds(data) -> bool:
    """Whether containers nest deeper than MAX_DEPTH (iterative; shared YAML nodes visited once)."""
    stack, seen = [(data, 1)], set()
    while stack:
        node, d = stack.pop()
        if d > MAX_DEPTH:
            return True
        if id(node) in seen:
            continue
        seen.add(id(node))
        items = node.values() if isinstance(node, dict) else node
        for v in items:
            if isinstance(v, (dict, list)):
                stack.append((v, d + 1))
    return False


class _Duplicates:
    """object_pairs_hook that builds dicts and remembers whether a key repeated."""

    def __init__(self):
        self.found = False

    def __call__(self, pairs):
        out = dict(pairs)
        if len(out) != len(pairs):
            self.found = True
        return out


def load_json(text, path, line=None):
    """Parse JSON text; errors (bad syntax, duplicate keys, too deep, huge numbers) are located.
    ``line``: the line of ``text`` within the file (JSON lines)."""

    def located(message, offset):
        ln, col = _line_col(text, offset) if offset is not None else (None, None)
        if line is not None:
            ln = line if ln is None else line + ln - 1
        return DataError(message, path, ln if ln is not None else line, col)

    dups = _Duplicates()
    try:
        data = json.loads(text, object_pairs_hook=dups)
    except json.JSONDecodeError as exc:
        raise located(f"invalid JSON: {exc.msg}", exc.pos) from None
    except RecursionError:
        raise located(f"invalid JSON: lists or objects nested more than {MAX_DEPTH} deep",
                      _too_deep_offset(text)) from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        m = _LONG_NUMBER.search(text)
        raise located(f"invalid JSON: a number with {len(m.group().lstrip('-')) if m else 'too many'} digits"
                      if m else f"invalid JSON: {exc}", m.start() if m else None) from None
    if isinstance(data, (dict, list)) and _depth_exceeds(data):
        raise located(f"lists or objects nested more than {MAX_DEPTH} deep", _too_deep_offset(text))
    if dups.found:
        key, offset = _first_duplicate(text)
        raise located(f"duplicate key {key!r} (JSON keeps only one of them; remove the other)", offset)
    return data


def _scan_json(text, descend, on_value=None, on_key=None):
    """Walk a JSON text that parses: ``on_value(path, offset)`` at each value reached,
    ``on_key(path, key, offset)`` at each key of an object entered (``path`` is the object's),
    entering a container only where ``descend(path)`` (the rest is skipped by the C decoder).
    A callback may raise to stop the walk."""
    dec = json.JSONDecoder()

    def ws(i):
        return _WS.match(text, i).end()

    def value(i, path):
        i = ws(i)
        if on_value is not None:
            on_value(path, i)
        c = text[i]
        if c not in "{[" or not descend(path):
            return dec.raw_decode(text, i)[1]
        i = ws(i + 1)
        if text[i] in "}]":
            return i + 1
        n = 0
        while True:
            if c == "{":
                kpos = i
                k, i = json.decoder.scanstring(text, i + 1)
                if on_key is not None:
                    on_key(path, k, kpos)
                i = ws(value(ws(i) + 1, path + (k,)))
            else:
                i = ws(value(i, path + (n,)))
                n += 1
            if text[i] == ",":
                i = ws(i + 1)
                continue
            return i + 1

    value(0, ())


def _first_duplicate(text):
    """(key, offset) of the first key repeated within one object (the text parses, depth is bounded)."""
    seen = set()  # (object's path, key): each object has a path of its own

    def on_key(path, k, kpos):
        if (path, k) in seen:
            raise _Found(k, kpos)
        seen.add((path, k))

    try:
        _scan_json(text, lambda path: True, on_key=on_key)
    except _Found as f:
        return f.key, f.offset
    except Exception:  # locating is best effort
        pass
    return "?", None


class _Found(Exception):
    def __init__(self, key, offset):
        self.key, self.offset = key, offset


# ======================================================================================
# documents with positions (JSON / YAML)
# ======================================================================================


class Doc:
    """A parsed JSON/YAML file that can say where a value (by key path) sits in the text."""

    def __init__(self, path, text=None, data=None):
        self.path = file_path(path) if text is None else str(path)
        if text is None:
            text = read_text(self.path)
        self.text = text
        self.yaml = self.path.lower().endswith((".yaml", ".yml"))
        self.data = self._parse() if data is None else data

    def _parse(self):
        if not self.yaml:
            return load_json(self.text, self.path)
        try:
            import yaml
        except ImportError:
            raise DataError("reading YAML needs PyYAML (pip install pyyaml); or write the spec as JSON",
                            self.path) from None
        try:
            data = yaml.safe_load(self.text)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
            raise DataError(f"invalid YAML: {exc.problem or exc.context}", self.path, line, col) from None
        except yaml.YAMLError as exc:
            raise DataError(f"invalid YAML: {' '.join(str(exc).split())}", self.path) from None
        except RecursionError:
            raise DataError(f"invalid YAML: lists or mappings nested more than {MAX_DEPTH} deep", self.path) from None
        except (ValueError, OverflowError) as exc:  # e.g. PyYAML converting a malformed timestamp
            raise DataError(f"invalid YAML: {exc}", self.path) from None
        if isinstance(data, (dict, list)) and _depth_exceeds(data):
            raise DataError(f"lists or mappings nested more than {MAX_DEPTH} deep", self.path)
        return data

    # -- positions ---------------------------------------------------------------------
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
        if not text:
            return None, None
        best = [0]  # the deepest value on the way to `want`

        def on_path(path):
            return path == want[: len(path)]

        def on_value(path, offset):
            if on_path(path):
                best[0] = offset

        def on_key(path, k, kpos):
            if key and path + (k,) == want:
                raise _Found(k, kpos)

        try:
            _scan_json(text, lambda path: on_path(path) and len(path) < len(want), on_value, on_key)
        except _Found as f:
            best[0] = f.offset
        return _line_col(text, best[0])

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


__all__ = ["DataError", "DataWarning", "Doc", "InterpolatedLRWarning", "fmt_path", "load_json", "read_text", "warn"]
