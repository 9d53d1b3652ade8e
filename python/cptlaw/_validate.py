"""Input checks shared by the public API: every error names the argument."""

from __future__ import annotations

import numbers
import operator

import numpy as np

from . import _limits


def describe(value, width: int = 60) -> str:
    """A one-line description of a value for an error message (arrays by shape and dtype)."""
    if isinstance(value, np.ndarray) and value.ndim > 0:
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def as_float_array(value, name: str, *, min_ndim: int = 0, allow_empty: bool = False) -> np.ndarray:
    """Convert to a float64 ndarray; reject strings, objects, complex and booleans."""
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name}: expected numbers, got a string")
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name}: cannot be read as a numeric array ({exc})") from None
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name}: expected a real numeric array, got dtype {arr.dtype}")
    copyable(arr, name)
    arr = arr.astype(np.float64, copy=False)
    if arr.ndim < min_ndim:
        raise ValueError(f"{name}: expected at least {min_ndim} dimension(s), got {arr.ndim}")
    if not allow_empty and arr.size == 0:
        raise ValueError(f"{name}: is empty")
    return arr


def copyable(arr: np.ndarray, name: str) -> None:
    """Refuse an array whose float64 copy would not fit in memory (a broadcast view can be huge
    yet cost a few bytes)."""
    if arr.size > 1 << 24:
        _limits.check_fits(arr.size, 8, name, "an array")


def output_array(value, name: str, shape: tuple) -> np.ndarray:
    """A caller-given output: a writeable, C-contiguous float64 ndarray of ``shape``."""
    if not isinstance(value, np.ndarray) or value.dtype != np.float64:
        raise TypeError(f"{name}: expected a float64 ndarray")
    if value.shape != shape:
        raise ValueError(f"{name}: shape {value.shape} differs from the result's {shape}")
    if not (value.flags.c_contiguous and value.flags.writeable):
        raise ValueError(f"{name}: must be C-contiguous and writeable")
    return value


def check_finite(arr: np.ndarray, name: str) -> None:
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: contains NaN or infinite values")


def learning_rates(value, name: str, *, check_values: bool = True, allow_empty: bool = False) -> np.ndarray:
    """Per-step learning rates: float64, steps on the last axis, finite and >= 0.

    ``check_values=False`` leaves the finite/non-negative scan to the compiled core,
    which fuses it into its own pass over the data.
    """
    arr = as_float_array(value, name, min_ndim=1, allow_empty=allow_empty)
    if arr.shape[-1] == 0 and not allow_empty:
        raise ValueError(f"{name}: has no steps (the last axis is empty)")
    if check_values:
        check_finite(arr, name)
        if (arr < 0).any():
            raise ValueError(f"{name}: learning rates must be >= 0")
    return arr


def real_scalar(value, name: str, *, lo=None, hi=None) -> float:
    """A finite real number (not a bool or string), optionally within [lo, hi]."""
    t = type(value)
    if t is not float and t is not int:  # plain Python numbers skip the slower checks
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
            raise TypeError(f"{name}: expected a real number, got {type(value).__name__}")
    try:
        v = float(value)
    except OverflowError:  # an int (or Fraction) beyond the float range
        raise ValueError(f"{name}: must be finite, got {describe(value)}, too large for a float") from None
    except (TypeError, ValueError):  # e.g. NumPy's timedelta64, an integer type float() refuses
        raise TypeError(f"{name}: expected a real number, got {type(value).__name__}") from None
    if v - v != 0.0:  # NaN or infinite
        raise ValueError(f"{name}: must be finite, got {v}")
    if lo is not None and v < lo:
        raise ValueError(f"{name}: must be >= {lo}, got {v}")
    if hi is not None and v > hi:
        raise ValueError(f"{name}: must be <= {hi}, got {v}")
    return v


def decay(value) -> float:
    return real_scalar(value, "decay", lo=0.0, hi=1.0)


def integer(value, name: str, *, lo=None, hi=None) -> int:
    """A Python int from an int-like value (not a bool, not a float), optionally within [lo, hi]."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected an integer, got bool")
    try:
        v = operator.index(value)
    except TypeError:
        raise TypeError(f"{name}: expected an integer, got {type(value).__name__}") from None
    if lo is not None and v < lo:
        raise ValueError(f"{name}: must be >= {lo}, got {describe(v)}")
    if hi is not None and v > hi:
        raise ValueError(f"{name}: must be <= {hi}, got {describe(v)}")
    return v


def mapping(value, name: str) -> dict:
    """A dict copy of an optional mapping argument (None gives {})."""
    if value is None:
        return {}
    if not hasattr(value, "keys"):
        raise TypeError(f"{name}: expected a dict, got {type(value).__name__}")
    return dict(value)


def choice(value, name: str, options) -> str:
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name}: unknown option {describe(value)}; expected one of {', '.join(map(repr, options))}")
    return value
