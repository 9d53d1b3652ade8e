"""Saved state is validated on load (issue 11, item 5): Tracker and LivePredictor.

A valid state round-trips exactly; a damaged one (a key deleted, a wrong type, NaN, a
negative or huge number, swapped phases, areas that contradict the recorded LRs) gives a
ValueError or TypeError whose message names the field, never a KeyError, IndexError,
AttributeError or OverflowError, and leaves the object as it was. A damaged state that is
accepted must be one the object could have saved itself: it reads back unchanged and, with
recorded LRs, agrees with a tracker replaying them.
"""

from __future__ import annotations

import copy
import json
import math
import re
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import cptlaw
from cptlaw.live import BandWarning, LivePredictor
from cptlaw.tracker import Tracker

SPLITS = ("by_source", "by_time", "restart")
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
AREA_KEYS = ("s1_pt", "s2_pt", "s1_cpt", "s2_cpt")
FIELD = re.compile(r"^state_dict(\[|:)")  # every rejection starts by naming the field

# Values a careless or unlucky edit puts into a saved state.
HOSTILE = st.sampled_from(
    [None, "1.0", "", b"1", True, False, np.bool_(True), math.nan, math.inf, -math.inf, -1, -1e-3, 0, 0.0,
     1.5, 2**70, -(2**70), 2**1100, 1e308, [], [1.0], {}, (), np.float64(1e-3), np.int64(3), np.float32(2.5),
     np.array(1.0), object()]
)


def _rejected(exc) -> None:
    """A rejection is a ValueError/TypeError naming the field, never another exception."""
    event(f"rejected: {type(exc).__name__}")
    assert isinstance(exc, (ValueError, TypeError)) and not isinstance(exc, (KeyError, IndexError)), repr(exc)
    assert FIELD.match(str(exc)), str(exc)


def _plain(value):
    """A loaded value as the object would save it (NumPy scalars as Python numbers)."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    return value


# -- Tracker ----------------------------------------------------------------------------------------

lr_values = st.one_of(st.just(0.0), st.floats(1e-6, 1e-2), st.floats(0.0, 1.0))


@st.composite
def tracker_runs(draw):
    """(constructor kwargs, PT LRs, CPT LRs or None for a run still in PT, steps done)."""
    lr_pt = draw(st.lists(lr_values, min_size=1, max_size=30))
    lr_cpt = draw(st.one_of(st.none(), st.lists(lr_values, min_size=0, max_size=30)))
    kw = {"decay": draw(st.sampled_from((0.0, 0.5, 0.9, 0.999, 1.0))), "split": draw(st.sampled_from(SPLITS)),
          "record": draw(st.booleans())}
    warm = draw(st.sampled_from((0, 0, 1, 3, 100)))
    if warm:
        kw.update(warmup_as_peak=warm, peak_lr=max(lr_pt))
    total = len(lr_pt) + len(lr_cpt or [])
    done = draw(st.integers(0, total))
    return kw, lr_pt, lr_cpt, done


def play(tracker, lr_pt, lr_cpt, start, stop):
    """Steps ``start..stop-1`` of the PT ++ CPT timeline; start_cpt right after the last PT step."""
    history = lr_pt + (lr_cpt or [])
    for i in range(start, stop):
        tracker.step(history[i])
        if lr_cpt is not None and i + 1 == len(lr_pt):
            tracker.start_cpt()  # so a checkpoint after the last PT step is one at the transfer
    return tracker


def saved_tracker(run):
    kw, lr_pt, lr_cpt, done = run
    return play(Tracker(**kw), lr_pt, lr_cpt, 0, done)


@SETTINGS
@given(run=tracker_runs(), via=st.sampled_from(("dict", "json", "deepcopy")))
def test_tracker_state_round_trips_and_continues_exactly(run, via):
    kw, lr_pt, lr_cpt, done = run
    first = saved_tracker(run)
    state = first.state_dict()
    if via == "json":
        state = json.loads(json.dumps(state))
    elif via == "deepcopy":
        state = copy.deepcopy(state)
    resumed = Tracker.from_state_dict(state)
    assert resumed.state_dict() == first.state_dict()
    total = len(lr_pt) + len(lr_cpt or [])
    full = play(Tracker(**kw), lr_pt, lr_cpt, 0, total)
    play(resumed, lr_pt, lr_cpt, done, total)
    assert resumed.state_dict() == full.state_dict()
    for name in AREA_KEYS:
        assert getattr(resumed, name) == getattr(full, name)


@st.composite
def tracker_mutations(draw, state):
    """A damaged copy of a valid Tracker state, and a description of the damage."""
    bad = copy.deepcopy(state)
    keys = sorted(bad)
    kind = draw(st.sampled_from(
        ("delete", "hostile", "scale", "swap_phase", "history", "extra", "not_a_dict", "retype")))
    if kind == "retype":  # the same values as NumPy scalars or a tuple: still the same state
        key = draw(st.sampled_from(keys))
        value = bad[key]
        if type(value) is float:
            bad[key] = np.float64(value)
        elif type(value) is int:
            bad[key] = np.int64(value)
        elif isinstance(value, list):
            bad[key] = tuple(value)
        return bad, f"{key} retyped"
    if kind == "delete":
        key = draw(st.sampled_from(keys))
        del bad[key]
        return bad, f"del {key}"
    if kind == "hostile":
        key = draw(st.sampled_from(keys))
        bad[key] = draw(HOSTILE)
        return bad, f"{key}={bad[key]!r}"
    if kind == "scale":
        key = draw(st.sampled_from(("decay", "peak_lr", "prev_lr", "momentum_pt", "momentum_cpt") + AREA_KEYS))
        factor = draw(st.sampled_from((-1.0, 0.0, 0.5, 1.0 + 1e-6, 2.0, 1e10)))
        bad[key] = bad[key] * factor if bad[key] else draw(st.sampled_from((1e-3, -1e-3)))
        return bad, f"{key} scaled by {factor}"
    if kind == "swap_phase":
        bad["phase"] = "pt" if bad["phase"] == "cpt" else "cpt"
        if draw(st.booleans()):
            bad["transfer_step"] = draw(st.sampled_from((-1, 0, 1, bad["step_count"], bad["step_count"] + 1)))
        return bad, "phase swapped"
    if kind == "history" and "lr_history" in bad:
        hist = bad["lr_history"]
        what = draw(st.sampled_from(("value", "drop", "append", "hostile")))
        if what == "drop" and hist:
            hist.pop(draw(st.integers(0, len(hist) - 1)))
        elif what == "append":
            hist.append(1e-3)
        elif hist:
            i = draw(st.integers(0, len(hist) - 1))
            hist[i] = draw(HOSTILE) if what == "hostile" else hist[i] * 2.0 + 1e-4
        return bad, f"lr_history {what}"
    if kind == "not_a_dict":
        return draw(st.sampled_from((None, [], "state", list(bad.items())))), "not a dict"
    bad[draw(st.sampled_from(("extra", "lr_history", 3)))] = 1.0
    return bad, "extra key"


@SETTINGS
@given(run=tracker_runs(), data=st.data())
def test_tracker_damaged_state_is_rejected_naming_a_field_or_is_a_valid_state(run, data):
    good = saved_tracker(run).state_dict()
    bad, what = data.draw(tracker_mutations(good), label="mutation")
    target = Tracker(0.5, "restart", record=True)
    target.step(1e-3)
    before = target.state_dict()
    try:
        target.load_state_dict(bad)
    except Exception as exc:  # noqa: BLE001 - the type is what is tested
        _rejected(exc)
        assert target.state_dict() == before, what  # a rejected state changes nothing
        return
    # accepted: exactly what was given, and a state a tracker can be in
    event("accepted")
    assert target.state_dict() == _plain(bad), what
    if target.state_dict()["record"]:
        replay = Tracker(target.decay, target.split, target.warmup_as_peak, peak_lr=target.peak_lr)
        hist = target.lr_history
        t = target.transfer_step
        with warnings.catch_warnings():  # a mutated peak_lr below the LRs warns on replay, as it should
            warnings.simplefilter("ignore", RuntimeWarning)
            for i, x in enumerate(hist):
                if i == t:
                    replay.start_cpt()
                replay.step(x)
        if t is not None and t == len(hist):
            replay.start_cpt()
        scale = sum(hist) + 1e-300
        for name in AREA_KEYS:
            assert getattr(target, name) == pytest.approx(getattr(replay, name), rel=1e-6, abs=1e-6 * scale), what
    target.step(0.0)  # and it goes on


def _tracker_state(record=True, cpt=True, **kw):
    t = Tracker(record=record, **kw)
    for x in (1e-3, 2e-3, 1.5e-3):
        t.step(x)
    if cpt:
        t.start_cpt()
        for x in (5e-4, 4e-4):
            t.step(x)
    return t.state_dict()


@pytest.mark.parametrize(
    "record, cpt, change, exc, field",
    [
        (False, True, {"prev_lr": -1e-4}, ValueError, "prev_lr"),  # a negative previous LR
        (False, False, {"s1_cpt": 1e-3}, ValueError, "s1_cpt"),  # PT phase with CPT areas
        (False, False, {"s2_cpt": -1e-5}, ValueError, "s2_cpt"),
        (False, False, {"momentum_cpt": 1e-5}, ValueError, "momentum_cpt"),  # momentum vs phase
        (False, False, {"transfer_step": 3}, ValueError, "transfer_step"),  # transfer set in PT
        (False, True, {"transfer_step": -1}, ValueError, "transfer_step"),
        (False, True, {"transfer_step": 6}, ValueError, "transfer_step"),
        (False, True, {"phase": "pt"}, ValueError, "transfer_step"),  # swapped phase
        (True, True, {"s2_pt": 0.5}, ValueError, "s2_pt"),  # areas that disagree with the LRs
        (True, True, {"s1_cpt": 1e-3}, ValueError, "s1_cpt"),
        (True, False, {"momentum_pt": 0.0}, ValueError, "momentum_pt"),
        (True, True, {"momentum_cpt": 1e-3}, ValueError, "momentum_cpt"),
        (True, True, {"prev_lr": 5e-4}, ValueError, "prev_lr"),
        (True, True, {"lr_history": [1e-3, 2e-3, 1.5e-3, 5e-4, -4e-4]}, ValueError, r"lr_history'\]\[4\]"),
        (True, True, {"lr_history": [1e-3, 2e-3, 1.5e-3, 5e-4, "4e-4"]}, TypeError, r"lr_history'\]\[4\]"),
        (True, True, {"lr_history": [1e-3, 2e-3, 1.5e-3, 5e-4, 2**1100]}, ValueError, r"lr_history'\]\[4\]"),
        (False, True, {"s1_pt": math.nan}, ValueError, "s1_pt"),
        (False, True, {"s2_cpt": math.inf}, ValueError, "s2_cpt"),
        (False, True, {"s2_pt": 2**1100}, ValueError, "s2_pt"),  # OverflowError in float()
        (False, True, {"step_count": 2**70}, ValueError, "step_count"),
        (False, True, {"step_count": True}, TypeError, "step_count"),  # bool for an int
        (False, True, {"warmup_as_peak": False}, TypeError, "warmup_as_peak"),
        (False, True, {"step_count": 5.0}, TypeError, "step_count"),
        (False, True, {"record": 0}, TypeError, "record"),
        (False, True, {"peak_lr": 1e-3}, ValueError, "peak_lr"),  # a peak without the warmup
        (False, True, {"split": "diagonal"}, ValueError, "split"),
        (False, True, {"decay": 1.5}, ValueError, "decay"),
        (False, True, {"lr_history": [1e-3] * 5}, ValueError, "lr_history"),  # only with record=True
        (False, True, {"format": "cptlaw.Tracker/0"}, ValueError, "format"),
        (False, True, {"format": np.array(["a", "b"])}, ValueError, "format"),
    ],
)
def test_tracker_named_bad_states(record, cpt, change, exc, field):
    bad = {**_tracker_state(record, cpt), **change}
    with pytest.raises(exc, match=rf"^state_dict\['{field}"):
        Tracker.from_state_dict(bad)


def test_tracker_missing_key_named():
    for key in _tracker_state():
        bad = _tracker_state()
        del bad[key]
        with pytest.raises(ValueError, match=rf"^state_dict\['{key}'\]: (missing|not a Tracker state)"):
            Tracker.from_state_dict(bad)


def test_tracker_warmup_states():
    """During the warmup_as_peak steps the LR counts at peak_lr: no drop, no S2."""
    t = Tracker(warmup_as_peak=10, peak_lr=2e-3)
    for x in (1e-4, 5e-4, 1e-3):
        t.step(x)
    good = t.state_dict()
    assert Tracker.from_state_dict(good).state_dict() == good
    for key, value in (("prev_lr", 1e-3), ("s2_pt", 1e-6), ("momentum_pt", -1e-6)):
        with pytest.raises(ValueError, match=rf"^state_dict\['{key}'\]: .*warmup"):
            Tracker.from_state_dict({**good, key: value})


def test_tracker_empty_state_must_be_zero():
    good = Tracker().state_dict()
    assert Tracker.from_state_dict(good).state_dict() == good
    for key in ("s1_pt", "s2_pt", "momentum_pt", "prev_lr"):
        with pytest.raises(ValueError, match=rf"^state_dict\['{key}'\]: must be 0.0 before the first step"):
            Tracker.from_state_dict({**good, key: 1e-3})


# -- LivePredictor ------------------------------------------------------------------------------------

N_PT, N_CPT, EVERY = 200, 200, 20
LR_PT = np.concatenate([np.linspace(1e-4, 1e-3, 20), np.full(N_PT - 20, 1e-3)])
LR_CPT = 5e-4 * (1 + np.cos(np.pi * np.arange(1, N_CPT + 1) / N_CPT))
TRUTH = cptlaw.AnnealingLaw(L0=2.5, A=0.4, alpha=0.5, C=0.3)


def predictor(tracker=None):
    kw = {} if tracker is not None else {"decay": 0.99}
    return LivePredictor(tracker, cptlaw.AnnealingLaw, planned_lr_pt=LR_PT, planned_lr_cpt=LR_CPT,
                         valsets=("pt", "cpt"), **kw)


def observed_predictor(until=N_PT + 100, tracker_steps=0):
    """Observations every EVERY steps from the plan; the last ``tracker_steps`` with a tracker."""
    a = cptlaw.cpt_areas(LR_PT, LR_CPT, 0.99)
    rng = np.random.default_rng(3)
    live = predictor()
    for s in range(EVERY, until + 1, EVERY):
        loss = float(TRUTH(s1=a.s1_pt[s - 1] + a.s1_cpt[s - 1], s2=a.s2_pt[s - 1] + a.s2_cpt[s - 1]))
        live.observe(s, {"pt": loss * (1 + 0.002 * rng.standard_normal()), "cpt": loss * 1.1})
    return live


GOOD_LIVE = observed_predictor().state_dict()


def _observations(live):
    return {v: {k: x.tolist() for k, x in live.observations(v).items()} for v in live.valsets}


def test_live_state_round_trips():
    live = observed_predictor()
    state = json.loads(json.dumps(live.state_dict()))
    again = predictor()
    again.load_state_dict(state)
    assert _observations(again) == _observations(live)
    assert again.state_dict()["valsets"]["pt"]["steps"] == state["valsets"]["pt"]["steps"]
    for v in live.valsets:
        a, b = live.prediction(v), again.prediction(v)
        assert a.available and b.available
        assert b.loss == pytest.approx(a.loss, rel=1e-5)


def test_live_state_with_tracker_observations_and_out_of_order_steps():
    """Tracker-measured areas are kept as saved; steps may repeat or go back, as observe() allows."""
    tracker = cptlaw.Tracker(decay=0.99)
    live = predictor(tracker)
    lrs = np.concatenate([LR_PT, LR_CPT])
    for s in range(1, N_PT + 61):
        if s == N_PT + 1:
            tracker.start_cpt()
        tracker.step(lrs[s - 1])
        if s % EVERY == 0:
            loss = float(TRUTH(s1=tracker.s1_pt + tracker.s1_cpt, s2=tracker.s2_pt + tracker.s2_cpt))
            live.observe({"pt": loss, "cpt": 1.1 * loss})
    live.observe(100, {"pt": live.observations("pt")["loss"][4]})  # an explicit earlier step, from the plan
    state = live.state_dict()
    assert state["valsets"]["pt"]["steps"][-2:] == [N_PT + 60, 100]
    again = predictor(cptlaw.Tracker(decay=0.99))
    again.load_state_dict(state)
    assert _observations(again) == _observations(live)


def _path_name(path):
    return "state_dict" + "".join(f"[{p!r}]" for p in path)


def _leaves(obj, path=()):
    """Every (path, value) of a nested state, containers included."""
    yield path, obj
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _leaves(v, path + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _leaves(v, path + (i,))


@st.composite
def live_mutations(draw):
    bad = copy.deepcopy(GOOD_LIVE)
    leaves = [(p, copy.deepcopy(v)) for p, v in _leaves(bad) if p]
    path = draw(st.sampled_from([p for p, _ in leaves]))
    parent = bad
    for p in path[:-1]:
        parent = parent[p]
    key = path[-1]
    kind = draw(st.sampled_from(("delete", "hostile", "swap", "grow", "odd")))
    if kind == "delete":
        del parent[key]  # a missing key, or a list one entry short
    elif kind == "hostile":
        parent[key] = draw(HOSTILE)
    elif kind == "swap":  # a value from elsewhere in the state, valid in its own place
        parent[key] = draw(st.sampled_from([v for _, v in leaves]))
    elif kind == "grow" and isinstance(parent[key], list):
        parent[key].append(copy.deepcopy(parent[key][-1]) if parent[key] else 1)
    elif isinstance(parent, dict) and draw(st.booleans()):
        parent["unknown"] = 1
    else:
        parent[key] = draw(st.sampled_from((10**6, N_PT + N_CPT + 1, -1, 0, 1e-300, 2.5)))
    return bad, f"{kind} at {_path_name(path)}"


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mut=live_mutations())
def test_live_damaged_state_is_rejected_naming_a_field_or_is_a_valid_state(mut):
    bad, what = mut
    live = observed_predictor(until=3 * EVERY)
    before = live.state_dict()
    try:
        live.load_state_dict(bad)
    except Exception as exc:  # noqa: BLE001 - the type is what is tested
        _rejected(exc)
        assert live.state_dict() == before, what
        return
    # accepted: the observations are exactly the ones given, and the predictor works
    event("accepted")
    for v in live.valsets:
        got = live.observations(v)
        saved = bad["valsets"][v]
        assert got["steps"].tolist() == _plain(saved["steps"]), what
        assert got["loss"].tolist() == _plain(saved["loss"]), what
        assert np.column_stack([got[k] for k in AREA_KEYS]).tolist() == [list(map(float, a)) for a in saved["areas"]]
    live.prediction()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BandWarning)  # the damage may have moved the fit
        live.observe(N_PT + N_CPT, {"pt": 2.7})


@pytest.mark.parametrize(
    "path, value, exc, field",
    [
        (("valsets", "pt", "loss"), None, ValueError, r"\['valsets'\]\['pt'\]\['loss'\]: missing"),
        (("valsets", "cpt"), None, ValueError, r"\['valsets'\]: validation sets 'pt' differ"),
        (("format",), None, ValueError, r"\['format'\]"),
        (("valsets", "pt", "steps", 3), N_PT + N_CPT + 1, ValueError, r"\['steps'\]\[3\]: 401 is past"),
        (("valsets", "pt", "steps", 3), 0, ValueError, r"\['steps'\]\[3\]: must be >= 1"),
        (("valsets", "pt", "steps", 3), 2**70, ValueError, r"\['steps'\]\[3\]"),
        (("valsets", "pt", "steps", 3), 80.0, TypeError, r"\['steps'\]\[3\]"),
        (("valsets", "pt", "steps", 3), True, TypeError, r"\['steps'\]\[3\]"),
        (("valsets", "pt", "steps", 3), 100, ValueError, r"\['areas'\]\[3\]: .* differ from this predictor's planned"),
        (("valsets", "pt", "loss", 2), math.nan, ValueError, r"\['loss'\]\[2\]: must be finite"),
        (("valsets", "pt", "loss", 2), -2.0, ValueError, r"\['loss'\]\[2\]: must be > 0"),
        (("valsets", "pt", "loss", 2), 0.0, ValueError, r"\['loss'\]\[2\]: must be > 0"),
        (("valsets", "pt", "loss", 2), "2.9", TypeError, r"\['loss'\]\[2\]"),
        (("valsets", "pt", "loss", 2), 2**1100, ValueError, r"\['loss'\]\[2\]"),
        (("valsets", "pt", "areas", 1), [1e-3, 0.0, 0.0], ValueError, r"\['areas'\]\[1\]: expected the 4 areas"),
        (("valsets", "pt", "areas", 1), "area", TypeError, r"\['areas'\]\[1\]: expected a list"),
        (("valsets", "pt", "areas", 1, 2), math.inf, ValueError, r"\['areas'\]\[1\]\[2\]"),
        (("valsets", "pt", "params"), [2.5, 0.4, 0.5], ValueError, r"\['params'\]: expected 4 values"),
        (("valsets", "pt", "params", 1), math.nan, ValueError, r"\['params'\]\[1\]"),
        (("valsets", "pt", "from_plan", 0), 1, TypeError, r"\['from_plan'\]\[0\]: expected a bool"),
        (("valsets", "pt", "from_plan", 0), "yes", TypeError, r"\['from_plan'\]\[0\]"),
        (("valsets", "pt", "outside"), "no", TypeError, r"\['outside'\]"),
        (("valsets", "pt", "law"), "CPTLaw", ValueError, r"\['law'\]: fitted with 'CPTLaw'"),
        (("valsets", "pt", "steps"), 5, TypeError, r"\['steps'\]: expected a list"),
    ],
)
def test_live_named_bad_states(path, value, exc, field):
    bad = copy.deepcopy(GOOD_LIVE)
    parent = bad
    for p in path[:-1]:
        parent = parent[p]
    if value is None:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    live = predictor()
    with pytest.raises(exc) as info:
        live.load_state_dict(bad)
    assert str(info.value).startswith("state_dict") and re.search(field, str(info.value)), str(info.value)
    assert live.state_dict()["valsets"]["pt"]["steps"] == []  # unchanged


def test_live_list_lengths_must_agree():
    bad = copy.deepcopy(GOOD_LIVE)
    bad["valsets"]["cpt"]["from_plan"].pop()
    with pytest.raises(ValueError, match=r"^state_dict\['valsets'\]\['cpt'\]\['from_plan'\]: \d+ entries, but \d+ steps"):
        predictor().load_state_dict(bad)
