"""How closely two float64 evaluations of the annealing area S2 can agree: the condition of the
input, for the tests that compare the core with the reference (or with itself split in two).

S2 sums the momenta ``m_i = lam*m_{i-1} + d_i`` (``d_i = x_{i-1} - x_i``), each weighted by
``w_i = x_i**eps`` (1 without an LR exponent). Every rounding in that recurrence is a few
ulps of its terms, which never exceed ``TV = max|x| + sum|d_k|`` (a bound on every ``|m|`` and
``|d|``, also after the warmup is lifted to the peak), and it stays in ``m``, damped by ``lam``
per step: ``m_i`` is exact to ~``u*TV*g_i`` with ``g_i = sum_{r<i} lam^r <= min(i, 1/(1-lam))``.
The sum ``S2_i = sum_{j<=i} m_j w_j`` adds at most ``i*u`` times its terms. So

    |S2_i(any float64 evaluation) - S2_i(exact)|  <~  u * TV * (g_i + i) * sum_{j<=i} |w_j|

whatever the size of ``S2_i`` itself. When ``lam`` is close to 1 and the LR drops and comes
back (``x = [0.01, 0, 0, 0.01, ...]``, ``lam = 1 - 1e-9``), ``m`` is a tiny difference of two
large terms and ``S2 ~ -3e-12`` carries a relative error of ~1e-8 in *every* implementation:
the core's kernel and the reference are off the exact (rational) value by 4e-8 and 6e-8
relative, in the same direction. A tolerance relative to ``max|S2|`` cannot hold there; this
bound can, and stays far below any formula error (for lam = 0.999 and 200 steps it is ~1e-12
of the values).
"""

from __future__ import annotations

import numpy as np

U = 2.0**-53  # unit roundoff of float64
ROUNDINGS = 8  # roundings per step the bound allows: the drop, the product, the sum, the weight, x2


def s2_rounding_floor(x, decay, eps=None) -> np.ndarray:
    """Per step, the absolute error any float64 evaluation of S2 of schedule ``x`` may carry."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    if x.size == 0:
        return np.zeros(0)
    tv = np.max(np.abs(x)) + np.sum(np.abs(np.diff(x)))
    i = np.arange(x.size, dtype=np.float64)
    lam = float(decay)
    if lam == 1.0:
        g = i
    elif lam == 0.0:
        g = np.minimum(i, 1.0)
    else:
        g = -np.expm1(i * np.log(lam)) / (1.0 - lam)
    if eps is None:
        w = np.ones_like(x)
    else:
        with np.errstate(divide="ignore"):
            w = np.abs(x) ** float(eps)
        w = np.where(np.isfinite(w), w, 0.0)  # 0**eps < 0: S2 is not finite there anyway
    return ROUNDINGS * U * tv * (g + i) * np.cumsum(w)
