"""The fitter on real training curves (issue 3): fit some schedules, predict the others.

Three bundled data sets (``tests/data/*/README.md``: origin, licence, what was copied):

* MultiPowerLaw (Luo et al. 2025): 25M/100M/400M models, nine schedules each; P2's
  annealing law.
* lr-scheduling (Schaipp et al. 2025): 124M model, W&B histories at peak LRs 1e-3 and 3e-3,
  WSD cooldown-length sweep; P2's annealing law.
* tinycpt (made for this project): real PT -> CPT runs of a tiny model; P1's CPT law on both
  validation sets.

Every test first rebuilds the per-step learning rates from the documented formulas and
checks them against the LRs logged in the files. The error bounds are *measured* values
times about 1.5, rounded up (the measurements are in the comments and printed by
``pytest -s``): they guard against regressions of the fitter, they are not claims about how
well the laws hold. Where a law fails on some runs, the bound says so in a comment.
"""

from __future__ import annotations

import os
import time
import warnings

import numpy as np
import pytest

import cptlaw

from _data import (  # noqa: E402
    MPL_FIT,
    MPL_SIZES,
    MPL_TEST,
    load_lrs,
    load_mpl,
    load_tiny,
    load_wandb,
    lrs_files,
    mpl_lr,
)


def mae(pred, obs):
    return float(np.mean(np.abs(np.asarray(pred) - np.asarray(obs))))


def _predict(res, run):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", cptlaw.ExtrapolationWarning)
        return cptlaw.predict_run(res, run)


# ======================================================================================
# MultiPowerLaw
# ======================================================================================


def test_mpl_learning_rates_rebuilt():
    """The rebuilt per-step LRs equal the ``lr`` column at every logged step."""
    for size in MPL_SIZES:
        for name in MPL_FIT + MPL_TEST:
            c = load_mpl(size, name)
            assert c.logged_step.max() < len(c.lr)
            np.testing.assert_allclose(c.lr[c.logged_step], c.logged_lr, rtol=1e-14, atol=0, err_msg=f"{size} {name}")
    # the parts the files do not show: warmup from 0 to the peak over 2160 steps
    lr = mpl_lr("cosine_24000")
    assert lr[0] == 0.0 and lr[2159] == pytest.approx(3e-4, rel=1e-15) and lr[2160] == pytest.approx(3e-4, rel=1e-15)
    assert np.all(np.diff(lr[:2160]) > 0)
    assert len(mpl_lr("wsdcon_3")) == 16000 and len(mpl_lr("constant_72000")) == 72000


# Test-set MAE of the annealing law fitted on cosine_24000 + constant_24000 + wsdcon_9 with
# literal LRs (warmup_as_peak=False). Measured (per run / mean over the six test runs):
#   25M : const72k .0075 cos72k .0061 wsd .0030 wsdld .0028 wsdcon3 .0072 wsdcon18 .0044  mean .0052
#   100M: const72k .0035 cos72k .0063 wsd .0027 wsdld .0023 wsdcon3 .0067 wsdcon18 .0043  mean .0043
#   400M: const72k .0021 cos72k .0076 wsd .0033 wsdld .0022 wsdcon3 .0108 wsdcon18 .0052  mean .0052
# Bounds: about 1.5 x the measurements, rounded up.
MPL_MEAN_BOUND = {"25": 0.008, "100": 0.007, "400": 0.008}
MPL_RUN_BOUND = {"25": 0.012, "100": 0.011, "400": 0.017}
MPL_FIT_R2 = 0.998  # measured 0.99872 / 0.99923 / 0.99931


def _mpl_fit(size, warmup_as_peak):
    runs = {}
    for name in MPL_FIT + MPL_TEST:
        c = load_mpl(size, name)
        runs[name] = cptlaw.Run(c.lr, c.steps, c.loss, name=name)
    res = cptlaw.fit_runs(cptlaw.AnnealingLaw, [runs[n] for n in MPL_FIT], warmup_as_peak=warmup_as_peak)
    return runs, res


@pytest.mark.parametrize("size", MPL_SIZES)
def test_mpl_annealing_law_predicts_other_schedules(size):
    """P2's law fitted on the MultiPowerLaw repository's fit set predicts its test set.

    Convention: literal LRs (``warmup_as_peak=False``). The repository itself computes the
    areas from the literal warmup (``const_warmup=False``), and on these data the literal
    areas fit better (R^2 0.9987-0.9993 against 0.9962-0.9988) and predict better (mean test
    MAE 0.0043-0.0052 against 0.0062-0.0073) than P2's convention of counting the warmup at
    peak; the gap is largest on constant_72000 (0.002-0.0075 against 0.010-0.015), while
    cosine_72000 is predicted better with the warmup at peak (0.003 against 0.006-0.008).
    Both are printed.
    """
    t0 = time.perf_counter()
    table = {}
    for wap in (False, True):
        runs, res = _mpl_fit(size, wap)
        assert res.success, res.message
        table[wap] = (res, {n: mae(_predict(res, runs[n]), runs[n].loss) for n in MPL_FIT + MPL_TEST})
    elapsed = time.perf_counter() - t0

    res, maes = table[False]
    runs, _ = _mpl_fit(size, False)
    # Extrapolation warnings: the 72k runs go beyond 3x the longest fitted run, the others do not.
    for name in MPL_TEST:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cptlaw.predict_run(res, runs[name])
        flagged = any(issubclass(w.category, cptlaw.ExtrapolationWarning) for w in caught)
        assert flagged == name.endswith("72000"), name

    test_maes = [maes[n] for n in MPL_TEST]
    print(f"\n[MultiPowerLaw {size}M] AnnealingLaw fitted on {', '.join(MPL_FIT)} ({elapsed:.2f}s for both conventions)")
    for wap in (False, True):
        r, m = table[wap]
        p = r.params
        print(f"  warmup_as_peak={wap!s:5s}: R^2(fit) {r.r2:.5f}  L0 {p['L0']:.4f} A {p['A']:.4f} "
              f"alpha {p['alpha']:.4f} C {p['C']:.4f}  mean test MAE {np.mean([m[n] for n in MPL_TEST]):.4f}")
    print("  run                 role   MAE(literal)  MAE(warmup at peak)")
    for n in MPL_FIT + MPL_TEST:
        role = "fit" if n in MPL_FIT else "test"
        print(f"  {n:19s} {role:5s}  {maes[n]:.4f}        {table[True][1][n]:.4f}")

    assert res.r2 > MPL_FIT_R2
    assert np.mean(test_maes) <= MPL_MEAN_BOUND[size]
    for n in MPL_TEST:
        assert maes[n] <= MPL_RUN_BOUND[size], (n, maes[n])


# ======================================================================================
# lr-scheduling (W&B histories)
# ======================================================================================


def test_lrs_histories_and_learning_rates():
    """Duplicated iters are removed, resumed runs join their base run, and the rebuilt
    per-step LRs equal the logged ``train_lr``."""
    for peak in ("0.001", "0.003"):
        files = lrs_files(peak)
        for key, fname in files.items():
            raw = load_wandb(os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "lr-scheduling",
                                          "data", "grad_norm", fname))
            assert np.all(np.diff(raw["val_iter"]) > 0) and np.all(np.diff(raw["train_iter"]) > 0)
            c = load_lrs(peak, key, min_step=0)
            # a whole curve: every 200 iters from 0 to 49800
            np.testing.assert_array_equal(c.steps, np.arange(0, 50000, 200), err_msg=f"{peak} {key}")
            # train_lr every 50 iters (a resumed run's log starts 50 iters after its resume step)
            assert np.all(np.diff(c.logged_step) > 0)
            assert len(set(np.arange(50, 50001, 50)) - set(c.logged_step.tolist())) <= 1, (peak, key)
            inside = c.logged_step < len(c.lr)
            np.testing.assert_allclose(c.lr[c.logged_step[inside]], c.logged_lr[inside], rtol=0,
                                       atol=1e-13 * float(peak), err_msg=f"{peak} {key}")
            start = raw["config"].get("resume_from")
            if start and int(os.path.basename(start)) > 0:
                s = int(os.path.basename(start))
                base = load_wandb(os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "lr-scheduling",
                                               "data", "grad_norm", files["stable"]))
                # the resumed run's first evaluation is the base run's checkpoint
                assert raw["val_iter"][0] == s
                assert raw["val_loss"][0] == base["val_loss"][np.searchsorted(base["val_iter"], s)]
    # the files do contain repeated iters (restarted W&B runs)
    raw = load_wandb(os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "lr-scheduling", "data",
                                  "grad_norm", lrs_files("0.003")["cos"]))
    assert len(raw["val_iter"]) == 250


LRS_FIT = ("stable", "cos", "wsd0.2")
LRS_TEST = {"0.001": ("wsd0.2_sqrt", "wsd0.994"), "0.003": ("wsd0.1", "wsd0.4", "wsd0.6", "wsd0.8", "wsd0.994")}
# MAE per run, fit on constant + cosine + WSD(20% linear cooldown), literal LRs, val points
# at iters >= 1000. Measured:
#   1e-3: stable .0012 cos .0076 wsd0.2 .0018 | wsd0.2_sqrt .0026 wsd0.994 .0096
#   3e-3: stable .0031 cos .0219 wsd0.2 .0037 | wsd0.1 .0046 wsd0.4 .0066 wsd0.6 .0114
#         wsd0.8 .0176 wsd0.994 .0204
# At 3e-3 the law misses the cosine run it was fitted on and the long cooldowns it predicts
# (final loss over-predicted by 0.03-0.05): it under-rates the benefit of long decays at high
# LR. The same fit at 5e-4 has all MAEs <= 0.0052, so the misfit
# grows with the peak LR (R^2 of the same fit: 0.9996 / 0.9987 / 0.9955 / 0.9913 at 5e-4 / 1e-3 /
# 2e-3 / 3e-3; the 5e-4 and 2e-3 runs are not bundled); the fitter is not the cause (scipy
# L-BFGS-B multistart reaches the same objective, 1.92865e-3 at 3e-3).
LRS_BOUND = {
    "0.001": {"stable": 0.002, "cos": 0.012, "wsd0.2": 0.003, "wsd0.2_sqrt": 0.004, "wsd0.994": 0.015},
    "0.003": {"stable": 0.005, "cos": 0.033, "wsd0.2": 0.006, "wsd0.1": 0.007, "wsd0.4": 0.010,
              "wsd0.6": 0.018, "wsd0.8": 0.027, "wsd0.994": 0.031},
}
LRS_FIT_R2 = {"0.001": 0.998, "0.003": 0.99}  # measured 0.99875 and 0.99128


@pytest.mark.parametrize("peak", ["0.001", "0.003"])
def test_lrs_annealing_law_predicts_cooldowns(peak):
    t0 = time.perf_counter()
    runs = {}
    for key in LRS_FIT + LRS_TEST[peak]:
        c = load_lrs(peak, key)
        runs[key] = cptlaw.Run(c.lr, c.steps, c.loss, name=key)
    res = cptlaw.fit_runs(cptlaw.AnnealingLaw, [runs[k] for k in LRS_FIT])
    elapsed = time.perf_counter() - t0
    assert res.success, res.message
    maes, final = {}, {}
    for k, run in runs.items():
        pred = _predict(res, run)
        maes[k] = mae(pred, run.loss)
        final[k] = float(pred[-1] - run.loss[-1])
    p = res.params
    print(f"\n[lr-scheduling 124M, peak {peak}] AnnealingLaw fitted on {', '.join(LRS_FIT)} ({elapsed:.2f}s): "
          f"R^2(fit) {res.r2:.5f}  L0 {p['L0']:.4f} A {p['A']:.4f} alpha {p['alpha']:.4f} C {p['C']:.4f}")
    print("  run          role   MAE     bound   final pred-obs")
    for k in runs:
        role = "fit" if k in LRS_FIT else "test"
        print(f"  {k:12s} {role:5s}  {maes[k]:.4f}  {LRS_BOUND[peak][k]:.3f}   {final[k]:+.4f}")
    assert res.r2 > LRS_FIT_R2[peak]
    for k in runs:
        assert maes[k] <= LRS_BOUND[peak][k], (k, maes[k])


# ======================================================================================
# tinycpt (CPT law, both validation sets)
# ======================================================================================

TINY_PT = ("pt_const", "pt_anneal")
TINY_FIT_CPT = ("cpt_const", "cpt_cos")
TINY_TEST_CPT = ("cpt_wsd", "cpt_rewarm_cos", "cpt_low_const", "cpt_ann_cos", "cpt_ann_rewarm_cos")
TINY_ALL = TINY_PT + TINY_FIT_CPT + TINY_TEST_CPT + ("cpt_replay25_cos", "cpt_replay50_cos")


def test_tinycpt_learning_rates_and_branches():
    """Rebuilt LRs equal the ``lr`` column (LR of update ``global_step``, 0 at step 0); the
    annealing branch equals pt_const up to update 4000; a CPT run starts from its checkpoint."""
    runs = {n: load_tiny(n) for n in TINY_ALL}
    for n, t in runs.items():
        full = t.lr_pt if t.lr_cpt is None else np.concatenate([t.lr_pt, t.lr_cpt])
        assert len(full) == (5000 if t.lr_cpt is None else 9000)
        g = t.global_step
        np.testing.assert_allclose(full[g[g > 0] - 1], t.logged_lr[g > 0], rtol=1e-15, atol=1e-18, err_msg=n)
        assert np.all(t.logged_lr[g == 0] == 0.0)
        if t.lr_cpt is not None:
            src = runs["pt_anneal" if "ann" in n else "pt_const"]
            pt_rows = t.phase == "pt"
            for v in ("pt", "cpt"):
                np.testing.assert_array_equal(t.loss[v][pt_rows], src.loss[v], err_msg=n)
                first_cpt = np.flatnonzero(t.phase == "cpt")[0]
                assert t.loss[v][first_cpt] == src.loss[v][-1]
    a, b = runs["pt_const"], runs["pt_anneal"]
    for v in ("pt", "cpt"):
        np.testing.assert_array_equal(a.loss[v][a.global_step <= 4000], b.loss[v][b.global_step <= 4000])
    np.testing.assert_array_equal(a.lr_pt[:4000], b.lr_pt[:4000])


def _tiny_runs():
    """Runs with the points the CPT-law test uses: pt_const after update 0, pt_anneal after
    its branch point (4000; before it, it repeats pt_const), CPT runs after update 5000."""
    out = {}
    for n in TINY_ALL:
        t = load_tiny(n)
        if n == "pt_const":
            m = t.global_step >= 1
        elif n == "pt_anneal":
            m = t.global_step > 4000
        else:
            m = t.global_step > 5000
        out[n] = cptlaw.Run(t.lr_pt, t.global_step[m], {k: v[m] for k, v in t.loss.items()},
                            lr_cpt=t.lr_cpt, r_pt=t.replay, name=n)
    return out


# MAE per run, CPTLaw fitted per validation set on pt_const, pt_anneal (PT points),
# cpt_const and cpt_cos (CPT points), warmup_as_peak=True. Measured:
#   D_pt  ("pt"):  fit: pt_const .0255 pt_anneal .0110 cpt_const .0352 cpt_cos .0282
#                  test: cpt_wsd .0394 cpt_rewarm_cos .0292 cpt_low_const .0661
#                        cpt_ann_cos .2574 cpt_ann_rewarm_cos .2371
#   D_cpt ("cpt"): fit: pt_const .0286 pt_anneal .0148 cpt_const .0071 cpt_cos .0134
#                  test: cpt_wsd .0129 cpt_rewarm_cos .0210 cpt_low_const .0450
#                        cpt_ann_cos .0690 cpt_ann_rewarm_cos .0623
# WHERE THE LAW FAILS: CPT from the *annealed* checkpoint (cpt_ann_*). On D_pt the prediction
# is ~0.25 nats/byte too low, 4x the next-worst run (cpt_low_const): with split="by_source" the PT
# decay's area S2_pt (~2.7 after its momentum has run out) keeps -C1*S2_pt ~ -0.47 for ever,
# while the jump back to peak LR only gives back C2*|S2_cpt| ~ +0.22 (C2 < C1 in this fit);
# the real D_pt loss of those runs ends where the runs from the unannealed checkpoint end
# (2.68 vs 2.64 for cosine): the PT annealing gain is washed out by CPT at peak LR. On D_cpt
# they are the worst runs too (0.06-0.07, ~0.07 too low). Nothing in the fit set pins how S2
# is split at the transfer, and it matters only for these runs: with split="by_time" the D_pt
# / D_cpt MAEs of cpt_ann_cos are 0.15 / 0.049, with "restart" 0.067 / 0.10 (other runs
# unchanged). The bounds below are 1.5 x the by_source measurements (rounded up): they pin the
# fitter's behaviour, they do not claim the law holds there.
# (The replay runs are outside CPTLaw: it has no replay term. The replay laws fit them once a2
# may be negative: tests/test_replay_fit.py.)
TINY_BOUND = {
    "pt": {"pt_const": 0.039, "pt_anneal": 0.017, "cpt_const": 0.053, "cpt_cos": 0.043, "cpt_wsd": 0.060,
           "cpt_rewarm_cos": 0.044, "cpt_low_const": 0.10, "cpt_ann_cos": 0.39, "cpt_ann_rewarm_cos": 0.36},
    "cpt": {"pt_const": 0.043, "pt_anneal": 0.023, "cpt_const": 0.011, "cpt_cos": 0.021, "cpt_wsd": 0.020,
            "cpt_rewarm_cos": 0.032, "cpt_low_const": 0.068, "cpt_ann_cos": 0.11, "cpt_ann_rewarm_cos": 0.094},
}
TINY_FIT_R2 = {"pt": 0.99, "cpt": 0.993}  # measured 0.9929 and 0.9953


@pytest.mark.parametrize("valset", ["pt", "cpt"])
def test_tinycpt_cpt_law_predicts_other_cpt_schedules(valset):
    """P1's CPT law, one parameter vector per validation set, fitted jointly on PT and CPT runs.

    ``warmup_as_peak=True``: the PT warmup rises from 0, so literal areas make S2 negative
    during warmup (tinycpt README); with literal areas the D_pt fit ends at L0 = 0 without
    converging.
    """
    runs = _tiny_runs()
    fit_set = [runs[n] for n in TINY_PT + TINY_FIT_CPT]
    t0 = time.perf_counter()
    res = cptlaw.fit_runs(cptlaw.CPTLaw, fit_set, valset=valset, warmup_as_peak=True)
    elapsed = time.perf_counter() - t0
    assert res.success, res.message
    maes = {n: mae(_predict(res, runs[n]), runs[n].losses(valset)) for n in TINY_PT + TINY_FIT_CPT + TINY_TEST_CPT}
    p = res.params
    print(f"\n[tinycpt, validation set D_{valset}] CPTLaw fitted on {', '.join(TINY_PT + TINY_FIT_CPT)} "
          f"({elapsed:.2f}s): R^2(fit) {res.r2:.5f}")
    print("  " + " ".join(f"{k} {v:.4g}" for k, v in p.items()))
    print("  run                  role   MAE     bound")
    for n, v in maes.items():
        role = "fit" if n in TINY_PT + TINY_FIT_CPT else "test"
        print(f"  {n:20s} {role:5s}  {v:.4f}  {TINY_BOUND[valset][n]:.3f}")
    assert res.r2 > TINY_FIT_R2[valset]
    assert (p["B"] > 0) == (valset == "pt")  # forgetting on D_pt, learning on D_cpt
    for n, v in maes.items():
        assert v <= TINY_BOUND[valset][n], (n, v)


# CPTSharedCLaw (one annealing coefficient over the whole LR history), same protocol. Measured:
#   D_pt:  fit: pt_const .0255 pt_anneal .0346 cpt_const .0352 cpt_cos .0283
#          test: cpt_wsd .0394 cpt_rewarm_cos .0283 cpt_low_const .0683
#                cpt_ann_cos .0613 cpt_ann_rewarm_cos .0446          (CPTLaw: .2574 / .2371)
#   D_cpt: fit: pt_const .0287 pt_anneal .0161 cpt_const .0070 cpt_cos .0135
#          test: cpt_wsd .0128 cpt_rewarm_cos .0211 cpt_low_const .0456
#                cpt_ann_cos .0355 cpt_ann_rewarm_cos .0319          (CPTLaw: .0690 / .0623)
# The annealed-checkpoint runs are predicted 4-5x better on D_pt, 2x on D_cpt; every other held-out
# run within 0.002 of CPTLaw; the price is the fit on the PT annealing branch (D_pt .0346 vs .0110).
# Bounds are 1.5 x the measurements (rounded up), as above.
SHARED_BOUND = {
    "pt": {"pt_const": 0.039, "pt_anneal": 0.052, "cpt_const": 0.053, "cpt_cos": 0.043, "cpt_wsd": 0.060,
           "cpt_rewarm_cos": 0.043, "cpt_low_const": 0.103, "cpt_ann_cos": 0.092, "cpt_ann_rewarm_cos": 0.067},
    "cpt": {"pt_const": 0.044, "pt_anneal": 0.025, "cpt_const": 0.011, "cpt_cos": 0.021, "cpt_wsd": 0.020,
            "cpt_rewarm_cos": 0.032, "cpt_low_const": 0.069, "cpt_ann_cos": 0.054, "cpt_ann_rewarm_cos": 0.048},
}


@pytest.mark.parametrize("valset", ["pt", "cpt"])
def test_tinycpt_shared_c_law_predicts_annealed_checkpoint_runs(valset):
    """CPTSharedCLaw on the same fit set predicts CPT from the annealed checkpoint (cpt_ann_*),
    where CPTLaw's split coefficient (C1 > C2) keeps the PT annealing gain for ever."""
    runs = _tiny_runs()
    fit_set = [runs[n] for n in TINY_PT + TINY_FIT_CPT]
    shared = cptlaw.fit_runs(cptlaw.CPTSharedCLaw, fit_set, valset=valset, warmup_as_peak=True)
    split = cptlaw.fit_runs(cptlaw.CPTLaw, fit_set, valset=valset, warmup_as_peak=True)
    assert shared.success and split.success, (shared.message, split.message)
    assert shared.r2 > TINY_FIT_R2[valset]
    assert (shared.params["B"] > 0) == (valset == "pt")
    for n in TINY_PT + TINY_FIT_CPT + TINY_TEST_CPT:
        obs = runs[n].losses(valset)
        m_shared, m_split = mae(_predict(shared, runs[n]), obs), mae(_predict(split, runs[n]), obs)
        assert m_shared <= SHARED_BOUND[valset][n], (n, m_shared)
        if n.startswith("cpt_ann"):
            assert m_shared < 0.6 * m_split, (n, m_shared, m_split)  # the point of the law
