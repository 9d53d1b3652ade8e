"""cptlaw.io on the real files in tests/data: CSV logs (tinycpt, MultiPowerLaw), W&B history
exports (lr-scheduling, with resumed runs and duplicated steps) and DataFrames; schedule specs;
located errors on bad input."""

from __future__ import annotations

import json
import re
import os
import shutil
import warnings

import numpy as np
import pytest
from _data import DATA, LRS_DIR, load_lrs, load_mpl, load_tiny, lrs_files, mpl_lr, tiny_csv

import cptlaw
from cptlaw import io

MPL = os.path.join(DATA, "MultiPowerLaw", "loss_curve_repo", "csv_100")


def tiny_schedule(run):
    t = load_tiny(run)
    return io.PhaseSchedules(t.lr_pt, t.lr_cpt)


def full_lr(run):
    lp = np.asarray(run.lr_pt)
    return lp if run.lr_cpt is None else np.concatenate([lp, np.asarray(run.lr_cpt)])


# ======================================================================================
# CSV
# ======================================================================================


@pytest.mark.parametrize("name", ["pt_const", "cpt_cos", "cpt_ann_rewarm_cos"])
def test_tinycpt_csv_with_exact_schedule(name):
    """curve.csv (phase,step,global_step,lr,loss_pt,loss_cpt) read with its exact LRs: no
    warning (the logged lr column agrees), the transfer row counted once, both validation sets."""
    t = load_tiny(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (run,) = io.read_csv_runs(tiny_csv(name), schedule=tiny_schedule(name), name=name)
    g = t.global_step
    keep = np.unique(g[g >= 1])
    np.testing.assert_array_equal(run.steps, keep)
    assert set(run.loss) == {"pt", "cpt"}
    for v in ("pt", "cpt"):
        last = {int(s): x for s, x in zip(g, t.loss[v])}  # last row of each step wins
        np.testing.assert_array_equal(run.losses(v), [last[s] for s in keep])
    np.testing.assert_array_equal(np.asarray(run.lr_pt), t.lr_pt)
    if t.lr_cpt is None:
        assert run.lr_cpt is None
    else:
        np.testing.assert_array_equal(np.asarray(run.lr_cpt), t.lr_cpt)
    assert run.name == name


def test_tinycpt_csv_interpolated_learning_rates():
    """Without a schedule, the LR logged every 10-50 updates is interpolated per phase, with a
    warning; away from the first 50 PT updates (warmup, held at the first logged value) the
    rebuilt LRs are within 1e-4 of the peak of the true ones; the transfer jump of
    cpt_ann_cos (0.1 P -> P) is kept sharp."""
    for name in ("cpt_cos", "cpt_wsd", "cpt_ann_cos", "pt_anneal"):
        with pytest.warns(io.InterpolatedLRWarning, match="interpolated"):
            (run,) = io.read_csv_runs(tiny_csv(name))
        t = load_tiny(name)
        true = t.lr_pt if t.lr_cpt is None else np.concatenate([t.lr_pt, t.lr_cpt])
        got = full_lr(run)
        assert got.shape == true.shape
        assert np.max(np.abs(got - true)[50:]) <= 1e-4 * 3e-3, name
        assert np.all(got[:50] == got[49])
    with pytest.warns(io.InterpolatedLRWarning):
        (run,) = io.read_csv_runs(tiny_csv("cpt_ann_cos"))
    assert np.asarray(run.lr_pt)[-1] == pytest.approx(3e-4) and np.asarray(run.lr_cpt)[0] == pytest.approx(3e-3, rel=1e-4)


def test_logged_lr_disagreeing_with_schedule_warns():
    sched = io.PhaseSchedules(np.full(5000, 3e-3), load_tiny("cpt_cos").lr_cpt)  # no warmup: wrong
    with pytest.warns(io.DataWarning, match="differs from the schedule"):
        io.read_csv_runs(tiny_csv("cpt_cos"), schedule=sched)


def _write_long(path, rows, header="run,phase,step,lr,loss_pt,loss_cpt"):
    with open(path, "w") as fh:
        fh.write(header + "\n")
        for r in rows:
            fh.write(",".join("" if x is None else str(x) for x in r) + "\n")


def test_long_format_several_runs_phase_steps_and_sources(tmp_path):
    """Long format: several runs in one file; CPT steps counted within the phase; a CPT run with
    only CPT rows takes its PT history from its source run; LR and losses on separate rows."""
    pt, cos = load_tiny("pt_const"), load_tiny("cpt_cos")
    rows = []
    for s, lr, a, b in zip(pt.global_step, pt.logged_lr, pt.loss["pt"], pt.loss["cpt"]):
        rows.append(("pt_const", "pt", s, lr, a, b))
    m = cos.phase == "cpt"
    for s, lr, a, b in zip(cos.global_step[m] - 5000, cos.logged_lr[m], cos.loss["pt"][m], cos.loss["cpt"][m]):
        rows.append(("cos", "cpt", s, None, a, b))  # losses only
        rows.append(("cos", "cpt", s, lr, None, None))  # the LR on a row of its own
    path = tmp_path / "long.csv"
    _write_long(path, rows)
    with pytest.warns(io.InterpolatedLRWarning):
        runs = io.read_csv_runs(path)
    assert [r.name for r in runs] == ["pt_const", "cos"]
    a, b = runs
    assert a.lr_cpt is None and len(a.lr_pt) == 5000
    assert len(b.lr_pt) == 5000 and len(b.lr_cpt) == 4000
    np.testing.assert_array_equal(np.asarray(b.lr_pt), np.asarray(a.lr_pt))
    np.testing.assert_array_equal(b.steps, np.unique(cos.global_step[m]))  # 5000 (transfer) .. 9000
    np.testing.assert_array_equal(b.losses("cpt"), cos.loss["cpt"][m])
    with pytest.warns(io.InterpolatedLRWarning):
        (ref,) = io.read_csv_runs(tiny_csv("cpt_cos"))
    np.testing.assert_allclose(np.asarray(b.lr_cpt), np.asarray(ref.lr_cpt), rtol=0, atol=1e-18)
    # the same with a source column and two PT runs in the file
    rows2 = [r for r in rows] + [("other", "pt", s, 1e-3, 3.0, 3.0) for s in (50, 100)]
    rows2 = [r + ("pt_const" if r[0] == "cos" else "",) for r in rows2]
    _write_long(tmp_path / "long2.csv", rows2, header="run,phase,step,lr,loss_pt,loss_cpt,source")
    with pytest.warns(io.InterpolatedLRWarning):
        runs2 = io.read_csv_runs(tmp_path / "long2.csv")
    np.testing.assert_array_equal(runs2[1].steps, b.steps)
    # without the source column the CPT-only run is ambiguous
    _write_long(tmp_path / "long3.csv", [r[:6] for r in rows2])
    with pytest.raises(io.DataError, match="source"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            io.read_csv_runs(tmp_path / "long3.csv")


def test_multipowerlaw_csv_with_schedule_spec(tmp_path):
    """MultiPowerLaw's step,lr,loss files (0-based steps: step_offset=1) with per-run schedule
    specs reproduce the test loader's LRs and the annealing-law fit exactly."""
    warm = {"kind": "linear", "peak_lr": 3e-4, "steps": 2160, "warmup": 2159}
    spec = {"runs": {
        "cosine_24000": {"kind": "concat", "parts": [warm, {"kind": "cosine", "peak_lr": 3e-4, "steps": 21840,
                                                            "min_lr": 3e-5}]},
        "constant_24000": [warm, {"kind": "constant", "lr": 3e-4, "steps": 21840}],
        "wsdcon_9": [warm, {"kind": "constant", "lr": 3e-4, "steps": 5840}, {"kind": "constant", "lr": 9e-5,
                                                                             "steps": 8000}],
    }}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    sched = io.read_schedule(tmp_path / "spec.json")
    assert set(sched) == set(spec["runs"])
    paths = [os.path.join(MPL, f"{n}.csv") for n in spec["runs"]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the logged lr agrees with the spec at every row
        runs = io.read_runs(paths, schedule=sched, step_offset=1)
    ref = []
    for r in runs:
        c = load_mpl("100", r.name)
        np.testing.assert_allclose(np.asarray(r.lr_pt), mpl_lr(r.name), rtol=1e-13, atol=0)
        np.testing.assert_array_equal(r.steps, c.steps)
        np.testing.assert_array_equal(r.loss, c.loss)
        ref.append(cptlaw.Run(c.lr, c.steps, c.loss, name=r.name))
    got = cptlaw.fit_runs(cptlaw.AnnealingLaw, runs)
    want = cptlaw.fit_runs(cptlaw.AnnealingLaw, ref)
    for k in want.params:
        assert got.params[k] == pytest.approx(want.params[k], rel=1e-7)


def test_dataframe_equals_csv():
    pd = pytest.importorskip("pandas")
    df = pd.read_csv(tiny_csv("cpt_wsd"))
    sched = tiny_schedule("cpt_wsd")
    (a,) = io.runs_from_dataframe(df, schedule=sched, name="cpt_wsd")
    (b,) = io.read_csv_runs(tiny_csv("cpt_wsd"), schedule=sched, name="cpt_wsd")
    np.testing.assert_array_equal(a.steps, b.steps)
    for v in ("pt", "cpt"):
        np.testing.assert_array_equal(a.losses(v), b.losses(v))
    df = df.astype({"loss_cpt": object})
    df.loc[7, "loss_cpt"] = "oops"
    with pytest.raises(io.DataError, match=r"row 7, column 'loss_cpt': expected a number"):
        io.runs_from_dataframe(df, schedule=sched)
    with pytest.raises(TypeError):
        io.runs_from_dataframe({"step": [1]})


def test_select_and_drop_shared_history():
    runs = [io.read_csv_runs(tiny_csv(n), schedule=tiny_schedule(n), name=n)[0]
            for n in ("pt_const", "cpt_cos", "cpt_ann_cos")]
    out, dropped = io.drop_shared_history(runs)
    assert out[1].steps.min() > 5000  # its PT history repeats pt_const
    assert out[2].steps.min() < 5000  # pt_anneal is not among the runs: kept
    assert dropped == int(np.sum(runs[1].steps <= 5000))
    s = io.select(runs[0], min_step=4001)
    assert s.steps.min() == 4050 and s.losses("pt").shape == s.steps.shape
    with pytest.raises(ValueError):
        io.select(runs[0], phase="cpt")


# ======================================================================================
# Weights & Biases
# ======================================================================================


@pytest.mark.parametrize("peak", ["0.001", "0.003"])
def test_wandb_histories_resumed_and_duplicated(peak):
    """Every lr-scheduling history: repeated iters keep the last value, resumed cooldown runs get
    the stable run's history before their resume step (found next to the file), the validation
    curve equals the test loader's; train_lr (logged every 50 iters, after scheduler.step():
    lr_shift=1) interpolated to within 1% of the peak of the true per-step LR after the warmup."""
    for key, fname in lrs_files(peak).items():
        with pytest.warns(io.InterpolatedLRWarning):
            run = io.read_wandb_history(os.path.join(LRS_DIR, fname), lr_shift=1)
        c = load_lrs(peak, key, min_step=1)
        np.testing.assert_array_equal(run.steps, c.steps, err_msg=key)
        np.testing.assert_array_equal(run.loss, c.loss, err_msg=key)
        lr = np.asarray(run.lr_pt)
        assert lr.size >= c.steps.max()
        err = np.abs(lr - c.lr[:lr.size])[300:]
        # linear interpolation of 50-step samples: worst at the corners of WSD and at the steep
        # end of 1-sqrt cooldowns
        assert np.mean(err) <= 1e-3 * float(peak) and np.max(err) <= 0.05 * float(peak), key
        assert run.name.startswith(("stable", "gradnorm", "ann124"))


def test_wandb_resumed_run_without_its_base(tmp_path):
    fname = lrs_files("0.003")["wsd0.2"]
    shutil.copy(os.path.join(LRS_DIR, fname), tmp_path / fname)
    with pytest.raises(io.DataError, match="resumed from step 40000") as exc:
        io.read_wandb_history(tmp_path / fname)
    assert exc.value.line is not None and exc.value.line >= 1
    # given explicitly, it is found
    with pytest.warns(io.InterpolatedLRWarning):
        run = io.read_wandb_history(tmp_path / fname, base=os.path.join(LRS_DIR, lrs_files("0.003")["stable"]))
    assert run.steps.min() == 200


def _rows_from_trimmed(path):
    with open(path) as fh:
        d = json.load(fh)
    h = d["history"]
    rows = [{"_step": i, "val/loss": v} for i, v in zip(h["val"]["iter"], h["val"]["val_loss"])]
    rows += [{"_step": i, "train/lr": v} for i, v in zip(h["train"]["iter"], h["train"]["train_lr"])]
    return d, rows


def test_wandb_row_and_column_layouts(tmp_path):
    """The same history as rows (``run.history()``), as JSON lines, and as pandas columns."""
    path = os.path.join(LRS_DIR, lrs_files("0.003")["cos"])
    with pytest.warns(io.InterpolatedLRWarning):
        ref = io.read_wandb_history(path, lr_shift=1)
    d, rows = _rows_from_trimmed(path)
    rows.sort(key=lambda r: r["_step"])
    (tmp_path / "rows.json").write_text(json.dumps({"name": "cos", "history": rows}))
    (tmp_path / "rows.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    layouts = [tmp_path / "rows.json", tmp_path / "rows.jsonl"]
    pd = None
    try:
        import pandas as pd
    except ImportError:
        pass
    if pd is not None:
        pd.DataFrame(rows).to_json(tmp_path / "cols.json", double_precision=15)
        layouts.append(tmp_path / "cols.json")
    for p in layouts:
        with pytest.warns(io.InterpolatedLRWarning):
            run = io.read_wandb_history(p, lr_shift=1)
        np.testing.assert_array_equal(run.steps, ref.steps, err_msg=str(p))
        np.testing.assert_allclose(run.loss, ref.loss, rtol=1e-8, err_msg=str(p))  # pandas writes 15 digits
        np.testing.assert_allclose(np.asarray(run.lr_pt), np.asarray(ref.lr_pt), rtol=1e-8, err_msg=str(p))


def test_wandb_errors_are_located(tmp_path):
    path = os.path.join(LRS_DIR, lrs_files("0.003")["cos"])
    d, rows = _rows_from_trimmed(path)
    rows[3]["val/loss"] = "x"
    (tmp_path / "bad.json").write_text(json.dumps({"history": rows}, indent=1))
    with pytest.raises(io.DataError, match="val/loss 'x' is not a finite number") as exc:
        io.read_wandb_history(tmp_path / "bad.json")
    text = (tmp_path / "bad.json").read_text().splitlines()
    assert '"x"' in text[exc.value.line - 1]
    (tmp_path / "noloss.json").write_text(json.dumps({"history": [{"_step": 1, "train/lr": 1e-3}]}))
    with pytest.raises(io.DataError, match="no validation-loss column"):
        io.read_wandb_history(tmp_path / "noloss.json")


# ======================================================================================
# schedule specs, fit files, errors
# ======================================================================================


def test_schedule_specs_build_the_constructors(tmp_path):
    from cptlaw import schedules as S

    spec = {"pt": {"kind": "cos", "peak_lr": 3e-4, "steps": 1000, "warmup": 100, "min_lr": 3e-5},
            "cpt": {"kind": "wsd", "peak_lr": 1e-4, "steps": 500.0, "decay_steps": 100}}
    (tmp_path / "s.json").write_text(json.dumps(spec))
    (ph,) = io.read_schedule(tmp_path / "s.json").values()
    np.testing.assert_array_equal(ph.pt.values(), S.cosine(3e-4, 1000, warmup=100, min_lr=3e-5).values())
    np.testing.assert_array_equal(ph.cpt.values(), S.wsd(1e-4, 500, decay_steps=100).values())
    assert ph.pt_steps == 1000 and ph.total_steps == 1500
    assert np.array_equal(io.schedule_from_spec([1e-3, 2e-3]).values(), [1e-3, 2e-3])
    both = io.schedule_from_spec([{"kind": "constant", "lr": 1e-3, "steps": 3}, {"kind": "values", "values": [0.5e-3]}])
    np.testing.assert_array_equal(both.values(), [1e-3, 1e-3, 1e-3, 0.5e-3])
    yaml = pytest.importorskip("yaml")
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec))
    (ph2,) = io.read_schedule(tmp_path / "s.yaml").values()
    np.testing.assert_array_equal(ph2.cpt.values(), ph.cpt.values())


@pytest.mark.parametrize(
    "text, line, col, match",
    [
        ('{"pt": {"kind": "wsd", "peak_lr": 3e-3,\n  "steps": 5000, "decay_stepz": 10}}', 2, 18, "unknown argument 'decay_stepz'"),
        ('{"pt": {"kind": "nope"}}', 1, 17, "unknown schedule kind 'nope'"),
        ('{"pt": {"kind": "wsd", "peak_lr": 3e-3, "steps": 100,\n "decay_steps": 200}}', 2, 17, "decay_steps: must be <= steps"),
        ('{"pt": {"kind": "cosine", "peak_lr": 3e-3}}', 1, 8, "needs 'steps'"),
        ('{"pt": {"kind": "cosine", "peak_lr": 3e-3, "steps": 10},}', 1, 57, "invalid JSON"),
        ('{"cpt": {"kind": "constant", "lr": 1, "steps": 10}}', 1, 1, "needs its \"pt\" phase"),
        ('{"pt": {"kind": "values", "values": [1e-3, -1]}}', 1, 44, "not a finite number >= 0"),
    ],
)
def test_schedule_spec_errors_are_located(tmp_path, text, line, col, match):
    p = tmp_path / "spec.json"
    p.write_text(text)
    with pytest.raises(io.DataError, match=match) as exc:
        io.read_schedule(p)
    assert (exc.value.line, exc.value.column) == (line, col)
    assert str(exc.value).startswith(f"{p}:{line}:{col}: ")


def test_json_locator_stops_at_the_key_it_looks_for():
    """A key is located where it stands even when later siblings repeat its name deeper down (the
    old locator returned from the middle of the object and read on from there: column 33)."""
    from cptlaw.io._located import Doc

    text = '{"a": [], "b": {"a": null, "b": 2.5, "d": {"b": {"a": "x", "c": null}, "c": true}}}'
    doc = Doc("f.json", text=text)
    assert doc.where(("b", "a"), key=True) == (1, text.index('"a": null') + 1)
    assert doc.where(("b", "a")) == (1, text.index("null") + 1)
    assert doc.where(("b", "d", "b", "c")) == (1, text.index("null}") + 1)


def test_yaml_spec_error_is_located(tmp_path):
    pytest.importorskip("yaml")
    p = tmp_path / "spec.yaml"
    p.write_text("pt:\n  kind: wsd\n  peak_lr: 3.0e-3\n  steps: 100\n  decay_steps: 10\n  bogus: 1\n")
    with pytest.raises(io.DataError, match="unknown argument 'bogus'") as exc:
        io.read_schedule(p)
    assert (exc.value.line, exc.value.column) == (6, 3)


@pytest.mark.parametrize(
    "text, line, col, match",
    [
        ("step,lr,loss\n1,0.1,3.0\n2,0.1,abc\n", 3, 7, "column 'loss': expected a number, got 'abc'"),
        ("step,lr,loss\n1,0.1,3.0\n2,0.1\n", 3, 1, "expected 3 fields"),
        ("step,lr,loss\n1,-0.1,3.0\n", 2, 3, "column 'lr': must be >= 0"),
        ("step,lr,loss\n1.5,0.1,3.0\n", 2, 1, "whole number"),
        ("phase,step,lr,loss\npt,1,0.1,3\nxx,2,0.1,3\n", 3, 1, "phase must be 'pt' or 'cpt'"),
        ("step,lr,accuracy\n1,0.1,3.0\n", 1, 1, "no loss column"),
        ("lr,loss\n0.1,3.0\n", 1, 1, "no step column"),
        ("step,lr,loss,loss\n1,0.1,3,3\n", 1, 14, "appears twice"),
        ("", 1, 1, "empty"),
        ("step,loss\n1,3.0\n2,2.9\n", 1, 1, "no learning-rate column"),
        ("step,lr,loss\n0,0.1,3.0\n", 2, 1, "no loss observation at step >= 1"),
    ],
)
def test_csv_errors_are_located(tmp_path, text, line, col, match):
    p = tmp_path / "run.csv"
    p.write_text(text)
    with pytest.raises(io.DataError, match=match) as exc:
        io.read_csv_runs(p)
    assert (exc.value.line, exc.value.column) == (line, col), str(exc.value)


def test_read_fit_validates(tmp_path):
    p = tmp_path / "fit.json"
    p.write_text('{"law": "CPTLaw",\n "params": {"L0": 1, "A": 1, "alpha": 0.5, "C1": 0.1, "C2": 0.1, "B": 0.1, '
                 '"E": 10, "beta": 0.2, "gamma": 1}}')
    with pytest.raises(io.DataError, match="unknown parameter 'gamma'") as exc:
        io.read_fit(p)
    assert exc.value.line == 2
    p.write_text('{"law": "AnnealingLaw", "params": {"L0": 1, "A": 1, "alpha": 0.5, "C": 0.1},'
                 ' "area_options": {"warmup_as_peak": true}}')
    (fit,) = io.read_fit(p).values()
    assert isinstance(fit["law"], cptlaw.AnnealingLaw) and fit["area_options"]["warmup_as_peak"] is True
    assert io.law_class("replay-cpt") is cptlaw.ReplayCPTLaw and io.law_class("CPTLaw") is cptlaw.CPTLaw


# ======================================================================================
# read_runs inputs and options; one spelling for every reader
# ======================================================================================


def test_read_runs_takes_a_path_several_paths_or_a_dataframe(tmp_path):
    from pathlib import Path

    path = tiny_csv("cpt_wsd")
    sched = tiny_schedule("cpt_wsd")
    (one,) = io.read_runs(path, schedule=sched)  # not the characters of the path
    (again,) = io.read_runs(Path(path), schedule=sched)
    (listed,) = io.read_runs([path], schedule=sched)
    for r in (one, again, listed):
        np.testing.assert_array_equal(r.steps, listed.steps)
        np.testing.assert_array_equal(r.losses("cpt"), listed.losses("cpt"))
    assert one.name == "curve" and io.read_runs(path, schedule=sched, name="wsd")[0].name == "wsd"
    pd = pytest.importorskip("pandas")
    (frame,) = io.read_runs(pd.read_csv(path), schedule=sched, name="wsd")
    assert frame.name == "wsd"
    np.testing.assert_array_equal(frame.steps, one.steps)
    np.testing.assert_array_equal(frame.losses("pt"), one.losses("pt"))


@pytest.mark.parametrize("call, error, match", [
    (lambda p: io.read_runs(p, loss_colums=["loss_pt"]), TypeError, "unknown option 'loss_colums'"),
    (lambda p: io.read_runs(p, bogus=1), TypeError, "unknown option 'bogus'"),
    (lambda p: io.read_runs(42), TypeError, "paths: expected a path"),
    (lambda p: io.read_runs([p, 3]), TypeError, r"paths\[1\]: expected a path"),
    (lambda p: io.read_runs([p, p], name="x"), ValueError, "name: names one run"),
    (lambda p: io.read_runs(p, base="other.json"), ValueError, "base: names the base of a resumed W&B run"),
    (lambda p: io.read_runs([]), io.DataError, "no input files"),
    (lambda p: io.read_runs(p, step_offset=10**30), ValueError, "step_offset: must lie in"),
    (lambda p: io.read_runs(p, step_offset=1.5), TypeError, "step_offset: expected an integer"),
    (lambda p: io.read_runs(p, r_pt=2.0), ValueError, "r_pt"),
    (lambda p: io.read_runs(p, pt_steps=0), ValueError, "pt_steps: must lie in 1.."),
    (lambda p: io.read_runs(p, loss_columns=5), TypeError, "loss_columns"),
    (lambda p: io.read_csv_runs(p, lr_shift=10**20), ValueError, "lr_shift: must lie in"),
])
def test_read_runs_rejects_unknown_and_bad_options(call, error, match):
    with pytest.raises(error, match=match):
        call(tiny_csv("cpt_wsd"))


def test_wandb_options_spelled_as_csv_with_deprecated_aliases(tmp_path):
    rows = [dict({"_step": s, "my_lr": 1e-3}, **({"val/loss": 3.0 - 1e-4 * s} if s % 10 == 0 else {}))
            for s in range(0, 200)]
    path = tmp_path / "h.json"
    path.write_text(json.dumps({"history": rows}))
    new = io.read_wandb_history(path, loss_columns="val/loss", lr_column="my_lr", step_column="_step", lr_shift=0)
    with pytest.warns(DeprecationWarning, match="is deprecated") as rec:
        old = io.read_wandb_history(path, loss_keys="val/loss", lr_key="my_lr", step_key="_step")
    assert [str(w.message).split("=")[0].split(": ")[1] for w in rec] == ["loss_keys", "lr_key", "step_key"]
    assert "use loss_columns=" in str(rec[0].message)
    assert rec[0].filename == __file__  # the warning points at this line, not into cptlaw
    np.testing.assert_array_equal(old.steps, new.steps)
    np.testing.assert_array_equal(old.loss, new.loss)
    with pytest.warns(DeprecationWarning):
        (via,) = io.read_runs([path], lr_key="my_lr")
    np.testing.assert_array_equal(via.steps, new.steps)
    with pytest.raises(TypeError, match="given twice"), pytest.warns(DeprecationWarning):
        io.read_wandb_history(path, loss_columns="val/loss", loss_keys="val/loss")
    with pytest.raises(TypeError, match="unknown option 'loss_key'"):
        io.read_wandb_history(path, loss_key="val/loss")
    # step_offset for W&B too (a 0-based _step: the loss after update s + 1)
    shifted = io.read_wandb_history(path, step_offset=1)
    np.testing.assert_array_equal(shifted.steps, np.arange(1, 192, 10))
    np.testing.assert_array_equal(new.steps, np.arange(10, 191, 10))
    # a dict names the validation sets, as for CSV files
    two = [{"_step": s, "val/a": 3.0, "val/b": 2.0, "lr": 1e-3} for s in range(1, 50)]
    (tmp_path / "two.json").write_text(json.dumps(two))
    run = io.read_wandb_history(tmp_path / "two.json", loss_columns={"val/a": "pt", "val/b": "cpt"})
    assert set(run.loss) == {"pt", "cpt"}


def test_interpolation_warning_points_at_the_caller():
    with pytest.warns(io.InterpolatedLRWarning) as rec:
        io.read_csv_runs(tiny_csv("cpt_cos"))
    assert rec[0].filename == __file__


# ======================================================================================
# fit files: written and read in one place, validated on read
# ======================================================================================

_FIT = {"law": "AnnealingLaw", "params": {"L0": 2.0, "A": 1.0, "alpha": 0.5, "C": 0.3},
        "area_options": {"decay": 0.999, "split": "by_source", "warmup_as_peak": False},
        "domain": {"peak_lr": [1e-4, 3e-4], "max_step": 5000}}


def test_fit_file_roundtrip(tmp_path):
    from cptlaw.io import fitfile

    runs = io.read_runs(tiny_csv("pt_const"), schedule=tiny_schedule("pt_const"), loss_columns={"loss_pt": None})
    with pytest.warns(cptlaw.IdentifiabilityWarning, match="C"):  # constant-LR runs: no decay to fit C on
        res = cptlaw.fit_runs(cptlaw.AnnealingLaw, runs, warmup_as_peak=200)
    area = {"decay": 0.999, "split": "by_source", "warmup_as_peak": 200}
    rec = fitfile.fit_record(res, cptlaw.AnnealingLaw, None, runs, area, {runs[0].name: 0.01})
    doc = fitfile.fit_document({None: rec}, area, note="x")
    fitfile.write_fit(tmp_path / "fit.json", doc)
    (back,) = io.read_fit(tmp_path / "fit.json").values()
    assert back["law"] == res["law"] and back["note"] == "x"
    assert back["domain"]["area_options"] == area and back["domain"]["max_step"] == res["domain"]["max_step"]
    run = cptlaw.Run(runs[0].lr_pt, runs[0].steps)
    np.testing.assert_array_equal(cptlaw.predict_run(back, run), cptlaw.predict_run(res, run))


def _fit_text(**change):
    fit = json.loads(json.dumps(_FIT))
    for key, value in change.items():
        node = fit
        *parents, last = key.split("__")
        for p in parents:
            node = node[p]
        node[last] = value
    return json.dumps(fit, indent=1)


@pytest.mark.parametrize("text, match, where", [
    (_fit_text(area_options__decay=2), "decay: must be <= 1", '"decay"'),
    (_fit_text(area_options__decay="0.9"), "decay: expected a real number", '"decay"'),
    (_fit_text(area_options__split="nope"), "split: unknown option 'nope'", '"split"'),
    (_fit_text(area_options__warmup_as_peak="yes"), "warmup_as_peak: expected true, false or a whole number",
     '"warmup_as_peak"'),
    (_fit_text(area_options__warmup_as_peak=2.5), "warmup_as_peak", '"warmup_as_peak"'),
    (_fit_text(area_options__warmup_as_peak=10**30), "warmup_as_peak: a number of warmup steps must lie in",
     '"warmup_as_peak"'),
    (_fit_text(area_options__lambda=0.9), "unknown area option 'lambda'", '"lambda"'),
    (_fit_text(params__C=float("inf")), "parameter 'C' must be a finite number", '"C"'),
    (_fit_text(params__C=float("nan")), "parameter 'C' must be a finite number", '"C"'),
    (_fit_text(params__C=True), "parameter 'C' must be a finite number", '"C"'),
    (_fit_text(params__gamma=1e10), "unknown parameter 'gamma'", '"gamma"'),
    (_fit_text(domain__max_step=float("inf")), "domain.max_step must be a whole number", '"max_step"'),
    (_fit_text(domain__max_step=1e30), "domain.max_step must be a whole number", '"max_step"'),
    (_fit_text(domain__peak_lr=[3e-4]), "domain.peak_lr must be [low, high]", '"peak_lr"'),
    (_fit_text(domain__peak_lr=[3e-4, 1e-4]), "domain.peak_lr must be [low, high]", '"peak_lr"'),
    (_fit_text(domain="wide"), "\"domain\" must be an object", '"domain"'),
    (_fit_text(law=["AnnealingLaw"]), "\"law\" must be a law's name", '"law"'),
    (_fit_text(law="NoLaw"), "law: unknown law 'NoLaw'", '"law"'),
    (_fit_text(valset=[1]), "\"valset\" must be a validation set's name", '"valset"'),
    (_fit_text(params__L0=1e400), "parameter 'L0' must be a finite number", '"L0"'),  # JSON 1e400 is inf
    ('{"law": "AnnealingLaw",\n "params": {"L0": 2, "A": 1, "alpha": 0.5, "C": 0.3},\n "law": "CPTLaw"}',
     "duplicate key 'law'", '"law": "CPTLaw"'),
    ('{"law": "AnnealingLaw", "params": ' + "[" * 500 + "]" * 500 + "}", "nested more than 100 deep", "["),
    ('{"law": "AnnealingLaw", "params": {"L0": 2' + "0" * 5000 + "}}", "a number with 5001 digits", "2000"),
])
def test_read_fit_validates_every_field_it_uses(tmp_path, text, match, where):
    p = tmp_path / "fit.json"
    p.write_text(text)
    with pytest.raises(io.DataError, match=re.escape(match)) as exc:
        io.read_fit(p)
    err = exc.value
    assert err.line is not None and err.column is not None, str(err)
    line = text.splitlines()[err.line - 1]
    assert where in line and err.column <= len(line), (str(err), line)  # the key's line, at its key or value
    assert "\n" not in str(err)


def test_read_fit_accepts_a_bom_and_whole_number_warmups(tmp_path):
    p = tmp_path / "fit.json"
    p.write_bytes(b"\xef\xbb\xbf" + _fit_text(area_options__warmup_as_peak=200).encode())
    (fit,) = io.read_fit(p).values()
    assert fit["domain"]["area_options"]["warmup_as_peak"] == 200
    p.write_bytes(_fit_text().encode("utf-16"))
    with pytest.raises(io.DataError, match="UTF-16"):
        io.read_fit(p)
    p.write_bytes(b'{"law": "Annealing\xe9Law"}')
    with pytest.raises(io.DataError, match="not a UTF-8 text file") as exc:
        io.read_fit(p)
    assert (exc.value.line, exc.value.column) == (1, 19)


# ======================================================================================
# sizes refused up front
# ======================================================================================


def test_huge_steps_and_schedules_are_refused_with_a_located_error(tmp_path):
    p = tmp_path / "run.csv"
    p.write_text("step,lr,loss\n1,0.1,3.0\n1e12,0.1,2.9\n")
    with pytest.raises(io.DataError, match="step 1000000000000 is beyond the 10,000,000 updates") as exc:
        io.read_csv_runs(p)
    assert (exc.value.line, exc.value.column) == (3, 1)
    p.write_text("step,lr,loss\n1,0.1,3.0\n9999999,0.1,2.9\n")
    with pytest.raises(io.DataError, match="step_offset|beyond"):
        io.read_csv_runs(p, step_offset=2)
    spec = tmp_path / "s.json"
    spec.write_text('{"pt": {"kind": "constant", "lr": 1e-3,\n "steps": 1e12}}')
    with pytest.raises(io.DataError, match="steps: 1e\\+12 is out of range") as exc:
        io.read_schedule(spec)
    assert (exc.value.line, exc.value.column) == (2, 11)
    spec.write_text('{"kind": "exponential", "peak_lr": 1e-3, "steps": 100, "gamma": 1e10}')
    with pytest.raises(io.DataError, match="overflow"):
        io.read_schedule(spec)
    spec.write_text('[{"kind": "constant", "lr": 1e-3, "steps": 6000000}, {"kind": "constant", "lr": 1e-3, '
                    '"steps": 6000000}]')
    with pytest.raises(io.DataError, match="12,000,000 updates"):
        io.read_schedule(spec)
    hist = tmp_path / "h.json"
    hist.write_text(json.dumps({"history": [{"_step": 1, "val/loss": 3.0, "lr": 1e-3},
                                            {"_step": 1e30, "val/loss": 2.0, "lr": 1e-3}]}))
    with pytest.raises(io.DataError, match="step 1000000000000000019884624838656 is beyond"):
        io.read_wandb_history(hist)
    np.save(tmp_path / "lr.npy", np.zeros((2, 3)))
    with pytest.raises(io.DataError, match="expected a 1-D numeric array"):
        io.read_lr_file(tmp_path / "lr.npy")
    (tmp_path / "fake.npy").write_bytes(b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, "
                                        b"'shape': (1000000000000,), }" + b" " * 40 + b"\n")
    with pytest.raises(io.DataError, match="fake.npy"):
        io.read_lr_file(tmp_path / "fake.npy")


def test_csv_with_nul_bytes_or_bad_quotes_is_a_located_error(tmp_path):
    p = tmp_path / "run.csv"
    p.write_bytes(b"step,lr,loss\n1,0.1,3.0\n2,0.\x001,2.9\n")
    with pytest.raises(io.DataError, match="NUL") as exc:
        io.read_csv_runs(p)
    assert (exc.value.line, exc.value.column) == (3, 5)
    p.write_text('step,lr,loss\n1,0.1,3.0\n2,"0.1,2.9\n')
    with pytest.raises(io.DataError) as exc:
        io.read_csv_runs(p)
    assert exc.value.line == 3
