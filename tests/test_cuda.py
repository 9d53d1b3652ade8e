"""The optional CUDA paths (cptlaw.cuda): GPU against CPU on the same problems.

Without a GPU (or without the compiled cptlaw._cuda) only the first tests run: they check that
the package degrades cleanly (is_available() False, clear errors for device="cuda"). The rest
needs a GPU and PyTorch (CuPy too where it is installed).
"""

from __future__ import annotations

import types

import numpy as np
import pytest

import cptlaw
from cptlaw import cuda
from cptlaw._fit_problem import _prepare

GPU = cuda.is_available()
needs_gpu = pytest.mark.skipif(not GPU, reason=f"no CUDA GPU: {cuda.unavailable_reason()}")


class FakeDLPack:
    """An object that says it lives on a CUDA device (DLPack), without being a usable array."""

    def __init__(self, device_type=2):
        self.device_type = device_type

    def __dlpack_device__(self):
        return (self.device_type, 0)


# ----------------------------------------------------------------------------- without a GPU
def test_is_available_is_a_bool_and_explains_itself():
    assert cuda.is_available() in (True, False)
    assert cuda.device_count() >= (1 if GPU else 0)
    assert (cuda.unavailable_reason() == "") == GPU


def test_device_arrays_are_recognised():
    torch = pytest.importorskip("torch")
    assert not cuda.is_device_array(np.zeros(3))
    assert not cuda.is_device_array(1.0)
    assert not cuda.is_device_array(torch.zeros(3))  # a CPU tensor stays on the CPU path
    assert cuda.is_device_array(FakeDLPack(2))
    assert not cuda.is_device_array(FakeDLPack(1))


def test_cpu_tensors_still_use_the_cpu_path():
    torch = pytest.importorskip("torch")
    law = cptlaw.AnnealingLaw(3.0, 0.5, 0.5, 0.3)
    s1 = np.linspace(0.5, 4.0, 7)
    got = law(s1=torch.tensor(s1), s2=0.1)
    assert isinstance(got, np.ndarray)
    np.testing.assert_array_equal(got, law(s1=s1, s2=0.1))


@pytest.mark.parametrize("device", ["gpu", "cuda:x", 0, None])
def test_unknown_device_is_refused(device):
    y = np.random.default_rng(0).uniform(2.0, 3.0, (3, 20))
    with pytest.raises(ValueError, match="^device: unknown option"):
        cptlaw.fit_many(cptlaw.AnnealingLaw, {"s1": np.linspace(1, 5, 20), "s2": 0.0}, y, device=device)


def _small_grid(**kw):
    law = cptlaw.AnnealingLaw(3.0, 0.5, 0.5, 0.3)
    return cptlaw.grid(law, cpt=dict(shape="cosine", peak_lr=[1e-4, 2e-4], steps=[100, 200]),
                       pt=cptlaw.schedules.constant(1e-4, 100), reduce="min", progress=False, **kw)


def test_grid_on_cuda_does_not_combine_with_a_client():
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as ex, pytest.raises(ValueError, match="^device: 'cuda' runs"):
        _small_grid(device="cuda", client=ex)


@pytest.mark.skipif(GPU, reason="checks the errors of a machine without a GPU")
def test_without_a_gpu_device_cuda_is_a_clear_error():
    y = np.random.default_rng(0).uniform(2.0, 3.0, (3, 20))
    with pytest.raises(ValueError, match="^device: 'cuda' needs a CUDA GPU"):
        cptlaw.fit_many(cptlaw.AnnealingLaw, {"s1": np.linspace(1, 5, 20), "s2": 0.0}, y, device="cuda")
    with pytest.raises(ValueError, match="^device: 'cuda' needs a CUDA GPU"):
        _small_grid(device="cuda")
    with pytest.raises(ValueError, match="^inputs: 'cuda' needs a CUDA GPU"):
        cptlaw.AnnealingLaw(3.0, 0.5, 0.5, 0.3)(s1=FakeDLPack(), s2=0.0)
    with pytest.raises(ValueError, match="^device: 'cuda' needs a CUDA GPU"):
        cuda.device_info(0)


def _cmake_configure(tmp_path, *defs):
    """Configure the project with nvcc hidden (PATH without it, no CUDACXX); (rc, output)."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    cmake = shutil.which("cmake")
    pybind11 = pytest.importorskip("pybind11")
    if cmake is None or not (root / "CMakeLists.txt").exists():
        pytest.skip("needs cmake and the source tree")
    env = {k: v for k, v in os.environ.items() if k not in ("CUDACXX", "CUDA_PATH", "CMAKE_CUDA_COMPILER")}
    env["PATH"] = os.pathsep.join(d for d in env.get("PATH", "").split(os.pathsep)
                                  if d and not os.path.exists(os.path.join(d, "nvcc")))
    cmd = [cmake, "-S", str(root), "-B", str(tmp_path), "-DCPTLAW_PYTHON=ON", f"-DPython_EXECUTABLE={sys.executable}",
           f"-Dpybind11_DIR={pybind11.get_cmake_dir()}", *defs]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    out = r.stdout + r.stderr
    if "CPTLAW_CUDA" not in out and r.returncode != 0:
        pytest.skip(f"cmake cannot configure the Python module here: {out[-300:]}")
    return r.returncode, out


def test_cmake_cuda_on_without_a_cuda_compiler_fails_clearly(tmp_path):
    rc, out = _cmake_configure(tmp_path, "-DCPTLAW_CUDA=ON")
    assert rc != 0
    assert "CPTLAW_CUDA=ON, but no working CUDA compiler was found" in out


def test_cmake_cuda_auto_without_a_cuda_compiler_builds_the_cpu_package(tmp_path):
    rc, out = _cmake_configure(tmp_path)
    assert rc == 0, out[-2000:]
    assert "building the CUDA module" not in out
    build_rules = next(p for p in (tmp_path / "build.ninja", tmp_path / "Makefile") if p.exists()).read_text()
    assert "_core" in build_rules and "cptlaw_cuda_kernels" not in build_rules


class _StandIn:
    """cptlaw._cuda's fitting entry points on the CPU core: what _fit_device.fit_many hands the
    kernel (the uploaded, scaled data and the problem's parameter arrays) is fitted by
    _core.fit_many, so the Python side of device="cuda" is checked without a GPU."""

    max_keep = 16  # the kernel's list of candidates per fit (cptlaw._cuda.max_keep)

    def __init__(self):
        self.arrays = {}

    def upload(self, array, device):
        ptr = len(self.arrays) + 1  # 0 stands for "no array"
        self.arrays[ptr] = np.array(array, dtype=float)
        return types.SimpleNamespace(ptr=ptr, shape=array.shape, device=device)

    def fit_many(self, *, name, inputs, y, w, n_fits, n_points, device, stream, **options):
        get = self.arrays.__getitem__
        assert get(y).shape == (n_fits, n_points) and device == 0 and stream == 0
        return cptlaw._core.fit_many[name](inputs=[get(p) for p in inputs], y=get(y), w=get(w) if w else None,
                                           threads=1, **options)


@pytest.fixture
def stand_in(monkeypatch):
    mod = _StandIn()
    monkeypatch.setattr(cuda, "_state", {"module": mod, "why": "", "count": 1})
    return mod


@pytest.mark.parametrize("scale", [1.0, 1e-90, 1e90])
def test_fit_many_device_cuda_sets_up_the_problem_of_the_cpu_path(stand_in, scale):
    # The problem of the CPU path (checks, start grid, loss rescaling and back), its statuses,
    # messages and identifiability flags: a flat curve, one with no positive weight, fits that
    # converge, and the CPT law with one annealing coefficient.
    rng = np.random.default_rng(11)
    feats, y = _annealing_batch(12, 40, rng)
    y[3] = 2.5
    w = rng.uniform(0.5, 1.5, y.shape)
    w[5] = 0.0
    for law, f, yy, kw in [(cptlaw.AnnealingLaw, feats, y * scale, dict(weights=w)),
                           (cptlaw.AnnealingLaw, feats, y * scale, dict(objective="least_squares", keep=2)),
                           (cptlaw.CPTSharedCLaw, *_shared_c_batch(6, rng, scale), {})]:
        want = cptlaw.fit_many(law, f, yy, **kw)
        got = cptlaw.fit_many(law, f, yy, device="cuda", **kw)
        np.testing.assert_array_equal(got.status, want.status)
        np.testing.assert_array_equal(got.params, want.params)
        np.testing.assert_array_equal(got.objective, want.objective)
        assert got.message == want.message
        np.testing.assert_array_equal(got.unidentifiable, want.unidentifiable)
        assert stand_in.arrays  # the data went through the stand-in's upload
    assert want.success.all()
    assert list(cptlaw.fit_many(cptlaw.AnnealingLaw, feats, y * scale, weights=w, device="cuda").status[[3, 5]]) == [
        -3, -3]
    # the same argument checks, made before anything is uploaded
    stand_in.arrays.clear()
    with pytest.raises(ValueError, match="^delta: must be > 0"):
        cptlaw.fit_many(cptlaw.AnnealingLaw, feats, y, delta=0.0, device="cuda")
    with pytest.raises(ValueError, match="^loss: must be > 0"):
        cptlaw.fit_many(cptlaw.AnnealingLaw, feats, -y, device="cuda")
    with pytest.raises(ValueError, match="^keep: at most 16"):
        cptlaw.fit_many(cptlaw.AnnealingLaw, feats, y, keep=17, device="cuda")
    assert not stand_in.arrays


def test_the_compiled_module_takes_what_the_python_side_passes():
    # Without a GPU the compiled module still loads: its law table is the registry's, and its
    # fitting entry points take _fit_device.py's keyword arguments (an empty batch touches no
    # device).
    try:
        from cptlaw import _cuda
    except ImportError:
        pytest.skip("cptlaw._cuda is not built (no CUDA compiler at install time)")
    assert list(_cuda.law_names) == [law._core_name for law in cptlaw.LAWS]
    assert _cuda.max_keep == _StandIn.max_keep == 16  # the limit docs/gpu.md and fit_many's docstring give
    rng = np.random.default_rng(12)
    for law in (cptlaw.AnnealingLaw, cptlaw.CPTSharedCLaw):
        feats = {k: rng.uniform(0.5, 2.0, (2, 30)) for k in law.input_names}
        pb = _prepare(law, feats, rng.uniform(2.0, 3.0, (2, 30)), None, None, None, None, None, True, "huber_log",
                      "raise", True)
        data = dict(inputs=[1] * len(law.input_names), y=1, w=0, n_fits=0, n_points=30, device=0, stream=0)
        params, objv, status, nfev = _cuda.fit_many(name=law._core_name, **data, **pb.param_args())
        assert params.shape == (0, len(law.param_names)) and status.shape == (0,)
        flags, maxima, spread = _cuda.fit_check(**data)
        assert maxima.shape == (0, len(law.input_names)) and spread.shape == (0, 2)
        with pytest.raises(ValueError, match="^keep: must be 1 .. 16"):
            _cuda.fit_many(name=law._core_name, **data, **{**pb.param_args(), "keep": 17})


def _cpt_timeline(n=80):
    """The four areas of a PT + CPT timeline of n points (CPT from the middle on)."""
    t = np.linspace(0.0, 1.0, n)
    cpt = t >= 0.5
    tc = np.where(cpt, (t - 0.5) * 2, 0.0)
    return {"s1_pt": np.where(cpt, 4.0, 0.1 + 8 * t), "s2_pt": np.where(cpt, 0.5, np.maximum(0, 2 * (t - 0.35))),
            "s1_cpt": 2 * tc, "s2_cpt": 0.3 * tc**2 - 0.05 * tc}


def _shared_c_batch(F, rng, scale=1.0):
    """F noisy curves of the CPT law with one annealing coefficient on a PT + CPT timeline."""
    n = 80
    x = _cpt_timeline(n)
    laws = [cptlaw.CPTSharedCLaw(2.8 + 0.3 * rng.random(), 0.4, 0.5, 0.3, rng.choice([0.3, -0.4]),
                                 20 + 40 * rng.random(), 0.2) for _ in range(F)]
    y = np.stack([law(**x) for law in laws]) * (1 + 1e-3 * rng.uniform(-1, 1, (F, n)))
    return {k: np.broadcast_to(v, (F, n)).copy() for k, v in x.items()}, y * scale


# ----------------------------------------------------------------------------- with a GPU
def _libs():
    out = []
    try:
        import torch

        if torch.cuda.is_available():
            out.append("torch")
    except ImportError:
        pass
    try:
        import cupy  # noqa: F401

        out.append("cupy")
    except ImportError:
        pass
    return out or ["none"]


@pytest.fixture(params=_libs())
def lib(request):
    if not GPU:
        pytest.skip(f"no CUDA GPU: {cuda.unavailable_reason()}")
    if request.param == "none":
        pytest.skip("neither PyTorch with CUDA nor CuPy is installed")
    if request.param == "torch":
        import torch

        return lambda a: torch.as_tensor(np.asarray(a), device="cuda")
    import cupy

    return lambda a: cupy.asarray(np.asarray(a))


def _host(x):
    if hasattr(x, "get"):
        return x.get()  # CuPy
    return x.detach().cpu().numpy()


def _law_inputs(cls, n, rng):
    return {name: rng.uniform(0.2, 3.0, n) if name != "r_pt" else rng.uniform(0.0, 1.0, n)
            for name in cls.input_names}


def _law(cls, rng):
    return cls(*rng.uniform(0.1, 1.0, len(cls.param_names)))


@pytest.mark.parametrize("cls", cptlaw.LAWS, ids=lambda c: c.__name__)
def test_laws_on_the_gpu_match_the_cpu(cls, lib):
    rng = np.random.default_rng(1)
    law = _law(cls, rng)
    x = _law_inputs(cls, 10_001, rng)
    want, want_g = law.value_and_grad(**x)
    dev = {k: lib(v) for k, v in x.items()}
    got = law(**dev)
    assert type(got) is type(dev[cls.input_names[0]])
    # Losses of random parameters cross zero: differences are judged against the largest value.
    atol = 1e-12 * np.abs(want).max()
    np.testing.assert_allclose(_host(got), want, rtol=1e-12, atol=atol)
    got_v, got_g = law.value_and_grad(**dev)
    np.testing.assert_allclose(_host(got_v), want, rtol=1e-12, atol=atol)
    np.testing.assert_allclose(_host(got_g), want_g, rtol=1e-12, atol=1e-12 * np.abs(want_g).max())
    np.testing.assert_allclose(_host(law.grad(**dev)), want_g, rtol=1e-12, atol=1e-12 * np.abs(want_g).max())


def test_law_broadcasting_scalars_out_and_dtypes(lib):
    law = cptlaw.CPTLaw(3.0, 0.4, 0.5, 0.3, 0.3, -0.5, 300.0, 0.2)
    rng = np.random.default_rng(2)
    s1 = rng.uniform(1.0, 5.0, (3, 1))
    s1c = rng.uniform(0.0, 2.0, (4,))
    want = law(s1_pt=s1, s2_pt=0.2, s1_cpt=s1c, s2_cpt=np.float64(0.05))
    got = law(s1_pt=lib(s1), s2_pt=0.2, s1_cpt=lib(s1c), s2_cpt=np.float64(0.05))
    assert tuple(got.shape) == (3, 4)
    np.testing.assert_allclose(_host(got), want, rtol=1e-12)
    # a one-element device array broadcasts; float32 and integer arrays are converted on the device
    got = law(lib(s1), lib(np.array([0.2])), lib(s1c.astype(np.float32)), lib(np.zeros(4, dtype=np.int64)))
    want = law(s1, np.array([0.2]), s1c.astype(np.float32), np.zeros(4))
    np.testing.assert_allclose(_host(got), want, rtol=1e-12)
    # out=
    out = lib(np.zeros((3, 4)))
    res = law(s1_pt=lib(s1), s2_pt=0.2, s1_cpt=lib(s1c), s2_cpt=0.05, out=out)
    assert res is out
    np.testing.assert_allclose(_host(out), law(s1_pt=s1, s2_pt=0.2, s1_cpt=s1c, s2_cpt=0.05), rtol=1e-12)
    # empty
    assert tuple(law(lib(np.zeros(0)), 0.1, 0.2, 0.0).shape) == (0,)


def test_law_bad_device_inputs_are_clear_errors(lib):
    law = cptlaw.AnnealingLaw(3.0, 0.5, 0.5, 0.3)
    s1 = lib(np.linspace(1.0, 2.0, 5))
    with pytest.raises(TypeError, match="^s2: a host array where a device array is required"):
        law(s1=s1, s2=np.zeros(5))
    with pytest.raises(TypeError, match="^s2: expected a real numeric array"):
        law(s1=s1, s2=lib(np.zeros(5, dtype=np.complex128)))
    with pytest.raises(TypeError, match="^s2: expected a real numeric array"):
        law(s1=s1, s2=lib(np.zeros(5, dtype=bool)))
    with pytest.raises(ValueError, match="^inputs do not broadcast"):
        law(s1=s1, s2=lib(np.zeros(4)))
    with pytest.raises(TypeError, match="^out: expected a float64"):
        law(s1=s1, s2=0.0, out=np.zeros(5))
    with pytest.raises(TypeError, match="^out: expected a float64"):
        law(s1=s1, s2=0.0, out=lib(np.zeros(5, dtype=np.float32)))
    with pytest.raises(ValueError, match="^out: shape"):
        law(s1=s1, s2=0.0, out=lib(np.zeros(6)))
    with pytest.raises(ValueError, match="^out: must not overlap"):
        law(s1=s1, s2=0.0, out=s1)


def _annealing_batch(F, n, rng, noise=2e-3):
    t = np.linspace(0.02, 1.0, n)
    s1 = np.broadcast_to(0.05 + 4.0 * t, (F, n)).copy()
    s2 = np.broadcast_to(np.maximum(0.0, 0.6 * (t - 0.7)), (F, n)).copy()
    L0, A, alpha, C = (rng.uniform(2.0, 3.0, F), rng.uniform(0.3, 0.7, F), rng.uniform(0.3, 0.8, F),
                       rng.uniform(0.2, 0.6, F))
    y = L0[:, None] + A[:, None] * s1 ** -alpha[:, None] - C[:, None] * s2
    y *= 1.0 + noise * rng.uniform(-1.0, 1.0, (F, n))
    return {"s1": s1, "s2": s2}, y


def _same_fits(got, want, rtol):
    np.testing.assert_array_equal(got.status, want.status)
    ok = want.status > 0
    scale = np.maximum(np.abs(want.params), 1e-3)
    rel = np.abs(got.params - want.params) / scale
    assert np.nanmax(rel[ok]) <= rtol, f"max relative parameter difference {np.nanmax(rel[ok]):.3g}"
    np.testing.assert_allclose(got.objective[ok], want.objective[ok], rtol=1e-10)


@pytest.mark.parametrize("objective", ["huber_log", "log_least_squares", "least_squares"])
def test_fit_many_on_the_gpu_matches_the_cpu(objective, lib):
    rng = np.random.default_rng(3)
    feats, y = _annealing_batch(200, 60, rng)
    y[7] = 2.5  # a flat curve: status -3 on both
    kw = dict(objective=objective)
    want = cptlaw.fit_many(cptlaw.AnnealingLaw, feats, y, **kw)
    host = cptlaw.fit_many(cptlaw.AnnealingLaw, feats, y, device="cuda", **kw)
    dev = cptlaw.fit_many(cptlaw.AnnealingLaw, {k: lib(v) for k, v in feats.items()}, lib(y), device="cuda", **kw)
    assert want.status[7] == -3 and (want.status[:7] > 0).all()
    for got in (host, dev):
        _same_fits(got, want, 1e-8)
        assert got.message == want.message


def test_fit_many_options_on_the_gpu(lib):
    rng = np.random.default_rng(4)
    feats, y = _annealing_batch(64, 40, rng)
    w = rng.uniform(0.5, 1.5, y.shape)
    kw = dict(weights=w, fixed={"alpha": 0.5}, bounds={"C": (0.0, 0.3)}, keep=3,
              starts=[{"L0": 2.5, "A": 0.5, "C": 0.2}])
    want = cptlaw.fit_many(cptlaw.AnnealingLaw, feats, y, **kw)
    got = cptlaw.fit_many(cptlaw.AnnealingLaw, {k: lib(v) for k, v in feats.items()}, lib(y), device="cuda",
                          **{**kw, "weights": lib(w)})
    _same_fits(got, want, 1e-8)
    assert (got.params[:, 2] == 0.5).all()
    # scalars and one-value arrays broadcast on the device
    got = cptlaw.fit_many(cptlaw.AnnealingLaw, {"s1": lib(feats["s1"]), "s2": 0.0}, lib(y), device="cuda")
    want = cptlaw.fit_many(cptlaw.AnnealingLaw, {"s1": feats["s1"], "s2": 0.0}, y)
    _same_fits(got, want, 1e-8)


def test_fit_many_cpt_law_on_the_gpu(lib):
    rng = np.random.default_rng(5)
    n = 80
    x = _cpt_timeline(n)
    F = 40
    feats = {k: np.broadcast_to(v, (F, n)).copy() for k, v in x.items()}
    laws = [cptlaw.CPTLaw(2.8 + 0.3 * rng.random(), 0.4, 0.5, 0.3, 0.3, rng.choice([0.3, -0.4]),
                          20 + 40 * rng.random(), 0.2) for _ in range(F)]
    y = np.stack([law(**x) for law in laws]) * (1 + 1e-3 * rng.uniform(-1, 1, (F, n)))
    want = cptlaw.fit_many(cptlaw.CPTLaw, feats, y)
    got = cptlaw.fit_many(cptlaw.CPTLaw, {k: lib(v) for k, v in feats.items()}, lib(y), device="cuda")
    # The CPT law's B-beta-E direction is nearly flat: equal objectives pin its parameters down
    # less tightly than the annealing law's (see cpp/tests/test_batch_lm.cpp).
    _same_fits(got, want, 1e-6)


def test_fit_many_shared_c_law_scaled_losses_and_flags_on_the_gpu(lib):
    rng = np.random.default_rng(7)
    for scale in (1.0, 1e-90):
        feats, y = _shared_c_batch(30, rng, scale)
        y[4] = 2.5 * scale  # flat: status -3
        w = rng.uniform(0.5, 1.5, y.shape)
        w[6] = 0.0  # no positive weight: status -3
        want = cptlaw.fit_many(cptlaw.CPTSharedCLaw, feats, y, weights=w)
        got = cptlaw.fit_many(cptlaw.CPTSharedCLaw, {k: lib(v) for k, v in feats.items()}, lib(y), weights=lib(w),
                              device="cuda")
        _same_fits(got, want, 1e-6)
        assert got.message == want.message
        np.testing.assert_array_equal(got.unidentifiable, want.unidentifiable)
        assert want.status[4] == want.status[6] == -3


def test_fit_many_bad_device_inputs(lib):
    rng = np.random.default_rng(6)
    feats, y = _annealing_batch(8, 20, rng)
    dfeats = {k: lib(v) for k, v in feats.items()}
    with pytest.raises(TypeError, match="^losses: a host array where a device array is required"):
        cptlaw.fit_many(cptlaw.AnnealingLaw, dfeats, y, device="cuda")
    bad = y.copy()
    bad[2, 3] = np.nan
    with pytest.raises(ValueError, match="^loss: contains NaN"):
        cptlaw.fit_many(cptlaw.AnnealingLaw, dfeats, lib(bad), device="cuda")
    bad = y.copy()
    bad[1, 1] = -1.0
    with pytest.raises(ValueError, match="^loss: must be > 0"):
        cptlaw.fit_many(cptlaw.AnnealingLaw, dfeats, lib(bad), device="cuda")
    with pytest.raises(ValueError, match="^losses: expected a 2-D array"):
        cptlaw.fit_many(cptlaw.AnnealingLaw, dfeats, lib(y[0]), device="cuda")
    with pytest.raises(ValueError, match="^features\\['s2'\\]: shape"):
        cptlaw.fit_many(cptlaw.AnnealingLaw, {"s1": dfeats["s1"], "s2": lib(np.zeros(3))}, lib(y), device="cuda")
    with pytest.raises(ValueError, match="^keep: at most 16"):
        cptlaw.fit_many(cptlaw.AnnealingLaw, dfeats, lib(y), device="cuda", keep=17)
    with pytest.raises(TypeError, match="^losses: expected a real numeric array"):
        cptlaw.fit_many(cptlaw.AnnealingLaw, dfeats, lib(y.astype(np.complex128)), device="cuda")


def _grid_args():
    law_pt = cptlaw.CPTLaw(3.057, 0.490, 0.497, 0.299, 0.298, 0.366, 28, 0.189)
    law_cpt = cptlaw.CPTLaw(3.024, 0.412, 0.677, 0.278, 0.324, -0.666, 5662, 0.146)
    pt = cptlaw.schedules.wsd(2e-4, 40000, decay_steps=4000, warmup=500)
    cpt = [dict(shape=["cosine", "wsd", "linear", "constant"], peak_lr=np.geomspace(2.5e-5, 4e-4, 9),
                steps=[5000, 20000], warmup=[0, 500], start_lr=["hf", "pt"], decay_frac=[0.1, 0.3],
                decay_type=["linear", "cosine", "1-sqrt"], min_lr=[0.0, 1e-6])]
    return dict(laws={"pt": law_pt, "cpt": law_cpt}, pt=pt, cpt=cpt, w=[0.2, 0.8])


@needs_gpu
@pytest.mark.parametrize("reduce,k,group_by", [("min", 1, None), ("min", 3, ["w", "cpt_shape"]),
                                               ("max", 2, "cpt_steps")])
def test_grid_best_rows_on_the_gpu_match_the_cpu(reduce, k, group_by):
    kw = dict(_grid_args(), reduce=reduce, k=k, group_by=group_by, progress=False)
    want = cptlaw.grid(**kw)
    got = cptlaw.grid(**kw, device="cuda")
    got_small = cptlaw.grid(**kw, device="cuda", chunk_size=1000)  # many chunks: seeded thresholds
    for g in (got, got_small):
        assert list(g.index) == list(want.index)
        np.testing.assert_allclose(g["loss"], want["loss"], rtol=1e-12)


@needs_gpu
@pytest.mark.parametrize("split", ["by_source", "by_time", "restart"])
def test_grid_of_every_grid_law_on_the_gpu_matches_the_cpu(split):
    # Every law the grid evaluates (the registry's), CPTSharedCLaw and the replay laws included.
    laws = {"cpt": cptlaw.CPTLaw(3.0, 0.45, 0.55, 0.3, 0.3, -0.5, 400, 0.2),
            "shared": cptlaw.CPTSharedCLaw(3.0, 0.45, 0.55, 0.3, -0.5, 400, 0.2),
            "power": cptlaw.CPTPowerS2Law(3.0, 0.5, 0.5, 0.3, 0.3, 0.36, 28, 0.19, 0.9, 1.1),
            "replay": cptlaw.ReplayCPTLaw(3.0, 0.4, 0.6, 0.3, 0.3, 0.1, -0.6, 500.0, 0.15, 3.0),
            "annealing": cptlaw.AnnealingLaw(2.9, 0.5, 0.5, 0.3)}
    kw = dict(_grid_args(), laws=laws, w=None, replay=[0.0, 0.3], split=split, steps=[0, 1, 499, 5000, 19999],
              progress=False)
    want = cptlaw.grid(**kw)
    got = cptlaw.grid(**kw, device="cuda", chunk_size=50_000)
    import pandas as pd

    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12)


@needs_gpu
@pytest.mark.parametrize("steps", ["final", [0, 1, 250, 499, 500, 501, 4000, 19999, 25000]])
def test_grid_rows_on_the_gpu_match_the_cpu(steps):
    kw = dict(_grid_args(), steps=steps, progress=False)
    want = cptlaw.grid(**kw)
    got = cptlaw.grid(**kw, device="cuda", chunk_size=50_000)
    import pandas as pd

    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12)
