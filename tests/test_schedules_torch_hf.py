"""cptlaw.schedules against the real PyTorch and Hugging Face schedulers.

Each reference instantiates the library's scheduler on
``SGD([torch.zeros(1, requires_grad=True)], lr=peak)`` and records ``get_last_lr()`` over the
usual loop (``optimizer.step(); scheduler.step()``), so ``ref[t]`` is the LR of optimizer
step t. HF schedules are LambdaLR lambdas and our formulas repeat their arithmetic, so they
agree to the last bit in practice; the bound asserted is rtol 1e-12 (PyTorch's own
``step()`` uses recursive "chainable" forms for CosineAnnealingLR, LinearLR, ExponentialLR,
PolynomialLR, whose rounding drifts by ~1e-14 relative over 1000 steps).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from cptlaw import schedules as S

torch = pytest.importorskip("torch")
lr_scheduler = torch.optim.lr_scheduler

PEAK = 3e-4
T = 1000
W = 100


def record(make, peak, n):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=peak)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = make(opt)
        out = []
        for _ in range(n):
            out.append(sched.get_last_lr()[0])
            opt.step()
            sched.step()
    return np.array(out, dtype=np.float64)


def check(ours, ref, rtol=1e-12):
    np.testing.assert_allclose(ours.values(), ref, rtol=rtol, atol=0)


# -- PyTorch -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ours,make",
    [
        (S.constant(PEAK, T), lambda o: lr_scheduler.ConstantLR(o, factor=1.0, total_iters=0)),
        (S.cosine(PEAK, T), lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=T)),
        (S.cosine(PEAK, T, min_lr=1e-5), lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=T, eta_min=1e-5)),
        (S.linear(PEAK, T), lambda o: lr_scheduler.LinearLR(o, start_factor=1.0, end_factor=0.0, total_iters=T)),
        (S.exponential(PEAK, T, 0.995), lambda o: lr_scheduler.ExponentialLR(o, gamma=0.995)),
        (S.polynomial(PEAK, T, power=2.0), lambda o: lr_scheduler.PolynomialLR(o, total_iters=T, power=2.0)),
        (S.polynomial(PEAK, T), lambda o: lr_scheduler.PolynomialLR(o, total_iters=T, power=1.0)),
        (S.multistep(PEAK, T, [300, 600, 600], 0.3), lambda o: lr_scheduler.MultiStepLR(o, [300, 600, 600], 0.3)),
        (S.multistep(PEAK, T, range(250, T, 250), 0.5), lambda o: lr_scheduler.StepLR(o, step_size=250, gamma=0.5)),
        (S.cyclic_cosine(PEAK, T, 50, cycle_mult=2, min_lr=1e-5),
         lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=50, T_mult=2, eta_min=1e-5)),
        (S.cyclic_cosine(PEAK, T, 77), lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=77)),
    ],
    ids=["constant", "cosine", "cosine_eta_min", "linear", "exponential", "poly2", "poly1", "multistep", "steplr",
         "warm_restarts_mult2", "warm_restarts"],
)
def test_torch_schedulers(ours, make):
    check(ours, record(make, PEAK, ours.steps))


def test_torch_sequential_matches_concat():
    ours = S.exponential(PEAK, 300, 0.99) + S.cosine(PEAK, 500)

    def make(o):
        return lr_scheduler.SequentialLR(
            o, [lr_scheduler.ExponentialLR(o, 0.99), lr_scheduler.CosineAnnealingLR(o, T_max=500)], milestones=[300]
        )

    check(ours, record(make, PEAK, ours.steps))


@pytest.mark.parametrize(
    "ours",
    [
        S.wsd(PEAK, T, 300, W, min_lr=1e-5, decay="1-sqrt"),
        S.cyclic_cosine(PEAK, T, num_cycles=2.7, warmup=W),
        S.rewarmup(PEAK, T, W, start_lr=2e-5, min_lr=1e-6),
        S.inverse_sqrt(PEAK, T, W),
        S.from_values(np.linspace(PEAK, 0, T)) + S.constant(PEAK / 2, 10),
    ],
    ids=repr,
)
def test_as_lambda_in_lambdalr(ours):
    check(ours, record(lambda o: lr_scheduler.LambdaLR(o, ours.as_lambda()), ours.peak, ours.steps))


# -- Hugging Face ------------------------------------------------------------------------

try:
    import transformers
    from transformers import optimization as hf
except ImportError:  # the PyTorch tests above still run
    transformers = hf = None
needs_hf = pytest.mark.skipif(hf is None, reason="transformers is not installed")


@needs_hf
@pytest.mark.parametrize("decay_type", ["linear", "cosine", "1-sqrt"])
@pytest.mark.parametrize("warmup_type", ["linear", "cosine", "1-sqrt"])
@pytest.mark.parametrize("ratio", [0.0, 0.1])
def test_hf_wsd(decay_type, warmup_type, ratio):
    ours = S.wsd(PEAK, T, 300, W, min_lr=ratio * PEAK, decay=decay_type, warmup_type=warmup_type)
    ref = record(
        lambda o: hf.get_wsd_schedule(o, W, 300, T, warmup_type=warmup_type, decay_type=decay_type,
                                      min_lr_ratio=ratio),
        PEAK,
        T,
    )
    check(ours, ref)
    # num_cycles, no warmup, stable steps given explicitly with a tail after the decay.
    ours = S.from_hf("warmup_stable_decay", PEAK, 0, T, num_decay_steps=200, num_stable_steps=500,
                     decay_type=decay_type, min_lr_ratio=ratio, num_cycles=0.4)
    ref = record(lambda o: hf.get_wsd_schedule(o, 0, 200, T, num_stable_steps=500, decay_type=decay_type,
                                               min_lr_ratio=ratio, num_cycles=0.4), PEAK, T)
    check(ours, ref)


@needs_hf
@pytest.mark.parametrize(
    "ours,make",
    [
        (S.cosine(PEAK, T, W), lambda o: hf.get_cosine_schedule_with_warmup(o, W, T)),
        (S.cosine(PEAK, T, W, num_cycles=1.3), lambda o: hf.get_cosine_schedule_with_warmup(o, W, T, num_cycles=1.3)),
        (S.cosine(PEAK, T, W, min_lr=1e-5),
         lambda o: hf.get_cosine_with_min_lr_schedule_with_warmup(o, W, T, min_lr=1e-5)),
        (S.linear(PEAK, T, W), lambda o: hf.get_linear_schedule_with_warmup(o, W, T)),
        (S.linear(PEAK, T, 0), lambda o: hf.get_linear_schedule_with_warmup(o, 0, T)),
        (S.constant(PEAK, T), lambda o: hf.get_constant_schedule(o)),
        (S.cyclic_cosine(PEAK, T, num_cycles=3, warmup=W),
         lambda o: hf.get_cosine_with_hard_restarts_schedule_with_warmup(o, W, T, num_cycles=3)),
        (S.cyclic_cosine(PEAK, T, num_cycles=2.7, warmup=W),
         lambda o: hf.get_cosine_with_hard_restarts_schedule_with_warmup(o, W, T, num_cycles=2.7)),
        (S.polynomial(PEAK, T, W, min_lr=1e-7, power=2.0),
         lambda o: hf.get_polynomial_decay_schedule_with_warmup(o, W, T, lr_end=1e-7, power=2.0)),
        (S.inverse_sqrt(PEAK, T, W), lambda o: hf.get_inverse_sqrt_schedule(o, W)),
        (S.inverse_sqrt(PEAK, T, 0), lambda o: hf.get_inverse_sqrt_schedule(o, 0)),
        (S.inverse_sqrt(PEAK, T, W, timescale=37), lambda o: hf.get_inverse_sqrt_schedule(o, W, timescale=37)),
        (S.one_minus_sqrt(PEAK, T, warmup=W), lambda o: hf.get_wsd_schedule(o, W, T - W, T, decay_type="1-sqrt")),
    ],
    ids=["cosine", "cosine_cycles", "cosine_min_lr", "linear", "linear_nowarm", "constant", "hard_restarts_3",
         "hard_restarts_2.7", "polynomial", "inverse_sqrt", "inverse_sqrt_nowarm", "inverse_sqrt_ts", "1-sqrt"],
)
def test_hf_functions(ours, make):
    check(ours, record(make, PEAK, ours.steps))


HF_CASES = [
    ("constant", {}),
    ("constant_with_warmup", {}),
    ("linear", {}),
    ("cosine", {"num_cycles": 0.7}),
    ("cosine_with_restarts", {"num_cycles": 4}),
    ("polynomial", {"lr_end": 1e-6, "power": 3.0}),
    ("inverse_sqrt", {"timescale": 55}),
    ("cosine_with_min_lr", {"min_lr_rate": 0.05}),
    ("cosine_with_min_lr", {"min_lr": 2e-5, "num_cycles": 0.4}),
    ("cosine_warmup_with_min_lr", {"min_lr": 2e-5}),
    ("cosine_warmup_with_min_lr", {"min_lr_rate": 0.1, "warmup_lr_rate": 0.05}),
    ("warmup_stable_decay", {"num_decay_steps": 250, "decay_type": "1-sqrt", "min_lr_ratio": 0.1}),
    ("warmup_stable_decay", {"num_decay_steps": 250}),
]


@needs_hf
@pytest.mark.parametrize("name,kwargs", HF_CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(HF_CASES)])
def test_from_hf_matches_get_scheduler(name, kwargs):
    try:
        transformers.SchedulerType(name)
    except ValueError:
        pytest.skip(f"this transformers has no {name!r}")
    ours = S.from_hf(name, PEAK, W, T, **kwargs)
    ref = record(lambda o: transformers.get_scheduler(name, o, W, T, scheduler_specific_kwargs=dict(kwargs)), PEAK, T)
    assert ours.steps == T
    check(ours, ref)


@needs_hf
def test_hf_areas_via_lambda_equal_closed_form():
    """End to end: the areas of what HF hands the optimizer equal the closed form."""
    import cptlaw

    ours = S.wsd(PEAK, 5000, 1000, 200, min_lr=PEAK * 0.1, decay="cosine")
    ref = record(lambda o: hf.get_wsd_schedule(o, 200, 1000, 5000, decay_type="cosine", min_lr_ratio=0.1), PEAK, 5000)
    a = cptlaw.areas(ref, 0.999)
    b = ours.areas(decay=0.999)
    scale = np.abs(a.s1).max()
    np.testing.assert_allclose(b.s1, a.s1, rtol=1e-9, atol=1e-12 * scale)
    np.testing.assert_allclose(b.s2, a.s2, rtol=1e-9, atol=1e-12 * scale)
