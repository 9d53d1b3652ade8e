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
    with pytest.warns(cptlaw.IdentifiabilityWarning, match="C1"):  # a constant PT run: no PT anneal
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


def _legend_labels(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_plot_fit_observed_fitted_predicted(tmp_path, fitted):
    res, runs = fitted
    fig, ax = plt.subplots()
    out = plot.plot_fit(res, runs, valset="cpt", ax=ax, fitted=runs[:3])
    assert out is ax
    laws = [ln for ln in ax.get_lines() if ln.get_label() in {r.name + s for r in runs
                                                              for s in (" (fit)", " (held out: predicted)")}]
    observed = [ln for ln in ax.get_lines() if ln.get_linestyle() == "None"]
    assert len(laws) == 4 and len(observed) == 4  # a line and markers per run
    # every run its own colour, line style and marker; markers of the held-out run hollow
    assert len({ln.get_color() for ln in laws}) == 4 and len({ln.get_linestyle() for ln in laws}) == 4
    assert len({ln.get_marker() for ln in observed}) == 4
    assert [ln.get_markerfacecolor() == "none" for ln in observed] == [False, False, False, True]
    labels = _legend_labels(ax)
    assert "cpt_wsd (held out: predicted)" in labels and "cpt_const (fit)" in labels
    assert "observed (markers)" in labels and "law (lines)" in labels
    # the labelled transfer line: the runs' observations are CPT-phase only, their PT phase 5000 updates
    (transfer,) = [ln for ln in ax.get_lines() if ln.get_gid() == "transfer"]
    assert transfer.get_xdata()[0] == 5000 and transfer.get_label() == "CPT starts" and "CPT starts" in labels
    assert any(t.get_gid() == "transfer-label" and "CPT starts" in t.get_text() for t in ax.texts)
    assert ax.get_ylabel() == "validation loss on 'cpt' (nats)" and "optimizer updates" in ax.get_xlabel()
    # the held-out run's line is the law's prediction of cpt_wsd at its steps
    held = next(ln for ln in laws if ln.get_label() == "cpt_wsd (held out: predicted)")
    x, y = held.get_data()
    pred = cptlaw.predict_run(res, cptlaw.Run(runs[3].lr_pt, x, lr_cpt=runs[3].lr_cpt))
    np.testing.assert_allclose(y, pred, rtol=1e-12)
    save_png(ax, tmp_path / "fit.png")


def test_run_styles_differ_in_colour_line_and_marker():
    styles = [plot.run_style(i) for i in range(8)]
    for key in ("color", "marker"):
        assert len({s[key] for s in styles}) == 8
    for a, b in zip(styles, styles[1:]):  # neighbours differ in all three
        assert all(a[k] != b[k] for k in ("color", "ls", "marker"))
    assert plot.run_style(8) == plot.run_style(0)


def test_plot_fit_prediction_interval_of_held_out_runs(tmp_path, fitted):
    """interval="prediction": a band with edge lines around the held-out run only, labelled as what
    it is; it holds the observations the delta-method interval holds, and is wider than the
    confidence band."""
    res, runs = fitted
    ax = plot.plot_fit(res, runs, valset="cpt", fitted=runs[:3], interval="prediction")
    (band,) = ax.collections
    assert band.get_alpha() == pytest.approx(plot.BAND_ALPHA)
    assert "95% prediction interval" in _legend_labels(ax)
    verts = band.get_paths()[0].vertices
    width_pi = np.ptp(verts[:, 1])
    save_png(ax, tmp_path / "pi.png")
    ax = plot.plot_fit(res, runs, valset="cpt", fitted=runs[:3], interval="confidence", legend=False)
    (band,) = ax.collections
    assert np.ptp(band.get_paths()[0].vertices[:, 1]) < width_pi
    plt.close(ax.figure)
    with pytest.raises(TypeError, match="interval: needs a fit result"):
        plot.plot_fit(res["law"], runs, valset="cpt", interval="prediction")
    with pytest.raises(ValueError, match="interval: expected"):
        plot.plot_fit(res, runs, valset="cpt", interval="bands")


def test_plot_prediction_bands_and_transfer_on_both_axes(tmp_path, fitted):
    res, runs = fitted
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True)
    sched = [cptlaw.Run(r.lr_pt, [5000, 9000], lr_cpt=r.lr_cpt, name=r.name) for r in runs[1:]]
    plot.plot_prediction(res, sched, valset="cpt", ax=top, lr_ax=bottom, interval="prediction", legend=False)
    assert len(top.collections) == 3  # one band per schedule
    # the shared PT phase: its band is drawn once, by the first run; the others start at the transfer
    starts = sorted(c.get_paths()[0].vertices[:, 0].min() for c in top.collections)
    assert starts[0] < 1000 and starts[1] >= 5000 and starts[2] >= 5000
    for a in (top, bottom):
        assert [ln.get_xdata()[0] for ln in a.get_lines() if ln.get_gid() == "transfer"] == [5000]
    plot.finish_figure(fig, "title")
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert [r.name for r in sched] == labels[:3] and "CPT starts" in labels and "95% prediction interval" in labels
    fig.savefig(tmp_path / "pred.png", dpi=60)
    plt.close(fig)
    assert (tmp_path / "pred.png").stat().st_size > 5_000


def test_plot_fit_bands_from_samples_and_dict(tmp_path, fitted):
    res, runs = fitted
    rng = np.random.default_rng(0)
    x = res["law"].param_vector
    samples = x * (1 + 0.01 * rng.standard_normal((50, x.size)))
    ax = plot.plot_fit(res["law"], runs[1:3], valset="cpt", bands={"samples": samples},
                       area_options={"warmup_as_peak": True})
    assert len(ax.collections) == 2  # one band per run
    assert "95% confidence band (bootstrap)" in _legend_labels(ax)
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
    assert "(nats)" in ax.get_xlabel() and "(nats)" in ax.get_ylabel()
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
    colours = {t.get_color() for t in ax.texts}
    assert colours == {"w", "k"}  # white on dark cells, black on light ones
    assert ax.get_legend().get_texts()[0].get_text().startswith("smallest value")
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
