"""Hugging Face ``transformers`` integration: a ``TrainerCallback`` that feeds a Tracker.

``transformers`` is optional for cptlaw. Importing this module never imports it; the
``CPTLawCallback`` class is built on first access, and that access raises an
ImportError naming the missing package when ``transformers`` is not installed.

Usage::

    from cptlaw.integrations.hf import CPTLawCallback
    tracker = cptlaw.Tracker()
    trainer = Trainer(..., callbacks=[CPTLawCallback(tracker, start_cpt_at_step=10_000)])
    trainer.train()
    tracker.as_dict()   # areas after the last optimizer step
"""

from __future__ import annotations

from .. import _validate
from ..tracker import Tracker

__all__ = ["CPTLawCallback"]


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
            tracker.step(lr)

    CPTLawCallback.__module__ = __name__
    return CPTLawCallback


def __getattr__(name):
    if name == "CPTLawCallback":
        cls = _build()
        globals()["CPTLawCallback"] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
