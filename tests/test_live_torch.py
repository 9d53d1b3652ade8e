"""Live prediction on a real (tiny) PyTorch training run, and the Hugging Face callback.

A tiny bigram language model (embedding + linear head over 32 tokens) is pre-trained on
token pairs from one Markov chain with a WSD schedule, then continually pre-trained on a
second chain (30% of the first mixed with 70% of another) with a fresh optimizer and a
cosine schedule with re-warmup. Fresh mini-batches are sampled every step, so SGD noise
gives the annealing effect the law models; the D_pt loss rises during CPT (forgetting)
and the D_cpt loss falls. Validation losses on fixed held-out pairs of both chains are
evaluated every 10 optimizer steps and fed to a ``LivePredictor`` through the PyTorch
hook (``observe_every``) or the Hugging Face ``LivePredictionCallback``.
"""

from __future__ import annotations

import inspect
import math
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import cptlaw  # noqa: E402
from cptlaw.integrations.torch import lr_from_scheduler, observe_every, track_optimizer  # noqa: E402
from cptlaw.live import BandWarning, LivePredictor, PlanWarning  # noqa: E402

V = 32  # vocabulary
PEAK = 1e-2
PT_WARM, PT_STABLE, PT_DECAY = 20, 130, 50  # 200 PT steps
CPT_WARM, CPT_STEPS = 10, 200
N_PT = PT_WARM + PT_STABLE + PT_DECAY
EVAL_EVERY = 10
BATCH = 64


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def wsd(step):
    if step < PT_WARM:
        return (step + 1) / PT_WARM
    if step < PT_WARM + PT_STABLE:
        return 1.0
    return 1.0 - 0.9 * min(step - PT_WARM - PT_STABLE + 1, PT_DECAY) / PT_DECAY


def cosine_rewarm(step):
    if step < CPT_WARM:
        return 0.1 + 0.9 * (step + 1) / CPT_WARM  # re-warmup from the PT's final LR
    k = min(step - CPT_WARM, CPT_STEPS - CPT_WARM)
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * k / (CPT_STEPS - CPT_WARM)))


def chain(seed):
    """A random next-token distribution per token, peaked (Dirichlet-like weights)."""
    a = torch.rand(V, V, generator=torch.Generator().manual_seed(seed)) ** (1 / 0.3)
    return a / a.sum(1, keepdim=True)


CHAINS = {"pt": chain(1)}
CHAINS["cpt"] = 0.3 * CHAINS["pt"] + 0.7 * chain(2)


def sample(name, n, gen):
    prev = torch.randint(0, V, (n,), generator=gen)
    return prev, torch.multinomial(CHAINS[name][prev], 1, generator=gen).squeeze(1)


_val_gen = torch.Generator().manual_seed(99)
VAL = {name: sample(name, 4096, _val_gen) for name in ("pt", "cpt")}


def make_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Embedding(V, 16), torch.nn.Linear(16, V))


def evaluator(model):
    def evaluate():
        model.eval()
        out = {name: torch.nn.functional.cross_entropy(model(x), y) for name, (x, y) in VAL.items()}
        model.train()
        return out  # 0-d tensors: the predictor takes them as numbers

    return evaluate


def train(model, opt, sched, name, steps, gen):
    for _ in range(steps):
        x, y = sample(name, BATCH, gen)
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        sched.step()


def phase(model, name):
    opt = torch.optim.AdamW(model.parameters(), lr=PEAK, weight_decay=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, wsd if name == "pt" else cosine_rewarm)
    return opt, sched


def plans():
    """The planned per-step LRs of both phases, listed ahead from throwaway schedulers."""
    return (lr_from_scheduler(phase(make_model(), "pt")[1], N_PT),
            lr_from_scheduler(phase(make_model(), "cpt")[1], CPT_STEPS))


def assert_finite_band(p):
    assert p.available, p.reason
    vals = (p.loss, p.lower, p.upper, p.stderr, p.noise)
    assert all(math.isfinite(v) for v in vals), p
    assert p.lower < p.loss < p.upper and p.stderr >= 0 and p.noise > 0


def test_live_prediction_on_a_real_pt_cpt_run():
    model = make_model()
    plan_pt, plan_cpt = plans()
    tracker = cptlaw.Tracker()
    live = LivePredictor(tracker, planned_lr_pt=plan_pt, planned_lr_cpt=plan_cpt)
    final_step = N_PT + CPT_STEPS
    assert live.final_step == final_step

    evaluate, gen = evaluator(model), torch.Generator().manual_seed(5)
    seen = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        opt, sched = phase(model, "pt")
        handles = [track_optimizer(tracker, opt), observe_every(live, opt, evaluate, EVAL_EVERY)]
        train(model, opt, sched, "pt", N_PT, gen)
        for h in handles:
            h.remove()
        tracker.start_cpt()
        opt, sched = phase(model, "cpt")
        observe_every(live, opt, evaluate, EVAL_EVERY)  # registered first: the tracker's pre-hook still runs first
        track_optimizer(tracker, opt)
        for k in range(CPT_STEPS // EVAL_EVERY):
            train(model, opt, sched, "cpt", EVAL_EVERY, gen)
            seen[tracker.step_count] = live.prediction()
    assert not [w for w in caught if issubclass(w.category, PlanWarning)]  # the run followed the plan
    assert sum(issubclass(w.category, BandWarning) for w in caught) <= 2  # the run follows the law

    for v in ("pt", "cpt"):
        obs = live.observations(v)
        np.testing.assert_array_equal(obs["steps"], np.arange(EVAL_EVERY, final_step + 1, EVAL_EVERY))
        # it did train: PT lowers the D_pt loss; CPT raises it (forgetting) and lowers the D_cpt loss
        t = N_PT // EVAL_EVERY
        if v == "pt":
            assert obs["loss"][t - 1] < obs["loss"][0] - 0.3
            assert obs["loss"][-1] > obs["loss"][t - 1] + 0.1
        else:
            assert obs["loss"][-1] < obs["loss"][t - 1] - 0.2
        # finite bands from a handful of CPT evaluations on, to the end
        avail = [p[v].available for p in seen.values()]
        first = avail.index(True)
        assert first <= 6, [p[v].reason for p in list(seen.values())[:first]]
        for p in list(seen.values())[first:]:
            if p[v].available:
                assert_finite_band(p[v])
        final = live.prediction(v)
        assert_finite_band(final)
        assert final.step == final_step and final.n_points == len(obs["steps"])
        assert abs(final.loss - obs["loss"][-1]) < 3 * final.noise + 0.01
        # half-way through CPT, the final loss was already predicted within a few hundredths
        mid = seen[N_PT + CPT_STEPS // 2][v]
        assert mid.available and abs(mid.loss - obs["loss"][-1]) < 0.05, (mid, obs["loss"][-1])
        # bands over the whole planned run
        curve = live.predict(np.arange(EVAL_EVERY, final_step + 1, 5), v)
        assert curve.available and np.all(np.isfinite(curve.lower)) and np.all(curve.lower < curve.upper)


def test_observe_every_without_tracker():
    """Without a tracker the hook counts steps itself, from start_step (the PT length for a
    CPT-only loop); the areas then come from the plan."""
    model = make_model()
    plan_pt = np.full(50, PEAK)
    opt, sched = phase(model, "cpt")
    plan_cpt = lr_from_scheduler(sched, 60)
    live = LivePredictor(planned_lr_pt=plan_pt, planned_lr_cpt=plan_cpt, valsets=("cpt",))
    handle = observe_every(live, opt, lambda: evaluator(model)()["cpt"], 20, start_step=50)
    train(model, opt, sched, "cpt", 60, torch.Generator().manual_seed(6))
    handle.remove()
    assert live.observations("cpt")["steps"].tolist() == [60, 80, 100]
    with pytest.raises(TypeError, match="^predictor"):
        observe_every(object(), opt, lambda: 1.0, 10)
    with pytest.raises(ValueError, match="^every"):
        observe_every(live, opt, lambda: 1.0, 0)
    with pytest.raises(TypeError, match="^evaluate"):
        observe_every(live, opt, None, 10)
    # with a tracker that this optimizer does not feed, the hook says so
    live2 = LivePredictor(cptlaw.Tracker(), planned_lr_pt=plan_pt, valsets=("cpt",))
    live2.tracker.step(PEAK)
    observe_every(live2, opt, lambda: 1.0, 1)
    opt.step()
    with pytest.raises(RuntimeError, match="track_optimizer"):
        opt.step()


def test_hf_live_prediction_callback():
    transformers = pytest.importorskip("transformers")
    from transformers import TrainerControl, TrainerState

    from cptlaw.integrations.hf import CPTLawCallback, LivePredictionCallback

    assert issubclass(LivePredictionCallback, transformers.TrainerCallback)
    model = make_model()
    n_pt, n_cpt = N_PT, 100
    opt, sched = phase(model, "pt")
    plan_pt = lr_from_scheduler(sched, n_pt)
    plan_cpt = lr_from_scheduler(phase(make_model(), "cpt")[1], n_cpt)
    tracker = cptlaw.Tracker()
    live = LivePredictor(tracker, planned_lr_pt=plan_pt, planned_lr_cpt=plan_cpt)
    stops = []
    live_cb = LivePredictionCallback(live)
    callbacks = [CPTLawCallback(tracker, start_cpt_at_step=n_pt), live_cb]
    state, control = TrainerState(), TrainerControl()
    evaluate, gen = evaluator(model), torch.Generator().manual_seed(7)
    for step in range(n_pt + n_cpt):  # what Trainer._inner_training_loop does, per optimizer step
        if step == n_pt:
            opt, sched = phase(model, "cpt")
        kw = dict(model=model, optimizer=opt, lr_scheduler=sched)
        for cb in callbacks:
            cb.on_step_begin(None, state, control, **kw)
        x, y = sample("pt" if step < n_pt else "cpt", BATCH, gen)
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        for cb in callbacks:
            cb.on_pre_optimizer_step(None, state, control, **kw)
        opt.step()
        sched.step()
        state.global_step += 1
        for cb in callbacks:
            cb.on_step_end(None, state, control, **kw)
        if state.global_step % EVAL_EVERY == 0:
            # Trainer.evaluate with eval_dataset={"pt": ..., "cpt": ...}: one on_evaluate per set
            with torch.no_grad():
                losses = evaluate()
            for name, loss in losses.items():
                metrics = {f"eval_{name}_loss": float(loss), f"eval_{name}_runtime": 0.01, "epoch": 1.0}
                for cb in callbacks:
                    cb.on_evaluate(None, state, control, metrics=metrics)
            stops.append(control.should_training_stop)
    assert tracker.step_count == n_pt + n_cpt and tracker.transfer_step == n_pt
    for v in ("pt", "cpt"):
        assert live.observations(v)["steps"].tolist() == list(range(EVAL_EVERY, n_pt + n_cpt + 1, EVAL_EVERY))
        assert_finite_band(live.prediction(v))
    assert not any(stops)  # stop_on_excursion is off by default

    # stop_on_excursion: an evaluation far outside the band stops training
    stopper = LivePredictionCallback(live, stop_on_excursion=True)
    control = TrainerControl()
    with pytest.warns(BandWarning):
        stopper.on_evaluate(None, state, control, metrics={"eval_cpt_loss": 9.0})
    assert control.should_training_stop
    # metric names that match no validation set: one RuntimeWarning, nothing observed
    n = len(live.observations("pt")["steps"])
    with pytest.warns(RuntimeWarning, match="metric_keys"):
        live_cb.on_evaluate(None, state, control, metrics={"eval_loss": 1.0})
    assert len(live.observations("pt")["steps"]) == n
    # custom metric names, and a predictor without a tracker: steps from global_step + offset
    live2 = LivePredictor(planned_lr_pt=plan_pt, planned_lr_cpt=plan_cpt, valsets=("general",))
    cb2 = LivePredictionCallback(live2, metric_keys={"general": "eval_pt_loss"}, step_offset=n_pt)
    st2 = TrainerState()
    cb2.on_evaluate(None, st2, control, metrics={"eval_pt_loss": 0.5})  # before any step (offset counts)
    st2.global_step = 10
    cb2.on_evaluate(None, st2, control, metrics={"eval_pt_loss": 0.4})
    assert live2.observations("general")["steps"].tolist() == [n_pt, n_pt + 10]
    with pytest.raises(TypeError, match="^predictor"):
        LivePredictionCallback(tracker)
    with pytest.raises(ValueError, match="^metric_keys"):
        LivePredictionCallback(live, metric_keys={"general": "x"})
    with pytest.raises(ValueError, match="^step_offset"):
        LivePredictionCallback(live, step_offset=5)


def test_hook_warnings_point_at_the_optimizer_step_line():
    """A warning raised inside the hooks (tracker, predictor) points at the user's optimizer.step()."""
    param = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.SGD([param], lr=PEAK)
    tracker = cptlaw.Tracker(warmup_as_peak=5, peak_lr=PEAK / 2)  # the LR exceeds peak_lr: a RuntimeWarning
    live = LivePredictor(tracker, cptlaw.AnnealingLaw, planned_lr_pt=np.full(10, PEAK / 4), valsets=("loss",))
    track_optimizer(tracker, opt)
    observe_every(live, opt, lambda: 3.0, 1)  # the run does not follow the plan: a PlanWarning
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = inspect.currentframe().f_lineno + 1
        opt.step()
    kinds = {w.category for w in caught}
    assert kinds == {RuntimeWarning, PlanWarning}, [str(w.message) for w in caught]
    for w in caught:
        assert (w.filename, w.lineno) == (__file__, line), (w.filename, w.lineno)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an "error" filter still stops the run at the user's line
        tracker2 = cptlaw.Tracker(warmup_as_peak=5, peak_lr=PEAK / 2)
        track_optimizer(tracker2, opt)
        with pytest.raises(RuntimeWarning, match="exceeds peak_lr"):
            opt.step()


def test_observe_every_skips_steps_before_any_lr_was_applied():
    """After the first step of a warmup from 0, S1 = 0: the law is not defined, no observation."""
    param = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.SGD([param], lr=PEAK)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: k / 3 if k < 3 else 1.0)
    lrs = lr_from_scheduler(sched, 8)
    assert lrs[0] == 0.0
    tracker = cptlaw.Tracker()
    live = LivePredictor(tracker, cptlaw.AnnealingLaw, planned_lr_pt=lrs, valsets=("loss",))
    calls = []
    track_optimizer(tracker, opt)
    observe_every(live, opt, lambda: calls.append(1) or 3.0 - 0.1 * len(calls), 1)
    for _ in range(8):
        opt.step()
        sched.step()
    assert live.observations("loss")["steps"].tolist() == list(range(2, 9))
    assert len(calls) == 7  # and no evaluation was run for the skipped step
