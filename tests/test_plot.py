"""cptlaw.plot with the Agg backend: each function draws on (and returns) an Axes, and the PNG it
makes is non-empty; bands, Pareto fronts and heatmap options."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import cptlaw
from cptlaw import io

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.image  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

from cptlaw import plot  # noqa: E402

from _data import load_tiny, tiny_csv  # noqa: E402


def tiny(name):
    t = load_tiny(name)
    (run,) = io.read_csv_runs(tiny_csv(name),
                              schedule=io.PhaseSchedules(t.lr_pt, t.lr_cpt), name=name)
    return run if name == "pt_const" else io.select(run, phase="cpt")


@pytest.fixture(scope="module")
def fitted():
    runs = [tiny(n) for n in ("pt_const", "cpt_const", "cpt_cos", "cpt_wsd")]
    with pytest.warns(cptlaw.IdentifiabilityWarning, match="C1"):  # no PT anneal among these runs
        res = cptlaw.fit_runs(cptlaw.CPTLaw, runs[:3], valset="cpt", warmup_as_peak=True)
    assert res.success
    return res, runs


def save_png(ax, path):
    ax.figure.savefig(path, dpi=60)
    plt.close(ax.figure)
    assert path.stat().st_size > 5_000
    img = matplotlib.image.imread(path)
    assert img.ndim == 3 and float(img[..., :3].std()) > 0.02  # not a blank canvas
    return img


def test_plot_fit_observed_fitted_predicted(tmp_path, fitted):
    res, runs = fitted
    fig, ax = plt.subplots()
    out = plot.plot_fit(res, runs, valset="cpt", ax=ax, fitted=runs[:3])
    assert out is ax
    styles = [ln.get_linestyle() for ln in ax.get_lines()]
    assert styles.count("-") == 3 and styles.count("--") == 1  # law: 3 fitted runs, 1 predicted
    assert styles.count("None") == 4  # observed dots
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "cpt_wsd (held out)" in labels and "law (predicted)" in labels
    # the dashed line is the law's prediction of cpt_wsd at its steps
    dashed = next(ln for ln in ax.get_lines() if ln.get_linestyle() == "--")
    x, y = dashed.get_data()
    pred = cptlaw.predict_run(res, cptlaw.Run(runs[3].lr_pt, x, lr_cpt=runs[3].lr_cpt))
    np.testing.assert_allclose(y, pred, rtol=1e-12)
    save_png(ax, tmp_path / "fit.png")


def test_plot_fit_bands_from_samples_and_dict(tmp_path, fitted):
    res, runs = fitted
    rng = np.random.default_rng(0)
    x = res["law"].param_vector
    samples = x * (1 + 0.01 * rng.standard_normal((50, x.size)))
    ax = plot.plot_fit(res["law"], runs[1:3], valset="cpt", bands={"samples": samples},
                       area_options={"warmup_as_peak": True})
    assert len(ax.collections) == 2  # one band per run
    obs = np.concatenate([r.losses("cpt") for r in runs[1:3]])
    lo, hi = ax.get_ylim()
    assert lo < obs.min() and hi > obs.max() and hi - lo < 1.3 * np.ptp(obs) + 0.1  # bands do not stretch it
    band = ax.collections[0].get_paths()[0].vertices
    assert np.ptp(band[:, 1]) > 0
    save_png(ax, tmp_path / "bands.png")
    lo = runs[1].losses("cpt") - 0.05
    ax = plot.plot_fit(res, runs[1:2], valset="cpt", bands={"cpt_const": (lo, lo + 0.1)}, legend=False)
    assert len(ax.collections) == 1 and ax.get_legend() is None
    save_png(ax, tmp_path / "bands2.png")
    with pytest.raises(ValueError, match="parameter samples"):
        plot.plot_fit(res, runs[1:2], valset="cpt", bands=np.ones((3, 2)))
    with pytest.raises(TypeError):
        plot.plot_fit({"law": None}, runs[1:2], valset="cpt")


def test_pareto_front_matches_brute_force():
    rng = np.random.default_rng(1)
    x, y = rng.random(200), rng.random(200)
    x[5], y[5] = np.nan, 0.0  # ignored
    got = plot.pareto_front(x, y)
    ok = np.isfinite(x)
    want = np.array([ok[i] and not np.any(ok & (x <= x[i]) & (y <= y[i]) & ((x < x[i]) | (y < y[i])))
                     for i in range(x.size)])
    np.testing.assert_array_equal(got, want)
    assert 1 <= got.sum() < 30


def test_plot_tradeoff(tmp_path):
    rng = np.random.default_rng(2)
    lp = 2.0 + rng.random(40)
    lc = 3.5 - lp + 0.3 * rng.random(40)
    fig, ax = plt.subplots()
    assert plot.plot_tradeoff(lp, lc, ax=ax, c=np.linspace(1e-4, 1e-3, 40), colorbar_label="peak LR") is ax
    front = ax.get_lines()[0]
    xs, ys = front.get_data()
    assert np.all(np.diff(xs) >= 0) and np.all(np.diff(ys) <= 0)  # a front: x up, y down
    assert len(xs) == plot.pareto_front(lp, lc).sum()
    save_png(ax, tmp_path / "tradeoff.png")
    ax = plot.plot_tradeoff([2.1, 2.0, 2.3], [1.5, 1.6, 1.4], labels=["a", "b", "c"])
    assert [t.get_text() for t in ax.texts] == ["a", "b", "c"]
    save_png(ax, tmp_path / "tradeoff2.png")
    with pytest.raises(ValueError, match="same number"):
        plot.plot_tradeoff([1, 2], [1])


def test_plot_heatmap(tmp_path):
    lrs = np.geomspace(1e-5, 1e-3, 7)
    steps = np.array([1000, 2000, 4000, 8000])
    z = (np.log10(lrs)[None, :] + 4) ** 2 + np.log2(steps / 2000)[:, None] ** 2
    fig, ax = plt.subplots()
    assert plot.plot_heatmap(z, lrs, steps, ax=ax, xlabel="peak LR", ylabel="CPT steps", cbar_label="loss",
                             annotate=True) is ax
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"  # both evenly spaced in log
    star = ax.get_lines()[-1]
    assert star.get_data()[0][0] == pytest.approx(1e-4) and star.get_data()[1][0] == 2000
    assert len(ax.texts) == z.size
    save_png(ax, tmp_path / "heat.png")
    z2 = z.copy()
    z2[0, 0] = np.nan
    ax = plot.plot_heatmap(z2, lrs, [1, 2, 3, 4], log_x=False)
    assert ax.get_xscale() == "linear" and ax.get_yscale() == "linear"
    save_png(ax, tmp_path / "heat2.png")
    with pytest.raises(ValueError, match="expected shape"):
        plot.plot_heatmap(z.T, lrs, steps)


def test_missing_matplotlib_message(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"pip install cptlaw\[plot\]"):
        plot.plot_tradeoff([1.0], [2.0])
