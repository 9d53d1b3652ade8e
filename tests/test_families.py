"""cptlaw.families: one schedule-family vocabulary for the planner, the grid and the CLI.

The planner (:func:`cptlaw.planner.cpt_schedule`, :func:`cptlaw.planner.evaluate`) and the
grid (:func:`cptlaw.grid`, compiled) must build the same schedule from the same family
parameters: compared here through the areas at the final CPT step (read off the grid with
CPT laws whose parameters make the loss equal to one area) and through the laws' losses.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import cptlaw
from cptlaw import families as F
from cptlaw import planner as P
from cptlaw import schedules as S

pd = pytest.importorskip("pandas")

PEAK = 2e-4
LAW_PT = cptlaw.CPTLaw(3.057, 0.490, 0.497, 0.299, 0.298, 0.366, 28, 0.189)
LAW_CPT = cptlaw.CPTLaw(3.024, 0.412, 0.677, 0.278, 0.324, -0.666, 5662, 0.146)
# CPT laws whose loss is one input: L0 + A*S**-alpha - C1*s2_pt - C2*s2_cpt + B*(1 - (1 + E*s1_cpt)**-beta)
PROBES = {
    "s1": cptlaw.CPTLaw(L0=0, A=1, alpha=-1, C1=0, C2=0, B=0, E=1, beta=1),  # s1_pt + s1_cpt
    "s2_pt": cptlaw.CPTLaw(L0=0, A=0, alpha=1, C1=-1, C2=0, B=0, E=1, beta=1),
    "s1_cpt": cptlaw.CPTLaw(L0=0, A=0, alpha=1, C1=0, C2=0, B=-1, E=1, beta=-1),
    "s2_cpt": cptlaw.CPTLaw(L0=0, A=0, alpha=1, C1=0, C2=-1, B=0, E=1, beta=1),
}
FAMILY = dict(shape=list(F.SHAPES), peak_lr=[5e-5, 3e-4], steps=[37, 500], warmup=[0, 13],
              start_lr=["pt", "hf", 1e-5], decay_frac=[0.0, 0.35, 1.0], decay_type=list(F.DECAY_TYPES),
              min_lr_ratio=[0.0, 0.1])


def checkpoint():
    return S.wsd(PEAK, 3000, decay_steps=600, warmup=100)[:2800]  # cut mid-decay: momentum carried over


def planner_params(row) -> dict:
    """The family parameters of a grid row, as planner keywords."""
    kw = {"peak_lr": float(row["cpt_peak_lr"]), "steps": int(row["cpt_steps"]), "shape": row["cpt_shape"],
          "warmup": int(row["cpt_warmup"])}
    if "cpt_start_lr" in row and row["cpt_warmup"] > 0:
        kw["start_lr"] = row["family_start"]
    if row["cpt_shape"] != "constant":
        kw["min_lr_ratio"] = float(row["cpt_min_lr_ratio"])
    if row["cpt_shape"] == "wsd":
        kw.update(decay_frac=float(row["cpt_decay_frac"]), decay_type=row["cpt_decay_type"])
    return kw


def grid_rows(pt, family):
    """The grid's rows of ``family`` with the areas and the family's own start_lr value per row."""
    frames = []
    for start in family["start_lr"]:  # one start per call: the row then says which it was
        df = cptlaw.grid(PROBES, pt=pt, cpt=dict(family, start_lr=start))
        df["family_start"] = [start] * len(df)
        frames.append(df[df["cpt_warmup"] > 0] if frames else df)
    return pd.concat(frames, ignore_index=True)


def test_planner_and_grid_build_the_same_schedules():
    pt = checkpoint()
    rows = grid_rows(pt, FAMILY)
    assert set(rows["cpt_shape"]) == set(F.SHAPES) and len(rows) == 400
    scheds = []
    for _, row in rows.iterrows():
        cpt = P.cpt_schedule(**planner_params(row), pt=pt)
        scheds.append(cpt)
        a = S.cpt_areas_at(pt, cpt, [pt.steps + cpt.steps - 1])
        want = {"s1": a.s1_pt[0] + a.s1_cpt[0], "s2_pt": a.s2_pt[0], "s1_cpt": a.s1_cpt[0], "s2_cpt": a.s2_cpt[0]}
        for name, value in want.items():
            np.testing.assert_allclose(row[f"loss_{name}"], value, rtol=1e-11, atol=1e-15, err_msg=str(dict(row)))
        if row["cpt_warmup"] > 0:
            assert row["cpt_start_lr"] == pytest.approx(cpt.lr(0), rel=1e-15)
    # and so the laws' losses: the planner's evaluation of the same schedules equals the grid's
    ev = P.evaluate(LAW_PT, LAW_CPT, pt, scheds, w=0.3)
    laws = {"pt": LAW_PT, "cpt": LAW_CPT}
    again = pd.concat([cptlaw.grid(laws, pt=pt, cpt=dict(FAMILY, start_lr=s), w=0.3) for s in FAMILY["start_lr"]])
    again = again.drop_duplicates(subset=[c for c in again.columns if c not in ("cpt_start_lr",)])
    assert len(again) == len(rows)
    np.testing.assert_allclose(np.sort(again["loss"].to_numpy()), np.sort(ev["objective"]), rtol=1e-11)


def test_dict_families_through_planner_and_grid():
    """The same family mapping given to planner.evaluate and to cptlaw.grid gives the same losses."""
    pt = checkpoint()
    fam = dict(shape="wsd", peak_lr=[5e-5, 2e-4], steps=[400, 1000], warmup=[50], decay_frac=[0.2, 0.6],
               decay_type=["linear", "1-sqrt"], min_lr_ratio=0.05)
    ev = P.evaluate(LAW_PT, LAW_CPT, pt, fam, w=0.5)
    df = cptlaw.grid({"pt": LAW_PT, "cpt": LAW_CPT}, pt=pt, cpt=fam, w=0.5)
    key = ["cpt_peak_lr", "cpt_steps", "cpt_decay_frac", "cpt_decay_type"]
    got = {tuple(r[k] for k in key): r["loss"] for _, r in df.iterrows()}
    for c, loss in zip(ev["candidates"], ev["objective"]):
        assert got[(c["peak_lr"], c["steps"], c["decay_frac"], c["decay_type"])] == pytest.approx(loss, rel=1e-11)
    # start_lr defaults to "pt" in both: the re-warmup climbs from the checkpoint's final LR
    assert (df["cpt_start_lr"] == pt.lr(pt.steps - 1)).all()


def test_wsd_decay_fraction_is_a_share_of_the_steps_after_the_warmup():
    assert F.wsd_decay_steps(0.2, 1000, 100) == 180
    assert F.wsd_decay_steps(0.5, 201, 0) == 100  # 100.5: half to even, as the compiled grid
    lr = P.cpt_schedule(PEAK, 1000, "wsd", warmup=100, decay_frac=0.2).values()
    assert np.all(lr[100:820] == PEAK) and np.all(np.diff(lr[820:]) < 0)
    # every fraction in [0, 1] is a valid schedule, whatever the warmup
    full = P.cpt_schedule(PEAK, 100, "wsd", warmup=90, decay_frac=1.0).values()
    assert full[90] == PEAK and np.all(np.diff(full[90:]) < 0)
    df = cptlaw.grid(LAW_CPT, pt=checkpoint(), cpt=dict(shape="wsd", peak_lr=PEAK, steps=1000, warmup=100))
    assert df["cpt_decay_frac"].tolist() == [F.DEFAULTS["decay_frac"]]  # the same default as the planner's
    df = cptlaw.grid(LAW_CPT, pt=checkpoint(), cpt=dict(peak_lr=PEAK, steps=1000))
    assert df["cpt_shape"].tolist() == [F.DEFAULTS["shape"]] == ["cosine"]


def test_deprecated_decay_fraction_keeps_its_meaning():
    pt = checkpoint()
    with pytest.warns(DeprecationWarning, match="'decay_fraction' is deprecated, use 'decay_frac'"):
        ev = P.evaluate(LAW_PT, LAW_CPT, pt, {"peak_lr": PEAK, "steps": 1000, "shape": "wsd", "warmup": 100,
                                              "decay_fraction": [0.2, 0.95]})
    # the old meaning: round(f * steps) decay steps, at most the steps after the warmup
    new = P.evaluate(LAW_PT, LAW_CPT, pt, {"peak_lr": PEAK, "steps": 1000, "shape": "wsd", "warmup": 100,
                                           "decay_frac": [200 / 900, 1.0]})
    np.testing.assert_array_equal(ev["objective"], new["objective"])
    with pytest.raises(ValueError, match="spelled 'decay_frac'"):
        cptlaw.grid(LAW_CPT, pt=pt, cpt=dict(shape="wsd", peak_lr=PEAK, steps=100, decay_fraction=0.1))


def test_start_lr():
    pt = checkpoint()
    final = pt.lr(pt.steps - 1)
    assert P.cpt_schedule(PEAK, 100, warmup=10, pt=pt).lr(0) == final  # default "pt" with a checkpoint
    assert P.cpt_schedule(PEAK, 100, warmup=10).lr(0) == 0.0  # without one: 0, as before
    assert P.cpt_schedule(PEAK, 100, "wsd", warmup=10, start_lr="hf", min_lr_ratio=0.1).lr(0) == pytest.approx(
        0.1 * PEAK)  # HF's WSD warms up from the min LR
    assert P.cpt_schedule(PEAK, 100, "1-sqrt", warmup=10, start_lr="hf", min_lr_ratio=0.1).lr(0) == pytest.approx(
        0.1 * PEAK)
    assert P.cpt_schedule(PEAK, 100, "cosine", warmup=10, start_lr="hf", min_lr_ratio=0.1).lr(0) == 0.0
    with pytest.raises(ValueError, match="start_lr: 'pt' needs the PT checkpoint"):
        P.cpt_schedule(PEAK, 100, warmup=10, start_lr="pt")
    with pytest.raises(ValueError, match="start_lr"):
        P.cpt_schedule(PEAK, 100, warmup=10, start_lr="checkpoint", pt=pt)
    with pytest.raises(ValueError, match="min_lr, min_lr_ratio"):
        P.cpt_schedule(PEAK, 100, min_lr=1e-5, min_lr_ratio=0.1)
    # the planner's optima record the start LR used
    o = P.optimal_peak_lr(LAW_PT, LAW_CPT, 0.5, pt, 500, warmup=50, start_lr="hf")
    assert o.plan["start_lr"] == 0.0 and o.cpt_schedule.lr(0) == 0.0


def test_pt_families_and_the_exact_loss_potential():
    fam = P.wsd_pt_family(PEAK, 3000, decay_steps=600, warmup=100)
    for lp in (0.0, 0.25, 1.0):
        a = fam(lp)
        b = F.pt_schedule("wsd", PEAK, 3000, warmup=100, decay_frac=600 / 2899, loss_potential=lp)
        np.testing.assert_array_equal(a.values(), b.values())
        assert P.loss_potential(b) == pytest.approx(lp, abs=1e-15)
    for shape in ("cosine", "linear", "1-sqrt"):
        s = F.pt_schedule(shape, PEAK, 500, warmup=20, loss_potential=0.3)
        assert s.steps == 500 and P.loss_potential(s) == pytest.approx(0.3, abs=1e-15)
    # a PT family in the grid is built the same way
    df = cptlaw.grid(LAW_CPT, pt=dict(shape=["cosine", "1-sqrt"], peak_lr=PEAK, steps=500, warmup=20,
                                      loss_potential=0.3), cpt=dict(shape="constant", peak_lr=1e-4, steps=100))
    for _, row in df.iterrows():
        s = F.pt_schedule(row["pt_shape"], PEAK, 500, warmup=20, loss_potential=0.3)
        a = S.cpt_areas_at(s, S.constant(1e-4, 100), [599])
        assert row["loss"] == pytest.approx(float(LAW_CPT(**a._asdict())[0]), rel=1e-11)
    with pytest.raises(ValueError, match="loss_potential"):
        F.pt_schedule("cosine", PEAK, 100, min_lr=0.0, loss_potential=0.5)


def test_one_vocabulary():
    G = importlib.import_module("cptlaw.grid")  # cptlaw.grid is the function

    assert P.CPT_SHAPES is F.SHAPES and G.SHAPES is F.SHAPES and G.DECAY_TYPES is F.DECAY_TYPES
    assert set(F.SHAPES) == {"constant", "linear", "cosine", "wsd", "1-sqrt"}
    assert P.cpt_schedule is F.cpt_schedule and G.wsd_decay_steps is F.wsd_decay_steps
    assert P._PLAN_KEYS == F.CPT_KEYS
    assert set(F.SEARCHABLE) <= set(P._VARY) and set(F.SEARCHABLE) <= set(F.CPT_KEYS)
    assert set(F.DEFAULTS) <= set(F.CPT_KEYS)
    # every CPT key is accepted by the planner's families and the grid
    fam = dict(shape="wsd", peak_lr=PEAK, steps=100, warmup=10, start_lr="hf", decay_frac=0.3, decay_type="cosine",
               min_lr_ratio=0.1)
    assert set(fam) | {"min_lr"} == set(F.CPT_KEYS)
    pt = checkpoint()
    ev = P.evaluate(LAW_PT, LAW_CPT, pt, fam)
    df = cptlaw.grid({"pt": LAW_PT, "cpt": LAW_CPT}, pt=pt, cpt=fam, w=0.5)
    assert df["loss"].iloc[0] == pytest.approx(ev["objective"][0], rel=1e-11)


def test_command_line_uses_the_same_vocabulary(tmp_path):
    """`cptlaw plan` and `cptlaw grid` take their choices from cptlaw.families, and a fixed WSD plan
    with a re-warmup gives the losses of the grid row with the same parameters."""
    import json

    from _cli import run_cli

    from cptlaw.cli import plan as cli_plan

    assert cli_plan._OPTIMIZE[:-1] == tuple(F.SEARCHABLE) and "decay_frac" in cli_plan._OPTIMIZE
    assert set(cli_plan._GRID_COLUMNS) == set(F.CPT_KEYS) - {"min_lr"}
    fit = tmp_path / "p1.json"
    fit.write_text(json.dumps({"law": "CPTLaw", "valsets": {"pt": {"params": LAW_PT.params},
                                                            "cpt": {"params": LAW_CPT.params}}}))
    spec = tmp_path / "pt.json"
    spec.write_text(json.dumps({"kind": "wsd", "peak_lr": PEAK, "steps": 3000, "decay_steps": 600, "warmup": 100}))
    pt = S.wsd(PEAK, 3000, decay_steps=600, warmup=100)
    args = ["--params", fit, "--pt", spec, "--json"]
    p = run_cli("plan", *args, "--peak-lr", 1e-4, "--cpt-steps", 1000, "--shape", "wsd", "--warmup", 100,
                "--decay-frac", 0.3, "--w", 0.4)
    assert p.returncode == 0, p.stderr
    plan = json.loads(p.stdout)
    assert plan["plan"]["decay_frac"] == 0.3
    q = run_cli("grid", *args, "--peak-lr", 1e-4, "--steps", 1000, "--shape", "wsd,1-sqrt", "--warmup", 100,
                "--decay-frac", 0.3, "--w", 0.4)
    assert q.returncode == 0, q.stderr
    rows = {r["cpt_shape"]: r for r in json.loads(q.stdout)["rows"]}
    assert set(rows) == {"wsd", "1-sqrt"}
    assert rows["wsd"]["loss"] == pytest.approx(plan["results"][0]["objective"], rel=1e-11)
    assert rows["wsd"]["cpt_start_lr"] == pt.lr(pt.steps - 1)
    ev = P.evaluate(LAW_PT, LAW_CPT, pt, {"peak_lr": 1e-4, "steps": 1000, "shape": "1-sqrt", "warmup": 100}, w=0.4)
    assert rows["1-sqrt"]["loss"] == pytest.approx(ev["objective"][0], rel=1e-11)
