"""Independent pure-Python reference implementation of every cptlaw formula.

This module is the project's second, deliberately independent copy of the formulas
documented in :ref:`laws`. It is written straight from those formulas with
plain Python loops and plain NumPy, and it shares no code with the compiled core or
with the package's other modules (it imports nothing from ``cptlaw``). The test
suite and the benchmarks compare the core against it.

It is slow by design: the areas are computed one step at a time in pure Python, the
laws are written term by term as in the paper, and gradients come from complex-step
differentiation of the value functions (so they are independent of the core's
hand-derived derivatives). Do not use it for real work.

Contents
--------
- :func:`areas` and :func:`cpt_areas`: :ref:`areas` and :ref:`s2-split`, for one 1-D schedule.
- one value function per law (:func:`annealing`, :func:`cpt`, :func:`replay_pt`,
  :func:`replay_cpt`, :func:`model_size`, :func:`open_source`, :func:`cpt_power_s2`,
  :func:`out_of_domain`, :func:`cpt_shared_c`), each taking a params dict (real or complex values) and the
  law's inputs as keyword arguments named as in :ref:`laws`;
- :func:`grad`: complex-step gradient of any law w.r.t. its parameters;
- :data:`PARAM_NAMES`, :data:`INPUT_NAMES`, :data:`LAWS`.

Conventions pinned here (they follow the package documentation, :ref:`laws` and :ref:`conventions`):

- A non-positive base of a power (the forward area ``S1_pt + S1_cpt``, ``S1_cpt +
  S1_pt_hat``, ``1 + E*S1_cpt``, or the model size ``N``) gives NaN.
- Eq. 10's powered annealing areas use the odd extension ``sign(s) * |s|**z``
  (S2 is negative after a re-warmup); ``s == 0`` gives 0.
- Eq. 8 for ``L_cpt`` uses ``exp(a1 * r_cpt)`` as printed in Eq. 8 (the Fig. 19
  caption of P1 prints ``r_pt`` there), with ``r_cpt = 1 - r_pt``.
- ``1 - (1 + E*S1_cpt)**-beta``, ``1 - exp(-a2*r_cpt)`` and ``exp(a2*r_cpt) - 1`` are
  evaluated through log1p/expm1 (the same numbers without the cancellation at small
  arguments), with complex-safe versions of both for the complex step.
- Where a loss is NaN its whole reference gradient is NaN.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "INPUT_NAMES",
    "LAWS",
    "PARAM_NAMES",
    "annealing",
    "areas",
    "cpt",
    "cpt_areas",
    "cpt_areas_double_sum",
    "cpt_power_s2",
    "cpt_shared_c",
    "grad",
    "magnitude",
    "model_size",
    "open_source",
    "out_of_domain",
    "replay_cpt",
    "replay_pt",
]


def __dir__():  # dir() and tab completion show the public names only
    return sorted(__all__)

SPLITS = ("by_source", "by_time", "restart")

PARAM_NAMES = {
    "annealing": ("L0", "A", "alpha", "C"),
    "cpt": ("L0", "A", "alpha", "C1", "C2", "B", "E", "beta"),
    "replay_pt": ("L0", "A", "alpha", "C1", "C2", "a1", "B", "E", "beta", "a2"),
    "replay_cpt": ("L0", "A", "alpha", "C1", "C2", "a1", "B", "E", "beta", "a2"),
    "model_size": ("L0", "A", "alpha", "C1", "C2", "g1", "g2", "B", "E", "beta", "F", "g3"),
    "open_source": ("L0", "A", "alpha", "S1_pt_hat", "B", "E", "beta", "C2"),
    "cpt_power_s2": ("L0", "A", "alpha", "C1", "C2", "B", "E", "beta", "z1", "z2"),
    "out_of_domain": ("w1", "w2"),
    "cpt_shared_c": ("L0", "A", "alpha", "C", "B", "E", "beta"),
}

INPUT_NAMES = {
    "annealing": ("s1", "s2"),
    "cpt": ("s1_pt", "s2_pt", "s1_cpt", "s2_cpt"),
    "replay_pt": ("s1_pt", "s2_pt", "s1_cpt", "s2_cpt", "r_pt"),
    "replay_cpt": ("s1_pt", "s2_pt", "s1_cpt", "s2_cpt", "r_pt"),
    "model_size": ("s1_pt", "s2_pt", "s1_cpt", "s2_cpt", "N"),
    "open_source": ("s1_cpt", "s2_cpt"),
    "cpt_power_s2": ("s1_pt", "s2_pt", "s1_cpt", "s2_cpt"),
    "out_of_domain": ("loss_pt", "loss_cpt"),
    "cpt_shared_c": ("s1_pt", "s2_pt", "s1_cpt", "s2_cpt"),
}


# ---------------------------------------------------------------------------------
# Section 1: areas of one schedule
# ---------------------------------------------------------------------------------


def _schedule(lr, name="lr"):
    """A 1-D schedule as a list of Python floats (checked: finite, >= 0)."""
    arr = np.asarray(lr, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name}: the reference takes one 1-D schedule, got shape {arr.shape}")
    out = [float(v) for v in arr]
    for v in out:
        if not math.isfinite(v) or v < 0.0:
            raise ValueError(f"{name}: learning rates must be finite and >= 0")
    return out


def _warmup_steps(x, warmup_as_peak):
    """Number of leading steps to count at the row maximum (P2's warmup convention)."""
    if warmup_as_peak is True or (isinstance(warmup_as_peak, np.bool_) and bool(warmup_as_peak)):
        peak = max(x)
        first = 0
        while x[first] != peak:
            first += 1
        return first  # the steps strictly before the first maximum
    if warmup_as_peak is False or warmup_as_peak is None or isinstance(warmup_as_peak, np.bool_):
        return 0
    w = int(warmup_as_peak)
    if w < 0:
        raise ValueError("warmup_as_peak: must be >= 0")
    return min(w, len(x))


def _apply_warmup(x, warmup_as_peak):
    """The schedule with its first W steps replaced by the row maximum."""
    if not x:
        return list(x)
    w = _warmup_steps(x, warmup_as_peak)
    peak = max(x)
    return [peak] * w + list(x[w:])


def _lr_weight(v, eps):
    """x**eps for Eq. 9's LR-weighted momentum; 1 when eps is None (plain S2)."""
    if eps is None:
        return 1.0
    if v == 0.0:
        if eps > 0:
            return 0.0
        if eps == 0:
            return 1.0
        return math.inf
    try:
        return v**eps
    except OverflowError:  # a tiny LR to a negative power: float arithmetic gives inf
        return math.inf


def _momenta(x, lam):
    """m[0] = 0, m[i] = lam*m[i-1] + (x[i-1] - x[i])."""
    m = [0.0] * len(x)
    for i in range(1, len(x)):
        m[i] = lam * m[i - 1] + (x[i - 1] - x[i])
    return m


def _cumsum(values):
    out = []
    total = 0.0
    for v in values:
        total += v
        out.append(total)
    return out


def areas(lr, decay=0.999, warmup_as_peak=False, s2_lr_exponent=None):
    """Forward area S1 and annealing area S2 of one schedule (:ref:`areas`).

    ``S1[i] = x[0] + ... + x[i]``; ``m[0] = 0``, ``m[i] = lam*m[i-1] + x[i-1] - x[i]``;
    ``S2[i] = m[0] + ... + m[i]`` (or ``sum m[j] * x[j]**eps`` with ``s2_lr_exponent``).

    warmup_as_peak: False = literal; True = steps before the first occurrence of the
    maximum count as at the maximum; an int W = the first W steps count as at the maximum.

    Returns two 1-D float64 arrays.
    """
    lam = float(decay)
    if not (0.0 <= lam <= 1.0):
        raise ValueError("decay: must be in [0, 1]")
    x = _apply_warmup(_schedule(lr), warmup_as_peak)
    eps = None if s2_lr_exponent is None else float(s2_lr_exponent)
    s1 = _cumsum(x)
    m = _momenta(x, lam)
    s2 = _cumsum([m[j] * _lr_weight(x[j], eps) for j in range(len(x))])
    return np.array(s1, dtype=np.float64), np.array(s2, dtype=np.float64)


# ---------------------------------------------------------------------------------
# Section 3: PT ++ CPT timeline and the three S2 splits
# ---------------------------------------------------------------------------------


def _cpt_prepare(lr_pt, lr_cpt, decay, split, warmup_as_peak, s2_lr_exponent):
    lam = float(decay)
    if not (0.0 <= lam <= 1.0):
        raise ValueError("decay: must be in [0, 1]")
    if split not in SPLITS:
        raise ValueError(f"split: unknown option {split!r}")
    pt = _schedule(lr_pt, "lr_pt")
    if not pt:
        raise ValueError("lr_pt: has no steps")
    cpt_ = _schedule(lr_cpt, "lr_cpt")
    pt = _apply_warmup(pt, warmup_as_peak)  # PT only; CPT re-warmup is always literal
    eps = None if s2_lr_exponent is None else float(s2_lr_exponent)
    return pt + cpt_, len(pt), lam, eps


def _forward_split(x, T):
    """S1_pt (frozen after transfer) and S1_cpt (0 during PT)."""
    n = len(x)
    s1_pt = [0.0] * n
    s1_cpt = [0.0] * n
    acc = 0.0
    for i in range(n):
        if i < T:
            acc += x[i]
        s1_pt[i] = acc
    acc = 0.0
    for i in range(T, n):
        acc += x[i]
        s1_cpt[i] = acc
    return s1_pt, s1_cpt


def cpt_areas(lr_pt, lr_cpt, decay=0.999, split="by_source", warmup_as_peak=False, s2_lr_exponent=None):
    """Areas of a PT schedule followed by a CPT schedule (:ref:`s2-split`).

    Returns ``(s1_pt, s2_pt, s1_cpt, s2_cpt)``, 1-D float64 arrays of length
    ``len(lr_pt) + len(lr_cpt)``. With ``x = x_pt ++ x_cpt``, ``d_k = x[k-1] - x[k]``
    and T the index of the first CPT step:

    - by_source: ``S2_pt[i] = sum_{j<=i} sum_{1<=k<=min(j,T-1)} d_k lam^(j-k)`` and
      ``S2_cpt[i] = sum_{T<=j<=i} sum_{T<=k<=j} d_k lam^(j-k)``, computed here with the
      equivalent recursions of the two inner sums (each phase's momentum, its drops
      fed in only while in that phase); :func:`cpt_areas_double_sum` is the literal
      O(n^2) double sum.
    - by_time: ``S2_pt`` frozen at transfer, ``S2_cpt[i] = S2_full[i] - S2_full[T-1]``.
    - restart: ``S2_pt`` frozen at transfer, ``S2_cpt`` a fresh recursion with ``m = 0``
      and previous LR ``x[T-1]``.

    ``warmup_as_peak`` applies to PT only. ``s2_lr_exponent`` weights each step's
    momentum by ``x[j]**eps`` as in :func:`areas`.
    """
    x, T, lam, eps = _cpt_prepare(lr_pt, lr_cpt, decay, split, warmup_as_peak, s2_lr_exponent)
    n = len(x)
    s1_pt, s1_cpt = _forward_split(x, T)
    w = [_lr_weight(x[j], eps) for j in range(n)]
    s2_pt = [0.0] * n
    s2_cpt = [0.0] * n

    if split == "by_source":
        m_pt = 0.0
        m_cpt = 0.0
        acc_pt = 0.0
        acc_cpt = 0.0
        for j in range(n):
            d = x[j - 1] - x[j] if j >= 1 else 0.0
            # PT momentum: drops 1 <= k <= T-1 only, decaying for ever after
            m_pt = lam * m_pt + (d if 1 <= j <= T - 1 else 0.0)
            acc_pt += m_pt * w[j]
            s2_pt[j] = acc_pt
            if j >= T:
                # CPT momentum: drops k >= T (the transfer jump x[T-1] - x[T] included)
                m_cpt = lam * m_cpt + d
                acc_cpt += m_cpt * w[j]
                s2_cpt[j] = acc_cpt
    elif split == "by_time":
        m = _momenta(x, lam)
        full = _cumsum([m[j] * w[j] for j in range(n)])
        for i in range(n):
            s2_pt[i] = full[min(i, T - 1)]
            if i >= T:
                s2_cpt[i] = full[i] - full[T - 1]
    else:  # restart
        m = _momenta(x[:T], lam)
        pt_full = _cumsum([m[j] * w[j] for j in range(T)])
        for i in range(n):
            s2_pt[i] = pt_full[min(i, T - 1)]
        m_c = 0.0
        prev = x[T - 1]
        acc = 0.0
        for i in range(T, n):
            m_c = lam * m_c + (prev - x[i])
            prev = x[i]
            acc += m_c * w[i]
            s2_cpt[i] = acc

    return tuple(np.array(a, dtype=np.float64) for a in (s1_pt, s2_pt, s1_cpt, s2_cpt))


def cpt_areas_double_sum(lr_pt, lr_cpt, decay=0.999, warmup_as_peak=False, s2_lr_exponent=None):
    """The by_source split evaluated literally from the double sums of :ref:`s2-split` (O(n^2), tests only)."""
    x, T, lam, eps = _cpt_prepare(lr_pt, lr_cpt, decay, "by_source", warmup_as_peak, s2_lr_exponent)
    n = len(x)
    s1_pt, s1_cpt = _forward_split(x, T)

    def d(k):
        return x[k - 1] - x[k]

    s2_pt = [0.0] * n
    s2_cpt = [0.0] * n
    for i in range(n):
        total = 0.0
        for j in range(i + 1):
            inner = 0.0
            for k in range(1, min(j, T - 1) + 1):
                inner += d(k) * lam ** (j - k)
            total += inner * _lr_weight(x[j], eps)
        s2_pt[i] = total
        total = 0.0
        for j in range(T, i + 1):
            inner = 0.0
            for k in range(T, j + 1):
                inner += d(k) * lam ** (j - k)
            total += inner * _lr_weight(x[j], eps)
        s2_cpt[i] = total
    return tuple(np.array(a, dtype=np.float64) for a in (s1_pt, s2_pt, s1_cpt, s2_cpt))


# ---------------------------------------------------------------------------------
# Laws (value functions accept complex parameters for complex-step gradients)
# ---------------------------------------------------------------------------------


def _param(p, law, names=None):
    names = PARAM_NAMES[law] if names is None else names
    missing = [k for k in names if k not in p]
    unknown = [k for k in p if k not in names]
    if missing or unknown:
        raise KeyError(f"{law}: missing parameters {missing}, unknown parameters {unknown}")
    return [p[k] for k in names]


def _arr(v):
    a = np.asarray(v)
    if a.dtype.kind in "biuf":
        return a.astype(np.float64)
    return a.astype(np.complex128)


_NAN = complex(math.nan, math.nan)


def _pow_pos(base, expo):
    """base**expo for base > 0 (real part); NaN (also in the imaginary part) otherwise."""
    base = np.asarray(base)
    ok = np.real(base) > 0
    safe = np.where(ok, base, 1.0)
    val = np.exp(expo * np.log(safe))
    if np.iscomplexobj(val):
        return np.where(ok, val, _NAN)
    return np.where(ok, val, math.nan)


def _odd_pow(s, z):
    """sign(s) * |s|**z (Eq. 10's odd extension), 0 at s == 0; sign from the real part."""
    s = np.asarray(s)
    re = np.real(s)
    sgn = np.sign(re)
    mag = np.where(re != 0, np.abs(re), 1.0)
    val = sgn * np.exp(z * np.log(mag))
    return np.where(re != 0, val, 0.0 * val)


def _log1p(z):
    """log(1 + z), accurate for small z; for complex z via exact real/imaginary identities.

    (NumPy's complex log1p computes log(1 + z) naively, losing the real part's accuracy
    for small z; |1+z|^2 = 1 + a(2+a) + b^2 and arg(1+z) = atan2(b, 1+a) keep it.)
    """
    if not np.iscomplexobj(z):
        return np.log1p(z)
    a, b = np.real(z), np.imag(z)
    return 0.5 * np.log1p(a * (2.0 + a) + b * b) + 1j * np.arctan2(b, 1.0 + a)


def _expm1(w):
    """exp(w) - 1, accurate for small w; complex w via exp(c)cos(d) - 1 = expm1(c)cos(d) - 2sin(d/2)^2."""
    if not np.iscomplexobj(w):
        return np.expm1(w)
    c, d = np.real(w), np.imag(w)
    return (np.expm1(c) * np.cos(d) - 2.0 * np.sin(0.5 * d) ** 2) + 1j * (np.exp(c) * np.sin(d))


def _shift(p_B, p_E, p_beta, s1_cpt):
    """The distribution-shift term B*(1 - (1 + E*S1_cpt)^(-beta)).

    Written as ``-B * expm1(-beta * log1p(E*S1_cpt))`` (the same number, without the
    cancellation of ``1 - (1+x)^-beta`` at small ``E*S1_cpt``); NaN when ``1 + E*S1_cpt <= 0``.
    """
    x = p_E * np.asarray(s1_cpt)
    ok = np.real(x) > -1.0
    safe = np.where(ok, x, 0.0)
    val = -p_B * _expm1(-p_beta * _log1p(safe))
    return np.where(ok, val, _NAN if np.iscomplexobj(val) else math.nan)


def _annealing_terms(p, s1, s2):
    L0, A, alpha, C = _param(p, "annealing")
    s1, s2 = _arr(s1), _arr(s2)
    return [L0 + 0.0 * s1, A * _pow_pos(s1, -alpha), -C * s2]


def _cpt_terms(p, s1_pt, s2_pt, s1_cpt, s2_cpt):
    L0, A, alpha, C1, C2, B, E, beta = _param(p, "cpt")
    s1_pt, s2_pt, s1_cpt, s2_cpt = map(_arr, (s1_pt, s2_pt, s1_cpt, s2_cpt))
    return [
        L0 + 0.0 * s1_pt,
        A * _pow_pos(s1_pt + s1_cpt, -alpha),
        -C1 * s2_pt,
        -C2 * s2_cpt,
        _shift(B, E, beta, s1_cpt),
    ]


def _replay_terms(p, s1_pt, s2_pt, s1_cpt, s2_cpt, r_pt, which):
    L0, A, alpha, C1, C2, a1, B, E, beta, a2 = _param(p, which)
    s1_pt, s2_pt, s1_cpt, s2_cpt, r_pt = map(_arr, (s1_pt, s2_pt, s1_cpt, s2_cpt, r_pt))
    r_cpt = 1.0 - r_pt
    if which == "replay_pt":
        ann = -C2 * s2_cpt * np.exp(a1 * r_pt)
        shift = _shift(B, E, beta, s1_cpt) * -_expm1(-a2 * r_cpt)  # 1 - exp(-a2*r_cpt)
    else:
        ann = -C2 * s2_cpt * np.exp(a1 * r_cpt)
        shift = _shift(B, E, beta, s1_cpt) * _expm1(a2 * r_cpt)  # exp(a2*r_cpt) - 1
    return [L0 + 0.0 * s1_pt, A * _pow_pos(s1_pt + s1_cpt, -alpha), -C1 * s2_pt, ann, shift]


def _model_size_terms(p, s1_pt, s2_pt, s1_cpt, s2_cpt, N):
    L0, A, alpha, C1, C2, g1, g2, B, E, beta, F, g3 = _param(p, "model_size")
    s1_pt, s2_pt, s1_cpt, s2_cpt, N = map(_arr, (s1_pt, s2_pt, s1_cpt, s2_cpt, N))
    return [
        L0 + 0.0 * s1_pt,
        A * _pow_pos(s1_pt + s1_cpt, -alpha),
        -C1 * s2_pt * _pow_pos(N, g1),
        -C2 * s2_cpt * _pow_pos(N, g2),
        _shift(B, E, beta, s1_cpt),
        F * _pow_pos(N, -g3),
    ]


def _open_source_terms(p, s1_cpt, s2_cpt):
    L0, A, alpha, S1_pt_hat, B, E, beta, C2 = _param(p, "open_source")
    s1_cpt, s2_cpt = _arr(s1_cpt), _arr(s2_cpt)
    return [
        L0 + 0.0 * s1_cpt,
        A * _pow_pos(s1_cpt + S1_pt_hat, -alpha),
        _shift(B, E, beta, s1_cpt),
        -C2 * s2_cpt,
    ]


def _cpt_power_s2_terms(p, s1_pt, s2_pt, s1_cpt, s2_cpt):
    L0, A, alpha, C1, C2, B, E, beta, z1, z2 = _param(p, "cpt_power_s2")
    s1_pt, s2_pt, s1_cpt, s2_cpt = map(_arr, (s1_pt, s2_pt, s1_cpt, s2_cpt))
    return [
        L0 + 0.0 * s1_pt,
        A * _pow_pos(s1_pt + s1_cpt, -alpha),
        -C1 * _odd_pow(s2_pt, z1),
        -C2 * _odd_pow(s2_cpt, z2),
        _shift(B, E, beta, s1_cpt),
    ]


def _cpt_shared_c_terms(p, s1_pt, s2_pt, s1_cpt, s2_cpt):
    L0, A, alpha, C, B, E, beta = _param(p, "cpt_shared_c")
    s1_pt, s2_pt, s1_cpt, s2_cpt = map(_arr, (s1_pt, s2_pt, s1_cpt, s2_cpt))
    return [
        L0 + 0.0 * s1_pt,
        A * _pow_pos(s1_pt + s1_cpt, -alpha),
        -C * (s2_pt + s2_cpt),
        _shift(B, E, beta, s1_cpt),
    ]


def _out_of_domain_terms(p, loss_pt, loss_cpt):
    w1, w2 = _param(p, "out_of_domain")
    return [w1 * _arr(loss_pt), w2 * _arr(loss_cpt)]


def _total(terms):
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total


def annealing(p, s1, s2):
    """P2: ``L0 + A*s1**-alpha - C*s2``."""
    return _total(_annealing_terms(p, s1, s2))


def cpt(p, s1_pt, s2_pt, s1_cpt, s2_cpt):
    """P1 Eq. 4: ``L0 + A*(s1_pt+s1_cpt)**-alpha - C1*s2_pt - C2*s2_cpt + B*(1-(1+E*s1_cpt)**-beta)``."""
    return _total(_cpt_terms(p, s1_pt, s2_pt, s1_cpt, s2_cpt))


def replay_pt(p, s1_pt, s2_pt, s1_cpt, s2_cpt, r_pt):
    """P1 Eq. 8, the D_pt loss: annealing factor exp(a1*r_pt), shift factor 1-exp(-a2*r_cpt)."""
    return _total(_replay_terms(p, s1_pt, s2_pt, s1_cpt, s2_cpt, r_pt, "replay_pt"))


def replay_cpt(p, s1_pt, s2_pt, s1_cpt, s2_cpt, r_pt):
    """P1 Eq. 8, the D_cpt loss: annealing factor exp(a1*r_cpt), shift factor exp(a2*r_cpt)-1."""
    return _total(_replay_terms(p, s1_pt, s2_pt, s1_cpt, s2_cpt, r_pt, "replay_cpt"))


def model_size(p, s1_pt, s2_pt, s1_cpt, s2_cpt, N):
    """P1 Eq. 7: ``... - C1*s2_pt*N**g1 - C2*s2_cpt*N**g2 + B*(...) + F*N**-g3``."""
    return _total(_model_size_terms(p, s1_pt, s2_pt, s1_cpt, s2_cpt, N))


def open_source(p, s1_cpt, s2_cpt):
    """P1 Sec. 6: ``L0 + A*(s1_cpt+S1_pt_hat)**-alpha + B*(1-(1+E*s1_cpt)**-beta) - C2*s2_cpt``."""
    return _total(_open_source_terms(p, s1_cpt, s2_cpt))


def cpt_power_s2(p, s1_pt, s2_pt, s1_cpt, s2_cpt):
    """P1 App. J Eq. 10: the CPT law with ``-C1*odd(s2_pt, z1) - C2*odd(s2_cpt, z2)``."""
    return _total(_cpt_power_s2_terms(p, s1_pt, s2_pt, s1_cpt, s2_cpt))


def out_of_domain(p, loss_pt, loss_cpt):
    """P1 Eq. 6: ``w1*loss_pt + w2*loss_cpt``."""
    return _total(_out_of_domain_terms(p, loss_pt, loss_cpt))


def cpt_shared_c(p, s1_pt, s2_pt, s1_cpt, s2_cpt):
    """Eq. 4 with one annealing coefficient: ``... - C*(s2_pt+s2_cpt) + B*(1-(1+E*s1_cpt)**-beta)``."""
    return _total(_cpt_shared_c_terms(p, s1_pt, s2_pt, s1_cpt, s2_cpt))


LAWS = {
    "annealing": annealing,
    "cpt": cpt,
    "replay_pt": replay_pt,
    "replay_cpt": replay_cpt,
    "model_size": model_size,
    "open_source": open_source,
    "cpt_power_s2": cpt_power_s2,
    "out_of_domain": out_of_domain,
    "cpt_shared_c": cpt_shared_c,
}

_TERMS = {
    "annealing": _annealing_terms,
    "cpt": _cpt_terms,
    "replay_pt": lambda p, **kw: _replay_terms(p, which="replay_pt", **kw),
    "replay_cpt": lambda p, **kw: _replay_terms(p, which="replay_cpt", **kw),
    "model_size": _model_size_terms,
    "open_source": _open_source_terms,
    "cpt_power_s2": _cpt_power_s2_terms,
    "out_of_domain": _out_of_domain_terms,
    "cpt_shared_c": _cpt_shared_c_terms,
}


def magnitude(law_name, p, **inputs):
    """Sum of the absolute values of the law's terms, elementwise.

    The rounding error of any evaluation of the law is a few ulps of this (not of the
    value, which can be near 0 when terms cancel); tests use it for an absolute floor.
    """
    terms = _TERMS[law_name](p, **inputs)
    shape = np.broadcast_shapes(*(np.shape(t) for t in terms))
    total = np.zeros(shape)
    for t in terms:
        total = total + np.abs(np.real(t))
    return total


_H = 1e-30  # complex-step size: f'(p) = Im f(p + i h) / h, exact to rounding for any small h


def grad(law_name, p, **inputs):
    """Gradient of a law w.r.t. its parameters by complex-step differentiation.

    Returns an array shaped ``broadcast(inputs) + (len(PARAM_NAMES[law_name]),)``, the
    columns in ``PARAM_NAMES[law_name]`` order. Where the value is NaN the gradient is NaN.
    """
    names = PARAM_NAMES[law_name]
    f = LAWS[law_name]
    base = {k: complex(float(np.real(p[k]))) for k in names}
    _param(p, law_name)  # key check
    cols = []
    for k in names:
        q = dict(base)
        q[k] = base[k] + 1j * _H
        val = np.asarray(f(q, **inputs))
        cols.append(np.imag(val) / _H)
    shape = np.broadcast_shapes(*(np.shape(c) for c in cols))
    return np.stack([np.broadcast_to(c, shape) for c in cols], axis=-1).astype(np.float64)
