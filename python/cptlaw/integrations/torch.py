"""PyTorch integration: feed a :class:`cptlaw.Tracker` from an optimizer, read scheduler LRs.

PyTorch is optional for cptlaw: it is imported when a function here is called, not
when this module is imported.

- :func:`track_optimizer` registers a step pre-hook that records the learning rate each
  ``optimizer.step()`` actually uses (read from ``param_groups`` just before the step),
  so whatever sets the LR (a scheduler, a manual rule, a resumed checkpoint) is taken
  as it is and never re-derived. Steps that do not reach ``optimizer.step()`` (for
  example those ``torch.amp.GradScaler`` skips after an overflow) are not counted.
- :func:`lr_from_scheduler` lists the LRs a scheduler will give the next optimizer
  steps, by stepping a private copy; the caller's scheduler and optimizer are left as
  they are.
- :func:`observe_every` runs an evaluation function every ``every`` optimizer steps and
  feeds its validation losses to a :class:`cptlaw.live.LivePredictor` (the plain
  callback for custom training loops).
"""

from __future__ import annotations

import copy
import warnings
from collections import OrderedDict, defaultdict
from typing import Any

import numpy as np

from .. import _validate
from ..tracker import Tracker
from ._warn import at_user_line

__all__ = ["lr_from_scheduler", "observe_every", "track_optimizer"]


def __dir__():
    return sorted(__all__)


def _torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - exercised only without torch
        raise ImportError(
            "cptlaw.integrations.torch needs PyTorch; install it (pip install torch or cptlaw[torch])"
        ) from exc
    return torch


def _unwrap_optimizer(optimizer):
    """The torch optimizer behind a wrapper such as accelerate's AcceleratedOptimizer."""
    torch = _torch()
    seen = 0
    while not hasattr(optimizer, "_optimizer_step_pre_hooks") and seen < 8:
        inner = getattr(optimizer, "optimizer", None)
        if not isinstance(inner, torch.optim.Optimizer):
            break
        optimizer, seen = inner, seen + 1
    if not isinstance(optimizer, torch.optim.Optimizer) or not hasattr(optimizer, "register_step_pre_hook"):
        raise TypeError(f"optimizer: expected a torch.optim.Optimizer, got {type(optimizer).__name__}")
    return optimizer


def _group_index(optimizer, param_group) -> int:
    g = _validate.integer(param_group, "param_group", lo=0)
    n = len(optimizer.param_groups)
    if g >= n:
        raise ValueError(f"param_group: the optimizer has {n} parameter group(s), got index {g}")
    return g


def track_optimizer(tracker: Tracker, optimizer, param_group: int = 0):
    """Call ``tracker.step(lr)`` on every ``optimizer.step()``, with the LR that step uses.

    Parameters
    ----------
    tracker : cptlaw.Tracker
    optimizer : torch.optim.Optimizer
        Wrappers exposing the real optimizer as ``.optimizer`` (accelerate) are unwrapped.
    param_group : int
        Which parameter group's ``"lr"`` to record.

    Returns
    -------
    torch.utils.hooks.RemovableHandle
        ``handle.remove()`` stops the tracking.

    Notes
    -----
    The hook runs just before each step and reads ``optimizer.param_groups[param_group]["lr"]``
    (a float or a tensor), which is the LR that step applies. Call ``tracker.start_cpt()``
    yourself between the last PT step and the first CPT step.
    """
    if not isinstance(tracker, Tracker):
        raise TypeError(f"tracker: expected a cptlaw.Tracker, got {type(tracker).__name__}")
    opt = _unwrap_optimizer(optimizer)
    g = _group_index(opt, param_group)
    step = tracker.step

    def _cptlaw_record_lr(opt_, args, kwargs):
        lr = opt_.param_groups[g]["lr"]
        if not tracker.warmup_as_peak:  # the tracker's only warning needs the warmup convention
            step(lr)
            return
        with at_user_line():  # point it at the user's optimizer.step() line
            step(lr)

    return opt.register_step_pre_hook(_cptlaw_record_lr)


def lr_from_scheduler(scheduler, steps: int, param_group: int = 0) -> np.ndarray:
    """The LRs of the next ``steps`` optimizer steps under ``scheduler``.

    Entry ``k`` is the LR the ``k``-th next ``optimizer.step()`` would use if the
    training loop calls ``scheduler.step()`` once after every optimizer step (the usual
    PyTorch order). For a freshly built scheduler that is the schedule from its first
    step, ready for :func:`cptlaw.areas` / :func:`cptlaw.cpt_areas`.

    The scheduler is deep-copied together with a stand-in of its optimizer (parameters
    replaced by empty tensors, no optimizer state), and the copy is stepped; the
    caller's scheduler and optimizer are not modified. Chained schedulers
    (``SequentialLR``, ``ChainedScheduler``) work; ``ReduceLROnPlateau`` does not (its
    LRs depend on future metrics).

    Returns
    -------
    numpy.ndarray, float64, shape (steps,)
    """
    torch = _torch()
    n = _validate.integer(steps, "steps", lo=0)
    sched_cls = torch.optim.lr_scheduler
    if isinstance(scheduler, sched_cls.ReduceLROnPlateau):
        raise TypeError("scheduler: ReduceLROnPlateau sets LRs from future metrics; they cannot be listed ahead")
    optimizer = getattr(scheduler, "optimizer", None)
    if not callable(getattr(scheduler, "step", None)) or not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            f"scheduler: expected a torch.optim.lr_scheduler scheduler bound to an optimizer, "
            f"got {type(scheduler).__name__}"
        )
    g = _group_index(optimizer, param_group)

    # Share nothing heavy with the copy: parameters become empty tensors, optimizer
    # state is dropped (schedulers read param_groups only).
    memo: dict[int, Any] = {id(optimizer.state): defaultdict(dict)}
    for group in optimizer.param_groups:
        for p in group["params"]:
            memo[id(p)] = torch.empty(0, dtype=p.dtype)
    for name in (
        "_optimizer_step_pre_hooks",
        "_optimizer_step_post_hooks",
        "_optimizer_state_dict_pre_hooks",
        "_optimizer_state_dict_post_hooks",
        "_optimizer_load_state_dict_pre_hooks",
        "_optimizer_load_state_dict_post_hooks",
    ):
        hooks = optimizer.__dict__.get(name)
        if hooks is not None:
            memo[id(hooks)] = OrderedDict()
    sched = copy.deepcopy(scheduler, memo)
    opt = sched.optimizer

    out = np.empty(n, dtype=np.float64)
    with warnings.catch_warnings():
        # The copy never calls optimizer.step() (that would run the caller's hooks), so
        # silence the scheduler's "step() before optimizer.step()" warning.
        warnings.simplefilter("ignore")
        for k in range(n):
            if k:
                sched.step()
            out[k] = float(opt.param_groups[g]["lr"])
    return out


def observe_every(predictor, optimizer, evaluate, every: int, *, start_step: int = 0):
    """Every ``every`` optimizer steps, call ``evaluate()`` and pass its losses to ``predictor``.

    Parameters
    ----------
    predictor : cptlaw.live.LivePredictor
    optimizer : torch.optim.Optimizer
        Wrappers exposing the real optimizer as ``.optimizer`` (accelerate) are unwrapped.
    evaluate : callable
        Called without arguments, under ``torch.no_grad()``, right after the optimizer
        step; returns the validation losses as ``{valset: loss}`` (floats or one-element
        tensors), or one loss when the predictor has a single validation set. It should
        switch the model to ``eval()`` and back itself.
    every : int
        Evaluate after optimizer steps ``every, 2*every, ...`` (counted on the whole PT ++
        CPT timeline).
    start_step : int
        Only without a tracker: steps done before this optimizer's first step (e.g. the
        PT length when the CPT loop has a fresh optimizer). With a tracker
        (``predictor.tracker``) the step is ``tracker.step_count``, so register
        :func:`track_optimizer` for the same tracker and optimizer (in any order: its
        pre-hook runs before this post-hook).

    Returns
    -------
    torch.utils.hooks.RemovableHandle
        ``handle.remove()`` stops the evaluations.

    Notes
    -----
    Band warnings (:class:`cptlaw.live.BandWarning`) are issued by ``predictor.observe``
    and point at the line that called ``optimizer.step()``; pass ``on_excursion=`` to the
    predictor to react to them (e.g. stop training). With a tracker, evaluations are not
    observed while no LR has been applied yet (S1 = 0, e.g. after the first step of a
    warmup from 0): the law is not defined there.
    """
    from ..live import LivePredictor

    torch = _torch()
    if not isinstance(predictor, LivePredictor):
        raise TypeError(f"predictor: expected a cptlaw.live.LivePredictor, got {type(predictor).__name__}")
    if not callable(evaluate):
        raise TypeError(f"evaluate: expected a callable, got {type(evaluate).__name__}")
    n = _validate.integer(every, "every", lo=1)
    opt = _unwrap_optimizer(optimizer)
    tracker = predictor.tracker
    state = {"step": _validate.integer(start_step, "start_step", lo=0), "last": None}
    if tracker is not None and start_step:
        raise ValueError("start_step: only without a tracker (with one, steps are tracker.step_count)")

    def _cptlaw_observe(opt_, args, kwargs):
        if tracker is None:
            state["step"] += 1
            step = state["step"]
        else:
            step = tracker.step_count
            if step == state["last"]:
                raise RuntimeError(
                    "observe_every: the predictor's tracker did not advance over an optimizer step; "
                    "feed it with track_optimizer(tracker, optimizer)"
                )
        state["last"] = step
        if step % n:
            return
        if tracker is not None and not tracker.s1_pt + tracker.s1_cpt > 0.0:
            return  # no LR applied yet (S1 = 0): the law is not defined there
        with torch.no_grad():
            losses = evaluate()
        with at_user_line():  # band and plan warnings point at the user's optimizer.step() line
            if tracker is None:
                predictor.observe(step, losses)
            else:
                predictor.observe(losses)

    return opt.register_step_post_hook(_cptlaw_observe)
