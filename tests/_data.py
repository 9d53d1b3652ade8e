"""Loaders for the real training curves bundled under ``tests/data`` (see each folder's README).

Every loader rebuilds the per-step learning rates from the documented schedule formulas
(the files hold LRs only at logged steps, or not at all) and returns them with the
observed losses. ``lr[k]`` is the LR of the (k+1)-th optimizer update, so an observation
made after ``s`` updates uses ``lr[:s]`` (``cptlaw.Run``'s ``steps`` convention).

Imported by the test files as ``from _data import ...``: pytest puts the test folder on the
module search path (its default ``prepend`` import mode; see ``conftest.py``).

The eight tinycpt runs that ``cptlaw demo`` uses are stored once, with the package
(``cptlaw/data/tinycpt``, :data:`cptlaw.demo.DATA_DIR`); the other tinycpt runs are in
``tests/data/tinycpt``. :func:`tiny_dir` finds a run in either.
"""

from __future__ import annotations

import csv
import json
import os
import re
from dataclasses import dataclass

import numpy as np

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")

# --------------------------------------------------------------------------------------
# MultiPowerLaw (Luo et al., ICLR 2025): loss_curve_repo/csv_{25,100,400}/*.csv
# --------------------------------------------------------------------------------------

MPL_SIZES = ("25", "100", "400")
MPL_FIT = ("cosine_24000", "constant_24000", "wsdcon_9")  # the repository's fit set (src/config.py)
MPL_TEST = ("constant_72000", "cosine_72000", "wsd_20000_24000", "wsdld_20000_24000", "wsdcon_3", "wsdcon_18")
MPL_PEAK, MPL_END, MPL_WARMUP = 3e-4, 3e-5, 2160


def mpl_lr(name: str) -> np.ndarray:
    """Per-step LR of a MultiPowerLaw run, ``lr[s]`` for s = 0..T-1.

    Follows the repository's ``src/lr_schedules.py`` as called by ``src/data_loader.py``
    (``const_warmup=False``): warmup ``np.linspace(0, 3e-4, 2160)`` (i.e. ``3e-4*s/2159``),
    then

    * ``constant_T``: 3e-4;
    * ``cosine_T``: ``3e-5 + 0.5*(3e-4-3e-5)*(1+cos(pi*(s-2160)/(T-2160)))``;
    * ``wsd_20000_24000``: 3e-4 until 20000, then geometric
      ``3e-4**((T-s)/(T-20000)) * 3e-5**((s-20000)/(T-20000))``;
    * ``wsdld_20000_24000``: 3e-4 until 20000, then linear 3e-4 -> 3e-5 at T;
    * ``wsdcon_X``: 3e-4 until 8000, then X*1e-5 until T = 16000.
    """
    warm = np.linspace(0.0, MPL_PEAK, MPL_WARMUP)
    kind = name.split("_")[0]
    if kind in ("constant", "cosine"):
        total = int(name.split("_")[1])
    elif kind == "wsdcon":
        total = 16000
    else:
        total = 24000
    s = np.arange(MPL_WARMUP, total, dtype=np.float64)
    if kind == "constant":
        rest = np.full(s.shape, MPL_PEAK)
    elif kind == "cosine":
        rest = MPL_END + 0.5 * (MPL_PEAK - MPL_END) * (1 + np.cos(np.pi * (s - MPL_WARMUP) / (total - MPL_WARMUP)))
    elif kind == "wsdcon":
        lr_b = int(name.split("_")[1]) * 1e-5
        rest = np.where(s < 8000, MPL_PEAK, lr_b)
    elif kind in ("wsd", "wsdld"):
        decay = 20000
        frac = (s - decay) / (total - decay)
        if kind == "wsd":
            dec = MPL_PEAK ** ((total - s) / (total - decay)) * MPL_END ** frac
        else:
            dec = MPL_PEAK * (1 - frac) + MPL_END * frac
        rest = np.where(s < decay, MPL_PEAK, dec)
    else:
        raise ValueError(f"unknown MultiPowerLaw run {name!r}")
    return np.concatenate([warm, rest])


@dataclass
class Curve:
    name: str
    lr: np.ndarray  # per-step LR of the whole run (lr_pt for PT, or the PT++CPT timeline)
    steps: np.ndarray  # updates done before each observation (cptlaw.Run convention)
    loss: np.ndarray
    logged_step: np.ndarray  # the step numbers as written in the file
    logged_lr: np.ndarray  # the LR column / logged LR at those steps (NaN where absent)


def _read_csv(path):
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    return rows


def load_mpl(size: str, name: str) -> Curve:
    """One MultiPowerLaw curve. ``steps = step + 1``: the repository's fit uses
    ``np.cumsum(lrs)[step]``, the areas of LRs 0..step inclusive."""
    rows = _read_csv(os.path.join(DATA, "MultiPowerLaw", "loss_curve_repo", f"csv_{size}", f"{name}.csv"))
    step = np.array([int(r["step"]) for r in rows], dtype=np.int64)
    lr_col = np.array([float(r["lr"]) for r in rows])
    loss = np.array([float(r["loss"]) for r in rows])
    keep = step < 24000 if name.endswith("24000") else np.ones(step.shape, bool)  # as src/data_loader.py
    lr = mpl_lr(name)
    return Curve(name, lr, step[keep] + 1, loss[keep], step[keep], lr_col[keep])


# --------------------------------------------------------------------------------------
# lr-scheduling (Schaipp et al., ICML 2025): W&B JSON histories of 124M runs, peak LR 3e-3
# --------------------------------------------------------------------------------------

LRS_DIR = os.path.join(DATA, "lr-scheduling", "data", "grad_norm")


def lrs_files(peak: str) -> dict:
    """The bundled runs at peak LR ``peak`` ("0.001" or "0.003") by key: ``stable``,
    ``cos``, ``wsd<frac>`` (linear cooldown over the last ``frac`` of training) and
    ``wsd<frac>_sqrt`` (1-sqrt cooldown)."""
    out = {}
    for fname in sorted(os.listdir(LRS_DIR)):
        m = re.match(r"(stable-124m|cos-zero-124m|ann124-([0-9.]+))_.*_lr([0-9.]+)_sched_\w+?_warmup300_decay_(linear|sqrt)_", fname)
        if not m or m.group(3) != peak:
            continue
        if m.group(1) == "stable-124m":
            key = "stable"
        elif m.group(1) == "cos-zero-124m":
            key = "cos"
        else:
            key = f"wsd{m.group(2)}" + ("_sqrt" if m.group(4) == "sqrt" else "")
        out[key] = fname
    return out


def _dedup_last(iters, values):
    """W&B histories of restarted runs repeat ``iter`` values: keep the last occurrence."""
    last = {}
    for i, v in zip(iters, values):
        last[int(i)] = v
    keys = np.array(sorted(last), dtype=np.int64)
    return keys, np.array([last[k] for k in keys], dtype=np.float64)


def epfml_lr(config: dict) -> np.ndarray:
    """Per-step LR ``lr[s]`` (s = 0..T-1) of an epfml/schedules-and-scaling run.

    ``train_lr`` logged at ``iter = s`` is the schedule at ``s`` (logged after
    ``scheduler.step()``), and the update that ends at iter ``s`` used the schedule at
    ``s-1``; so ``lr[:s]`` are the LRs of the first ``s`` updates.

    * ``wsd`` (epfml ``wsd_schedule``, final scale 0): ``lr*(s/W + (1-s/W)/100)`` for
      ``s < W`` (W = 300), then ``lr`` until ``n_hold = T - int(frac*T)``, then
      ``lr*(1 - x)`` (``linear``) or ``lr*(1 - sqrt(x))`` (``sqrt``),
      ``x = (s - n_hold)/int(frac*T)``.
    * ``cos`` (PyTorch ``OneCycleLR``, cosine annealing): ``lr + (lr/100 - lr)*(1+cos(pi*s/(W-1)))/2``
      for ``s <= W-1`` (warmup from lr/100), then ``f + (lr-f)*(1+cos(pi*(s-W+1)/(T-1-(W-1))))/2``
      with the final LR ``f = 1e-7`` (as logged; ``config.cos_final_lr`` is not what the run used).
    """
    peak = float(config["lr"])
    total = int(config["iterations"])
    warm = int(config["warmup_steps"])
    s = np.arange(total, dtype=np.float64)
    sched = config["scheduler"]
    if sched == "wsd":
        frac = float(config["wsd_fract_decay"])
        n_decay = int(frac * total)
        n_hold = total - n_decay
        lr = np.full(total, peak)
        w = s < warm
        lr[w] = peak * (s[w] / warm + (1 - s[w] / warm) / 100)
        if n_decay > 0:
            d = s >= n_hold
            x = (s[d] - n_hold) / n_decay
            shape = 1 - x if config["decay_type"] == "linear" else 1 - np.sqrt(x)
            scale = float(config.get("wsd_final_lr_scale", 0.0))
            lr[d] = peak * (scale + (1 - scale) * shape)
        return lr
    if sched == "cos":
        final = 1e-7
        up = warm - 1  # OneCycleLR's pct_start phase ends at step W-1
        lr = np.empty(total)
        a = s <= up
        lr[a] = peak + (peak / 100 - peak) * (1 + np.cos(np.pi * s[a] / up)) / 2
        b = ~a
        lr[b] = final + (peak - final) * (1 + np.cos(np.pi * (s[b] - up) / (total - 1 - up))) / 2
        return lr
    raise ValueError(f"unsupported scheduler {sched!r}")


def load_wandb(path: str) -> dict:
    with open(path) as fh:
        d = json.load(fh)
    h = d["history"]
    val_it, val = _dedup_last(h["val"]["iter"], h["val"]["val_loss"])
    tr_it, tr_lr = _dedup_last(h["train"]["iter"], h["train"]["train_lr"])
    return {"config": d["config"], "val_iter": val_it, "val_loss": val, "train_iter": tr_it, "train_lr": tr_lr}


def load_lrs(peak: str, key: str, min_step: int = 1000) -> Curve:
    """One lr-scheduling run (see :func:`lrs_files`), its validation curve made whole.

    Cooldown runs (``ann124-<frac>``) resumed from the stable run at step
    ``(1-frac)*50000`` (``config.resume_from``); the stable run's validation history
    before that step is prepended. Observations before ``min_step`` (the loss at
    iter 0 and the steep start) are dropped. ``logged_lr`` holds ``train_lr`` (every 50
    iters) merged over both files, indexed by iter.
    """
    files = lrs_files(peak)
    run = load_wandb(os.path.join(LRS_DIR, files[key]))
    cfg = run["config"]
    val_it, val = run["val_iter"], run["val_loss"]
    tr_it, tr_lr = run["train_iter"], run["train_lr"]
    resume = cfg.get("resume_from")
    if resume:
        start = int(os.path.basename(resume.rstrip("/")))
        if start > 0:
            base = load_wandb(os.path.join(LRS_DIR, files["stable"]))
            b = base["val_iter"] < start
            val_it = np.concatenate([base["val_iter"][b], val_it])
            val = np.concatenate([base["val_loss"][b], val])
            bt = base["train_iter"] < start
            tr_it = np.concatenate([base["train_iter"][bt], tr_it])
            tr_lr = np.concatenate([base["train_lr"][bt], tr_lr])
    lr = epfml_lr(cfg)
    keep = val_it >= min_step
    return Curve(key, lr, val_it[keep], val[keep], tr_it, tr_lr)


# --------------------------------------------------------------------------------------
# tinycpt (made for this project): PT on prose, CPT on Python code
# --------------------------------------------------------------------------------------

# The per-step LR rebuild is the package's own (used by `cptlaw demo`); test_io and
# test_fit_real_data check it against the logged LRs.
from cptlaw.demo import tinycpt_cpt_lr as _tiny_cpt_lr  # noqa: E402
from cptlaw.demo import tinycpt_pt_lr as _tiny_pt_lr  # noqa: E402


def tiny_dir(run: str) -> str:
    """The folder of tinycpt run ``run`` (without the ``A_`` prefix): the package's bundled copy
    for the demo's runs, ``tests/data/tinycpt`` for the others."""
    from cptlaw.demo import DATA_DIR

    for base in (DATA_DIR, os.path.join(DATA, "tinycpt")):
        folder = os.path.join(base, f"A_{run}")
        if os.path.isdir(folder):
            return folder
    raise FileNotFoundError(f"tinycpt run {run!r} is neither in {DATA_DIR} nor in tests/data/tinycpt")


def tiny_csv(run: str) -> str:
    """The ``curve.csv`` of tinycpt run ``run``."""
    return os.path.join(tiny_dir(run), "curve.csv")


@dataclass
class TinyRun:
    name: str
    lr_pt: np.ndarray
    lr_cpt: np.ndarray | None
    replay: float
    phase: np.ndarray  # "pt" / "cpt" per row
    global_step: np.ndarray
    logged_lr: np.ndarray
    loss: dict  # {"pt": ..., "cpt": ...}

    def rows(self, phase=None, min_step=1):
        m = self.global_step >= min_step
        if phase is not None:
            m &= self.phase == phase
        return m


def load_tiny(run: str) -> TinyRun:
    """One tinycpt run (``run`` without the ``A_`` prefix), LRs rebuilt from meta.json.

    PT: ``P*t/200`` for update t <= 200, then P (``pt_anneal``: from update 4001 linear
    to 0.1 P at 5000). CPT update t = 1..4000: ``const`` P*mult; ``cos``
    ``P/2 (1+cos(pi t/4000))``; ``wsd`` P until 3200 then linear to 0; ``rewarm_cos``
    ``P t/100`` for t <= 100 then ``P/2 (1+cos(pi (t-100)/3900))``. These reproduce the
    runs' ``lr.npy`` bit for bit (``cpt_wsd``: within 1 ulp); the test checks them against
    the ``lr`` column of ``curve.csv``.
    """
    folder = tiny_dir(run)
    with open(os.path.join(folder, "meta.json")) as fh:
        meta = json.load(fh)
    rows = _read_csv(os.path.join(folder, "curve.csv"))
    if meta["phase"] == "pt":
        lr_pt = _tiny_pt_lr("anneal" in run)
        lr_cpt = None
    else:
        lr_pt = _tiny_pt_lr("anneal" in meta["source_pt_run"])
        sched = meta["cpt_schedule"]
        lr_cpt = _tiny_cpt_lr(sched["kind"], float(sched["peak_mult"]))
    phase = np.array([r["phase"] for r in rows])
    gstep = np.array([int(r["global_step"]) for r in rows], dtype=np.int64)
    logged = np.array([float(r["lr"]) for r in rows])
    loss = {"pt": np.array([float(r["loss_pt"]) for r in rows]), "cpt": np.array([float(r["loss_cpt"]) for r in rows])}
    return TinyRun(run, lr_pt, lr_cpt, float(meta.get("replay", 0.0)), phase, gstep, logged, loss)


__all__ = [
    "Curve", "TinyRun", "DATA", "MPL_FIT", "MPL_TEST", "MPL_SIZES",
    "epfml_lr", "load_lrs", "load_mpl", "load_tiny", "load_wandb", "lrs_files", "mpl_lr", "tiny_csv", "tiny_dir",
]
