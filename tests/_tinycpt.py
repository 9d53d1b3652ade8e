"""tinycpt set A (``tests/data/tinycpt``) as ``cptlaw.Run`` objects, shared by the statistics tests.

Each run keeps the observations no other run repeats (the selection of
``test_fit_real_data``): ``pt_const`` after update 0, ``pt_anneal`` after its branch point
(update 4000; before it, it repeats pt_const), CPT runs after update 5000 (their PT history
repeats their checkpoint's run). ``group`` is the PT checkpoint a run starts from
(``pt_const`` or ``pt_anneal``; a PT run is its own checkpoint).

The fit protocol of the README's fidelity table: ``warmup_as_peak=True``, decay 0.999,
``split="by_source"`` (``AREA_OPTIONS``).
"""

from __future__ import annotations

import functools
import os
import sys

import cptlaw

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _data import load_tiny  # noqa: E402

PT = ("pt_const", "pt_anneal")
CPT_FROM_CONST = ("cpt_const", "cpt_cos", "cpt_wsd", "cpt_rewarm_cos", "cpt_low_const")
CPT_FROM_ANNEAL = ("cpt_ann_cos", "cpt_ann_rewarm_cos")
REPLAY = ("cpt_replay25_cos", "cpt_replay50_cos")
ALL = PT + CPT_FROM_CONST + CPT_FROM_ANNEAL + REPLAY
AREA_OPTIONS = {"decay": 0.999, "split": "by_source", "warmup_as_peak": True}


@functools.lru_cache(maxsize=None)
def _load():
    out = {}
    for n in ALL:
        t = load_tiny(n)
        if n == "pt_const":
            m = t.global_step >= 1
        elif n == "pt_anneal":
            m = t.global_step > 4000
        else:
            m = t.global_step > 5000
        source = n if n in PT else ("pt_anneal" if n in CPT_FROM_ANNEAL else "pt_const")
        out[n] = (t, m, source)
    return out


def tiny_runs(names=ALL) -> dict:
    """Fresh ``cptlaw.Run`` objects by name (both validation sets, ``"pt"`` and ``"cpt"``)."""
    data = _load()
    runs = {}
    for n in names:
        t, m, source = data[n]
        runs[n] = cptlaw.Run(t.lr_pt, t.global_step[m], {k: v[m] for k, v in t.loss.items()},
                             lr_cpt=t.lr_cpt, r_pt=t.replay, name=n, group=source)
    return runs
