"""Tracker integrations with PyTorch and Hugging Face transformers, on real (tiny) training runs.

A 2-layer MLP is pre-trained on one synthetic regression task with a WSD schedule
(warmup, stable, linear decay; LambdaLR), then continually pre-trained on a shifted task
with a fresh optimizer and a cosine schedule with re-warmup. Trackers for all three split
modes record the LRs through optimizer hooks; they must equal ``cptlaw.cpt_areas`` of the
recorded LRs and of the LRs ``lr_from_scheduler`` lists ahead of time.
"""

from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import cptlaw  # noqa: E402
from cptlaw.integrations.torch import lr_from_scheduler, track_optimizer  # noqa: E402
from cptlaw.tracker import Tracker  # noqa: E402

SPLITS = ("by_source", "by_time", "restart")


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Tiny models run fastest single-threaded (and do not fight other test processes)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

PEAK = 3e-3
PT_WARM, PT_STABLE, PT_DECAY = 20, 100, 80  # 200 PT steps
CPT_WARM, CPT_STEPS = 10, 100  # 100 CPT steps


def wsd(step):
    if step < PT_WARM:
        return (step + 1) / PT_WARM
    if step < PT_WARM + PT_STABLE:
        return 1.0
    k = step - PT_WARM - PT_STABLE
    return 1.0 - 0.9 * min(k + 1, PT_DECAY) / PT_DECAY  # linear decay to 10% of the peak


def cosine_rewarm(step):
    if step < CPT_WARM:
        return 0.1 + 0.9 * (step + 1) / CPT_WARM  # re-warmup from the PT's final LR
    k = step - CPT_WARM
    return 0.5 * (1 + math.cos(math.pi * min(k, CPT_STEPS - CPT_WARM) / (CPT_STEPS - CPT_WARM)))


def task(shift, n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    w = torch.linspace(-1, 1, 8) + shift
    y = torch.tanh(x @ w).unsqueeze(1) + 0.05 * torch.randn(n, 1, generator=g)
    return x, y


def make_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.GELU(), torch.nn.Linear(32, 1))


def train(model, opt, sched, data, steps, batch=32):
    x, y = data
    losses = []
    for s in range(steps):
        i = (s * batch) % len(x)
        xb, yb = x[i : i + batch], y[i : i + batch]
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(xb), yb)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    return losses


def assert_areas(tracker, lr_pt, lr_cpt, split):
    off = cptlaw.cpt_areas(lr_pt, lr_cpt, split=split)
    for name, arr in zip(("s1_pt", "s2_pt", "s1_cpt", "s2_cpt"), off):
        got, exp = getattr(tracker, name), float(arr[-1])
        assert abs(got - exp) <= 1e-12 * abs(exp) + 1e-15, (split, name, got, exp)


def test_pt_then_cpt_training_run():
    model = make_model()
    pt_data, cpt_data = task(0.0, seed=1), task(1.5, seed=2)
    trackers = {s: Tracker(split=s) for s in SPLITS}
    recorder = Tracker(record=True)

    opt = torch.optim.AdamW(model.parameters(), lr=PEAK, weight_decay=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, wsd)
    planned_pt = lr_from_scheduler(sched, PT_WARM + PT_STABLE + PT_DECAY)
    handles = [track_optimizer(t, opt) for t in (*trackers.values(), recorder)]
    pt_losses = train(model, opt, sched, pt_data, len(planned_pt))
    for h in handles:
        h.remove()
    assert np.mean(pt_losses[-20:]) < 0.5 * np.mean(pt_losses[:20])  # it did train

    for t in (*trackers.values(), recorder):
        t.start_cpt()
    opt2 = torch.optim.AdamW(model.parameters(), lr=PEAK, weight_decay=0.1)  # CPT: fresh optimizer
    sched2 = torch.optim.lr_scheduler.LambdaLR(opt2, cosine_rewarm)
    planned_cpt = lr_from_scheduler(sched2, CPT_STEPS)
    for t in (*trackers.values(), recorder):
        track_optimizer(t, opt2)
    cpt_losses = train(model, opt2, sched2, cpt_data, CPT_STEPS)
    assert np.mean(cpt_losses[-20:]) < np.mean(cpt_losses[:5])

    T = recorder.transfer_step
    rec_pt, rec_cpt = recorder.lr_history[:T], recorder.lr_history[T:]
    assert T == len(planned_pt) and len(rec_cpt) == CPT_STEPS
    # the hook recorded exactly the LRs the scheduler planned, which follow the lambdas
    np.testing.assert_array_equal(rec_pt, planned_pt)
    np.testing.assert_array_equal(rec_cpt, planned_cpt)
    np.testing.assert_allclose(rec_pt, [PEAK * wsd(s) for s in range(T)], rtol=1e-15)
    np.testing.assert_allclose(rec_cpt, [PEAK * cosine_rewarm(s) for s in range(CPT_STEPS)], rtol=1e-15)
    assert rec_cpt[0] < rec_cpt[CPT_WARM - 1]  # there is a re-warmup

    for split, t in trackers.items():
        assert t.step_count == T + CPT_STEPS
        assert_areas(t, rec_pt, rec_cpt, split)
        assert_areas(t, planned_pt, planned_cpt, split)
    # the PT schedule ends annealed but not flat, so the splits really differ
    assert trackers["by_source"].s2_pt > trackers["by_time"].s2_pt
    assert trackers["by_time"].s2_cpt != trackers["restart"].s2_cpt


def test_lr_from_scheduler_leaves_caller_untouched():
    model = make_model()
    opt = torch.optim.AdamW(model.parameters(), lr=PEAK)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, wsd)
    tracker = Tracker()
    track_optimizer(tracker, opt)
    train(model, opt, sched, task(0.0), 25)  # mid-run, with optimizer state
    state = copy.deepcopy(opt.state_dict())
    sched_state = copy.deepcopy(sched.state_dict())
    lr_before = opt.param_groups[0]["lr"]
    exp_avg = opt.state[next(model.parameters())]["exp_avg"]

    ahead = lr_from_scheduler(sched, 50)

    assert tracker.step_count == 25  # the copy never ran the caller's step hooks
    assert opt.param_groups[0]["lr"] == lr_before
    assert sched.state_dict() == sched_state and sched.last_epoch == 25
    assert opt.state[next(model.parameters())]["exp_avg"] is exp_avg
    torch.testing.assert_close(opt.state_dict()["state"], state["state"], rtol=0, atol=0)
    np.testing.assert_array_equal(ahead, [PEAK * wsd(s) for s in range(25, 75)])
    # stepping the real scheduler afterwards gives the same LRs
    train(model, opt, sched, task(0.0), 50)
    assert tracker.step_count == 75


def test_lr_from_scheduler_builtin_schedulers():
    p = [torch.nn.Parameter(torch.zeros(3))]

    def fresh(kind):
        opt = torch.optim.SGD(p, lr=0.1, momentum=0.9)
        S = torch.optim.lr_scheduler
        if kind == "sequential":
            return S.SequentialLR(
                opt, [S.LinearLR(opt, 0.1, 1.0, total_iters=5), S.CosineAnnealingLR(opt, T_max=20)], milestones=[5]
            )
        if kind == "onecycle":
            return S.OneCycleLR(opt, max_lr=0.1, total_steps=30)
        return S.StepLR(opt, step_size=7, gamma=0.5)

    for kind in ("sequential", "onecycle", "step"):
        sched = fresh(kind)
        got = lr_from_scheduler(sched, 30)
        ref_sched = fresh(kind)
        expected = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # no optimizer.step() in this reference loop
            for k in range(30):
                expected.append(ref_sched.optimizer.param_groups[0]["lr"])
                if k < 29:
                    ref_sched.step()
        np.testing.assert_array_equal(got, expected, err_msg=kind)
        assert sched.last_epoch == fresh(kind).last_epoch  # not advanced
    assert lr_from_scheduler(fresh("step"), 0).shape == (0,)


def test_param_groups_and_tensor_lr():
    w1, w2 = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(2))
    opt = torch.optim.Adam([{"params": [w1]}, {"params": [w2], "lr": torch.tensor(0.02)}], lr=0.01, foreach=False)
    t0, t1 = Tracker(record=True), Tracker(record=True)
    track_optimizer(t0, opt, param_group=0)
    track_optimizer(t1, opt, param_group=1)
    for _ in range(3):
        opt.zero_grad()
        (w1.sum() + w2.sum()).backward()
        opt.step()
    assert t0.lr_history == [0.01] * 3
    assert t1.lr_history == [pytest.approx(0.02)] * 3 and all(type(v) is float for v in t1.lr_history)


def test_torch_integration_errors():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(TypeError, match="^tracker"):
        track_optimizer(object(), opt)
    with pytest.raises(TypeError, match="^optimizer"):
        track_optimizer(Tracker(), object())
    with pytest.raises(ValueError, match="^param_group"):
        track_optimizer(Tracker(), opt, param_group=1)
    sched = torch.optim.lr_scheduler.StepLR(opt, 3)
    with pytest.raises(ValueError, match="^steps"):
        lr_from_scheduler(sched, -1)
    with pytest.raises(ValueError, match="^param_group"):
        lr_from_scheduler(sched, 3, param_group=2)
    with pytest.raises(TypeError, match="^scheduler"):
        lr_from_scheduler(torch.optim.lr_scheduler.ReduceLROnPlateau(opt), 3)
    with pytest.raises(TypeError, match="^scheduler"):
        lr_from_scheduler(object(), 3)
    # a bad LR in the optimizer surfaces from the hook, naming lr
    t = Tracker()
    track_optimizer(t, opt)
    opt.param_groups[0]["lr"] = float("nan")
    with pytest.raises(ValueError, match="^lr"):
        opt.step()


def test_hf_callback_fake_trainer_loop():
    transformers = pytest.importorskip("transformers")
    from transformers import TrainerControl, TrainerState, get_cosine_schedule_with_warmup, get_wsd_schedule

    from cptlaw.integrations.hf import CPTLawCallback

    assert issubclass(CPTLawCallback, transformers.TrainerCallback)
    model = make_model()
    data = {"pt": task(0.0, seed=3), "cpt": task(1.0, seed=4)}
    n_pt, n_cpt = 60, 40

    def phase(name):
        opt = torch.optim.AdamW(model.parameters(), lr=PEAK)
        if name == "pt":
            sched = get_wsd_schedule(opt, num_warmup_steps=10, num_decay_steps=20, num_training_steps=n_pt, min_lr_ratio=0.1)
        else:
            sched = get_cosine_schedule_with_warmup(opt, num_warmup_steps=5, num_training_steps=n_cpt)
        return opt, sched

    opt, sched = phase("pt")
    plan_pt = lr_from_scheduler(sched, n_pt)
    via_hook = Tracker(split="by_time")
    handle = track_optimizer(via_hook, opt)
    cb = CPTLawCallback(Tracker(split="by_time"), start_cpt_at_step=n_pt)
    cb_sched_only = CPTLawCallback(Tracker(split="by_time"), start_cpt_at_step=n_pt)
    state, control = TrainerState(), TrainerControl()
    plan_cpt = None
    for step in range(n_pt + n_cpt):  # what Trainer._inner_training_loop does, per optimizer step
        if step == n_pt:
            handle.remove()
            via_hook.start_cpt()
            opt, sched = phase("cpt")
            plan_cpt = lr_from_scheduler(sched, n_cpt)
            handle = track_optimizer(via_hook, opt)
        kw = dict(model=model, optimizer=opt, lr_scheduler=sched)
        cb.on_step_begin(None, state, control, **kw)
        cb_sched_only.on_step_begin(None, state, control, lr_scheduler=sched)
        x, y = data["pt" if step < n_pt else "cpt"]
        i = (step * 16) % len(x)
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x[i : i + 16]), y[i : i + 16]).backward()
        cb.on_pre_optimizer_step(None, state, control, **kw)
        opt.step()
        cb.on_optimizer_step(None, state, control, **kw)
        sched.step()
        state.global_step += 1
        cb.on_step_end(None, state, control, **kw)
        cb_sched_only.on_step_end(None, state, control, lr_scheduler=sched)

    for t in (cb.tracker, cb_sched_only.tracker):
        assert t.transfer_step == n_pt and t.step_count == n_pt + n_cpt
        assert t.state_dict() == via_hook.state_dict()  # same LRs as the optimizer really used
        assert_areas(t, plan_pt, plan_cpt, "by_time")
    assert plan_pt[0] < plan_pt[9] < plan_pt[10] == PEAK and 0.1 * PEAK < plan_pt[-1] < 0.11 * PEAK

    with pytest.raises(RuntimeError, match="on_step_begin"):
        cb.on_step_end(None, state, control, optimizer=opt)
    with pytest.raises(TypeError, match="^tracker"):
        CPTLawCallback(None)
    with pytest.raises(ValueError, match="^start_cpt_at_step"):
        CPTLawCallback(Tracker(), start_cpt_at_step=-1)
