"""Hypothesis strategies for the API fuzzer (``_fuzz_api.py``): valid values of each kind of
argument, and hostile ones (wrong types, dtypes, shapes, NaN/inf, huge and negative integers,
read-only and non-contiguous arrays).

``arg(valid)`` draws a valid value most of the time and a hostile one otherwise, so that most
cases get past the first checks and reach the code behind them.
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

NAN, INF = math.nan, math.inf

# integers around every limit a size, a count or an index can hit; nothing in between that
# would legitimately ask for gigabytes
HUGE_INTS = [-1, -2, 0, 1, 2, 2**31, 2**53 + 1, 2**62, 2**63 - 1, 2**63, 2**64, 2**70, 2**2000, -(2**63) - 1,
             -(2**70), 10**12]
SPECIAL_FLOATS = [0.0, -0.0, 1.0, -1.0, 0.5, NAN, INF, -INF, 5e-324, 1e-300, 1e300, 1.7976931348623157e308,
                  1 - 2**-53, 1 + 2**-52, 1e-12]


class _Opaque:
    """An object no argument should accept."""

    def __repr__(self):
        return "<opaque>"


OTHER = [None, True, False, "", "1", "abc", "nan", "0.5", b"1", 1j, complex(NAN, 0), [], [[]], [[1.0, 2.0], [3.0]],
         [None], ["a", 1], {}, {"a": 1}, (), _Opaque(), Fraction(1, 3), Decimal("1.5"),
         Decimal("NaN"), Decimal("1e400"), np.float16(1), np.float32("nan"), np.int64(-1), np.uint64(2**64 - 1),
         np.bool_(True), np.datetime64("2020-01-01"), np.timedelta64(3, "D"), np.str_("1"), np.complex128(1),
         np.array(1.0), np.array([]), np.array("x"), np.array([None, 1.0], dtype=object),
         np.array(["2020-01-01"], dtype="datetime64[D]"), np.array([1 + 1j]), np.array([True, False]),
         np.zeros((0, 3)), np.zeros((3, 0)), range(3), iter([1.0, 2.0]), slice(1, 2), Ellipsis, math.pi,
         float("nan"), 10**400]

DTYPES = [np.float64, np.float32, np.float16, np.int64, np.int32, np.int8, np.uint64, np.uint8, np.bool_,
          np.complex128]


def _layout(arr: np.ndarray, how: str) -> np.ndarray:
    """The same values in another memory layout (all must give the same results)."""
    if how == "readonly":
        arr = arr.copy()
        arr.flags.writeable = False
    elif how == "strided" and arr.ndim >= 1:
        big = np.repeat(arr, 2, axis=-1)
        arr = big[..., ::2]
    elif how == "fortran" and arr.ndim >= 2:
        arr = np.asfortranarray(arr)
    elif how == "reversed" and arr.ndim >= 1:
        arr = arr[..., ::-1].copy()[..., ::-1]
    return arr


LAYOUTS = ["plain", "readonly", "strided", "fortran", "reversed"]


@st.composite
def laid_out(draw, arrays):
    """``arrays`` in a random (equivalent) memory layout."""
    arr = draw(arrays)
    if isinstance(arr, np.ndarray):
        arr = _layout(arr, draw(st.sampled_from(LAYOUTS)))
    return arr


def shapes(min_dims=0, max_dims=3, min_side=0, max_side=5):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


@st.composite
def hostile_arrays(draw):
    """Arrays of any dtype, shape (0-d, empty, huge-but-broadcast), with NaN/inf and extremes."""
    kind = draw(st.sampled_from(["numeric", "numeric", "object", "string", "datetime", "broadcast"]))
    shape = draw(shapes())
    if kind == "numeric":
        dtype = draw(st.sampled_from(DTYPES))
        arr = draw(hnp.arrays(dtype, shape))
    elif kind == "object":
        arr = np.empty(shape, dtype=object)
        arr.fill(draw(st.sampled_from([None, 1.0, "1", (1, 2)])))
    elif kind == "string":
        arr = np.full(shape, draw(st.sampled_from(["1.0", "x", ""])))
    elif kind == "datetime":
        arr = np.full(shape, np.datetime64("2024-01-01"))
    else:
        # a huge leading dimension that costs a few bytes: a broadcast view
        lead = draw(st.sampled_from([2**40, 2**55]))  # beyond any memory: must be refused
        return np.broadcast_to(np.float64(draw(st.sampled_from([1e-3, 0.0, NAN]))), (lead, 2))
    return _layout(arr, draw(st.sampled_from(LAYOUTS)))


def hostile():
    """Anything: wrong types, odd numbers, odd arrays, nested lists."""
    leaf = st.one_of(st.sampled_from(HUGE_INTS), st.sampled_from(SPECIAL_FLOATS), st.sampled_from(OTHER))
    nested = st.recursive(leaf, lambda inner: st.lists(inner, max_size=3), max_leaves=6)
    return st.one_of(leaf, hostile_arrays(), nested)


def arg(valid, bad=None):
    """Mostly a valid value, sometimes a hostile one."""
    return st.one_of(valid, valid, valid, bad if bad is not None else hostile())


# -- valid values -----------------------------------------------------------------------------


def floats(lo, hi, **kw):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, **kw)


def lr_values(n_min=1, n_max=12, lead=(), lo=0.0, hi=1e-2):
    """Learning rates: non-negative, with zeros and ties, any layout and real dtype."""
    elems = st.one_of(st.just(0.0), floats(lo, hi), st.sampled_from([1e-4, 2e-4]))

    @st.composite
    def build(draw):
        n = draw(st.integers(n_min, n_max))
        arr = np.array(draw(st.lists(elems, min_size=n * int(np.prod(lead)), max_size=n * int(np.prod(lead)))),
                       dtype=np.float64).reshape(lead + (n,))
        how = draw(st.sampled_from(["float64", "float64", "float32", "list", "int"]))
        if how == "float32":
            arr = arr.astype(np.float32)
        elif how == "list":
            return arr.tolist()
        elif how == "int":
            arr = (arr > 0).astype(np.int64)
        return _layout(arr, draw(st.sampled_from(LAYOUTS)))

    return build()


def decays():
    return st.one_of(st.sampled_from([0.0, 1.0, 0.999, 0.9, 1 - 1e-9, 1 - 2**-53, 5e-324]), floats(0.0, 1.0))


def exponents():
    return st.one_of(st.none(), st.sampled_from([0.0, 0.5, 1.0, -0.5, -1.0, 2.0]), floats(-3.0, 3.0))


def small_ints(lo=0, hi=20):
    return st.integers(lo, hi)


def keyword_typos(names):
    """A wrong keyword name: a near miss of a real one, or an unrelated one."""
    near = [n + "s" for n in names] + [n.upper() for n in names if n.upper() != n]
    return st.sampled_from(near + ["decay_rate", "lr", "foo", "step", "seed_", "n"])
