"""Hugging Face ``transformers`` integration: ``TrainerCallback`` classes.

- ``CPTLawCallback`` feeds a :class:`cptlaw.Tracker` with the LR of every optimizer step.
- ``LivePredictionCallback`` feeds the evaluation losses the Trainer computes to a
  :class:`cptlaw.live.LivePredictor`, which refits and predicts the final losses.

``transformers`` is optional for cptlaw. Importing this module never imports it; the
callback classes are built on first access, and that access raises an ImportError
naming the missing package when ``transformers`` is not installed.

Usage::

    from cptlaw.integrations.hf import CPTLawCallback, LivePredictionCallback
    tracker = cptlaw.Tracker()
    live = cptlaw.live.LivePredictor(tracker, planned_lr_pt=lr_pt, planned_lr_cpt=lr_cpt)
    trainer = Trainer(..., eval_dataset={"pt": pt_val, "cpt": cpt_val},
                      callbacks=[CPTLawCallback(tracker, start_cpt_at_step=10_000),
                                 LivePredictionCallback(live)])
    trainer.train()
    tracker.as_dict()     # areas after the last optimizer step
    live.prediction()     # predicted final losses with bands
"""

from __future__ import annotations

from .. import _validate
from ..tracker import Tracker
from ._warn import at_user_line, warn

__all__ = ["CPTLawCallback", "LivePredictionCallback"]


def __dir__():
    return sorted(__all__)


def _build():
    try:
        from transformers import TrainerCallback
    except ImportError as exc:
        raise ImportError(
            "cptlaw.integrations.hf.CPTLawCallback needs Hugging Face transformers; "
            "install it (pip install transformers or cptlaw[hf])"
        ) from exc

    class CPTLawCallback(TrainerCallback):
        """Feed a :class:`cptlaw.Tracker` with the LR of every Trainer optimizer step.

        Parameters
        ----------
        tracker : cptlaw.Tracker
        start_cpt_at_step : int, optional
            The first ``start_cpt_at_step`` optimizer steps of this Trainer (counted by
            ``state.global_step``) are PT, later ones CPT: ``tracker.start_cpt()`` is
            called just before the step with 0-based index ``start_cpt_at_step`` is
            recorded. ``0`` makes the whole run CPT (the tracker must already hold the
            PT steps, e.g. restored with ``load_state_dict`` from the PT run). ``None``
            (default): never switch here; call ``tracker.start_cpt()`` yourself.
        param_group : int
            Which optimizer parameter group's LR to record.

        Notes
        -----
        The Trainer steps its LR scheduler right after ``optimizer.step()`` and before
        ``on_step_end``, so at ``on_step_end`` the optimizer (and
        ``lr_scheduler.get_last_lr()``) already hold the *next* step's LR. The
        callback therefore reads the LR before the step, at ``on_step_begin`` and again
        at ``on_pre_optimizer_step`` (from ``kwargs["optimizer"].param_groups``, or
        ``kwargs["lr_scheduler"].get_last_lr()`` when no optimizer is passed), and
        records it at ``on_step_end``. A step whose optimizer update was skipped
        (mixed-precision overflow) is still counted, as the Trainer counts it in
        ``global_step``. Save ``tracker.state_dict()`` with your checkpoints to resume
        exactly.
        """

        def __init__(self, tracker: Tracker, *, start_cpt_at_step=None, param_group: int = 0):
            if not isinstance(tracker, Tracker):
                raise TypeError(f"tracker: expected a cptlaw.Tracker, got {type(tracker).__name__}")
            if start_cpt_at_step is not None:
                start_cpt_at_step = _validate.integer(start_cpt_at_step, "start_cpt_at_step", lo=0)
            self.tracker = tracker
            self.start_cpt_at_step = start_cpt_at_step
            self.param_group = _validate.integer(param_group, "param_group", lo=0)
            self._pending = None

        def _read_lr(self, kwargs):
            g = self.param_group
            optimizer = kwargs.get("optimizer")
            groups = getattr(optimizer, "param_groups", None) if optimizer is not None else None
            if groups:
                if g >= len(groups):
                    raise ValueError(f"param_group: the optimizer has {len(groups)} parameter group(s), got index {g}")
                return groups[g]["lr"]
            scheduler = kwargs.get("lr_scheduler")
            if scheduler is not None and hasattr(scheduler, "get_last_lr"):
                lrs = scheduler.get_last_lr()
                if g >= len(lrs):
                    raise ValueError(f"param_group: the scheduler has {len(lrs)} learning rate(s), got index {g}")
                return lrs[g]
            raise RuntimeError("CPTLawCallback: the Trainer passed neither an optimizer nor an lr_scheduler")

        def on_step_begin(self, args, state, control, **kwargs):
            self._pending = self._read_lr(kwargs)

        def on_pre_optimizer_step(self, args, state, control, **kwargs):
            self._pending = self._read_lr(kwargs)

        def on_step_end(self, args, state, control, **kwargs):
            lr = self._pending
            if lr is None:
                raise RuntimeError(
                    "CPTLawCallback: on_step_end without a preceding on_step_begin; the LR of the step is "
                    "read before the step, because the scheduler has already advanced at on_step_end"
                )
            self._pending = None
            start = self.start_cpt_at_step
            tracker = self.tracker
            if start is not None and tracker.phase == "pt" and state.global_step - 1 >= start:
                tracker.start_cpt()
            with at_user_line():  # the tracker's warnings point at the user's trainer.train()
                tracker.step(lr)

    class LivePredictionCallback(TrainerCallback):
        """Feed the Trainer's evaluation losses to a :class:`cptlaw.live.LivePredictor`.

        At every ``on_evaluate`` the callback looks up, for each of the predictor's
        validation sets ``v``, the metric ``eval_{v}_loss`` (the name the Trainer gives
        the loss of ``eval_dataset={v: dataset, ...}``; also ``eval_loss`` when the
        predictor has a single validation set) and calls ``predictor.observe``. The
        predictor then refits and may issue a :class:`cptlaw.live.BandWarning`.

        Parameters
        ----------
        predictor : cptlaw.live.LivePredictor
        metric_keys : dict, optional
            ``{valset: metric name or list of names}`` replacing the default names.
        step_offset : int
            Only for a predictor without a tracker: optimizer steps done before this
            Trainer's ``global_step`` 0 (the PT length when a separate Trainer runs the
            CPT). With a tracker (fed by :class:`CPTLawCallback`) the step is
            ``tracker.step_count``.
        stop_on_excursion : bool
            Set ``control.should_training_stop`` when an observation leaves its band.

        Notes
        -----
        The Trainer evaluates after ``on_step_end``, so a :class:`CPTLawCallback` in the
        same Trainer has already recorded the step. Evaluations before the first
        optimizer step (``global_step`` 0 without an offset) are skipped: the law
        needs at least one update (with a tracker: one with a non-zero LR, so that an evaluation
        after the first step of a warmup from 0 is skipped too). Warnings (band, plan,
        missing metrics) point at the line that called ``trainer.train()``. With
        ``eval_dataset`` a dict, the Trainer calls
        ``on_evaluate`` once per dataset, each time with that dataset's metrics.
        """

        def __init__(self, predictor, *, metric_keys=None, step_offset: int = 0, stop_on_excursion: bool = False):
            from ..live import LivePredictor

            if not isinstance(predictor, LivePredictor):
                raise TypeError(f"predictor: expected a cptlaw.live.LivePredictor, got {type(predictor).__name__}")
            self.predictor = predictor
            self.step_offset = _validate.integer(step_offset, "step_offset", lo=0)
            if predictor.tracker is not None and self.step_offset:
                raise ValueError("step_offset: only for a predictor without a tracker")
            self.stop_on_excursion = bool(stop_on_excursion)
            keys = {}
            for v in predictor.valsets:
                keys[v] = [f"eval_{v}_loss"] + (["eval_loss"] if len(predictor.valsets) == 1 else [])
            if metric_keys is not None:
                if not isinstance(metric_keys, dict):
                    raise TypeError("metric_keys: expected a dict {valset: metric name(s)}")
                for v, names in metric_keys.items():
                    if v not in keys:
                        raise ValueError(
                            f"metric_keys: unknown validation set {v!r}; expected one of {predictor.valsets}"
                        )
                    keys[v] = [names] if isinstance(names, str) else list(names)
            self.metric_keys = keys
            self._warned = False

        def on_evaluate(self, args, state, control, metrics=None, **kwargs):
            if not metrics:
                return
            losses = {}
            for v, names in self.metric_keys.items():
                for name in names:
                    if name in metrics:
                        losses[v] = metrics[name]
                        break
            if not losses:
                if not self._warned:
                    self._warned = True
                    looked = sorted(n for names in self.metric_keys.values() for n in names)
                    warn(
                        f"LivePredictionCallback: none of the metrics {sorted(metrics)} is a validation loss of "
                        f"{self.predictor.valsets} (looked for {looked}); pass metric_keys=",
                        RuntimeWarning,
                    )
                return
            tracker = self.predictor.tracker
            with at_user_line():  # band and plan warnings point at the user's trainer.train()
                if tracker is not None:
                    # the law is not defined before some LR has been applied (S1 = 0), e.g. after
                    # the first step of a warmup from 0
                    if tracker.step_count < 1 or tracker.s1_pt + tracker.s1_cpt == 0.0:
                        return
                    new = self.predictor.observe(losses)
                else:
                    step = state.global_step + self.step_offset
                    if step < 1:
                        return
                    new = self.predictor.observe(step, losses)
            if new and self.stop_on_excursion:
                control.should_training_stop = True

    CPTLawCallback.__module__ = __name__
    LivePredictionCallback.__module__ = __name__
    return {"CPTLawCallback": CPTLawCallback, "LivePredictionCallback": LivePredictionCallback}


def __getattr__(name):
    if name in ("CPTLawCallback", "LivePredictionCallback"):
        classes = _build()
        globals().update(classes)
        return classes[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
