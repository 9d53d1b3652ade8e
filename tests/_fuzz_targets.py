"""What the API fuzzer (``_fuzz_api.py``) calls: one ``Target`` per public function or class
(``cptlaw.__all__``, ``schedules``, ``planner``, ``io``, ``compare``, ``intervals``,
``bootstrap``, ``grid``, ``Tracker``, ``LivePredictor``, the laws), each drawing one call
from hypothesis strategies: valid arguments most of the time, a hostile one here and there,
sometimes a misspelt keyword.

``weight`` scales the number of examples of a target (expensive calls get fewer).
"""

from __future__ import annotations

import copy
import inspect
import json
import math
import os
import tempfile
from dataclasses import dataclass, field

import numpy as np
from hypothesis import strategies as st

import cptlaw
from cptlaw import io as cio
from cptlaw import planner as P
from cptlaw import reference as R
from cptlaw import schedules as S
from _area_tolerance import s2_rounding_floor
from _fuzz_values import (HUGE_INTS, SPECIAL_FLOATS, arg, decays, exponents, floats, hostile, keyword_typos,
                          laid_out, lr_values, small_ints)

ALLOWED = (ValueError, TypeError)


@dataclass
class Call:
    fn: object
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    names: tuple = ()  # argument names a message may name (besides the keywords given)
    allowed: tuple = ALLOWED
    check: object = None  # called with the result: asserts a property
    mutable: tuple = ("out",)  # keywords the call may write into
    label: str = ""


@dataclass
class Target:
    name: str
    draw: object
    weight: float = 1.0


TARGETS: list = []


def target(name, weight=1.0):
    def deco(fn):
        TARGETS.append(Target(name, fn, weight))
        return fn
    return deco


def signature_names(fn) -> tuple:
    try:
        return tuple(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return ()


def options(data, kwargs, spec, p_bad=0.2, p_omit=0.5):
    """Fill ``kwargs`` from ``spec`` {name: valid strategy}: each option omitted, valid or hostile."""
    for name, valid in spec.items():
        r = data.draw(st.floats(0, 1), label=f"use {name}")
        if r < p_omit:
            continue
        kwargs[name] = data.draw(hostile() if r > 1 - p_bad else valid, label=name)
    return kwargs


def maybe_typo(data, kwargs, fn, p=0.08):
    names = signature_names(fn)
    if data.draw(st.floats(0, 1), label="typo?") < p:
        bad = data.draw(keyword_typos(list(names) or ["x"]), label="typo")
        if bad not in names and bad not in kwargs:
            kwargs[bad] = 1.0
    return kwargs


def safe_shape(value):
    """np.shape of a value that may be ragged or odd; None where it has none."""
    if isinstance(value, (str, bytes)):
        return None
    try:
        return tuple(np.shape(value))
    except Exception:
        return None


def same_nan(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and np.array_equal(a, b, equal_nan=True)


def as_plain(value):
    """A C-contiguous writeable float64 copy of an array argument (other values unchanged)."""
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return np.array(value, dtype=np.float64, order="C")
    return value


# -- fixtures -----------------------------------------------------------------------------------

P1_PT = dict(L0=3.057, A=0.490, alpha=0.497, C1=0.299, C2=0.298, B=0.366, E=28.0, beta=0.189)
P1_CPT = dict(L0=3.024, A=0.412, alpha=0.677, C1=0.278, C2=0.324, B=-0.666, E=5662.0, beta=0.146)
LAW_PT, LAW_CPT = cptlaw.CPTLaw(**P1_PT), cptlaw.CPTLaw(**P1_CPT)
PT = S.wsd(2e-4, 300, decay_steps=30, warmup=20)
CPT = S.cosine(1e-4, 200, warmup=10)
SCHEDULES = [PT, CPT, S.constant(1e-3, 5), S.one_minus_sqrt(1e-3, 50, decay_steps=20), S.from_values([0.0, 1e-3, 0.0]),
             S.concat(S.constant(1e-3, 4), S.linear(1e-3, 6))]

VALID_PARAMS = {
    "AnnealingLaw": dict(L0=3.0, A=0.5, alpha=0.5, C=0.3),
    "CPTLaw": P1_CPT,
    "CPTSharedCLaw": dict(L0=3.0, A=0.45, alpha=0.5, C=0.3, B=-0.5, E=300.0, beta=0.2),
    "ReplayPTLaw": dict(P1_PT, a1=0.5, a2=2.0),
    "ReplayCPTLaw": dict(P1_CPT, a1=0.5, a2=2.0),
    "ModelSizeLaw": dict(P1_PT, g1=0.1, g2=0.1, F=1.0, g3=0.3),
    "OpenSourceLaw": dict(L0=3.0, A=0.45, alpha=0.5, S1_pt_hat=10.0, B=-0.5, E=300.0, beta=0.2, C2=0.3),
    "CPTPowerS2Law": dict(P1_CPT, z1=1.0, z2=0.8),
    "OutOfDomainLaw": dict(w1=0.3, w2=0.7),
}
LAWS = {cls.__name__: cls(**VALID_PARAMS[cls.__name__]) for cls in cptlaw.LAWS}


def _anneal_data(n=24):
    lr = S.wsd(1e-3, 400, decay_steps=100, warmup=10).values()
    a = cptlaw.areas(lr)
    idx = np.linspace(20, 399, n).astype(int)
    feats = {"s1": a.s1[idx], "s2": a.s2[idx]}
    loss = LAWS["AnnealingLaw"](**feats) * (1 + 1e-3 * np.sin(np.arange(n)))
    return feats, loss


FEATS, LOSS = _anneal_data()
FIT = cptlaw.fit(LAWS["AnnealingLaw"], FEATS, LOSS, multistart=False)
BOOT = cptlaw.bootstrap(FIT, FEATS, LOSS, n_boot=8, seed=0, multistart=False, predict=FEATS)


def _run(kind, name, seed):
    lr_pt = S.wsd(2e-4, 200, decay_steps=40 if kind == "anneal" else 1, warmup=10).values()
    lr_cpt = S.cosine(1e-4 * (1 + seed), 150, warmup=10).values()
    steps = np.arange(10, 351, 20)
    a = cptlaw.cpt_areas(lr_pt, lr_cpt)
    feats = {k: getattr(a, k)[steps - 1] for k in ("s1_pt", "s2_pt", "s1_cpt", "s2_cpt")}
    loss = {"pt": LAW_PT(**feats), "cpt": LAW_CPT(**feats)}
    return cptlaw.Run(lr_pt=lr_pt, lr_cpt=lr_cpt, steps=steps, loss=loss, name=name, group=kind)


RUNS = [_run("const", "a", 0), _run("anneal", "b", 1), _run("const", "c", 2)]
FIT_RUNS = cptlaw.fit_runs(LAW_CPT, RUNS, valset="cpt", multistart=False)


# -- strategies of valid values -----------------------------------------------------------------

def warmups():
    return st.one_of(st.booleans(), st.none(), small_ints(0, 30))


def splits():
    return st.sampled_from(["by_source", "by_time", "restart"])


def laws():
    return st.sampled_from(sorted(LAWS)).map(lambda n: LAWS[n])


def law_classes():
    return st.sampled_from(list(cptlaw.LAWS))


@st.composite
def law_inputs(draw, law, lead=None):
    """A dict of the law's inputs, broadcastable, in random layouts and dtypes."""
    shape = lead if lead is not None else draw(st.sampled_from([(), (0,), (1,), (4,), (2, 3)]))
    out = {}
    for n in law.input_names:
        sub = draw(st.sampled_from([shape, shape[-1:], ()])) if shape else ()
        hi = 1.0 if n == "r_pt" else 50.0
        vals = draw(st.lists(st.one_of(floats(0.0, hi), st.sampled_from([0.0, 1e-300, hi])),
                             min_size=int(np.prod(sub)), max_size=int(np.prod(sub))))
        if n == "N":
            vals = [v + 1.0 for v in vals]
        arr = np.array(vals, dtype=np.float64).reshape(sub)
        out[n] = draw(laid_out(st.just(arr)))
    return out


# -- checks -------------------------------------------------------------------------------------

def equals_plain(fn, args, kwargs, pick=lambda r: r):
    """The result must not depend on the inputs' layout and dtype: compare with float64 copies."""
    def check(result):
        plain_args = tuple(as_plain(a) for a in args)
        plain_kw = {k: (v if k == "out" else as_plain(v)) for k, v in kwargs.items() if k != "out"}
        again = fn(*plain_args, **plain_kw)
        for a, b in zip(pick(result), pick(again)):
            assert same_nan(a, b), "result differs from the same call on contiguous float64 copies"
    return check


# -- core: areas, laws --------------------------------------------------------------------------

def _out_pair(data, shape, lr):
    how = data.draw(st.sampled_from(["none", "fresh", "alias_lr", "same", "shape", "dtype", "readonly", "strided",
                                     "list", "one", "hostile"]), label="out")
    if how == "none":
        return None
    if how == "fresh":
        return (np.empty(shape), np.empty(shape))
    if how == "alias_lr" and isinstance(lr, np.ndarray) and lr.dtype == np.float64:
        return (lr, np.empty(shape)) if data.draw(st.booleans()) else (np.empty(shape), lr)
    if how == "same":
        a = np.empty(shape)
        return (a, a)
    if how == "shape":
        return (np.empty(shape + (1,)), np.empty(shape))
    if how == "dtype":
        return (np.empty(shape, np.float32), np.empty(shape))
    if how == "readonly":
        a = np.empty(shape)
        a.flags.writeable = False
        return (a, np.empty(shape))
    if how == "strided":
        return (np.empty(shape + (2,))[..., 0], np.empty(shape))
    if how == "list":
        return [np.empty(shape), np.empty(shape)]
    if how == "one":
        return (np.empty(shape),)
    return data.draw(hostile())


@target("areas", 3)
def _areas(data):
    lead = data.draw(st.sampled_from([(), (), (2,), (1, 3)]))
    lr = data.draw(arg(lr_values(lead=lead)), label="lr")
    kw = options(data, {}, {"decay": decays(), "warmup_as_peak": warmups(), "s2_lr_exponent": exponents()})
    shape = safe_shape(lr)
    if shape is not None and math.prod(shape) < 10**5 and data.draw(st.booleans()):
        kw["out"] = _out_pair(data, shape, lr)
    maybe_typo(data, kw, cptlaw.areas)
    check = None
    if "out" not in kw:
        check = equals_plain(cptlaw.areas, (lr,), kw)
    return Call(cptlaw.areas, (lr,), kw, signature_names(cptlaw.areas), check=check)


@target("cpt_areas", 2)
def _cpt_areas(data):
    lead = data.draw(st.sampled_from([(), (2,)]))
    lr_pt = data.draw(arg(lr_values(lead=lead)), label="lr_pt")
    lr_cpt = data.draw(arg(lr_values(n_min=0, lead=data.draw(st.sampled_from([(), lead])))), label="lr_cpt")
    kw = options(data, {}, {"decay": decays(), "split": splits(), "warmup_as_peak": warmups(),
                            "s2_lr_exponent": exponents()})
    maybe_typo(data, kw, cptlaw.cpt_areas)
    return Call(cptlaw.cpt_areas, (lr_pt, lr_cpt), kw, signature_names(cptlaw.cpt_areas),
                check=equals_plain(cptlaw.cpt_areas, (lr_pt, lr_cpt), kw))


@target("areas vs reference", 2)
def _areas_reference(data):
    """Special values (zero and subnormal LRs, huge LRs, decays at their limits, LR exponents
    negative or zero): the core must give what the pure-Python reference gives."""
    n = data.draw(st.integers(1, 8))
    elems = st.sampled_from([0.0, 0.0, 1e-3, 2e-4, 5e-324, 1e-300, 1e150, 1.0, 0.5])
    lr = np.array(data.draw(st.lists(elems, min_size=n, max_size=n)))
    lam = data.draw(st.sampled_from([0.0, 1.0, 0.999, 1 - 1e-12, 5e-324, 0.5]))
    eps = data.draw(st.sampled_from([None, 0.0, 0.5, 1.0, -0.5, -1.0, 2.0]))
    warm = data.draw(st.sampled_from([False, True, 0, 2]))
    split = data.draw(st.sampled_from([None, "by_source", "by_time", "restart"]))
    t = data.draw(st.integers(1, n))
    kw = {"warmup_as_peak": warm, "s2_lr_exponent": eps}

    def check(result):
        if split is None:
            ref = R.areas(lr, lam, warmup_as_peak=warm, s2_lr_exponent=eps)
            names = ("s1", "s2")
        else:
            ref = R.cpt_areas(lr[:t], lr[t:], lam, split, warmup_as_peak=warm, s2_lr_exponent=eps)
            names = ("s1_pt", "s2_pt", "s1_cpt", "s2_cpt")
        for name, got, want in zip(names, result, ref):
            want = np.asarray(want, dtype=float)
            assert np.array_equal(np.isnan(got), np.isnan(want)), f"{name}: NaN at other steps: {got} vs {want}"
            inf = np.isinf(want)
            assert np.array_equal(got[inf], want[inf]) and not np.isinf(got[~inf]).any(), f"{name}: infinities differ"
            fin = np.isfinite(want)
            cond = s2_rounding_floor(lr, lam, eps) if name.startswith("s2") else 0.0
            tol = 1e-12 * np.abs(want) + cond
            assert (np.abs(got - want) <= tol)[fin].all(), f"{name}: core {got.tolist()} vs reference {want.tolist()}"

    if split is None:
        return Call(cptlaw.areas, (lr, lam), kw, ("lr",), check=check, label="areas vs reference")
    return Call(cptlaw.cpt_areas, (lr[:t], lr[t:], lam, split), kw, ("lr_pt", "lr_cpt"), check=check,
                label="cpt_areas vs reference")


# zeros, tiny and huge values, negative areas; no product of a parameter and an input overflows
LAW_SPECIAL_PARAMS = [0.0, 1e-300, 1e-12, 0.5, 1.0, 3.0, 1e12, -0.5]
LAW_SPECIAL_INPUTS = [0.0, 1e-300, 1e-12, 0.5, 1.0, 1e12, 1e100, -1e-12, -0.5]


@target("laws vs reference", 2)
def _laws_reference(data):
    """Special parameter and input values (zeros, tiny and huge, negative areas): the core must
    give what the reference gives, NaN and inf included."""
    cls = data.draw(law_classes())
    params = {k: data.draw(st.sampled_from(LAW_SPECIAL_PARAMS + [v]), label=k)
              for k, v in VALID_PARAMS[cls.__name__].items()}
    n = data.draw(st.integers(1, 5))
    inputs = {k: np.array(data.draw(st.lists(st.sampled_from(LAW_SPECIAL_INPUTS), min_size=n, max_size=n)))
              for k in cls.input_names}
    law = cls(**params)

    def check(value):
        with np.errstate(all="ignore"):
            want = np.asarray(getattr(R, cls._core_name)(params, **inputs), dtype=np.float64)
            mag = R.magnitude(cls._core_name, params, **inputs)
        assert np.array_equal(np.isnan(value), np.isnan(want)), f"NaN at other points: {value} vs {want}"
        inf = np.isinf(want)
        assert np.array_equal(value[inf], want[inf]) and not np.isinf(value[~inf]).any(), \
            f"infinities differ: {value} vs {want}"
        fin = np.isfinite(want)
        tol = 1e-12 * np.where(np.isfinite(mag), mag, 0.0) + 1e-12 * np.abs(want)
        assert (np.abs(value - want) <= tol)[fin].all(), f"core {value} vs reference {want}"

    return Call(law, (), inputs, law.input_names, check=check, label=f"{law!r}")


@target("law construct", 2)
def _law_init(data):
    cls = data.draw(law_classes())
    params = dict(VALID_PARAMS[cls.__name__])
    for k in params:
        params[k] = data.draw(arg(st.one_of(floats(-10, 10), st.sampled_from(SPECIAL_FLOATS + HUGE_INTS)),
                                  hostile()), label=k) if data.draw(st.integers(0, 4)) == 0 else params[k]
    positional = data.draw(st.booleans())
    args, kw = (tuple(params.values()), {}) if positional else ((), params)
    if data.draw(st.integers(0, 9)) == 0:
        kw = dict(kw, **{data.draw(keyword_typos(cls.param_names)): 1.0})
    return Call(cls, args, kw, cls.param_names, label=cls.__name__)


def _same_as_unaliased(law, before):
    def check(result):
        assert same_nan(result, law(**before)), "out= aliasing an input changed the result"
    return check


@target("law call", 3)
def _law_call(data):
    law = data.draw(laws())
    method = data.draw(st.sampled_from(["call", "call", "grad", "value_and_grad"]))
    inputs = data.draw(law_inputs(law))
    for n in list(inputs):
        if data.draw(st.integers(0, 5)) == 0:
            inputs[n] = data.draw(hostile(), label=n)
    if data.draw(st.integers(0, 12)) == 0:
        inputs.pop(next(iter(inputs)))
    if data.draw(st.integers(0, 12)) == 0:
        inputs[data.draw(keyword_typos(law.input_names))] = 1.0
    fn = {"call": law, "grad": law.grad, "value_and_grad": law.value_and_grad}[method]
    kw = dict(inputs)
    names = law.input_names + ("out",)
    check = None
    if method == "call" and data.draw(st.booleans()):
        try:
            shape = np.broadcast_shapes(*(safe_shape(v) or () for v in inputs.values()))
        except ValueError:
            shape = ()
        if math.prod(shape) > 10**5:
            shape = (7,)
        how = data.draw(st.sampled_from(["fresh", "alias", "alias", "dtype", "readonly", "hostile", "shape"]))
        if how == "fresh":
            kw["out"] = np.empty(shape)
        elif how == "alias":
            # out is one of the inputs (same shape, float64): refused, or the same result
            cands = [n for n, v in inputs.items() if isinstance(v, np.ndarray) and v.shape == shape
                     and v.dtype == np.float64 and v.flags.c_contiguous and v.flags.writeable]
            if cands:
                kw["out"] = inputs[cands[0]]
                check = _same_as_unaliased(law, {k: v.copy() if isinstance(v, np.ndarray) else v
                                                 for k, v in inputs.items()})
        elif how == "dtype":
            kw["out"] = np.empty(shape, np.float32)
        elif how == "readonly":
            o = np.empty(shape)
            o.flags.writeable = False
            kw["out"] = o
        elif how == "shape":
            kw["out"] = np.empty((7,))
        else:
            kw["out"] = data.draw(hostile())
    if check is None and "out" not in kw:
        check = equals_plain(fn, (), kw, pick=lambda r: r if isinstance(r, tuple) else (r,))
    return Call(fn, (), kw, names, check=check, mutable=("out",) + law.input_names if "out" in kw else ("out",),
                label=f"{type(law).__name__}.{method}")


@target("law from_vector")
def _law_from_vector(data):
    cls = data.draw(law_classes())
    vec = data.draw(arg(st.just(list(VALID_PARAMS[cls.__name__].values()))))
    return Call(cls.from_vector, (vec,), {}, ("vector",), label=f"{cls.__name__}.from_vector")


@target("OutOfDomainLaw.fit")
def _ood_fit(data):
    n = data.draw(st.integers(0, 6))
    vals = st.lists(floats(1.0, 5.0), min_size=n, max_size=n).map(np.array)
    args = tuple(data.draw(arg(vals), label=k) for k in ("loss_pt", "loss_cpt", "loss_ood"))
    return Call(cptlaw.OutOfDomainLaw.fit, args, {}, ("loss_pt", "loss_cpt", "loss_ood"))


# -- fitting ------------------------------------------------------------------------------------

FIT_OPTIONS = {
    "objective": st.sampled_from(["huber_log", "log_ls", "ls", "huber"]),
    "delta": st.sampled_from([1e-3, 0.1, 1.0]),
    "weights": st.just(np.ones(len(LOSS))),
    "bounds": st.sampled_from([{"alpha": (0.1, 2.0)}, {"A": (0.0, 1.0)}, {"alpha": (1.0, 0.5)}]),
    "fixed": st.sampled_from([{"L0": 3.0}, {"alpha": 0.5}, {"alpha": 12.0}, {"nope": 1.0}]),
    "starts": st.sampled_from([np.array([[3.0, 0.5, 0.5, 0.3]]), np.array([3.0, 0.5, 0.5, 0.3]),
                               np.array([[3.0, 0.5, 0.5]])]),
    "grid": st.sampled_from([np.array([[3.0, 0.5, 0.5, 0.3], [2.9, 0.4, 0.6, 0.2]])]),
    "keep": small_ints(1, 3),
    "max_iter": st.sampled_from([1, 5, 50]),
    "ftol": st.sampled_from([1e-10, 1e-3]),
    "xtol": st.sampled_from([1e-10, 1e-3]),
    "gtol": st.sampled_from([1e-10, 1e-3]),
}


def _fit_features(data, two_d=False):
    feats = {k: v for k, v in FEATS.items()}
    loss = LOSS.copy()
    if two_d:
        feats = {k: np.tile(v, (2, 1)) for k, v in feats.items()}
        loss = np.tile(loss, (2, 1))
    feats = {k: data.draw(arg(laid_out(st.just(v))), label=k) for k, v in feats.items()}
    if data.draw(st.integers(0, 10)) == 0:
        feats = data.draw(hostile(), label="features")
    loss = data.draw(arg(laid_out(st.just(loss))), label="loss")
    return feats, loss


@target("fit", 2)
def _fit(data):
    law = data.draw(arg(st.sampled_from([cptlaw.AnnealingLaw, "annealing", LAWS["AnnealingLaw"]])), label="law")
    feats, loss = _fit_features(data)
    kw = {"multistart": data.draw(st.sampled_from([False, False, False, True]))}
    options(data, kw, dict(FIT_OPTIONS, nan_policy=st.sampled_from(["raise", "omit"])), p_omit=0.7)
    maybe_typo(data, kw, cptlaw.fit)
    return Call(cptlaw.fit, (law, feats, loss), kw, signature_names(cptlaw.fit) + ("s1", "s2"))


@target("fit_many", 1)
def _fit_many(data):
    law = data.draw(arg(st.sampled_from([cptlaw.AnnealingLaw, "annealing"])), label="law")
    feats, loss = _fit_features(data, two_d=True)
    kw = {"multistart": data.draw(st.sampled_from([False, False, True]))}
    options(data, kw, FIT_OPTIONS, p_omit=0.7)
    maybe_typo(data, kw, cptlaw.fit_many)
    return Call(cptlaw.fit_many, (law, feats, loss), kw, signature_names(cptlaw.fit_many) + ("s1", "s2"))


@target("Run")
def _run_ctor(data):
    kw = {"lr_pt": data.draw(arg(lr_values(n_min=5, n_max=10)), label="lr_pt"),
          "steps": data.draw(arg(st.lists(st.integers(1, 5), min_size=1, max_size=4)), label="steps")}
    options(data, kw, {"loss": st.lists(floats(1, 5), min_size=1, max_size=4), "lr_cpt": lr_values(n_min=0),
                       "r_pt": floats(0, 1), "name": st.text(max_size=3), "group": st.sampled_from(["g", 1, None])})
    return Call(cptlaw.Run, (), kw, signature_names(cptlaw.Run))


@target("fit_runs / predict_run", 1.5)
def _fit_runs(data):
    which = data.draw(st.sampled_from(["fit_runs", "predict_run", "extrapolation_checks", "features", "losses"]))
    if which == "fit_runs":
        law = data.draw(arg(st.sampled_from([cptlaw.CPTLaw, cptlaw.AnnealingLaw])), label="law")
        runs = data.draw(arg(st.sampled_from([RUNS, RUNS[:1], RUNS[0], []])), label="runs")
        kw = {"multistart": False, "max_iter": 20}
        options(data, kw, {"valset": st.sampled_from(["pt", "cpt", None, "x"]), "decay": decays(), "split": splits(),
                           "warmup_as_peak": warmups()})
        maybe_typo(data, kw, cptlaw.fit)
        return Call(cptlaw.fit_runs, (law, runs), kw, signature_names(cptlaw.fit_runs) + ("fitted",))
    if which in ("predict_run", "extrapolation_checks"):
        fitted = data.draw(arg(st.sampled_from([FIT_RUNS, LAW_CPT, FIT_RUNS["law"], LAWS["AnnealingLaw"]])),
                           label="fitted")
        run = data.draw(arg(st.sampled_from(RUNS)), label="run")
        fn = cptlaw.predict_run if which == "predict_run" else cptlaw.extrapolation_checks
        kw = {}
        if which == "predict_run":
            options(data, kw, {"decay": decays(), "split": splits(), "warmup_as_peak": warmups()})
        return Call(fn, (fitted, run), kw, signature_names(fn) + ("law",))
    run = RUNS[data.draw(st.integers(0, 2))]
    if which == "features":
        law = data.draw(arg(st.sampled_from([cptlaw.CPTLaw, LAWS["ModelSizeLaw"], cptlaw.AnnealingLaw])),
                        label="law")
        kw = options(data, {}, {"decay": decays(), "split": splits(), "warmup_as_peak": warmups()})
        return Call(run.features, (law,), kw, signature_names(run.features), label="Run.features")
    valset = data.draw(arg(st.sampled_from(["pt", "cpt", None])), label="valset")
    return Call(run.losses, (valset,), {}, ("valset", "loss"), label="Run.losses")


@target("bootstrap", 1)
def _bootstrap(data):
    result = data.draw(arg(st.sampled_from([FIT, FIT_RUNS])), label="result")
    feats, loss = _fit_features(data)
    kw = {"n_boot": data.draw(arg(st.integers(2, 6)), label="n_boot"), "multistart": False, "max_iter": 20}
    options(data, kw, {"method": st.sampled_from(["pairs", "residuals"]), "level": floats(0.5, 0.99),
                       "predict": st.just(FEATS), "seed": st.integers(0, 10)})
    maybe_typo(data, kw, cptlaw.fit)
    return Call(cptlaw.bootstrap, (result, feats, loss), kw, signature_names(cptlaw.bootstrap) + ("s1", "s2"))


@target("intervals", 1.5)
def _intervals(data):
    which = data.draw(st.sampled_from(["predict_interval", "confidence_band", "prediction_interval"]))
    feats = {k: data.draw(arg(laid_out(st.just(v))), label=k) for k, v in FEATS.items()}
    if data.draw(st.integers(0, 8)) == 0:
        feats = data.draw(hostile(), label="features")
    kw = options(data, {}, {"level": floats(0.01, 0.999)})
    names = ("features", "level", "s1", "s2", "result", "kind", "n_draws")
    if which == "predict_interval":
        result = data.draw(arg(st.sampled_from([FIT, FIT_RUNS])), label="result")
        options(data, kw, {"kind": st.sampled_from(["prediction", "confidence"])})
        return Call(cptlaw.predict_interval, (result, feats), kw, names)
    if which == "prediction_interval":
        options(data, kw, {"n_draws": st.integers(1, 50)})
    return Call(getattr(BOOT, which), (feats,), kw, names, label=f"BootstrapResult.{which}")


@target("compare", 0.3)
def _compare(data):
    law_list = data.draw(arg(st.sampled_from([[cptlaw.CPTLaw], ["cpt", "cpt_shared_c"], cptlaw.CPTLaw, []])),
                         label="laws")
    runs = data.draw(arg(st.sampled_from([RUNS, RUNS[:2], RUNS[:1]])), label="runs")
    kw = {"multistart": False, "max_iter": 15, "threads": 1}
    options(data, kw, {"valsets": st.sampled_from(["pt", ["cpt"], None, "x"]),
                       "group_by": st.sampled_from([None, "group", "run", lambda r: r.name, {"a": 0}]),
                       "decay": decays(), "split": splits(), "tie": floats(0, 1)})
    maybe_typo(data, kw, cptlaw.fit)
    return Call(cptlaw.compare, (law_list, runs), kw, signature_names(cptlaw.compare))


# -- grid ---------------------------------------------------------------------------------------

GRID_CPT = {
    "shape": st.sampled_from(["cosine", "linear", "wsd", "constant", ["cosine", "wsd"]]),
    "peak_lr": st.sampled_from([1e-4, [1e-4, 2e-4], np.array([5e-5, 1e-4])]),
    "steps": st.sampled_from([100, [10, 100], 10**6]),
    "warmup": st.sampled_from([0, 5, [0, 10]]),
    "start_lr": st.sampled_from([None, "hf", "pt", 1e-5]),
    "decay_frac": st.sampled_from([0.1, [0.1, 0.5]]),
    "decay_type": st.sampled_from(["linear", "cosine"]),
    "min_lr": st.sampled_from([0.0, 1e-6]),
}


@target("grid", 1.5)
def _grid(data):
    laws_arg = data.draw(arg(st.sampled_from([LAW_CPT, {"pt": LAW_PT, "cpt": LAW_CPT}, LAWS["AnnealingLaw"],
                                              LAWS["OpenSourceLaw"], LAWS["ReplayPTLaw"]])), label="laws")
    cpt = {"shape": "wsd", "peak_lr": [1e-4, 2e-4], "steps": 100, "decay_frac": 0.2}
    for key, valid in GRID_CPT.items():
        r = data.draw(st.integers(0, 5), label=f"cpt.{key}")
        if r == 0:
            cpt[key] = data.draw(hostile(), label=f"cpt[{key}]")
        elif r == 1:
            cpt[key] = data.draw(valid, label=f"cpt[{key}]")
        elif r == 2 and key in cpt and key not in ("shape", "peak_lr", "steps"):
            del cpt[key]
    if data.draw(st.integers(0, 10)) == 0:
        cpt["nope"] = 1
    if data.draw(st.integers(0, 10)) == 0:
        cpt = data.draw(hostile(), label="cpt")
    kw = {"cpt": cpt, "pt": PT}
    options(data, kw, {"pt": st.sampled_from([PT, [PT, CPT], {"a": PT}, None,
                                              {"shape": "wsd", "peak_lr": 2e-4, "steps": 300, "decay_frac": 0.1,
                                               "loss_potential": [0.1, 1.0]}]),
                       "replay": st.sampled_from([None, 0.25, [0.0, 0.5]]),
                       "w": st.sampled_from([None, 0.5, [0.2, 0.8]]),
                       "steps": st.sampled_from(["final", "all", [0, 5], 10, [10**6]]),
                       "decay": decays(), "split": splits(), "warmup_as_peak": warmups(),
                       "reduce": st.sampled_from([None, "best", "min", "argmin", "pareto"]),
                       "objective": st.sampled_from([None, "loss", "loss_pt", "weighted"]),
                       "k": st.integers(1, 3), "group_by": st.sampled_from([None, "cpt_shape", ["cpt_steps"]]),
                       "chunk_size": st.sampled_from([1, 7, 10**6]), "progress": st.just(False)}, p_omit=0.6)
    maybe_typo(data, kw, cptlaw.grid)
    return Call(cptlaw.grid, (laws_arg,), kw, signature_names(cptlaw.grid) + tuple(GRID_CPT) + ("loss_potential",),
                allowed=ALLOWED)


# -- schedules ----------------------------------------------------------------------------------

def _sched_kwargs(data, fn):
    """Valid arguments of a schedule constructor, some replaced by hostile ones."""
    n = data.draw(st.sampled_from([1, 2, 10, 50, 2**40, 2**53]), label="steps")
    base = {
        "lr": 1e-3, "peak_lr": 1e-3, "steps": n, "warmup": min(2, n), "min_lr": 0.0, "num_cycles": 0.5,
        "decay_steps": max(1, n // 5), "gamma": 0.9, "timescale": 3, "power": 2.0, "milestones": [1, 3],
        "cycle_steps": max(1, n // 2), "cycle_mult": 1, "start_lr": 0.0, "decay": "linear",
        "warmup_type": "linear",
    }
    if fn is S.rewarmup:
        base["decay"] = data.draw(st.sampled_from(["cosine", "linear", "1-sqrt", "constant"]))
    if fn is S.wsd:
        base["decay"] = data.draw(st.sampled_from(["linear", "cosine", "1-sqrt", "exponential"]))
        base["warmup_type"] = data.draw(st.sampled_from(["linear", "cosine", "1-sqrt"]))
    sig = inspect.signature(fn).parameters
    kw = {k: v for k, v in base.items() if k in sig}
    if fn is S.cyclic_cosine:
        kw.pop("num_cycles", None)
    for k in list(kw) + [k for k in sig if k not in kw and k != "schedules"]:
        r = data.draw(st.integers(0, 6), label=f"bad {k}?")
        if r == 0:
            kw[k] = data.draw(hostile(), label=k)
        elif r == 1 and k in ("steps", "warmup", "decay_steps", "cycle_steps", "timescale", "cycle_mult"):
            kw[k] = data.draw(st.sampled_from(HUGE_INTS + [1.5, 2.0, np.int32(3)]), label=k)
        elif r == 2 and k in ("peak_lr", "lr", "min_lr", "gamma", "power", "num_cycles", "start_lr"):
            kw[k] = data.draw(st.sampled_from(SPECIAL_FLOATS + [2**70]), label=k)
    return kw


CONSTRUCTORS = [S.constant, S.cosine, S.linear, S.wsd, S.one_minus_sqrt, S.exponential, S.inverse_sqrt,
                S.polynomial, S.multistep, S.cyclic_cosine, S.rewarmup]


def _materialises_safely(sched):
    return sched.steps <= 10**6


@target("schedule constructors", 3)
def _sched_ctor(data):
    fn = data.draw(st.sampled_from(CONSTRUCTORS))
    kw = _sched_kwargs(data, fn)
    maybe_typo(data, kw, fn)
    positional = data.draw(st.integers(0, 3)) == 0
    args = ()
    if positional:
        names = list(inspect.signature(fn).parameters)
        take = [n for n in names[:2] if n in kw]
        args = tuple(kw.pop(n) for n in take)

    def check(sched):
        # use what was built: its areas at a few steps (1-sqrt, inverse-sqrt and polynomial
        # segments cost O(steps): documented, interruptible, not refused), its LR at the last step
        if sched.steps < 10**7 or not any(k in repr(sched) for k in ("sqrt", "polynomial")):
            a = sched.areas(np.array([0, sched.steps - 1]))
            assert a.s1.shape == (2,)
        lr_last = sched.lr(sched.steps - 1)
        assert math.isfinite(lr_last) and lr_last >= 0, f"lr at the last step is {lr_last}"
        if sched.steps <= 1000:
            v = sched.values()
            assert np.isfinite(v).all() and (v >= 0).all(), "values() holds NaN, inf or negative LRs"
    return Call(fn, args, kw, signature_names(fn), check=check, label=f"schedules.{fn.__name__}")


@target("schedule methods", 3)
def _sched_methods(data):
    sched = data.draw(st.sampled_from(SCHEDULES + [S.constant(1e-3, 2**40), S.wsd(1e-3, 2**45, 2**30)]))
    n = sched.steps
    which = data.draw(st.sampled_from(["lr", "areas", "final_state", "getitem", "then", "lambda", "values",
                                       "steps_arrays"]))
    if which == "lr":
        t = data.draw(arg(st.one_of(st.integers(0, n - 1), st.lists(st.integers(0, n - 1), max_size=4))), label="t")
        return Call(sched.lr, (t,), {}, ("t",), label="Schedule.lr")
    if which in ("areas", "steps_arrays"):
        steps = data.draw(arg(st.one_of(st.none() if n <= 10**5 else st.just([0]),
                                        st.lists(st.integers(0, n - 1), max_size=5).map(np.array),
                                        st.integers(0, n - 1))), label="steps")
        kw = options(data, {}, {"decay": decays(), "warmup_as_peak": warmups()})
        maybe_typo(data, kw, sched.areas)
        return Call(sched.areas, (steps,), kw, ("steps", "decay", "warmup_as_peak"), label="Schedule.areas")
    if which == "final_state":
        kw = options(data, {}, {"decay": decays()})
        return Call(sched.final_state, (), kw, ("decay",), label="Schedule.final_state")
    if which == "getitem":
        key = data.draw(arg(st.builds(slice, st.one_of(st.none(), st.integers(-5, n + 2)),
                                      st.one_of(st.none(), st.integers(-5, n + 2)),
                                      st.sampled_from([None, 1, 2]))), label="key")
        return Call(sched.__getitem__, (key,), {}, ("key", "Schedule"), label="Schedule[key]")
    if which == "then":
        others = data.draw(st.lists(arg(st.sampled_from(SCHEDULES)), max_size=3), label="others")
        return Call(sched.then, tuple(others), {}, ("others", "schedules"), label="Schedule.then")
    if which == "lambda":
        t = data.draw(arg(st.integers(0, n + 2)), label="t")
        return Call(lambda t: sched.as_lambda()(t), (t,), {}, ("t", "as_lambda"), label="Schedule.as_lambda()")
    if n > 10**6:
        return None
    return Call(sched.values, (), {}, (), label="Schedule.values")


@target("schedules batch", 2)
def _sched_batch(data):
    which = data.draw(st.sampled_from(["batch_areas", "batch_cpt_areas", "cpt_areas_at", "concat", "from_values",
                                       "from_hf"]))
    if which == "batch_areas":
        scheds = data.draw(arg(st.lists(st.sampled_from(SCHEDULES), min_size=1, max_size=3)), label="schedules")
        steps = data.draw(arg(st.one_of(st.none(), st.just([0, 2]), st.just(np.array([[0], [1]])))), label="steps")
        kw = options(data, {}, {"decay": decays(), "warmup_as_peak": warmups()})
        return Call(S.batch_areas, (scheds, steps), kw, signature_names(S.batch_areas))
    if which in ("batch_cpt_areas", "cpt_areas_at"):
        pt = data.draw(arg(st.sampled_from([PT, [PT, CPT]] if which == "batch_cpt_areas" else [PT])), label="pt")
        cpt = data.draw(arg(st.sampled_from([CPT, [CPT]] if which == "batch_cpt_areas" else [CPT])), label="cpt")
        steps = data.draw(arg(st.one_of(st.none(), st.just([0, 299, 300, 499]), st.just([500]))), label="steps")
        kw = options(data, {}, {"decay": decays(), "split": splits(), "warmup_as_peak": warmups()})
        fn = getattr(S, which)
        return Call(fn, (pt, cpt, steps), kw, signature_names(fn))
    if which == "concat":
        parts = data.draw(st.lists(arg(st.sampled_from(SCHEDULES)), max_size=3), label="schedules")
        return Call(S.concat, tuple(parts), {}, ("schedules",))
    if which == "from_values":
        values = data.draw(arg(lr_values()), label="values")
        return Call(S.from_values, (values,), {}, ("values",))
    name = data.draw(arg(st.sampled_from(["linear", "cosine", "constant", "constant_with_warmup",
                                          "cosine_with_restarts", "polynomial", "inverse_sqrt", "reduce_lr_on_plateau",
                                          "cosine_with_min_lr", "warmup_stable_decay", "nope"])), label="name")
    args = (name, data.draw(arg(st.just(1e-3)), label="peak_lr"),
            data.draw(arg(st.integers(0, 5)), label="num_warmup_steps"),
            data.draw(arg(st.one_of(st.none(), st.integers(5, 50))), label="num_training_steps"))
    kw = options(data, {}, {"num_cycles": st.sampled_from([0.5, 2]), "power": st.just(2.0),
                            "lr_end": st.just(1e-5), "min_lr": st.just(1e-5), "min_lr_rate": st.just(0.1),
                            "num_decay_steps": st.just(3), "num_stable_steps": st.just(3),
                            "timescale": st.just(3)}, p_omit=0.8)
    return Call(S.from_hf, args, kw, signature_names(S.from_hf) + tuple(kw))


# -- planner ------------------------------------------------------------------------------------

@target("planner", 2)
def _planner(data):
    which = data.draw(st.sampled_from(["loss_potential", "critical_point", "cpt_schedule", "evaluate", "pareto_front",
                                       "turning_length", "wsd_pt_family"]))
    law_pt = data.draw(arg(st.sampled_from([LAW_PT, LAWS["ReplayPTLaw"]])), label="law_pt")
    law_cpt = data.draw(arg(st.sampled_from([LAW_CPT, None])), label="law_cpt")
    pt = data.draw(arg(st.sampled_from([PT, SCHEDULES[3]])), label="pt_schedule")
    common = {"r_pt": floats(0, 1), "inputs": st.sampled_from([None, {"N": 100.0}]), "decay": decays(),
              "split": splits(), "warmup_as_peak": warmups()}
    if which == "loss_potential":
        return Call(P.loss_potential, (pt,), {}, ("pt_schedule",))
    if which == "critical_point":
        kw = options(data, {}, dict(common, cpt_lr=st.sampled_from([None, 1e-4])))
        maybe_typo(data, kw, P.critical_point)
        return Call(P.critical_point, (law_pt, pt), kw, signature_names(P.critical_point))
    if which == "cpt_schedule":
        kw = {"peak_lr": data.draw(arg(st.just(1e-4)), label="peak_lr"),
              "steps": data.draw(arg(st.sampled_from([1, 100, 2**40])), label="steps")}
        options(data, kw, {"shape": st.sampled_from(P.CPT_SHAPES), "warmup": small_ints(0, 5),
                           "start_lr": st.just(1e-5), "decay_fraction": floats(0, 1), "min_lr_ratio": floats(0, 1),
                           "decay_type": st.sampled_from(["linear", "cosine", "1-sqrt"])})
        maybe_typo(data, kw, P.cpt_schedule)
        return Call(P.cpt_schedule, (), kw, signature_names(P.cpt_schedule))
    if which in ("evaluate", "pareto_front"):
        family = data.draw(arg(st.sampled_from([[CPT], CPT, {"peak_lr": [1e-4, 2e-4], "steps": 100},
                                                {"peak_lr": 1e-4, "steps": [10, 100], "shape": "wsd"},
                                                {"peak_lr": [], "steps": 1}, {"steps": 5}])), label="family")
        spec = dict(common)
        if which == "evaluate":
            spec["w"] = floats(0, 1)
        kw = options(data, {}, spec)
        fn = getattr(P, which)
        maybe_typo(data, kw, fn)
        return Call(fn, (law_pt, law_cpt, pt, family), kw, signature_names(fn) + P._PLAN_KEYS)
    if which == "turning_length":
        kw = options(data, {}, dict(common, cpt=st.sampled_from([None, CPT, lambda n: S.constant(1e-4, n)]),
                                    law_cpt=st.sampled_from([None, LAW_CPT]), w=floats(0, 1),
                                    cpt_lr=st.sampled_from([None, 1e-4, 0.0]),
                                    max_steps=st.sampled_from([10, 1000, 10**6])))
        kw.setdefault("max_steps", 10**5)
        maybe_typo(data, kw, P.turning_length)
        return Call(P.turning_length, (law_pt, pt), kw, signature_names(P.turning_length))
    kw = {"peak_lr": data.draw(arg(st.just(2e-4)), label="peak_lr"),
          "steps": data.draw(arg(st.sampled_from([100, 2**40])), label="steps"),
          "decay_steps": data.draw(arg(st.just(20)), label="decay_steps")}
    options(data, kw, {"warmup": small_ints(0, 5), "decay": st.sampled_from(["linear", "cosine"])})

    lp = data.draw(st.sampled_from([0.0, 0.5, 1.0]))

    def check(family):
        family(lp)
    return Call(P.wsd_pt_family, (), kw, signature_names(P.wsd_pt_family) + ("lp",), check=check)


VARY = {"peak_lr": {"steps": 100}, "steps": {"peak_lr": 1e-4}, "decay_fraction": {"peak_lr": 1e-4, "steps": 100,
                                                                                 "shape": "wsd"},
        "warmup": {"peak_lr": 1e-4, "steps": 100}, "min_lr_ratio": {"peak_lr": 1e-4, "steps": 100},
        "r_pt": {"peak_lr": 1e-4, "steps": 100}, "loss_potential": {"peak_lr": 1e-4, "steps": 100}}


@target("planner optimize", 0.6)
def _optimize(data):
    vary = data.draw(arg(st.sampled_from(sorted(VARY))), label="vary")
    plan = dict(VARY.get(vary, {"peak_lr": 1e-4, "steps": 100})) if isinstance(vary, str) else {}
    for k in list(plan):
        if data.draw(st.integers(0, 5)) == 0:
            plan[k] = data.draw(hostile(), label=k)
    name = vary if isinstance(vary, str) else ""
    laws_ = (LAWS["ReplayPTLaw"], LAWS["ReplayCPTLaw"]) if name == "r_pt" else (LAW_PT, LAW_CPT)
    pt = P.wsd_pt_family(2e-4, 300, 30) if name == "loss_potential" else PT
    kw = dict(plan, grid=data.draw(st.sampled_from([5, 9])), rtol=1e-2)
    options(data, kw, {"bounds": st.sampled_from([None, (1e-5, 1e-4), (0.0, 1.0), (10, 200), (2.0, 1.0)]),
                       "decay": decays(), "split": splits(), "warmup_as_peak": warmups(),
                       "grid": st.sampled_from([1, 3, 5]), "rtol": st.sampled_from([1e-3, 0.5])}, p_omit=0.7)
    w = data.draw(arg(floats(0, 1)), label="w")
    maybe_typo(data, kw, P.optimize_cpt)
    return Call(P.optimize_cpt, (laws_[0], laws_[1], w, pt, vary), kw,
                signature_names(P.optimize_cpt) + P._PLAN_KEYS + ("lp",))


@target("planner optimal_*", 0.4)
def _optimal(data):
    fn = data.draw(st.sampled_from([P.optimal_cpt_steps, P.optimal_decay_fraction, P.optimal_final_lr,
                                    P.optimal_peak_lr, P.optimal_rewarmup]))
    names = list(inspect.signature(fn).parameters)
    values = {"law_pt": LAW_PT, "law_cpt": LAW_CPT, "w": 0.5, "pt_schedule": PT, "peak_lr": 1e-4, "cpt_steps": 100}
    args = []
    for n in names:
        if n in values:
            v = values[n]
            if data.draw(st.integers(0, 6)) == 0:
                v = data.draw(hostile(), label=n)
            args.append(v)
    kw = {"grid": 5, "rtol": 1e-2}
    if fn is P.optimal_decay_fraction:
        kw["shape"] = "wsd"
    options(data, kw, {"shape": st.sampled_from(P.CPT_SHAPES), "bounds": st.sampled_from([None, (0.0, 1.0)])},
            p_omit=0.8)
    maybe_typo(data, kw, P.optimize_cpt)
    return Call(fn, tuple(args), kw, signature_names(fn) + signature_names(P.optimize_cpt) + P._PLAN_KEYS)


@target("planner optimize_schedule", 0.2)
def _optimize_schedule(data):
    kw = {"knots": data.draw(arg(st.integers(2, 4)), label="knots"), "maxiter": 5}
    options(data, kw, {"warmup": small_ints(0, 5), "start_lr": st.sampled_from([None, 1e-5]),
                       "min_lr": st.just(0.0), "monotone": st.booleans(), "decay": decays()}, p_omit=0.7)
    args = (LAW_PT, LAW_CPT, data.draw(arg(floats(0, 1)), label="w"), PT,
            data.draw(arg(st.sampled_from([50, 100])), label="steps"), data.draw(arg(st.just(2e-4)), label="max_lr"))
    return Call(P.optimize_schedule, args, kw, signature_names(P.optimize_schedule))


# -- tracker, live prediction --------------------------------------------------------------------

@target("Tracker", 2)
def _tracker(data):
    kw = options(data, {}, {"decay": decays(), "split": splits(), "warmup_as_peak": warmups(),
                            "peak_lr": st.sampled_from([None, 1e-3]), "record": st.booleans()})
    lrs = data.draw(st.lists(arg(st.sampled_from([1e-3, 0.0, 5e-4, 1e-300])), max_size=6), label="lrs")
    cpt_at = data.draw(st.integers(-1, len(lrs)))

    def go(**kw):
        t = cptlaw.Tracker(**kw)
        for i, lr in enumerate(lrs):
            if i == cpt_at:
                t.start_cpt()
            t.step(lr)
        state = t.state_dict()
        t2 = cptlaw.Tracker.from_state_dict(state)
        assert t2.state_dict() == state, "a saved state does not load back as itself"
        return t

    return Call(go, (), kw, signature_names(cptlaw.Tracker) + ("lr",), allowed=ALLOWED + (RuntimeError,),
                label="Tracker")


def _tracker_state():
    t = cptlaw.Tracker(record=True, warmup_as_peak=2, peak_lr=1e-3)
    for lr in (1e-4, 5e-4, 1e-3, 8e-4):
        t.step(lr)
    t.start_cpt()
    t.step(2e-4)
    return t.state_dict()


TRACKER_STATE = _tracker_state()


def _mutated_state(data, state, name):
    state = copy.deepcopy(state)
    r = data.draw(st.integers(0, 3), label="mutation")
    keys = sorted(state) if isinstance(state, dict) else []
    if r == 0 and keys:
        state.pop(data.draw(st.sampled_from(keys)), None)
    elif r in (1, 2) and keys:
        state[data.draw(st.sampled_from(keys))] = data.draw(hostile(), label="value")
    elif r == 3:
        state = data.draw(arg(st.just(state)), label=name)
    return state


@target("Tracker.load_state_dict", 1.5)
def _tracker_load(data):
    state = _mutated_state(data, TRACKER_STATE, "state_dict")
    return Call(cptlaw.Tracker.from_state_dict, (state,), {}, ("state_dict", "Tracker") + tuple(TRACKER_STATE),
                label="Tracker.from_state_dict")


PLAN_PT = S.wsd(2e-4, 200, decay_steps=20, warmup=10).values()
PLAN_CPT = S.cosine(1e-4, 100).values()


def _live_predictor(**kw):
    kw.setdefault("planned_lr_pt", PLAN_PT)
    kw.setdefault("planned_lr_cpt", PLAN_CPT)
    kw.setdefault("fit_options", {"max_iter": 10})
    return cptlaw.LivePredictor(**kw)


def _observed_live():
    live = _live_predictor(refit_every=100, n_boot=4)
    for s in range(20, 280, 20):
        live.observe(s, pt=3.5 - s * 1e-3, cpt=3.8 - s * 1e-3)
    return live


LIVE_STATE = _observed_live().state_dict()
LIVE_NAMES = tuple(signature_names(cptlaw.LivePredictor)) + ("losses", "step", "steps", "valset", "state_dict",
                                                             "pt", "cpt")


@target("LivePredictor", 1.5)
def _live(data):
    which = data.draw(st.sampled_from(["ctor", "observe", "predict", "set_plan", "load_state_dict", "misc"]))
    if which == "ctor":
        kw = {"planned_lr_pt": data.draw(arg(lr_values(n_min=1, n_max=50)), label="planned_lr_pt")}
        options(data, kw, {"planned_lr_cpt": lr_values(n_min=0, n_max=20), "valsets": st.sampled_from(
            [("pt",), ("pt", "cpt"), "pt", ()]), "refit_every": small_ints(1, 5),
            "band": st.sampled_from(["delta", "bootstrap", "none"]), "level": floats(0.5, 0.99),
            "warn_level": floats(0.5, 0.9999), "fixed": st.sampled_from([None, {"L0": 3.0}]),
            "bounds": st.sampled_from([None, {"alpha": (0.1, 2.0)}]), "constants": st.sampled_from([None]),
            "decay": decays(), "split": splits(), "warmup_as_peak": warmups(), "n_boot": small_ints(4, 8),
            "full_refit_growth": floats(1.0, 3.0), "seed": small_ints(), "law": law_classes(),
            "fit_options": st.sampled_from([None, {"max_iter": 5}, {"nope": 1}])})
        kw.setdefault("fit_options", {"max_iter": 10})
        maybe_typo(data, kw, cptlaw.LivePredictor)
        return Call(cptlaw.LivePredictor, (), kw, LIVE_NAMES)
    live = _observed_live() if data.draw(st.booleans()) else _live_predictor()
    if which == "observe":
        step = data.draw(arg(st.integers(1, 300)), label="step")
        form = data.draw(st.sampled_from(["kw", "dict", "number"]))
        loss = data.draw(arg(floats(1.0, 5.0)), label="loss")
        if form == "kw":
            return Call(live.observe, (step,), {"pt": loss}, LIVE_NAMES, label="LivePredictor.observe")
        if form == "dict":
            return Call(live.observe, (step, data.draw(arg(st.just({"pt": loss, "cpt": loss})))), {}, LIVE_NAMES,
                        label="LivePredictor.observe")
        return Call(live.observe, (step, loss), {}, LIVE_NAMES, label="LivePredictor.observe")
    if which == "predict":
        steps = data.draw(arg(st.one_of(st.integers(1, 300), st.lists(st.integers(1, 300), max_size=3))),
                          label="steps")
        kw = options(data, {}, {"valset": st.sampled_from(["pt", "cpt", None, "x"])})
        return Call(live.predict, (steps,), kw, LIVE_NAMES, label="LivePredictor.predict")
    if which == "set_plan":
        args = (data.draw(arg(lr_values(n_min=1, n_max=50)), label="planned_lr_pt"),
                data.draw(arg(st.one_of(st.none(), lr_values(n_min=0, n_max=20))), label="planned_lr_cpt"))
        return Call(live.set_plan, args, {}, LIVE_NAMES, label="LivePredictor.set_plan")
    if which == "load_state_dict":
        state = _mutated_state(data, LIVE_STATE, "state_dict")
        return Call(live.load_state_dict, (state,), {}, LIVE_NAMES + tuple(LIVE_STATE),
                    label="LivePredictor.load_state_dict")
    method = data.draw(st.sampled_from(["fit_result", "observations", "outside", "prediction", "refit"]))
    valset = data.draw(arg(st.sampled_from(["pt", "cpt"])), label="valset")
    return Call(getattr(live, method), (valset,), {}, LIVE_NAMES, label=f"LivePredictor.{method}")


# -- io -----------------------------------------------------------------------------------------

SPEC = {"kind": "wsd", "peak_lr": 3e-4, "steps": 500, "decay_steps": 100, "warmup": 10}


def _spec(data, depth=0):
    base = data.draw(st.sampled_from([SPEC, {"kind": "cosine", "peak_lr": 1e-4, "steps": 50},
                                      {"kind": "values", "values": [1e-4, 2e-4]}, [1e-4, 0.0],
                                      {"kind": "concat", "parts": [SPEC, {"kind": "constant", "lr": 1e-4,
                                                                          "steps": 5}]},
                                      {"kind": "hf", "name": "linear", "peak_lr": 1e-4, "num_warmup_steps": 2,
                                       "num_training_steps": 20}]))
    spec = copy.deepcopy(base)
    if isinstance(spec, dict):
        for k in list(spec):
            if data.draw(st.integers(0, 4)) == 0:
                spec[k] = data.draw(hostile(), label=k)
        if data.draw(st.integers(0, 8)) == 0:
            spec["nope"] = 1
    elif data.draw(st.booleans()):
        spec = data.draw(hostile(), label="spec")
    return spec


@target("io.schedule_from_spec", 2)
def _schedule_from_spec(data):
    spec = _spec(data)
    names = ("spec", "kind", "values", "parts") + tuple(signature_names(S.wsd)) + tuple(signature_names(S.from_hf)) \
        + tuple(n for f in CONSTRUCTORS for n in signature_names(f))
    return Call(cio.schedule_from_spec, (spec,), {}, names, allowed=ALLOWED + (cio.DataError,))


def _dataframe(data):
    import pandas as pd
    n = data.draw(st.integers(0, 6))
    cols = {"step": list(range(1, n + 1)), "lr": [1e-3] * n, "loss": [3.0 - 0.01 * i for i in range(n)]}
    for k in list(cols):
        r = data.draw(st.integers(0, 5), label=f"column {k}")
        if r == 0:
            del cols[k]
        elif r == 1 and n:
            vals = data.draw(st.lists(st.sampled_from(SPECIAL_FLOATS + HUGE_INTS + [None, "x", True]), min_size=n,
                                      max_size=n), label=k)
            cols[k] = pd.Series(vals, dtype=object)
    if data.draw(st.integers(0, 6)) == 0:
        cols["phase"] = data.draw(st.lists(st.sampled_from(["pt", "cpt", "x"]), min_size=n, max_size=n))
    return pd.DataFrame(cols)


READ_OPTIONS = {"name": st.sampled_from(["r", None]), "loss_columns": st.sampled_from([None, ["loss"], "loss", []]),
                "step_column": st.sampled_from([None, "step", "nope"]), "lr_column": st.sampled_from([None, "lr"]),
                "step_offset": st.sampled_from([0, 5, -1]), "lr_shift": st.sampled_from([0, 1, -1]),
                "pt_steps": st.sampled_from([None, 2]), "r_pt": st.sampled_from([None, 0.5]),
                "min_step": st.sampled_from([1, 0, 3])}


@target("io.runs_from_dataframe", 1.5)
def _runs_from_df(data):
    df = _dataframe(data) if data.draw(st.integers(0, 5)) else data.draw(hostile(), label="df")
    kw = options(data, {}, dict(READ_OPTIONS, schedule=st.sampled_from([None, SPEC, PT])), p_omit=0.7)
    maybe_typo(data, kw, cio.runs_from_dataframe)
    return Call(cio.runs_from_dataframe, (df,), kw, signature_names(cio.runs_from_dataframe) + ("step", "lr", "loss"),
                allowed=ALLOWED + (cio.DataError,))


_TMP = tempfile.mkdtemp(prefix="cptlaw-fuzz-")


def _file(data, name, text):
    path = os.path.join(_TMP, name)
    if data.draw(st.integers(0, 4)) == 0:
        lines = text.splitlines(True)
        i = data.draw(st.integers(0, max(0, len(lines) - 1)))
        bad = data.draw(st.sampled_from(["nan", "1e400", "-1", "", "x", "\x00", "[[[[", "9" * 30, "1,2,3,4,5"]))
        lines[i:i + 1] = [bad + "\n"]
        text = "".join(lines)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return path


CSV_TEXT = "step,lr,loss\n" + "".join(f"{s},1e-3,{3.0 - 1e-3 * s}\n" for s in range(1, 40, 3))
WANDB_TEXT = '{"name": "r", "history": [' + ", ".join(
    f'{{"_step": {s}, "val/loss": {3.0 - 1e-3 * s}, "lr": 1e-3}}' for s in range(1, 40, 3)) + "]}"
LR_TEXT = "phase,lr\n" + "pt,1e-3\n" * 5 + "cpt,5e-4\n" * 5
FIT_TEXT = json.dumps({"law": "CPTLaw", "area_options": {"decay": 0.999, "split": "by_source",
                                                          "warmup_as_peak": True},
                        "valsets": {"pt": {"params": P1_PT}, "cpt": {"params": P1_CPT}}}, indent=1)


@target("io readers", 1.5)
def _io_readers(data):
    which = data.draw(st.sampled_from(["read_csv_runs", "read_wandb_history", "read_lr_file", "read_schedule",
                                       "read_fit", "read_runs", "select", "drop_shared_history"]))
    if which == "read_csv_runs":
        path = data.draw(arg(st.just(_file(data, "run.csv", CSV_TEXT))), label="path")
        kw = options(data, {}, dict(READ_OPTIONS, schedule=st.sampled_from([None, SPEC])), p_omit=0.7)
        fn = cio.read_csv_runs
    elif which == "read_wandb_history":
        path = data.draw(arg(st.just(_file(data, "run.json", WANDB_TEXT))), label="path")
        kw = options(data, {}, dict(READ_OPTIONS, schedule=st.sampled_from([None, SPEC]),
                                    loss_columns=st.sampled_from([None, ["val/loss"]]),
                                    step_column=st.sampled_from([None, "_step"])), p_omit=0.7)
        fn = cio.read_wandb_history
    elif which == "read_lr_file":
        path = data.draw(arg(st.just(_file(data, "lr.csv", LR_TEXT))), label="path")
        kw = options(data, {}, {"pt_steps": st.sampled_from([None, 5])})
        fn = cio.read_lr_file
    elif which == "read_schedule":
        path = data.draw(arg(st.just(_file(data, "spec.json", json.dumps(_spec(data), default=repr)))), label="path")
        kw, fn = {}, cio.read_schedule
    elif which == "read_fit":
        path = data.draw(arg(st.just(_file(data, "fit.json", FIT_TEXT))), label="path")
        kw, fn = {}, cio.read_fit
    elif which == "read_runs":
        paths = data.draw(arg(st.just([_file(data, "run.csv", CSV_TEXT)])), label="paths")
        kw = options(data, {}, {"schedule": st.sampled_from([None, SPEC]), "step_offset": st.just(1)}, p_omit=0.7)
        maybe_typo(data, kw, cio.read_csv_runs)
        return Call(cio.read_runs, (paths,), kw, ("paths", "path") + tuple(READ_OPTIONS) + ("schedule",),
                    allowed=ALLOWED + (cio.DataError,))
    elif which == "select":
        run = data.draw(arg(st.sampled_from(RUNS)), label="run")
        kw = options(data, {}, {"min_step": st.sampled_from([None, 1, 100]), "max_step": st.sampled_from([None, 50]),
                                "phase": st.sampled_from([None, "pt", "cpt", "x"])})
        return Call(cio.select, (run,), kw, signature_names(cio.select))
    else:
        runs = data.draw(arg(st.sampled_from([RUNS, RUNS[:1], []])), label="runs")
        return Call(cio.drop_shared_history, (runs,), {}, ("runs",))
    maybe_typo(data, kw, fn)
    return Call(fn, (path,), kw, signature_names(fn) + ("step", "lr", "loss", "phase"),
                allowed=ALLOWED + (cio.DataError,))


# -- plots ----------------------------------------------------------------------------------------

@target("plot", 0.5)
def _plot(data):
    import matplotlib
    matplotlib.use("Agg")
    from cptlaw import plot as cplot
    which = data.draw(st.sampled_from(["pareto_front", "plot_tradeoff", "plot_heatmap", "plot_fit",
                                       "plot_prediction"]))
    vals = st.lists(floats(1.0, 5.0), min_size=3, max_size=3).map(np.array)
    if which in ("pareto_front", "plot_tradeoff"):
        args = (data.draw(arg(vals), label="loss_pt"), data.draw(arg(vals), label="loss_cpt"))
        kw = {} if which == "pareto_front" else options(data, {}, {"labels": st.just(["a", "b", "c"]),
                                                                   "c": st.just([1.0, 2.0, 3.0])})
    elif which == "plot_heatmap":
        grid_vals = st.just(np.arange(6.0).reshape(2, 3))
        args = (data.draw(arg(grid_vals), label="values"), data.draw(arg(st.just([1e-4, 2e-4, 4e-4])), label="x"),
                data.draw(arg(st.just([10, 20])), label="y"))
        kw = options(data, {}, {"log_x": st.booleans(), "annotate": st.booleans()})
    else:
        result = data.draw(arg(st.sampled_from([FIT_RUNS, LAW_CPT])), label="result_or_law")
        runs = data.draw(arg(st.sampled_from([RUNS[:1], RUNS[0]])), label="runs")
        args = (result, runs)
        kw = options(data, {"points": 20}, {"valset": st.sampled_from(["cpt", "pt", None]),
                                            "points": st.sampled_from([2, 50])})
    fn = getattr(cplot, which)

    def go(*a, **k):
        import matplotlib.pyplot as plt
        try:
            return fn(*a, **k)
        finally:
            plt.close("all")
    return Call(go, args, kw, signature_names(fn), label=f"plot.{which}")


# -- threads ------------------------------------------------------------------------------------

@target("set_num_threads", 0.5)
def _threads(data):
    n = data.draw(arg(st.integers(1, 4)), label="n")

    def go(n):
        before = cptlaw.get_num_threads()
        try:
            cptlaw.set_num_threads(n)
            cptlaw.areas(np.ones((4, 10)))
        finally:
            cptlaw.set_num_threads(before)
    return Call(go, (n,), {}, ("n",), label="set_num_threads")


# -- canaries: targets that misbehave on purpose, so that the judge itself is tested -------------

CANARIES: list = []


def canary(name):
    def deco(fn):
        CANARIES.append(Target(name, fn, 0.1))
        return fn
    return deco


@canary("canary: IndexError")
def _canary_index(data):
    return Call(lambda x: [][x], (data.draw(st.integers(0, 3)),), {}, ("x",))


@canary("canary: unnamed")
def _canary_unnamed(data):
    def fn(x):
        raise ValueError("something went wrong")
    return Call(fn, (1,), {}, ("x",))


@canary("canary: named")
def _canary_named(data):
    def fn(x):
        raise ValueError("x: must be > 0")
    return Call(fn, (1,), {}, ("x",))


@canary("canary: modifies input")
def _canary_mutates(data):
    def fn(x):
        x[0] = 1.0
    return Call(fn, (np.zeros(3),), {}, ("x",))


@canary("canary: wrong result")
def _canary_wrong(data):
    def check(result):
        assert result == 2, "1 + 1 is not 2"
    return Call(lambda: 1 + 2, (), {}, (), check=check)


@canary("abort")
def _canary_crash(data):
    return Call(os.abort, (), {}, ())
