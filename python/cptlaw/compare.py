"""Which law predicts *your* CPT runs best: cross-validation of several laws on your own runs.

:func:`compare` fits each law on all runs but some held-out CPT runs and predicts those,
for every validation set, and reports the held-out error per law and run, the in-sample
quality of each law's fit on all runs, and a one-line recommendation that says what it
rests on.

Folds
-----
- leave one run out (default): each run with a CPT phase is held out in turn;
- leave one group out (``group_by=...``): all CPT runs of a group are held out together,
  e.g. the runs from one PT checkpoint (``group_by="checkpoint"`` finds checkpoints from
  identical PT schedules; ``"group"`` uses :attr:`cptlaw.Run.group`). This asks whether a
  law fitted on runs from one checkpoint carries over to another, the question a user who
  continues a released (annealed) model with no pilot run faces.

Runs without a CPT phase (PT runs) always stay in the fit set. The held-out error of a run
is the mean absolute error of the predicted loss over its CPT-phase observations (its PT
observations are not predicted; give each run the observations that are its own, as for
:func:`cptlaw.fit_runs`).

Scores and the recommendation
-----------------------------
A law's score on a validation set is the mean over folds of the fold's mean held-out MAE
(every fold counts once; only folds where every law gave a usable prediction count). The
law with the lowest score averaged over the validation sets is recommended; when the
runner-up is within ``tie`` (relative, default 10%) the two are called a tie and the one
with fewer fitted parameters (then the lower BIC) is preferred. In-sample numbers of the
fit on all runs are reported beside: ``objective``, ``r2``, and ``aic`` / ``bic`` from a
Gaussian likelihood of the residuals on the fitted scale (log residuals for the log
objectives): ``n*log(RSS/n) + 2k`` and ``n*log(RSS/n) + k*log(n)``, ``k`` the free
parameters. Residuals along a loss curve are correlated, so AIC/BIC overrate extra
parameters; the held-out error is what the recommendation rests on.
"""

from __future__ import annotations

import concurrent.futures
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import _validate, _warnings
from ._threads import get_num_threads
from .extrapolation import extrapolation_checks
from .laws import LAWS, Law, law_class
from .results import DictResult, Table, Text, fmt
from .runs import Run, _runs, fit_runs, predict_run

GROUPINGS = ("run", "group", "checkpoint")
STATUSES = ("ok", "not_converged", "unidentified", "failed")


class CompareResult(DictResult):
    """Result of :func:`compare` (a dict with attribute access).

    ``table``: a pandas DataFrame, one row per (law, validation set, fold, held-out run):
    ``law``, ``valset``, ``fold``, ``run``, ``n_points``, ``mae``, ``status`` (``ok``,
    ``not_converged`` (the fold's fit stopped at the iteration limit; its prediction is
    used), ``unidentified`` (the prediction depends on parameters the fold's runs do not
    determine; not scored), ``failed``), ``message``, ``extrapolation`` (what the
    prediction's extrapolation checks found outside the fold's runs).
    ``summary``: one row per (law, validation set): ``n_params``, ``k`` (fitted), the joint
    fit's ``objective``, ``r2``, ``aic``, ``bic``, ``n_points``, its ``status``, the held-out
    ``score``, ``folds`` scored and ``folds_failed``.
    ``rows`` / ``summary_rows``: the same as lists of dicts (no pandas needed);
    ``recommendation`` (one line), ``best`` (law name), ``scores`` {law: mean score},
    ``fits`` {(law, valset): FitResult of the fit on all runs}, ``folds`` {fold: [runs]},
    ``group_by``, ``notes`` (caveats, e.g. replay runs given to a law without a replay term).
    """

    @property
    def table(self):
        return _frame(self["rows"])

    @property
    def summary(self):
        return _frame(self["summary_rows"])

    def to_dict(self) -> dict:
        """JSON-friendly: rows, summary rows, recommendation, folds (NaN -> None)."""
        clean = [{k: _json_value(v) for k, v in r.items()} for r in self["rows"]]
        summ = [{k: _json_value(v) for k, v in r.items()} for r in self["summary_rows"]]
        return {"recommendation": self["recommendation"], "best": self["best"], "notes": self["notes"],
                "scores": {k: _json_value(v) for k, v in self["scores"].items()},
                "group_by": self["group_by"], "folds": {str(k): v for k, v in self["folds"].items()},
                "rows": clean, "summary": summ}

    def _title(self) -> str:
        return f"CompareResult: {len(self.get('scores') or {})} laws, {len(self.get('folds') or {})} folds"

    def _blocks(self) -> list:
        cols = ("law", "valset", "k", "score", "folds", "folds_failed", "r2", "bic", "status")
        rows = [[r.get(c) if c in ("law", "valset", "status") else fmt(r.get(c), ".4g") for c in cols]
                for r in self.get("summary_rows") or []]
        blocks = [Text(str(self.get("recommendation", ""))), Table(list(cols), rows)]
        blocks += [Text(f"note: {n}") for n in self.get("notes") or []]
        return blocks


def _frame(rows):
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is in the test extra
        raise ImportError("compare: the tables need pandas (pip install pandas); "
                          "result.rows / result.summary_rows hold the same data") from None
    return pd.DataFrame(rows)


def _json_value(v):
    if isinstance(v, (float, np.floating)):
        return None if not math.isfinite(v) else float(v)
    if isinstance(v, np.integer):
        return int(v)
    return v


# -- arguments ---------------------------------------------------------------------------------
def _laws(laws) -> list:
    if isinstance(laws, (str, Law)) or (isinstance(laws, type)):
        laws = [laws]
    if not hasattr(laws, "__iter__") or isinstance(laws, (bytes, dict, np.ndarray)):
        raise TypeError(f"laws: expected a list of law classes or names, got {type(laws).__name__}")
    out = []
    for item in laws:
        if isinstance(item, str):
            try:
                cls = law_class(item)
            except ValueError:
                names = ", ".join(c._core_name for c in LAWS)
                raise ValueError(f"laws: unknown law {item!r}; expected one of {names} (or a law class)") from None
        elif isinstance(item, Law):
            cls = type(item)
        elif isinstance(item, type) and issubclass(item, Law) and item is not Law:
            cls = item
        else:
            raise TypeError(f"laws: expected law classes or names, got {_validate.describe(item)}")
        if cls in out:
            raise ValueError(f"laws: {cls.__name__} given twice")
        out.append(cls)
    if not out:
        raise ValueError("laws: no law given")
    return out


def _run_list(runs) -> list:
    runs = _runs(runs)  # checked one at a time
    if len(runs) < 2:
        raise ValueError(f"runs: compare needs at least two runs (one to fit, one to hold out), got {len(runs)}")
    return runs


def _labels(runs) -> list:
    labels = [r.name or f"run {i}" for i, r in enumerate(runs)]
    seen = set()
    for lab in labels:
        if lab in seen:
            raise ValueError(f"runs: two runs are named {lab!r}; give each run a distinct name")
        seen.add(lab)
    return labels


def _valsets(valsets, runs, labels) -> list:
    dict_loss = [isinstance(r.loss, dict) for r in runs]
    if valsets is None:
        if not any(dict_loss):
            return [None]
        if not all(dict_loss):
            raise ValueError("runs: some runs have one loss array and some a dict of validation sets")
        common = [k for k in runs[0].loss if all(k in r.loss for r in runs)]
        if not common:
            raise ValueError("runs: no validation set is common to every run")
        return common
    vs = [valsets] if isinstance(valsets, str) or valsets is None else list(valsets)
    if not vs:
        raise ValueError("valsets: empty")
    for v in vs:
        for r, lab in zip(runs, labels):
            if isinstance(r.loss, dict) and v not in r.loss:
                raise ValueError(f"valsets: {v!r} is not among run {lab!r}'s validation sets {list(r.loss)}")
    return vs


def _groups(group_by, runs, labels, held) -> dict:
    """Fold label -> indices of the held-out runs."""
    if group_by is None or group_by == "run":
        return {labels[i]: [i] for i in held}
    if isinstance(group_by, str):
        if group_by not in GROUPINGS:
            raise ValueError(f"group_by: unknown option {group_by!r}; expected one of {', '.join(GROUPINGS)}, "
                             "a dict {run name: group} or a function of the run")
        if group_by == "group":
            keys = {}
            for i in held:
                if runs[i].group is None:
                    raise ValueError(f"group_by: run {labels[i]!r} has no group (set cptlaw.Run(..., group=...))")
                keys[i] = runs[i].group
        else:  # checkpoint: runs with identical PT schedules start from the same checkpoint
            found: list = []
            keys = {}
            for i in held:
                lr = runs[i]._lr_pt
                for j, (ref, name) in enumerate(found):
                    if ref.shape == lr.shape and np.array_equal(ref, lr):
                        keys[i] = name
                        break
                else:
                    name = f"checkpoint {len(found) + 1} (of {labels[i]})"
                    found.append((lr, name))
                    keys[i] = name
    elif isinstance(group_by, dict):
        keys = {}
        for i in held:
            if labels[i] not in group_by:
                raise ValueError(f"group_by: run {labels[i]!r} is not in the dict")
            keys[i] = group_by[labels[i]]
    elif callable(group_by):
        keys = {i: group_by(runs[i]) for i in held}
    else:
        raise TypeError(f"group_by: expected None, {', '.join(map(repr, GROUPINGS))}, a dict or a function, "
                        f"got {type(group_by).__name__}")
    out: dict = {}
    for i in held:
        out.setdefault(keys[i], []).append(i)
    return out


# -- one fold ----------------------------------------------------------------------------------
def _held_mask(run):
    return run.steps > len(run._lr_pt)


def _depends_on_undetermined(res, law, feats) -> list:
    names = [n for n in (res.get("unidentifiable") or {})]
    if not names:
        return []
    g = law.grad(**feats)
    scale = np.maximum(np.abs(law.param_vector), 1.0)
    idx = [law.param_names.index(n) for n in names]
    return [n for n, i in zip(names, idx) if np.any(np.abs(g[..., i]) * scale[i] > 1e-10)]


def _fold(law_cls, valset, fit_set, held, labels, runs, area, fit_options):
    """Fit on ``fit_set``, predict ``held``: one row per held-out run (never raises)."""
    rows = []
    try:
        with _warnings.quiet():
            res = fit_runs(law_cls, [runs[i] for i in fit_set], valset=valset, **area, **fit_options)
    except Exception as exc:  # a fold that cannot be fitted is reported in its rows
        res, msg = None, f"fit raised {type(exc).__name__}: {exc}"
    else:
        msg = res.message
    for i in held:
        run = runs[i]
        row = {"run": labels[i], "n_points": int(_held_mask(run).sum()), "mae": float("nan"),
               "status": "failed", "message": msg, "extrapolation": ""}
        if res is not None and res.get("law") is not None:
            try:
                with _warnings.quiet():
                    pred = predict_run(res, run)
                obs = run.losses(valset)
                m = _held_mask(run) & np.isfinite(obs)
                row["n_points"] = int(m.sum())
                row["mae"] = float(np.mean(np.abs(pred[m] - obs[m]))) if m.any() else float("nan")
                row["extrapolation"] = "; ".join(f"{c.phase.upper()} {c.quantity}"
                                                 for c in extrapolation_checks(res, run) if not c.inside)
                feats = run.features(res["law"], **res["domain"]["area_options"])
                feats = {k: v[m] for k, v in feats.items()}
                needs = _depends_on_undetermined(res, res["law"], feats)
                if needs:
                    row["status"] = "unidentified"
                    row["message"] = (f"the prediction depends on {', '.join(needs)}, which the fold's runs do not "
                                      "determine")
                elif not m.any():
                    row["message"] = "no finite CPT-phase observation"
                else:
                    row["status"] = "ok" if res.success else "not_converged"
            except Exception as exc:
                row["message"] = f"prediction raised {type(exc).__name__}: {exc}"
        rows.append(row)
    return res, rows


def _information(res, k):
    """AIC / BIC of a fit from the Gaussian likelihood of its residuals (fitted scale)."""
    n, dof, s = res.get("n_points", 0), res.get("dof", 0), res.get("residual_std", float("nan"))
    if res.get("law") is None or not n or not dof or not np.isfinite(s):
        return float("nan"), float("nan")
    rss = s * s * dof
    if rss <= 0:
        return float("-inf"), float("-inf")
    ll = n * math.log(rss / n)
    return ll + 2 * k, ll + k * math.log(n)


# -- compare -----------------------------------------------------------------------------------
def compare(laws: Sequence[str | type[Law] | Law], runs: Sequence[Run], *, valsets: str | Sequence[str] | None = None,
            group_by: Any = None, decay: float = 0.999, split: str = "by_source", warmup_as_peak: bool = False,
            tie: float = 0.1, threads: int | None = None, **fit_options: Any) -> CompareResult:
    """Cross-validate several laws on your runs and recommend one.

    Parameters
    ----------
    laws : list of law classes, instances or names
        E.g. ``["cpt", "cpt_shared_c"]`` or ``[cptlaw.CPTLaw, ...]``; at least one, no repeats.
    runs : list of cptlaw.Run
        At least two, one or more with a CPT phase (observations after the PT phase).
    valsets : str or list, optional
        Validation sets to compare on (default: every one all runs share).
    group_by : None, "run", "group", "checkpoint", dict or callable
        The folds: ``None``/``"run"`` leave one CPT run out; ``"group"`` leaves out the CPT
        runs of one :attr:`Run.group <cptlaw.Run.group>` at a time; ``"checkpoint"`` groups
        runs with identical PT schedules; a dict maps run names to groups, a function maps a
        run to its group.
    decay, split, warmup_as_peak
        Area options, as for :func:`cptlaw.fit_runs`.
    tie : float
        Relative difference of scores under which two laws are called a tie.
    threads : int, optional
        Folds fitted in parallel (the compiled fitter releases the GIL); default
        :func:`cptlaw.get_num_threads`.
    fit_options
        Passed to every fit (``objective``, ``multistart``, ...).

    Returns
    -------
    CompareResult
        A fold that fails is reported in its rows (``status="failed"``), never raised.
    """
    law_list = _laws(laws)
    run_list = _run_list(runs)
    labels = _labels(run_list)
    tie = float(tie)
    if not (tie >= 0 and math.isfinite(tie)):
        raise ValueError("tie: must be a finite number >= 0")
    held = [i for i, r in enumerate(run_list) if r.has_cpt]
    if not held:
        raise ValueError("runs: no run has a CPT phase (an observation after its PT phase); compare holds out CPT runs")
    if len(held) < 2:
        raise ValueError(f"runs: only one run ({labels[held[0]]!r}) has a CPT phase; compare needs two, one to "
                         "hold out and one to fit the CPT parameters on")
    vs_list = _valsets(valsets, run_list, labels)
    folds = _groups(group_by, run_list, labels, held)
    if len(folds) < 2:
        raise ValueError(f"group_by: every run with a CPT phase is in one group ({next(iter(folds))!r}); holding it "
                         "out leaves no CPT run to fit")
    area = {"decay": decay, "split": split, "warmup_as_peak": warmup_as_peak}
    for law_cls in law_list:  # a law that cannot take runs fails here, not in every fold
        try:
            run_list[0].features(law_cls, **area)
        except ValueError as exc:
            raise ValueError(f"laws: {law_cls.__name__} cannot be fitted from runs ({exc})") from None

    tasks: list = []
    for law_cls in law_list:
        for vs in vs_list:
            tasks.append((law_cls, vs, None, list(range(len(run_list))), []))
            for label, out in folds.items():
                fit_set = [i for i in range(len(run_list)) if i not in out]
                tasks.append((law_cls, vs, label, fit_set, out))

    def work(task):
        law_cls, vs, label, fit_set, out = task
        return _fold(law_cls, vs, fit_set, out, labels, run_list, area, fit_options)

    n_threads = get_num_threads() if threads is None else int(threads)
    if n_threads < 1:
        raise ValueError("threads: must be >= 1")
    if n_threads == 1:
        results = [work(t) for t in tasks]
    else:
        with concurrent.futures.ThreadPoolExecutor(min(n_threads, len(tasks))) as pool:
            results = list(pool.map(work, tasks))

    rows, fits = [], {}
    for (law_cls, vs, label, _, _), (res, fold_rows) in zip(tasks, results):
        if label is None:
            fits[(law_cls.__name__, vs)] = res
            continue
        for r in fold_rows:
            rows.append({"law": law_cls.__name__, "valset": vs, "fold": label, **r})
    summary_rows, scores = _summarise(law_list, vs_list, folds, rows, fits, fit_options)
    notes = []
    replay = [labels[i] for i, r in enumerate(run_list) if r.r_pt > 0]
    blind = [c.__name__ for c in law_list if "r_pt" not in c.input_names]
    if replay and blind:
        notes.append(f"{', '.join(blind)} ha{'s' if len(blind) == 1 else 've'} no replay term, but "
                     f"{', '.join(replay)} replay PT data (r_pt > 0): fitted and predicted as if they did not")
    result = CompareResult(rows=rows, summary_rows=summary_rows, fits=fits, scores=scores, notes=notes,
                           folds={k: [labels[i] for i in v] for k, v in folds.items()},
                           group_by=group_by if isinstance(group_by, (str, type(None))) else "custom")
    best, line = _recommend(law_list, vs_list, folds, rows, fits, summary_rows, scores, tie, group_by)
    result["best"], result["recommendation"] = best, line
    return result


def _usable(row):
    return row["status"] in ("ok", "not_converged") and math.isfinite(row["mae"])


def _fold_means(rows, law, vs, scored):
    out = {}
    for f in scored:
        maes = [r["mae"] for r in rows if r["law"] == law and r["valset"] == vs and r["fold"] == f]
        out[f] = float(np.mean(maes))
    return out


def _scored_folds(law_list, vs, folds, rows):
    """Folds where every law gave a usable prediction for every held-out run."""
    ok = []
    for f in folds:
        sel = [r for r in rows if r["valset"] == vs and r["fold"] == f]
        if sel and all(_usable(r) for r in sel):
            ok.append(f)
    return ok


def _summarise(law_list, vs_list, folds, rows, fits, fit_options):
    summary, scores = [], {}
    fixed = fit_options.get("fixed") or {}
    for law_cls in law_list:
        name = law_cls.__name__
        per_vs = []
        for vs in vs_list:
            res = fits[(name, vs)]
            k = len([p for p in law_cls.param_names if p not in fixed])
            aic, bic = _information(res, k) if res is not None else (float("nan"), float("nan"))
            scored = _scored_folds(law_list, vs, folds, rows)
            means = _fold_means(rows, name, vs, scored)
            score = float(np.mean(list(means.values()))) if means else float("nan")
            per_vs.append(score)
            failed = len({r["fold"] for r in rows if r["law"] == name and r["valset"] == vs and not _usable(r)})
            summary.append({
                "law": name, "valset": vs, "n_params": len(law_cls.param_names), "k": k,
                "objective": float("nan") if res is None else float(res.get("objective", float("nan"))),
                "r2": float("nan") if res is None else float(res.get("r2", float("nan"))),
                "aic": aic, "bic": bic, "n_points": 0 if res is None else int(res.get("n_points", 0)),
                "status": "failed" if res is None or res.get("law") is None else
                          ("ok" if res.get("success") else "not_converged"),
                "score": score, "folds": len(scored), "folds_failed": failed,
            })
        scores[name] = float(np.mean(per_vs)) if all(math.isfinite(s) for s in per_vs) else float("nan")
    return summary, scores


def _fmt(x):
    return f"{x:.2g}" if abs(x) < 0.1 else f"{x:.3g}"


def _recommend(law_list, vs_list, folds, rows, fits, summary_rows, scores, tie, group_by):
    names = [c.__name__ for c in law_list]
    unit = "runs" if group_by in (None, "run") else "groups"
    nfold = len(folds)
    ranked = sorted((n for n in names if math.isfinite(scores[n])), key=lambda n: scores[n])
    failed = [n for n in names if not math.isfinite(scores[n])]
    if not ranked:
        return None, ("no recommendation: no fold gave a usable prediction for every law "
                      "(see the table's status and message columns)")
    summ = {(r["law"], r["valset"]): r for r in summary_rows}

    def vs_label(vs):
        return "" if vs is None else f"{vs} "

    def pair(a, b):
        return ", ".join(f"{vs_label(vs)}{_fmt(summ[(a, vs)]['score'])} vs {_fmt(summ[(b, vs)]['score'])}"
                         for vs in vs_list)

    n_scored = min(summ[(ranked[0], vs)]["folds"] for vs in vs_list)
    over = f"over {n_scored} {unit}" + (f" ({nfold - n_scored} of {nfold} left out: a law failed there)"
                                        if n_scored < nfold else "")
    tail = f"; {', '.join(failed)}: no usable score" if failed else ""
    if len(ranked) == 1:
        best = ranked[0]
        each = ", ".join(vs_label(vs) + _fmt(summ[(best, vs)]["score"]) for vs in vs_list)
        line = f"{best}: mean held-out MAE {each} {over}"
        return best, line + tail
    best, second = ranked[0], ranked[1]
    gap = (scores[second] - scores[best]) / scores[best] if scores[best] > 0 else math.inf
    k = {n: summ[(n, vs_list[0])]["k"] for n in names}
    bic = {n: sum(summ[(n, vs)]["bic"] for vs in vs_list) for n in names}
    r2 = {n: float(np.mean([summ[(n, vs)]["r2"] for vs in vs_list])) for n in names}
    if gap <= tie:
        if k[best] != k[second]:
            pick, other = (best, second) if k[best] < k[second] else (second, best)
            why = f"preferred for fewer parameters ({k[pick]} vs {k[other]})"
        else:
            pick, other = (best, second) if bic[best] <= bic[second] else (second, best)
            why = f"preferred for a lower BIC in-sample ({bic[pick]:.0f} vs {bic[other]:.0f})"
        line = (f"{pick}: ties with {other} on mean held-out MAE ({pair(pick, other)}; within {tie:.0%}) "
                f"{over}; {why}")
        return pick, line + tail
    # where the two differ most (the fold and validation set with the largest gap)
    worst = None
    if unit == "groups" or nfold <= 20:
        for vs in vs_list:
            scored = _scored_folds(law_list, vs, folds, rows)
            a, b = _fold_means(rows, best, vs, scored), _fold_means(rows, second, vs, scored)
            for f in scored:
                d = b[f] - a[f]
                if worst is None or d > worst[0]:
                    worst = (d, f, vs, a[f], b[f])
    line = f"{best}: lowest mean held-out MAE {over} ({pair(best, second)} for {second})"
    if worst is not None and len(folds) > 1:
        d, f, vs, a, b = worst
        what = "group" if unit == "groups" else "run"
        line += f"; largest gap on {what} {f!r}: {vs_label(vs)}{_fmt(a)} vs {_fmt(b)}"
    if r2[best] < r2[second]:
        line += f"; R^2 in-sample slightly lower ({r2[best]:.4f} vs {r2[second]:.4f})"
    return best, line + tail


__all__ = ["CompareResult", "compare"]


def __dir__():  # dir() and tab completion show the public names only
    return sorted(__all__)
