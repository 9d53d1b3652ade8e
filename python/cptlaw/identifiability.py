"""Which parameters of a fit the data do not determine, and why.

At the solution, the Jacobian of the log prediction (the relative change of the predicted
loss; times sqrt(weights)) has a column per free parameter. A parameter is *not determined*
(unidentifiable) when

- its column is zero or nearly so (:data:`IDENTIFIABILITY_ATOL`): the loss does not depend
  on it at any observation, e.g. the CPT law's B, E, beta when no observation lies in a CPT
  phase, or C1 when no PT run anneals (S2_pt = 0 everywhere); or
- it takes part in a direction along which the column-normalised Jacobian's singular value
  is below :data:`IDENTIFIABILITY_RTOL` of the largest (the SVD of the scaled Jacobian, so
  that E ~ 1e3 and alpha ~ 0.5 compare alike): the data determine only a combination of the
  parameters involved, e.g. L0 + C1*S2_pt when S2_pt is one constant over the data.

Each such parameter gets a reason: an input that is 0 at every point (found by giving it a
value and seeing the column come alive), another parameter at 0 that hides it, or the
combination left open (and an input that is one constant over the data, when varying it
would settle the combination). Fits report them in ``result.unidentifiable``, with stderr
inf, and warn (:class:`IdentifiabilityWarning`); :func:`cptlaw.fit_many` flags them per fit.
"""

from __future__ import annotations

import numpy as np

from . import _core, _warnings

#: a parameter whose column changes the predicted loss by less than this RMS relative amount
#: per unit of ``max(|value|, 1)`` is not determined by the data (in practice: an exact 0,
#: e.g. B, E, beta when no observation is in a CPT phase)
IDENTIFIABILITY_ATOL = 1e-10
#: singular values of the column-normalised Jacobian below this fraction of the largest span
#: directions the data do not determine (J'J is then singular to double precision: cond > 1e16)
IDENTIFIABILITY_RTOL = 1e-8
#: a parameter with more than this share (norm of its row in the null-space basis) of an
#: undetermined direction is reported as undetermined
_NULL_SHARE = 1e-4

_INPUT_REASONS = {
    "s1_cpt": "no CPT steps in the data: s1_cpt is 0 at every point",
    "s2_pt": "no LR decay in the PT phase of the data: s2_pt is 0 at every point",
    "s2_cpt": "no LR decay in the CPT phase of the data: s2_cpt is 0 at every point",
    "s2": "the LR never decays in the data: s2 is 0 at every point",
    "r_pt": "no replay in the data: r_pt is 0 at every point",
}


class IdentifiabilityWarning(UserWarning):
    """The data do not determine some parameters of a fit (``result.unidentifiable`` says
    which and why; their ``stderr`` is inf)."""


def _undetermined(J, x, free):
    """Which parameters the data do not determine, for a batch of fits.

    ``J``: (K, n, P) log-scale Jacobians at the solutions (weighted), ``x``: (K, P), ``free``:
    (P,) bool. A parameter is undetermined when its column is (nearly) zero
    (:data:`IDENTIFIABILITY_ATOL`) or when it takes part in a direction along which the
    column-normalised Jacobian's singular value is below :data:`IDENTIFIABILITY_RTOL` of the
    largest (the SVD of the scaled Jacobian, so that E ~ 1e3 and alpha ~ 0.5 compare alike).
    Returns ``(mask (K, P) bool, zero (K, P) bool, s (K, p), Vt (K, p, p))`` with ``p`` the
    free parameters; fits with a non-finite Jacobian are left unflagged.
    """
    K, n, P = J.shape
    mask = np.zeros((K, P), dtype=bool)
    zero = np.zeros((K, P), dtype=bool)
    fi = np.flatnonzero(free)
    p = fi.size
    s = np.zeros((K, p))
    Vt = np.zeros((K, p, p))
    if p == 0 or n == 0:
        return mask, zero, s, Vt
    Jf = J[:, :, fi]
    ok = np.all(np.isfinite(Jf), axis=(1, 2)) & np.all(np.isfinite(x[:, fi]), axis=1)
    Jf[~ok] = 0.0
    # Screen with the normalised Gram matrix (one batched matmul + eigvalsh): its eigenvalues
    # are the squared singular values, resolved down to ~1e-16 of the largest, so a smallest
    # singular value above 1e-5 of the largest clears a fit; the others get the exact SVD.
    G = np.matmul(Jf.transpose(0, 2, 1), Jf)
    norms = np.sqrt(np.maximum(np.diagonal(G, axis1=1, axis2=2), 0.0))
    scale = np.maximum(np.abs(np.where(ok[:, None], x[:, fi], 1.0)), 1.0)
    z = (norms * scale / np.sqrt(n) <= IDENTIFIABILITY_ATOL) & ok[:, None]
    d = np.where(z | (norms == 0), 1.0, norms)
    Gn = G / d[:, :, None] / d[:, None, :]
    # zero columns are settled: screen the others (a unit block in their place)
    zz = z[:, :, None] | z[:, None, :]
    Gn[zz] = 0.0
    Gn[:, np.arange(p), np.arange(p)] += z
    lam = np.linalg.eigvalsh(Gn)
    clear = lam[:, 0] > 1e-10 * lam[:, -1]
    mask[:, fi] = z
    for k in np.flatnonzero(ok & ~clear):
        Jn = Jf[k] / d[k]
        Jn[:, z[k]] = 0.0
        if n < p:  # fewer points than free parameters (possible in fit_many batches)
            Jn = np.concatenate([Jn, np.zeros((p - n, p))])
        _, s[k], Vt[k] = np.linalg.svd(Jn, full_matrices=False)
        null = (s[k] < IDENTIFIABILITY_RTOL * s[k, 0]) | (s[k, 0] == 0)
        share = np.sqrt(null.astype(float) @ Vt[k] ** 2)
        mask[k, fi] |= share > _NULL_SHARE
    zero[:, fi] = z
    return mask, zero, s, Vt


def _reasons(law_obj, cols, mask, zero, s, Vt, free):
    """Why each undetermined parameter is: an input that is 0 everywhere (found by giving it a
    value and seeing the column come alive), another parameter at 0, or the combination of
    parameters the data leave open."""
    law_cls = type(law_obj)
    names = law_cls.param_names
    inputs = dict(zip(law_cls.input_names, cols))
    out = {}
    zero_inputs = [k for k, c in inputs.items() if c.size and np.all(c == 0)]
    x = law_obj.param_vector
    for j in np.flatnonzero(zero[0]):
        # parameters at exactly 0 can hide a column too (B = 0 hides E and beta): try the
        # inputs with them at 1 as well
        x_alt = np.where((x == 0) & (np.arange(x.size) != j), 1.0, x)
        laws = (law_obj,) if np.array_equal(x_alt, x) else (law_obj, law_cls.from_vector(x_alt))
        for k in zero_inputs:
            trial = dict(inputs, **{k: np.ones_like(inputs[k])})
            if any(np.any(lw.grad(**trial)[:, j] != 0) for lw in laws):
                out.setdefault(names[j], []).append(_INPUT_REASONS.get(k, f"{k} is 0 at every point"))
        if names[j] in out:
            continue
        for m in np.flatnonzero(x == 0):
            if m == j:
                continue
            x2 = x.copy()
            x2[m] = 1.0
            if np.any(law_cls.from_vector(x2).grad(**inputs)[:, j] != 0):
                out.setdefault(names[j], []).append(f"no effect on the loss while {names[m]} = 0")
        if names[j] not in out:
            out[names[j]] = ["the loss does not depend on it at the fitted parameters (zero Jacobian column)"]
    fi = np.flatnonzero(free)
    null = (s[0] < IDENTIFIABILITY_RTOL * s[0, :1]) | (s[0, :1] == 0)
    live_cols = ~zero[0, fi]
    Vn = Vt[0][null][:, live_cols] if null.any() else np.zeros((0, int(live_cols.sum())))
    if Vn.size:
        # the open directions among the non-zero columns (zero columns are settled above)
        u, sv, vt = np.linalg.svd(Vn, full_matrices=False)
        dirs = vt[sv > 0.5]
        cols = fi[live_cols]
        share = np.sqrt(np.sum(dirs**2, axis=0))
        involved = [i for i in np.argsort(-share) if share[i] > _NULL_SHARE]
        if dirs.shape[0] == 1:
            v = dirs[0] / np.abs(dirs[0]).max()
            combo = " ".join(f"{v[i]:+.2g}*{names[cols[i]]}" for i in involved[:5])
            text = (f"only a combination of {', '.join(names[cols[i]] for i in involved)} is determined: the "
                    f"fit does not change along the direction {combo} (scaled parameters)")
        else:
            text = (f"{', '.join(names[cols[i]] for i in involved)} are determined only up to "
                    f"{dirs.shape[0]} directions that do not change the fit")
        smallest = float(np.min(s[0][null]) / s[0, 0]) if s[0, 0] > 0 else 0.0
        text += f" (scaled Jacobian: smallest singular value {smallest:.1e} of the largest)"
        text += _constant_input_hint(law_obj, inputs, [cols[i] for i in involved], free)
        for i in involved:
            out.setdefault(names[cols[i]], []).append(text)
    return {n: "; ".join(dict.fromkeys(out[n])) for n in names if n in out and mask[0, names.index(n)]}


def _constant_input_hint(law_obj, inputs, involved, free):
    """Name the inputs that are one nonzero constant over the data when letting them vary
    would determine some of the ``involved`` parameters (e.g. one model size N for
    ModelSizeLaw's exponents)."""
    hints = []
    for k, c in inputs.items():
        if c.size < 2 or np.ptp(c) != 0 or c.flat[0] == 0:
            continue
        trial = dict(inputs, **{k: c * np.linspace(0.5, 1.5, c.size)})
        pred, grad = law_obj.value_and_grad(**trial)
        mask = _undetermined((grad / pred[:, None])[None], law_obj.param_vector[None], free)[0][0]
        if not mask[involved].all():
            hints.append(f"{k} = {c.flat[0]:.6g} at every point")
    return f"; the data vary too little: {', '.join(hints)}" if hints else ""


def _warn_unidentifiable(unidentifiable):
    lines = "; ".join(f"{n}: {why}" for n, why in unidentifiable.items())
    _warnings.warn(f"fit: the data do not determine {', '.join(unidentifiable)} (stderr inf; "
                   f"result.unidentifiable): {lines}", IdentifiabilityWarning)


def _undetermined_many(law_cls, params, cols, w, fixed_mask, use):
    """:func:`_undetermined` for every fit of a batch: one compiled Jacobian per fit (no
    input checks: the batch was validated), one batched SVD."""
    K, n = cols[0].shape
    P = len(law_cls.param_names)
    J = np.zeros((K, n, P))
    use = use & np.all(np.isfinite(params), axis=1)
    fn = _core.law_eval[law_cls._core_name]
    for k in np.flatnonzero(use):
        pred, grad = fn(params[k], [np.ascontiguousarray(c[k]) for c in cols], n, True, 1, None)
        J[k] = grad.reshape(n, P) / pred[:, None]
    if w is not None:
        J *= np.sqrt(w)[:, :, None]
    mask = _undetermined(J, np.where(use[:, None], params, 0.0), fixed_mask == 0)[0]
    return mask & use[:, None]


__all__ = ["IDENTIFIABILITY_ATOL", "IDENTIFIABILITY_RTOL", "IdentifiabilityWarning"]


def __dir__():  # dir() and tab completion show the public names only
    return sorted(__all__)
