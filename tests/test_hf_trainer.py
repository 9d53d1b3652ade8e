"""The Hugging Face callbacks inside a real ``transformers.Trainer`` (CPU, a few steps).

A tiny GPT-2 built from a config (about 4k parameters, no download) is trained on random
tokens for a few optimizer steps with the Trainer's own optimizer and LR scheduler.
``CPTLawCallback`` must record exactly the LRs the optimizer applied (checked with a plain
PyTorch step hook and against the scheduler's LR sequence computed separately), so that the
tracker's areas equal ``cptlaw.cpt_areas`` of that sequence; ``LivePredictionCallback``
must turn the Trainer's evaluations into observations and a prediction with a band.
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("accelerate")  # transformers.Trainer needs it (the hf extra brings it)

import cptlaw  # noqa: E402
from cptlaw.integrations.hf import CPTLawCallback, LivePredictionCallback  # noqa: E402
from cptlaw.live import BandWarning, LivePredictor, PlanWarning  # noqa: E402

STEPS, PT_STEPS, WARMUP, PEAK = 16, 8, 3, 1e-2


@pytest.fixture(autouse=True)
def one_torch_thread():
    """A 4k-parameter model gains nothing from threads; on a busy machine they only wait."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)

SEQ, VOCAB = 16, 64


def tiny_model():
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=VOCAB, n_positions=SEQ)
    return transformers.GPT2LMHeadModel(cfg)


def token_rows(n, seed):
    """Rows of a small alphabet (8 of the 64 tokens), so the loss falls within a few steps."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 8, (n, SEQ), generator=g)
    return [{"input_ids": r, "labels": r} for r in x]


def training_args(tmp_path, grad_accum=1, scheduler="cosine"):
    return transformers.TrainingArguments(
        output_dir=str(tmp_path), max_steps=STEPS, per_device_train_batch_size=8 // grad_accum,
        gradient_accumulation_steps=grad_accum, learning_rate=PEAK, lr_scheduler_type=scheduler,
        warmup_steps=WARMUP, eval_strategy="steps", eval_steps=1, logging_strategy="no", save_strategy="no",
        report_to=[], use_cpu=True, seed=0, data_seed=0, disable_tqdm=True, dataloader_num_workers=0,
    )


def scheduler_lrs(args):
    """The LR of each optimizer step under the Trainer's scheduler, computed here without a Trainer."""
    param = torch.zeros(1, requires_grad=True)
    opt = torch.optim.AdamW([param], lr=args.learning_rate)
    sched = transformers.get_scheduler(args.lr_scheduler_type, opt, num_warmup_steps=args.warmup_steps,
                                       num_training_steps=args.max_steps)
    out = []
    for _ in range(args.max_steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return np.array(out)


class RecordAppliedLR(transformers.TrainerCallback):
    """A plain PyTorch pre-hook on the Trainer's optimizer: the LR each optimizer.step() applies."""

    def __init__(self):
        self.lrs = []

    def on_train_begin(self, args, state, control, optimizer=None, **kwargs):
        inner = getattr(optimizer, "optimizer", optimizer)  # accelerate wraps the torch optimizer
        inner.register_step_pre_hook(lambda opt, a, k: self.lrs.append(float(opt.param_groups[0]["lr"])))


@pytest.mark.parametrize("grad_accum, scheduler", [(1, "cosine"), (2, "linear")])
def test_trainer_lrs_areas_and_live_prediction(tmp_path, grad_accum, scheduler):
    args = training_args(tmp_path, grad_accum, scheduler)
    lrs = scheduler_lrs(args)
    assert lrs[0] == 0.0 and lrs.max() == pytest.approx(PEAK)  # a warmup from 0
    tracker = cptlaw.Tracker(record=True)
    live = LivePredictor(tracker, cptlaw.AnnealingLaw, planned_lr_pt=lrs[:PT_STEPS], planned_lr_cpt=lrs[PT_STEPS:])
    applied = RecordAppliedLR()
    trainer = transformers.Trainer(
        model=tiny_model(), args=args, train_dataset=token_rows(64, 1),
        eval_dataset={"pt": token_rows(8, 2), "cpt": token_rows(8, 3)},
        callbacks=[applied, CPTLawCallback(tracker, start_cpt_at_step=PT_STEPS), LivePredictionCallback(live)],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", PlanWarning)  # the run follows the plan
        warnings.simplefilter("ignore", BandWarning)  # a real tiny model need not follow the law
        trainer.train()

    # the LRs the optimizer applied, the scheduler's sequence and the tracker's record agree
    assert len(applied.lrs) == STEPS
    assert tracker.lr_history == applied.lrs
    np.testing.assert_allclose(applied.lrs, lrs, rtol=1e-12, atol=0)
    assert tracker.step_count == STEPS and tracker.transfer_step == PT_STEPS
    a = cptlaw.cpt_areas(lrs[:PT_STEPS], lrs[PT_STEPS:], tracker.decay, tracker.split)
    scale = float(lrs.sum())
    for name in ("s1_pt", "s2_pt", "s1_cpt", "s2_cpt"):
        assert getattr(tracker, name) == pytest.approx(float(getattr(a, name)[-1]), rel=1e-12, abs=1e-15 * scale)
    pt_only = cptlaw.areas(lrs[:PT_STEPS], tracker.decay)
    assert tracker.s1_pt == pytest.approx(float(pt_only.s1[-1]), rel=1e-12)

    # one observation per evaluation and validation set, except the one after step 1 (LR 0: S1 = 0)
    for v in ("pt", "cpt"):
        obs = live.observations(v)
        assert obs["steps"].tolist() == list(range(2, STEPS + 1))
        np.testing.assert_allclose(obs["s1_pt"] + obs["s1_cpt"], np.cumsum(lrs)[1:], rtol=1e-12)
        assert np.all(np.diff(obs["loss"]) < 0)  # the tiny model does learn
        p = live.prediction(v)
        assert p.available, p.reason
        assert p.step == STEPS and p.n_points == STEPS - 1
        assert p.lower < p.loss < p.upper and np.isfinite([p.lower, p.upper]).all()
        # the final observation lies close to the predicted final loss
        assert abs(obs["loss"][-1] - p.loss) < 0.1 * p.loss


def test_trainer_warnings_point_at_the_train_call(tmp_path):
    """Warnings raised inside the callbacks point at the line that called trainer.train()."""
    args = training_args(tmp_path)
    lrs = scheduler_lrs(args)
    # a warmup convention whose peak is below the schedule's (a tracker warning), start_cpt
    # never called although the plan has a CPT phase (a PlanWarning), and a validation set
    # the Trainer does not evaluate (the callback's own warning)
    tracker = cptlaw.Tracker(warmup_as_peak=WARMUP, peak_lr=PEAK / 2)
    live = LivePredictor(tracker, cptlaw.AnnealingLaw, planned_lr_pt=lrs[:PT_STEPS], planned_lr_cpt=lrs[PT_STEPS:])
    other = LivePredictor(planned_lr_pt=lrs, valsets=("held_out",))
    trainer = transformers.Trainer(
        model=tiny_model(), args=args, train_dataset=token_rows(64, 1),
        eval_dataset={"pt": token_rows(8, 2), "cpt": token_rows(8, 3)},
        callbacks=[CPTLawCallback(tracker), LivePredictionCallback(live), LivePredictionCallback(other)],
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = inspect.currentframe().f_lineno + 1
        trainer.train()
    ours = {}
    for w in caught:
        text = str(w.message)
        for key in ("exceeds peak_lr", "does not follow the plan", "LivePredictionCallback: none of the metrics"):
            if key in text:
                ours[key] = w
    assert set(ours) == {"exceeds peak_lr", "does not follow the plan", "LivePredictionCallback: none of the metrics"}
    for w in ours.values():
        assert (w.filename, w.lineno) == (__file__, line), (w.filename, w.lineno, str(w.message)[:80])
    assert ours["does not follow the plan"].category is PlanWarning


def test_public_names_of_the_integrations():
    import cptlaw.integrations.hf as hf
    import cptlaw.integrations.torch as it

    for mod, names in ((it, ["lr_from_scheduler", "observe_every", "track_optimizer"]),
                       (hf, ["CPTLawCallback", "LivePredictionCallback"])):
        assert sorted(mod.__all__) == names
        assert [n for n in dir(mod) if not n.startswith("_")] == names  # no np, copy, warnings, ...
        namespace = {}
        exec(f"from {mod.__name__} import *", namespace)
        assert sorted(k for k in namespace if k != "__builtins__") == names
