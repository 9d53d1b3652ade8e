"""The GPU path of :func:`cptlaw.fit_many` (``device="cuda"``): the problem of the CPU path
(:mod:`cptlaw._fit_problem`, with its checks made on the GPU for device data), fitted by the
compiled ``cptlaw._cuda``. :func:`fit_many` returns the fitter's raw output; :mod:`cptlaw.fit`
builds the result from it as for the CPU path.
"""

from __future__ import annotations

import numpy as np

from . import _validate
from ._fit_problem import (OBJECTIVES, _feature_names, _law_class, _objective_code, _options, _prepare, _setup,
                           _unfittable, _unfittable_from)
from .cuda import _DeviceInputs, _on_device, _parse_device, _require, _Torch, is_device_array

def fit_many(law, features, losses, *, objective, delta, weights, bounds, fixed, starts, grid, multistart, keep,
            max_iter, ftol, xtol, gtol, device):
    """:func:`cptlaw.fit_many` on a GPU (called by it for ``device != "cpu"``): the same problem
    (checks, start grid, loss scaling) as on the CPU. Returns the pieces ``fit._many_result``
    takes: ``(pb, params, objective, status, nfev, why, data)``, on the scaled losses."""
    dev = _parse_device(device)
    mod = _require("device")
    keep = _validate.integer(keep, "keep", lo=1)
    if keep > mod.max_keep:  # the kernel's fixed-size list of candidates
        raise ValueError(f"keep: at most {mod.max_keep} with device='cuda', got {keep}")
    options = dict(delta=delta, max_iter=max_iter, ftol=ftol, xtol=xtol, gtol=gtol, keep=keep)
    feats = features.values() if isinstance(features, dict) else ()
    if _on_device([losses, weights, *feats]):
        pb, why, data, ptrs, keep_alive, stream = device_problem(
            mod, dev, law, features, losses, weights, objective, bounds, fixed, starts, grid, multistart, options)
    else:
        pb = _prepare(law, features, losses, weights, bounds, fixed, starts, grid, multistart, objective,
                      "raise", batch=True, **options)
        core = pb.core_args()  # the scaled losses
        keep_alive = [mod.upload(a, dev) for a in (*core["inputs"], core["y"])]
        if core["w"] is not None:
            keep_alive.append(mod.upload(core["w"], dev))
        ptrs = ([b.ptr for b in keep_alive[:len(core["inputs"])]], keep_alive[len(core["inputs"])].ptr,
                keep_alive[-1].ptr if core["w"] is not None else 0)
        why, data, stream = _unfittable(pb.y, pb.weights), (pb.cols, pb.weights), 0
    F, N = pb.y.shape
    inputs, y, w = ptrs
    params, objv, status, nfev = mod.fit_many(name=pb.law_cls._core_name, inputs=inputs, y=y, w=w, n_fits=F,
                                              n_points=N, **pb.param_args(), device=dev, stream=stream)
    del keep_alive
    return pb, params, objv, status, nfev, why, data


def device_problem(mod, dev, law, features, losses, weights, objective, bounds, fixed, starts, grid, multistart,
                   options):
    """The problem of device data: _fit_problem's checks, made on the GPU, in the same order and
    with the same messages; the (scaled) data's addresses for the kernel."""
    law_cls, start_law = _law_class(law)
    obj_code = _objective_code(objective)
    options = _options(**options)
    _feature_names(law_cls, features)
    named = [("losses", losses), ("weights", weights)] + list(features.items())
    ctx = _DeviceInputs([(n, v) for n, v in named if v is not None], "losses")
    lib = ctx.lib
    y = ctx.array(losses, "losses")
    if y.ndim != 2:
        raise ValueError(f"losses: expected a 2-D array (n_fits, n_points), got {y.ndim}-D")
    shape = tuple(y.shape)
    F, N = shape
    if F == 0 or N == 0:
        raise ValueError("losses: is empty")
    with lib.scope(dev):
        y = lib.contiguous(y)

        def full(value, name, mismatch):
            scalar, a = ctx.scalar_or_array(value, name)
            if a is None:
                return lib.full(shape, scalar, dev)
            if tuple(a.shape) == shape:
                return lib.contiguous(a)
            if int(np.prod(tuple(a.shape), dtype=np.int64)) == 1:
                return lib.contiguous(lib.broadcast(a.reshape(()), shape))
            raise ValueError(mismatch(a))

        cols = [full(features[k], f"features[{k!r}]",
                     lambda a, k=k: f"features[{k!r}]: shape {tuple(a.shape)} does not match the loss shape {shape}")
                for k in law_cls.input_names]
        w = None if weights is None else full(weights, "weights", lambda a: "weights: must have the shape of the loss")
        ptrs = [lib.ptr(c) for c in cols]
        stream = lib.stream(dev)
        flags, maxima, spread = mod.fit_check(inputs=ptrs, y=lib.ptr(y), w=0 if w is None else lib.ptr(w), n_fits=F,
                                              n_points=N, device=dev, stream=stream)
    if (flags & 8).any():
        raise ValueError("weights: contains NaN or infinite values")
    if (flags & 16).any():
        raise ValueError("weights: must be >= 0")
    if (flags & 2).any():
        raise ValueError("loss: contains NaN or infinite values")
    if (flags & 1).any():
        raise ValueError("features: contains NaN or infinite values")
    if obj_code != OBJECTIVES["least_squares"] and (flags & 4).any():
        raise ValueError("loss: must be > 0 for a log objective")
    # The start grid reads the features only for their largest value (OpenSourceLaw's S1_pt_hat).
    hint = [np.array([maxima[:, k].max()]) for k in range(len(cols))]
    pb = _setup(law_cls, start_law, obj_code, y, cols, w, bounds, fixed, starts, grid, multistart, True,
                options, top=float(spread[:, 1].max()), grid_features=hint)
    why = _unfittable_from(spread[:, 0], spread[:, 1], None if w is None else (flags & 32) != 0)
    if pb.scale != 1.0:
        with lib.scope(dev):
            y = y * pb.scale  # the scaled copy the kernel fits
    keep_alive = [y, w, *cols]

    def host_data():  # for the identifiability screen, on first access
        host = [np.broadcast_to(to_host(lib, features[k]), shape) for k in law_cls.input_names]
        return host, None if weights is None else np.broadcast_to(to_host(lib, weights), shape)

    return pb, why, host_data, (ptrs, lib.ptr(y), 0 if w is None else lib.ptr(w)), keep_alive, stream


def to_host(lib, value) -> np.ndarray:
    """A float64 NumPy copy of a device array (or a host scalar)."""
    if not is_device_array(value):
        return np.asarray(value, dtype=float)
    if isinstance(lib, _Torch):
        return value.detach().to(lib.t.float64).cpu().numpy()
    return lib.cp.asnumpy(value).astype(np.float64, copy=False)
