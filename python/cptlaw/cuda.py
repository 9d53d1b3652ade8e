"""Optional CUDA support: the laws over GPU arrays, and ``device="cuda"`` for
:func:`cptlaw.fit_many` and :func:`cptlaw.grid`.

The kernels live in the compiled module ``cptlaw._cuda``, built when a CUDA compiler is found
at install time (it runs the same formula code as the CPU core). Without it, or without a GPU
and driver, :func:`is_available` is False and everything else works as before.

- Laws called with CuPy arrays or PyTorch CUDA tensors compute on their GPU (on the caller's
  current stream) and return the same kind of array; Python numbers may stand for scalar
  inputs. Host (NumPy) arrays mixed with device arrays are refused rather than copied.
- ``fit_many(..., device="cuda")`` takes NumPy arrays (copied to the GPU) or device arrays
  (checked on the GPU); one fit per warp, each with its own iterations. Results are NumPy.
- ``grid(..., device="cuda")`` evaluates and reduces each chunk on the GPU; only the best rows
  (or, with ``reduce=None``, the chunk's rows) come back.

Example
-------
>>> import cptlaw
>>> if cptlaw.cuda.is_available():                               # doctest: +SKIP
...     import torch
...     s1 = torch.linspace(0.1, 10.0, 10**8, device="cuda", dtype=torch.float64)
...     loss = cptlaw.AnnealingLaw(3.0, 0.5, 0.5, 0.3)(s1=s1, s2=0.0)   # a CUDA tensor
"""

from __future__ import annotations

import math

import numpy as np

from . import _validate

__all__ = ["device_count", "device_info", "is_available", "is_device_array", "unavailable_reason"]


def __dir__():  # dir() and tab completion show the public names only
    return sorted(__all__)

_state: dict = {}
_DLPACK_CUDA = (2, 13)  # kDLCUDA, kDLCUDAManaged


def _load():
    """The _cuda module when it is built and sees a GPU, else None (never raises)."""
    if "module" not in _state:
        module, why, count = None, "", 0
        try:
            from . import _cuda as mod
        except Exception as exc:  # not built (no CUDA compiler at install time), or not loadable
            why = f"the CUDA module cptlaw._cuda is not installed ({exc}); reinstall cptlaw with nvcc on PATH"
        else:
            try:
                count, detail = mod.device_count()
            except Exception as exc:  # pragma: no cover - the runtime reports errors as values
                count, detail = 0, str(exc)
            if count > 0:
                module = mod
            else:
                why = f"no usable CUDA device ({detail or 'none found'})"
        _state.update(module=module, why=why, count=count)
    return _state["module"]


def is_available() -> bool:
    """True when the CUDA module is built and sees at least one GPU."""
    return _load() is not None


def unavailable_reason() -> str:
    """Why :func:`is_available` is False ("" when it is True)."""
    _load()
    return _state["why"]


def device_count() -> int:
    """GPUs the CUDA module sees (0 when it is not available)."""
    _load()
    return _state["count"] if _state["module"] is not None else 0


def device_info(device: int = 0) -> dict:
    """Name, compute capability, multiprocessors and memory (bytes) of a GPU."""
    return _require("device").device_info(_index(device, "device"))


def _require(name: str):
    mod = _load()
    if mod is None:
        raise ValueError(f"{name}: 'cuda' needs a CUDA GPU, but {_state['why']}; use device='cpu'")
    return mod


def _index(i, name: str) -> int:
    i = _validate.integer(i, name, lo=0)
    if i >= device_count():
        raise ValueError(f"{name}: no CUDA device {i} (this machine has {device_count()})")
    return i


def _parse_device(device, name: str = "device"):
    """None for "cpu"; the GPU index for "cuda" (device 0) or "cuda:N"; a clear error otherwise."""
    if isinstance(device, str):
        if device == "cpu":
            return None
        tail = device[5:]
        if device == "cuda" or (device.startswith("cuda:") and tail.isdigit()):
            _require(name)
            return _index(int(tail) if tail else 0, name)
    raise ValueError(f"{name}: unknown option {device!r}; expected 'cpu', 'cuda' or 'cuda:N'")


# ----------------------------------------------------------------------------- device arrays
def is_device_array(x) -> bool:
    """True for arrays in GPU memory (CuPy arrays, PyTorch CUDA tensors, DLPack CUDA arrays)."""
    if x is None or isinstance(x, (np.ndarray, np.generic, float, int, str, bytes, list, tuple, dict)):
        return False
    dev = getattr(type(x), "__dlpack_device__", None)
    if dev is not None:
        try:
            return int(x.__dlpack_device__()[0]) in _DLPACK_CUDA
        except Exception:
            return False
    try:
        return hasattr(x, "__cuda_array_interface__")
    except Exception:
        return False


def _on_device(values) -> bool:
    """True when any of `values` is a device array (the laws' dispatch test: cheap for NumPy)."""
    return any(is_device_array(v) for v in values)


class _Torch:
    name = "PyTorch"

    def __init__(self):
        import torch

        self.t = torch

    def device(self, x):
        return x.device.index if x.device.index is not None else self.t.cuda.current_device()

    def real(self, x, name):
        if x.dtype == self.t.bool or x.dtype.is_complex:
            raise TypeError(f"{name}: expected a real numeric array, got dtype {x.dtype}")
        return x.detach().to(self.t.float64)

    def is_f64(self, x):
        return x.dtype == self.t.float64

    def contiguous(self, x):
        return x.contiguous()

    def is_contiguous(self, x):
        return x.is_contiguous()

    def broadcast(self, x, shape):
        return x.expand(shape)

    def empty(self, shape, device):
        return self.t.empty(shape, dtype=self.t.float64, device=self.t.device("cuda", device))

    def full(self, shape, value, device):
        return self.t.full(shape, value, dtype=self.t.float64, device=self.t.device("cuda", device))

    def ptr(self, x):
        return x.data_ptr()

    def stream(self, device):
        return self.t.cuda.current_stream(device).cuda_stream

    def scope(self, device):
        return self.t.cuda.device(device)


class _CuPy:
    name = "CuPy"

    def __init__(self):
        import cupy

        self.cp = cupy

    def device(self, x):
        return x.device.id

    def real(self, x, name):
        if x.dtype.kind not in "iuf":
            raise TypeError(f"{name}: expected a real numeric array, got dtype {x.dtype}")
        return x.astype(self.cp.float64, copy=False)

    def is_f64(self, x):
        return x.dtype == np.float64

    def contiguous(self, x):
        return self.cp.ascontiguousarray(x)

    def is_contiguous(self, x):
        return x.flags.c_contiguous

    def broadcast(self, x, shape):
        return self.cp.broadcast_to(x, shape)

    def empty(self, shape, device):
        with self.cp.cuda.Device(device):
            return self.cp.empty(shape, dtype=self.cp.float64)

    def full(self, shape, value, device):
        with self.cp.cuda.Device(device):
            return self.cp.full(shape, value, dtype=self.cp.float64)

    def ptr(self, x):
        return x.data.ptr

    def stream(self, device):
        with self.cp.cuda.Device(device):
            return self.cp.cuda.get_current_stream().ptr

    def scope(self, device):
        return self.cp.cuda.Device(device)


def _kind(x) -> str:
    return (type(x).__module__ or "").split(".")[0]


def _library(x, name: str):
    kind = _kind(x)
    if kind == "torch":
        return _Torch()
    if kind == "cupy":
        return _CuPy()
    raise TypeError(f"{name}: device arrays of type {type(x).__name__} are not supported; "
                    "use CuPy arrays or PyTorch CUDA tensors")


def _nbytes_range(lib, x):
    size = int(np.prod(tuple(x.shape), dtype=np.int64))
    return lib.ptr(x), lib.ptr(x) + 8 * size


class _DeviceInputs:
    """Device arrays of one call: one library and one GPU, float64, checked by name."""

    def __init__(self, named, what: str):
        name, first = next((n, v) for n, v in named if is_device_array(v))
        self.lib = _library(first, name)
        self.device = self.lib.device(first)
        self.what = what

    def _host(self, name: str):
        return TypeError(f"{name}: a host array where a device array is required ({self.what} is on GPU "
                         f"{self.device}); move it there first, e.g. with torch.as_tensor(x, device='cuda') or "
                         "cupy.asarray(x)")

    def array(self, value, name: str):
        """A float64 device array of this call's library and GPU."""
        if not is_device_array(value):
            raise self._host(name)
        if _kind(value) != _kind_of(self.lib):
            raise TypeError(f"{name}: a {type(value).__module__} array mixed with {self.lib.name} arrays; "
                            "use one kind of device array")
        if self.lib.device(value) != self.device:
            raise ValueError(f"{name}: on GPU {self.lib.device(value)}, while {self.what} is on GPU {self.device}")
        with self.lib.scope(self.device):
            return self.lib.real(value, name)

    def scalar_or_array(self, value, name: str):
        """(float, None) for a host number or 0-d array, else (None, device array)."""
        if is_device_array(value):
            return None, self.array(value, name)
        if not isinstance(value, (int, float, np.generic)) and np.ndim(value) != 0:
            raise self._host(name)  # host arrays are not copied behind the caller's back
        arr = _validate.as_float_array(value, name, allow_empty=True)
        if arr.ndim != 0:
            raise self._host(name)
        return float(arr), None


def _kind_of(lib) -> str:
    return "torch" if isinstance(lib, _Torch) else "cupy"


# ----------------------------------------------------------------------------- laws
def _law_eval(law, args, kwargs, with_grad: bool, out=None):
    """``law(...)`` / ``law.value_and_grad(...)`` for device inputs (called by Law._eval)."""
    mod = _require("inputs")
    names = law.input_names
    values = law._given(args, kwargs)
    named = list(zip(names, values)) + ([("out", out)] if out is not None else [])
    ctx = _DeviceInputs(named, "the law's input")
    lib, dev = ctx.lib, ctx.device
    items = [(n,) + ctx.scalar_or_array(v, n) for n, v in zip(names, values)]
    shapes = [() if a is None else tuple(a.shape) for _, _, a in items]
    try:
        shape = tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        desc = ", ".join(f"{n} {s}" for (n, _, _), s in zip(items, shapes))
        raise ValueError(f"inputs do not broadcast: {desc}") from None
    size = int(np.prod(shape, dtype=np.int64))
    P = len(law.param_names)
    with lib.scope(dev):
        if out is not None:
            if not is_device_array(out) or _kind(out) != _kind_of(lib) or not lib.is_f64(out):
                raise TypeError(f"out: expected a float64 {lib.name} device array like the inputs")
            if lib.device(out) != dev:
                raise ValueError(f"out: on GPU {lib.device(out)}, while the inputs are on GPU {dev}")
            if tuple(out.shape) != shape:
                raise ValueError(f"out: shape {tuple(out.shape)} differs from the result's {shape}")
            if not lib.is_contiguous(out):
                raise ValueError("out: must be C-contiguous")
            lo, hi = _nbytes_range(lib, out)
            for n, _, a in items:
                if a is not None and size:
                    alo, ahi = _nbytes_range(lib, a)
                    if alo < hi and lo < ahi:
                        raise ValueError("out: must not overlap the inputs")
            result = out
        else:
            result = lib.empty(shape, dev)
        grad = lib.empty(shape + (P,), dev) if with_grad else None
        if size:
            keep, triples = [], []
            for (n, scalar, a), s in zip(items, shapes):
                if a is None:
                    triples.append((0, 0, scalar))
                    continue
                a_size = int(np.prod(s, dtype=np.int64))
                if s == shape:
                    a = lib.contiguous(a)
                    stride = 1
                elif a_size == 1:
                    a = lib.contiguous(a)
                    stride = 0
                else:
                    a = lib.contiguous(lib.broadcast(a, shape))
                    stride = 1
                keep.append(a)
                triples.append((lib.ptr(a), stride, 0.0))
            mod.law_eval(law._core_name, law._p, triples, size, lib.ptr(result),
                         lib.ptr(grad) if grad is not None else 0, dev, lib.stream(dev))
    return (result, grad) if with_grad else result


# ----------------------------------------------------------------------------- fit_many
# fit_many(device="cuda") runs in _fit_device.py, on the device arrays' helpers above.


# ----------------------------------------------------------------------------- grid
def _grid_runner(spec: dict, red, device="cuda"):
    """A function (s0, s1) -> the chunk's result, as grid._run_chunk returns it, run on a GPU.

    Reductions seed each chunk with the k-th best value per group of the chunks before it, so
    rows that cannot make the final table are dropped on the GPU at once.
    """
    dev = _parse_device(device)
    mod = _require("device")
    g = mod.Grid(spec, dev)
    if red is None:
        return g.materialize
    objective, maximize, k, groups, mul, maps = red
    seed = np.full(groups, math.inf)
    best = {"v": np.empty((groups, 0)), "r": np.empty((groups, 0), dtype=np.int64)}

    def run(s0, s1):
        vals, rows, counts = g.reduce(s0, s1, objective, maximize, k, groups, mul, maps, seed)
        V = np.concatenate([best["v"], vals], axis=1)
        R = np.concatenate([best["r"], np.where(rows < 0, np.iinfo(np.int64).max, rows)], axis=1)
        order = np.lexsort((R, V), axis=-1)[:, :k]
        best["v"], best["r"] = np.take_along_axis(V, order, axis=1), np.take_along_axis(R, order, axis=1)
        if best["v"].shape[1] == k:
            seed[:] = best["v"][:, k - 1]
        return vals, rows, counts

    return run
