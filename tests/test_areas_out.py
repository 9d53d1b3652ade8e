"""cptlaw.areas(..., out=(s1, s2)): results written into caller-owned arrays."""

import numpy as np
import pytest

import cptlaw


def test_out_matches_fresh_and_is_returned():
    rng = np.random.default_rng(0)
    lr = rng.uniform(0, 1e-3, (3, 4, 50))
    s1, s2 = np.empty_like(lr), np.empty_like(lr)
    res = cptlaw.areas(lr, 0.99, out=(s1, s2))
    assert res.s1 is s1 and res.s2 is s2
    fresh = cptlaw.areas(lr, 0.99)
    np.testing.assert_array_equal(s1, fresh.s1)
    np.testing.assert_array_equal(s2, fresh.s2)


@pytest.mark.parametrize(
    "make, exc",
    [
        (lambda lr: [np.empty_like(lr), np.empty_like(lr)], TypeError),  # not a tuple
        (lambda lr: (np.empty_like(lr),), TypeError),
        (lambda lr: (np.empty(lr.shape, np.float32), np.empty_like(lr)), TypeError),
        (lambda lr: (np.empty((2, 50)), np.empty_like(lr)), ValueError),
        (lambda lr: (np.empty((50, 3)).T, np.empty_like(lr)), ValueError),  # not C-contiguous
        (lambda lr: (lr, np.empty_like(lr)), ValueError),  # overlaps the input
    ],
)
def test_bad_out(make, exc):
    lr = np.full((3, 50), 1e-3)
    with pytest.raises(exc, match="out"):
        cptlaw.areas(lr, out=make(lr))


def test_out_same_array_twice_rejected():
    lr = np.full(10, 1e-3)
    a = np.empty(10)
    with pytest.raises(ValueError, match="out"):
        cptlaw.areas(lr, out=(a, a))
