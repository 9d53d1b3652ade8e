"""The streaming Tracker against the offline area functions, checkpointing and input checks.

The tracker runs the compiled core's recurrences in the same order, so on this build its
areas agree with ``cptlaw.cpt_areas`` / ``cptlaw.areas`` to the last bit; the tests
require 1e-12 relative (plus a tiny absolute floor relative to the data's scale, for S2
values that cancel to near zero), which also holds for a core built with FMA contraction.
"""

from __future__ import annotations

import copy
import json
import math
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cptlaw
from cptlaw.tracker import Tracker

SPLITS = ("by_source", "by_time", "restart")
RTOL = 1e-12
SETTINGS = settings(max_examples=100, deadline=None)

# -- strategies ----------------------------------------------------------------------

lr_values = st.one_of(
    st.just(0.0),
    st.floats(0.0, 1.0, allow_nan=False, allow_infinity=False),
    st.floats(1e-6, 1e-2),
)


@st.composite
def segments(draw):
    """One piece of a schedule: constant, linear ramp (up = re-warmup, or down), cosine, noise."""
    kind = draw(st.sampled_from(("const", "linear", "cosine", "random")))
    n = draw(st.integers(1, 40))
    a, b = draw(lr_values), draw(lr_values)
    if kind == "const":
        return [a] * n
    if kind == "linear":
        return [max(0.0, a + (b - a) * k / max(n - 1, 1)) for k in range(n)]
    if kind == "cosine":
        return [max(0.0, b + 0.5 * (a - b) * (1 + math.cos(math.pi * k / n))) for k in range(n)]
    return draw(st.lists(lr_values, min_size=n, max_size=n))


@st.composite
def schedules(draw, min_segments=1):
    parts = draw(st.lists(segments(), min_size=min_segments, max_size=4))
    return [x for p in parts for x in p]


decays = st.one_of(st.sampled_from((0.0, 1.0, 0.999, 0.9, 0.5)), st.floats(0.0, 1.0))


def assert_close(got, expected, scale, what=""):
    tol = RTOL * abs(expected) + 1e-14 * scale
    assert abs(got - expected) <= tol, f"{what}: {got!r} != {expected!r} (diff {got - expected:.3g})"


def _scale(*lrs):
    """A magnitude for the absolute floor: the largest partial sum the areas can reach."""
    xs = [x for lr in lrs for x in lr]
    return (max(xs, default=0.0) + 1e-300) * (len(xs) + 1)


def run(tracker, lr_pt, lr_cpt, *, start=True):
    for x in lr_pt:
        tracker.step(x)
    if start:
        tracker.start_cpt()
    for x in lr_cpt:
        tracker.step(x)
    return tracker


# -- agreement with the offline functions ---------------------------------------------


@SETTINGS
@given(lr_pt=schedules(), lr_cpt=schedules(), decay=decays, split=st.sampled_from(SPLITS))
def test_matches_offline_at_every_step(lr_pt, lr_cpt, decay, split):
    off = cptlaw.cpt_areas(lr_pt, lr_cpt, decay, split)
    pt_only = cptlaw.areas(lr_pt, decay)
    scale = _scale(lr_pt, lr_cpt)
    t = Tracker(decay, split)
    for i, x in enumerate(lr_pt):
        t.step(x)
        assert t.phase == "pt" and t.step_count == i + 1
        assert_close(t.s1_pt, pt_only.s1[i], scale, "s1 (areas)")
        assert_close(t.s2_pt, pt_only.s2[i], scale, "s2 (areas)")
        assert t.s1_cpt == 0.0 and t.s2_cpt == 0.0
    t.start_cpt()
    assert t.phase == "cpt" and t.transfer_step == len(lr_pt)
    for j, x in enumerate(lr_cpt):
        t.step(x)
        i = len(lr_pt) + j
        for name, arr in zip(("s1_pt", "s2_pt", "s1_cpt", "s2_cpt"), off):
            assert_close(getattr(t, name), arr[i], scale, name)
    # and the final values, the brief's criterion
    for name, arr in zip(("s1_pt", "s2_pt", "s1_cpt", "s2_cpt"), off):
        assert_close(getattr(t, name), arr[-1], scale, name)
    assert t.step_count == len(lr_pt) + len(lr_cpt)


@settings(max_examples=40, deadline=None)
@given(lr_pt=schedules(), decay=decays, split=st.sampled_from(SPLITS))
def test_transfer_without_cpt_steps(lr_pt, decay, split):
    t = run(Tracker(decay, split), lr_pt, [])
    off = cptlaw.cpt_areas(lr_pt, [], decay, split)
    for name, arr in zip(("s1_pt", "s2_pt", "s1_cpt", "s2_cpt"), off):
        assert_close(getattr(t, name), arr[-1], _scale(lr_pt), name)


@SETTINGS
@given(
    lr_pt=schedules(),
    lr_cpt=schedules(),
    decay=decays,
    split=st.sampled_from(SPLITS),
    warm=st.integers(1, 200),
)
def test_warmup_as_peak_int(lr_pt, lr_cpt, decay, split, warm):
    peak = max(lr_pt)
    t = Tracker(decay, split, warmup_as_peak=warm, peak_lr=peak)
    off = cptlaw.cpt_areas(lr_pt, lr_cpt, decay, split, warmup_as_peak=warm)
    scale = _scale(lr_pt, lr_cpt)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the peak is right: no warning
        for i, x in enumerate(lr_pt):
            t.step(x)
            assert_close(t.s1_pt, off.s1_pt[i], scale, "s1_pt")
            assert_close(t.s2_pt, off.s2_pt[i], scale, "s2_pt")
        t.start_cpt()
        for x in lr_cpt:
            t.step(x)
    for name, arr in zip(("s1_pt", "s2_pt", "s1_cpt", "s2_cpt"), off):
        assert_close(getattr(t, name), arr[-1], scale, name)
    assert t.warmup_as_peak == warm and t.peak_lr == peak


def test_warmup_matches_p2_convention_on_fixture_schedule():
    s = np.arange(20001)
    lr = np.where(s <= 500, 2e-4, 0.5 * 2e-4 * (1 + np.cos(np.pi * (s - 500) / 19500)))
    lr[:500] = np.linspace(0, 2e-4, 500)  # a literal warmup, lifted to the peak by the convention
    t = Tracker(warmup_as_peak=500, peak_lr=2e-4)
    for x in lr.tolist():
        t.step(x)
    off = cptlaw.areas(lr, warmup_as_peak=500)
    assert_close(t.s1_pt, off.s1[-1], _scale(lr), "s1")
    assert_close(t.s2_pt, off.s2[-1], _scale(lr), "s2")


def test_peak_below_observed_lr_warns():
    t = Tracker(warmup_as_peak=2, peak_lr=1e-3)
    t.step(1e-4)
    with pytest.warns(RuntimeWarning, match="peak_lr"):
        t.step(2e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once only
        t.step(3e-3)


def test_constant_schedule_has_zero_s2_and_drop_limit():
    t = Tracker(0.9)
    for _ in range(50):
        t.step(1e-3)
    assert t.s2_pt == 0.0 and t.s1_pt == pytest.approx(50e-3)
    t.start_cpt()
    for _ in range(2000):
        t.step(4e-4)
    # a drop a -> b then a long flat tail: S2_cpt -> (a - b) / (1 - lam) (LAW.md section 1)
    assert t.s2_cpt == pytest.approx((1e-3 - 4e-4) / (1 - 0.9), rel=1e-9)


@pytest.mark.parametrize("split", SPLITS)
def test_law_evaluates_on_tracker_areas(split):
    law = cptlaw.CPTLaw(L0=3.057, A=0.490, alpha=0.497, C1=0.299, C2=0.298, B=0.366, E=28, beta=0.189)
    pt = np.r_[np.linspace(0, 2e-4, 10), np.full(50, 2e-4), np.linspace(2e-4, 2e-5, 40)]
    cpt = np.r_[np.linspace(2e-5, 2e-4, 10), np.full(30, 2e-4)]
    t = run(Tracker(split=split), pt.tolist(), cpt.tolist())
    off = cptlaw.cpt_areas(pt, cpt, split=split)
    expected = law(*(a[-1] for a in off))
    assert float(law(**t.as_dict())) == pytest.approx(float(expected), rel=1e-12)


# -- checkpointing ----------------------------------------------------------------------


def _plain(value):
    if isinstance(value, list):
        return all(type(v) is float for v in value)
    return type(value) in (float, int, str, bool)


@SETTINGS
@given(
    lr_pt=schedules(),
    lr_cpt=schedules(),
    decay=decays,
    split=st.sampled_from(SPLITS),
    record=st.booleans(),
    warm=st.sampled_from((0, 3, 1000)),
    cut=st.floats(0.0, 1.0),
    via=st.sampled_from(("dict", "json", "pickle", "deepcopy")),
)
def test_state_dict_round_trip_continues_bit_identically(lr_pt, lr_cpt, decay, split, record, warm, cut, via):
    kw = dict(warmup_as_peak=warm, peak_lr=max(lr_pt)) if warm else {}
    history = lr_pt + lr_cpt
    T = len(lr_pt)
    k = int(cut * len(history))  # resume after k steps (in PT, at the transfer, or in CPT)

    full = Tracker(decay, split, record=record, **kw)
    first = Tracker(decay, split, record=record, **kw)
    for i, x in enumerate(history):
        if i == T:
            full.start_cpt()
        full.step(x)
    for i, x in enumerate(history[:k]):
        if i == T:
            first.start_cpt()
        first.step(x)

    state = first.state_dict()
    assert all(_plain(v) for v in state.values()), state
    if via == "json":
        state = json.loads(json.dumps(state))
    elif via == "pickle":
        state = pickle.loads(pickle.dumps(state))
    elif via == "deepcopy":
        state = copy.deepcopy(state)
    resumed = Tracker(0.5, "restart")  # settings come from the state
    resumed.load_state_dict(state)
    assert resumed.state_dict() == first.state_dict()
    for i in range(k, len(history)):
        if i == T:
            resumed.start_cpt()
        resumed.step(history[i])
    assert resumed.state_dict() == full.state_dict()  # bit-identical, config included
    for name in ("s1_pt", "s2_pt", "s1_cpt", "s2_cpt"):
        assert getattr(resumed, name) == getattr(full, name)
    if record:
        assert resumed.lr_history == history


def test_from_state_dict_and_independence():
    t = run(Tracker(split="by_time", record=True), [1e-3, 5e-4], [2e-4])
    u = Tracker.from_state_dict(t.state_dict())
    u.step(1e-4)
    assert t.step_count == 3 and u.step_count == 4
    assert t.lr_history == [1e-3, 5e-4, 2e-4]  # not shared with the copy
    assert u.split == "by_time" and u.phase == "cpt" and u.transfer_step == 2


def test_load_state_dict_rejects_bad_states():
    good = run(Tracker(record=True), [1e-3, 5e-4], [2e-4]).state_dict()
    t = Tracker()
    with pytest.raises(TypeError, match="state_dict"):
        t.load_state_dict([1, 2])
    for key in ("format", "s2_pt", "step_count"):
        bad = dict(good)
        del bad[key]
        with pytest.raises(ValueError, match="state_dict"):
            t.load_state_dict(bad)
    cases = [
        ("split", "sideways", ValueError, "split"),
        ("phase", "done", ValueError, "phase"),
        ("decay", 1.5, ValueError, "decay"),
        ("s1_pt", float("nan"), ValueError, "s1_pt"),
        ("s1_pt", "1.0", TypeError, "s1_pt"),
        ("step_count", 1.5, TypeError, "step_count"),
        ("transfer_step", 7, ValueError, "transfer_step"),
        ("lr_history", [1e-3], ValueError, "lr_history"),
        ("record", 1, TypeError, "record"),
    ]
    for key, value, exc, match in cases:
        bad = dict(good)
        bad[key] = value
        with pytest.raises(exc, match=match):
            t.load_state_dict(bad)
    assert t.step_count == 0  # a rejected state leaves the tracker as it was


# -- bad inputs and API details -----------------------------------------------------


@pytest.mark.parametrize("bad", [-1e-3, float("nan"), float("inf"), -0.0 - 1e-300])
def test_bad_lr_values(bad):
    t = Tracker()
    t.step(1e-3)
    with pytest.raises(ValueError, match=r"^lr: "):
        t.step(bad)
    assert t.step_count == 1 and t.s1_pt == 1e-3


@pytest.mark.parametrize("bad", ["1e-3", True, np.True_, 1j, None, [1e-3], np.ones(2)])
def test_bad_lr_types(bad):
    t = Tracker()
    with pytest.raises(TypeError, match=r"^lr: "):
        t.step(bad)
    assert t.step_count == 0


def test_lr_number_types_accepted():
    t = Tracker(record=True)
    for x in (1, np.float32(0.5), np.float64(0.25), np.int64(0), np.array(0.125)):
        t.step(x)
    assert t.lr_history == [1.0, 0.5, 0.25, 0.0, 0.125]
    assert all(type(v) is float for v in t.lr_history)
    assert type(t.s1_pt) is float and type(t.s2_pt) is float


def test_phase_errors():
    t = Tracker()
    with pytest.raises(RuntimeError, match="start_cpt.*no PT step"):
        t.start_cpt()
    t.step(1e-3)
    t.start_cpt()
    with pytest.raises(RuntimeError, match="start_cpt.*already"):
        t.start_cpt()


def test_constructor_errors():
    with pytest.raises(ValueError, match="^split"):
        Tracker(split="by_phase")
    with pytest.raises(ValueError, match="^split"):
        Tracker(split=None)
    for bad in (-0.1, 1.1, float("nan")):
        with pytest.raises(ValueError, match="^decay"):
            Tracker(decay=bad)
    with pytest.raises(TypeError, match="^decay"):
        Tracker(decay="0.9")
    with pytest.raises(ValueError, match="^warmup_as_peak.*cannot be known"):
        Tracker(warmup_as_peak=True, peak_lr=1e-3)
    with pytest.raises(ValueError, match="^warmup_as_peak"):
        Tracker(warmup_as_peak=-2, peak_lr=1e-3)
    with pytest.raises(TypeError, match="^warmup_as_peak"):
        Tracker(warmup_as_peak=2.5, peak_lr=1e-3)
    with pytest.raises(ValueError, match="^peak_lr.*required"):
        Tracker(warmup_as_peak=10)
    with pytest.raises(ValueError, match="^peak_lr"):
        Tracker(peak_lr=1e-3)
    with pytest.raises(ValueError, match="^peak_lr"):
        Tracker(warmup_as_peak=10, peak_lr=-1.0)
    with pytest.raises(TypeError, match="^record"):
        Tracker(record=1)
    assert Tracker(warmup_as_peak=0).warmup_as_peak is False


def test_attributes_read_only_and_slots():
    t = Tracker()
    with pytest.raises(AttributeError):
        t.s1_pt = 1.0
    with pytest.raises(AttributeError):
        t.step_count = 3
    with pytest.raises(AttributeError):
        t.something = 1  # __slots__: no instance dict
    assert not hasattr(t, "__dict__")
    with pytest.raises(AttributeError, match="record=True"):
        t.lr_history
    assert t.transfer_step is None and t.phase == "pt"
    assert "Tracker(" in repr(t)


def test_lr_history_keeps_raw_values_under_warmup():
    t = Tracker(warmup_as_peak=2, peak_lr=1e-3, record=True)
    run(t, [1e-4, 5e-4, 1e-3], [2e-4])
    assert t.lr_history == [1e-4, 5e-4, 1e-3, 2e-4]
    assert t.s1_pt == 3e-3


def test_optional_frameworks_not_imported():
    """import cptlaw (and the integration modules) work with torch/transformers absent."""
    code = (
        "import sys; sys.modules['torch'] = None; sys.modules['transformers'] = None\n"
        "import cptlaw, cptlaw.tracker, cptlaw.integrations.torch as it, cptlaw.integrations.hf as ih\n"
        "t = cptlaw.tracker.Tracker(); t.step(1e-3)\n"
        "for f in (lambda: it.track_optimizer(t, None), lambda: it.lr_from_scheduler(None, 3),\n"
        "          lambda: ih.CPTLawCallback):\n"
        "    try:\n"
        "        f()\n"
        "    except ImportError as e:\n"
        "        print('ImportError', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 3, out.stdout
    assert "PyTorch" in lines[0] and "PyTorch" in lines[1] and "transformers" in lines[2]
