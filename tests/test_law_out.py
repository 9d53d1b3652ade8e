"""law(..., out=array): losses written into a caller-owned array, as NumPy's ufuncs do."""

import numpy as np
import pytest

import cptlaw

LAW = cptlaw.AnnealingLaw(L0=2.6, A=0.43, alpha=0.55, C=0.41)


def test_out_matches_fresh_and_is_returned():
    rng = np.random.default_rng(0)
    s1 = rng.uniform(0.1, 5.0, (3, 40))
    s2 = rng.uniform(0.0, 0.5, (3, 40))
    out = np.full((3, 40), np.nan)
    got = LAW(s1=s1, s2=s2, out=out)
    assert got is out
    np.testing.assert_array_equal(out, LAW(s1=s1, s2=s2))


def test_out_with_broadcast_and_scalar_inputs():
    s1 = np.linspace(0.5, 3.0, 7)
    out = np.empty((2, 7))
    LAW(s1=s1, s2=np.array([[0.1], [0.2]]), out=out)
    np.testing.assert_array_equal(out, LAW(s1=s1, s2=np.array([[0.1], [0.2]])))
    one = np.empty(7)
    LAW(s1=s1, s2=0.3, out=one)
    np.testing.assert_array_equal(one, LAW(s1=s1, s2=0.3))


def test_out_on_a_cpt_law_and_many_points():
    """Large enough to be split across threads; every point is written."""
    law = cptlaw.CPTLaw(L0=3.0, A=0.4, alpha=0.6, C1=0.3, C2=0.3, B=-0.6, E=5000.0, beta=0.15)
    rng = np.random.default_rng(1)
    n = 300_001
    ins = {"s1_pt": rng.uniform(1, 10, n), "s2_pt": rng.uniform(0, 1, n),
           "s1_cpt": rng.uniform(0, 2, n), "s2_cpt": rng.uniform(-0.1, 0.5, n)}
    out = np.full(n, np.nan)
    law(**ins, out=out)
    np.testing.assert_array_equal(out, law(**ins))


def test_out_empty_inputs():
    out = np.empty((0,))
    assert LAW(s1=np.empty(0), s2=np.empty(0), out=out) is out


@pytest.mark.parametrize(
    "make, exc",
    [
        (lambda: [0.0] * 5, TypeError),  # not an ndarray
        (lambda: np.empty(5, np.float32), TypeError),
        (lambda: np.empty(6), ValueError),  # wrong shape
        (lambda: np.empty((5, 1)), ValueError),
        (lambda: np.empty(10)[::2], ValueError),  # not C-contiguous
    ],
)
def test_bad_out(make, exc):
    with pytest.raises(exc, match="out"):
        LAW(s1=np.linspace(1, 2, 5), s2=np.zeros(5), out=make())


def test_read_only_out_rejected():
    out = np.empty(5)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="out"):
        LAW(s1=np.linspace(1, 2, 5), s2=np.zeros(5), out=out)


def test_out_overlapping_an_input_rejected():
    s1 = np.linspace(1, 2, 5)
    buf = np.zeros(6)
    with pytest.raises(ValueError, match="out"):
        LAW(s1=s1, s2=buf[:5], out=buf[1:])
    with pytest.raises(ValueError, match="out"):
        LAW(s1=s1, s2=buf[:5], out=buf[:5])


@pytest.mark.parametrize("offset", [0, 3])
def test_streamed_output_has_the_bits_of_cached_ones(offset):
    """Outputs of 32 MiB and more are written with non-temporal line stores; the same
    points evaluated in small pieces (outputs kept in cache) give the same bits, also into
    an out= view that starts mid cache line."""
    n = (32 << 20) // 8 + 1001
    rng = np.random.default_rng(5)
    s1 = rng.uniform(0.05, 5.0, n)
    s2 = rng.uniform(0.0, 0.5, n)
    buf = np.full(n + 8, np.nan)
    out = buf[offset:offset + n]
    LAW(s1=s1, s2=s2, out=out)
    pieces = np.concatenate([LAW(s1=s1[i:i + 100_003], s2=s2[i:i + 100_003]) for i in range(0, n, 100_003)])
    np.testing.assert_array_equal(out, pieces)
    np.testing.assert_array_equal(LAW(s1=s1, s2=s2), pieces)
    assert np.isnan(buf[:offset]).all() and np.isnan(buf[offset + n:]).all()
