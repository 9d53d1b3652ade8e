"""The batch kernel behind cptlaw.areas: rows in groups of four, results staged and written
in whole cache lines (non-temporal stores once a call's outputs reach 32 MiB), learning rates
validated block by block as they are read. These tests pin what that must not change: the
bits (streamed or not, aligned or not, any thread count), and that every bad value is found.
"""

import numpy as np
import pytest

import cptlaw
from cptlaw import reference as ref

STREAM_MIN_BYTES = 32 << 20  # line_writer.hpp: kStreamMinBytes


def _threads(n, fn):
    cptlaw.set_num_threads(n)
    try:
        return fn()
    finally:
        cptlaw.set_num_threads(0)


@pytest.fixture(scope="module")
def big():
    """A batch whose outputs are streamed: 2 x 8 bytes x rows x steps >= 32 MiB. 4101 steps
    make every row start at a different offset within a cache line."""
    rows, steps = 515, 4101  # 515 = 4 * 128 + 3: three rows left over after the groups
    assert 16 * rows * steps >= STREAM_MIN_BYTES
    rng = np.random.default_rng(11)
    lr = rng.uniform(0, 1e-3, (rows, steps))
    lr[:, 2000:2100] = 0.0
    return lr


def test_streamed_outputs_have_the_bits_of_cached_ones(big):
    """Rows 8-11 alone (one group, outputs small enough to stay in cache) give the same bits
    as in the streamed batch; the leftover rows likewise as a 3-row call."""
    got = cptlaw.areas(big, 0.999)
    small = cptlaw.areas(big[8:12], 0.999)
    np.testing.assert_array_equal(got.s1[8:12], small.s1)
    np.testing.assert_array_equal(got.s2[8:12], small.s2)
    tail = cptlaw.areas(big[-3:], 0.999)
    np.testing.assert_array_equal(got.s1[-3:], tail.s1)
    np.testing.assert_array_equal(got.s2[-3:], tail.s2)
    for r in (0, 9, 513, 514):
        e1, e2 = ref.areas(big[r], 0.999)
        np.testing.assert_allclose(got.s1[r], e1, rtol=1e-12)
        np.testing.assert_allclose(got.s2[r], e2, rtol=1e-10, atol=1e-12 * np.abs(e2).max())


def test_thread_count_does_not_change_bits(big):
    one = _threads(1, lambda: cptlaw.areas(big, 0.99))
    two = _threads(2, lambda: cptlaw.areas(big, 0.99))
    np.testing.assert_array_equal(one.s1, two.s1)
    np.testing.assert_array_equal(one.s2, two.s2)


@pytest.mark.parametrize("offset", [0, 1, 3, 7])
def test_misaligned_out_arrays(big, offset):
    """out= views starting 8*offset bytes into a buffer: lines split differently, same bits."""
    want = cptlaw.areas(big, 0.999)
    buf1 = np.empty(big.size + 8)
    buf2 = np.empty(big.size + 8)
    o1 = buf1[offset : offset + big.size].reshape(big.shape)
    o2 = buf2[7 - offset : 7 - offset + big.size].reshape(big.shape)
    cptlaw.areas(big, 0.999, out=(o1, o2))
    np.testing.assert_array_equal(o1, want.s1)
    np.testing.assert_array_equal(o2, want.s2)


@pytest.mark.parametrize("steps", [1, 2, 7, 8, 9, 129, 130, 1000])
@pytest.mark.parametrize("rows", [1, 3, 4, 5, 9])
def test_short_rows_match_reference(rows, steps):
    rng = np.random.default_rng(rows * 1000 + steps)
    lr = rng.uniform(0, 1e-3, (rows, steps))
    got = cptlaw.areas(lr, 0.9)
    for r in range(rows):
        e1, e2 = ref.areas(lr[r], 0.9)
        np.testing.assert_allclose(got.s1[r], e1, rtol=1e-12)
        np.testing.assert_allclose(got.s2[r], e2, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, -1e-300])
@pytest.mark.parametrize(
    "where",
    [(0, 0), (1, 0), (2, 1), (3, 128), (3, 129), (5, 4100), (512, 0), (514, 4100), (514, 2050)],
)
def test_every_bad_value_is_found(big, bad, where):
    """Step 0, block edges, the last step, grouped and leftover rows, streamed outputs."""
    lr = big.copy()
    lr[where] = bad
    with pytest.raises(ValueError, match=r"\blr\b"):
        cptlaw.areas(lr)
    with pytest.raises(ValueError, match=r"\blr\b"):
        cptlaw.areas(lr[where[0] : where[0] + 1])  # one row, outputs in cache


@pytest.mark.parametrize("option", [{"warmup_as_peak": True}, {"warmup_as_peak": 3}, {"s2_lr_exponent": 0.5}])
def test_bad_value_inside_lifted_warmup_is_found(option):
    """The warmup convention replaces the first steps by the peak: a NaN there is still bad."""
    lr = np.array([[1e-4, np.nan, 3e-4, 2e-4, 1e-4]] * 5)
    with pytest.raises(ValueError, match=r"\blr\b"):
        cptlaw.areas(lr, **option)


def test_negative_zero_is_a_valid_learning_rate():
    lr = np.array([[1e-3, -0.0, 0.0, 1e-3]] * 6)
    got = cptlaw.areas(lr, 0.5)
    np.testing.assert_array_equal(got.s1[0], [1e-3, 1e-3, 1e-3, 2e-3])


@pytest.mark.parametrize("steps", [1, 3, 9])
def test_many_tiny_rows_streamed(steps):
    """Millions of rows of a few steps: streamed outputs, every row shorter than a line."""
    rows = (STREAM_MIN_BYTES // (16 * steps)) + 5
    rng = np.random.default_rng(steps)
    lr = rng.uniform(0, 1e-3, (rows, steps))
    got = cptlaw.areas(lr, 0.9)
    np.testing.assert_allclose(got.s1, np.cumsum(lr, axis=1), rtol=1e-13)
    d = np.zeros_like(lr)
    d[:, 1:] = lr[:, :-1] - lr[:, 1:]
    m = np.zeros_like(lr)
    for i in range(1, steps):
        m[:, i] = 0.9 * m[:, i - 1] + d[:, i]
    np.testing.assert_allclose(got.s2, np.cumsum(m, axis=1), rtol=1e-10, atol=1e-15)
