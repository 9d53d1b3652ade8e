"""Malformed inputs of every format through the command line: CSV runs, long-format CSV, W&B JSON,
schedule specs, fit files, LR files, and hostile arguments.

Every case must end with exit status 1 or 2 and exactly one line on stderr (no traceback, no
"a bug in cptlaw" last-resort line), and must leave every input file as it was. The cases run
in one subprocess per batch (``_cli_batch.py``: ``cptlaw.cli.main`` per case, so a crash of the
process shows as a failed batch), hand-written ones and hypothesis-generated ones
(deterministic: ``derandomize=True``).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import tempfile

import pytest
from _cli import run_batch

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

FIT = {"law": "CPTLaw", "area_options": {"decay": 0.999, "split": "by_source", "warmup_as_peak": True},
       "valsets": {
           "pt": {"params": dict(L0=3.057, A=0.490, alpha=0.497, C1=0.299, C2=0.298, B=0.366, E=28, beta=0.189)},
           "cpt": {"params": dict(L0=3.024, A=0.412, alpha=0.677, C1=0.278, C2=0.324, B=-0.666, E=5662,
                                  beta=0.146)}}}
PT = {"kind": "wsd", "peak_lr": 2e-4, "steps": 2000, "decay_steps": 200, "warmup": 200}
SPEC = {"pt": PT, "cpt": {"kind": "cosine", "peak_lr": 1e-4, "steps": 500}}
CSV = "step,lr,loss\n" + "".join(f"{s},{1e-3},{3.0 - 1e-4 * s}\n" for s in range(10, 500, 10))
LONG = "run,phase,step,lr,loss_pt,loss_cpt\n" + "".join(
    f"a,{'pt' if s <= 200 else 'cpt'},{s},{1e-3},{3.0 - 1e-4 * s},{3.5 - 1e-4 * s}\n" for s in range(10, 400, 10))
WANDB = json.dumps({"name": "r", "history": [{"_step": s, "val/loss": 3.0 - 1e-4 * s, "lr": 1e-3}
                                             for s in range(1, 200, 5)]})
LR = "phase,lr\n" + "pt,1e-3\n" * 50 + "cpt,5e-4\n" * 50


def _base_files():
    return {"fit.json": json.dumps(FIT), "pt.json": json.dumps(PT), "spec.json": json.dumps(SPEC)}


# the command line that reads each kind of input (file name -> argv)
READERS = {
    "csv": lambda f: ["fit", f, "-q"],
    "long": lambda f: ["fit", f, "-q"],
    "wandb": lambda f: ["fit", f, "-q"],
    "spec": lambda f: ["predict", "--params", "fit.json", "--schedule", f, "-q"],
    "pt": lambda f: ["grid", "--params", "fit.json", "--pt", f, "--peak-lr", "1e-4", "--steps", "100", "-q"],
    "fit": lambda f: ["predict", "--params", f, "--schedule", "spec.json", "-q"],
    "plan": lambda f: ["plan", "--params", f, "--pt", "pt.json", "-q"],
    "lr": lambda f: ["predict", "--params", "fit.json", "--lr", f, "-q"],
}
EXT = {"csv": "csv", "long": "csv", "wandb": "json", "spec": "json", "pt": "json", "fit": "json", "plan": "json",
       "lr": "csv"}


def _garbage(seed, n=300):
    rng = random.Random(seed)
    return bytes(rng.randrange(256) for _ in range(n))


def _npy_header(shape, descr="<f8"):
    head = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}".encode()
    head += b" " * (63 - (len(head) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(head).to_bytes(2, "little") + head


def _hand_written():
    """(id, kind, file bytes, argv or None, expected text or None): argv None reads the file with
    READERS[kind]."""
    dup_fit = json.dumps(FIT)[:-1] + ', "law": "AnnealingLaw"}'
    cases = []

    def add(case_id, kind, data, argv=None, expect=None):
        if isinstance(data, str):
            data = data.encode()
        cases.append((case_id, kind, data, argv, expect))

    for kind, good in (("csv", CSV), ("long", LONG), ("wandb", WANDB), ("spec", json.dumps(SPEC)),
                       ("fit", json.dumps(FIT)), ("lr", LR)):
        add(f"{kind}-empty", kind, b"")
        cut = good.index(",", good.index("\n", len(good) // 2) if "\n" in good else len(good) // 2) + 1
        add(f"{kind}-truncated", kind, good[:cut])  # after the first field of a row, or inside JSON
        add(f"{kind}-garbage", kind, _garbage(hash(kind) % 1000))
        add(f"{kind}-utf16", kind, good.encode("utf-16"), expect="UTF-16")
        add(f"{kind}-latin1", kind, good.replace("1", "\xe9", 1).encode("latin-1"), expect="not a UTF-8 text file")
        add(f"{kind}-nul", kind, good[:20] + "\x00" + good[20:])
    # CSV: huge and non-finite numbers, missing columns
    add("csv-step-1e12", "csv", CSV + "1e12,1e-3,2.5\n", expect="beyond the 10,000,000 updates")
    add("csv-step-digits", "csv", CSV + "9" * 400 + ",1e-3,2.5\n")
    add("csv-loss-1e400", "csv", CSV.replace("2.99", "1e400", 1), expect="finite")
    add("csv-lr-inf", "csv", CSV.replace("0.001", "inf", 1), expect="finite")
    add("csv-lr-negative", "csv", CSV.replace("0.001", "-0.001", 1), expect="must be >= 0")
    add("csv-all-nan", "csv", "step,lr,loss\n" + "".join(f"{s},1e-3,nan\n" for s in range(1, 20)))
    add("csv-no-step", "csv", CSV.replace("step", "stp", 1), expect="no step column")
    add("csv-no-loss", "csv", CSV.replace("loss", "acc", 1), expect="no loss column")
    add("csv-no-lr", "csv", CSV.replace(",lr,", ",lx,", 1), expect="no learning-rate column")
    add("csv-dup-column", "csv", "step,lr,loss,loss\n1,0.1,3,3\n", expect="appears twice")
    add("csv-quote", "csv", CSV.replace("0.001", '"0.001', 1))
    add("csv-header-only", "csv", "step,lr,loss\n", expect="no data rows")
    add("long-bad-phase", "long", LONG.replace(",pt,", ",xx,", 1), expect="phase must be 'pt' or 'cpt'")
    add("long-cpt-only", "long", LONG.replace(",pt,", ",cpt,"), expect="has only cpt rows")
    add("long-replay-2", "long", "".join(ln + (",r_pt" if i == 0 else ",2") + "\n"
                                         for i, ln in enumerate(LONG.splitlines())), expect="replay ratio must lie")
    # W&B: steps that are not whole numbers within range, nesting, duplicates, missing columns
    rows = json.loads(WANDB)
    for i, (step, expect) in enumerate([(1e30, "beyond"), (-1, "not a whole number"), (2.5, "not a whole number"),
                                        ("1", "not a whole number")]):
        bad = json.loads(WANDB)
        bad["history"][3]["_step"] = step
        add(f"wandb-step-{i}", "wandb", json.dumps(bad), expect=expect)
    add("wandb-step-infinity", "wandb", WANDB.replace('"_step": 6,', '"_step": Infinity,', 1),
        expect="not a whole number")
    add("wandb-loss-nan-everywhere", "wandb", json.dumps({"history": [{"_step": s, "val/loss": float("nan"),
                                                                       "lr": 1e-3} for s in range(5)]}))
    add("wandb-deep", "wandb", '{"history": ' + "[" * 10_000 + "]" * 10_000 + "}", expect="nested more than 100")
    add("wandb-duplicate-key", "wandb", WANDB.replace('"name": "r"', '"name": "r", "name": "s"'),
        expect="duplicate key 'name'")
    add("wandb-no-loss", "wandb", json.dumps({"history": [{"_step": 1, "lr": 1e-3}]}), expect="no validation-loss")
    add("wandb-rows-not-objects", "wandb", json.dumps({"history": [1, 2, 3]}), expect="history rows must be objects")
    add("wandb-resumed-without-base", "wandb", json.dumps(dict(rows, config={"resume_from": "ckpt/base/100"})),
        expect="resumed from step 100")
    add("wandb-jsonl-bad-line", "wandb", b"", argv=None)
    # schedule specs
    for i, (spec, expect) in enumerate([
        ({"kind": "exponential", "peak_lr": 1e-3, "steps": 100, "gamma": 1e10}, "overflow"),
        ({"kind": "constant", "lr": 1e-3, "steps": 1e12}, "out of range"),
        ({"kind": "constant", "lr": 1e-3, "steps": float("inf")}, None),
        ({"kind": "constant", "lr": float("nan"), "steps": 10}, None),
        ({"kind": "values", "values": [1e-3, float("nan")]}, "not a finite number"),
        ({"kind": "nope"}, "unknown schedule kind"),
        ({"kind": 3}, "\"kind\" must be a string"),
        ({"kind": "concat", "parts": []}, "non-empty list"),
        ({"kind": "wsd", "peak_lr": 1e-3, "steps": 10, "decay_steps": 20}, "decay_steps"),
        ({"kind": "multistep", "peak_lr": 1e-3, "steps": 10, "milestones": [1e30]}, "out of range"),
        ({"pt": {"kind": "constant", "lr": 1e-3, "steps": 6e6}, "cpt": {"kind": "constant", "lr": 1e-3,
                                                                        "steps": 6e6}}, "together"),
    ]):
        add(f"spec-{i}", "spec", json.dumps(spec), expect=expect)
    add("spec-duplicate", "spec", '{"kind": "constant", "lr": 1e-3, "lr": 2e-3, "steps": 10}', expect="duplicate key")
    add("spec-deep", "spec", "[" * 200 + "]" * 200, expect="nested more than 100")
    add("spec-long-number", "spec", '{"kind": "constant", "lr": 1e-3, "steps": 1' + "0" * 5000 + "}",
        expect="digits")
    # fit files
    for i, (path, value, expect) in enumerate([
        (("valsets", "pt", "params", "E"), float("inf"), "must be a finite number"),
        (("valsets", "pt", "params", "E"), float("nan"), "must be a finite number"),
        (("valsets", "pt", "params", "gamma"), 1e10, "unknown parameter 'gamma'"),
        (("area_options", "warmup_as_peak"), "yes", "warmup_as_peak"),
        (("area_options", "warmup_as_peak"), 1e30, "warmup_as_peak"),
        (("area_options", "decay"), 2, "decay: must be <= 1"),
        (("area_options", "split"), "nope", "split"),
        (("valsets", "pt", "domain"), {"peak_lr": [1e-4, 2e-4], "max_step": float("inf")}, "max_step"),
        (("valsets", "pt", "law"), 12, "\"law\" must be"),
        (("valsets",), {}, "\"valsets\" must map"),
    ]):
        bad = json.loads(json.dumps(FIT))
        node = bad
        for p in path[:-1]:
            node = node[p]
        node[path[-1]] = value
        add(f"fit-{i}", "fit", json.dumps(bad), expect=expect)
        add(f"plan-{i}", "plan", json.dumps(bad), expect=expect)
    add("fit-huge-number", "fit", json.dumps(FIT).replace("5662", "1e400"), expect="must be a finite number")
    add("fit-duplicate", "fit", dup_fit, expect="duplicate key 'law'")
    add("fit-deep", "fit", '{"law": ' + "[" * 5000 + "]" * 5000 + "}", expect="nested more than 100")
    add("plan-single-valset", "plan", json.dumps({"law": "CPTLaw", "params": FIT["valsets"]["pt"]["params"]}),
        expect="single validation set")
    # LR files
    add("lr-nan", "lr", LR.replace("1e-3", "nan", 1), expect="missing learning rate")
    add("lr-negative", "lr", LR.replace("1e-3", "-1e-3", 1), expect="must be >= 0")
    add("lr-phase-order", "lr", "phase,lr\ncpt,1e-3\npt,1e-3\n", expect="pt rows before the cpt rows")
    add("lr-huge", "lr", LR.replace("1e-3", "1e999", 1), expect="finite")
    for i, (data, expect) in enumerate([
        (_npy_header((10**12,)), "npy"), (_npy_header((3, 4)) + b"\0" * 96, "1-D"),
        (_npy_header((4,), "|O") + b"\0" * 32, "npy"), (b"\x93NUMPY garbage", "npy"), (b"", "npy")]):
        cases.append((f"npy-{i}", "npy", data, None, expect))
    return cases


def _arg_cases():
    """Hostile arguments (with valid files): (id, argv, expected text)."""
    grid = ["grid", "--params", "fit.json", "--pt", "pt.json"]
    return [
        ("grid-steps-1e30", grid + ["--peak-lr", "1e-4", "--steps", "1e30"], "--steps"),
        ("grid-peak-lr-1e8-values", grid + ["--peak-lr", "1e-5:1e-3:100000000", "--steps", "100"], "100,000,000"),
        ("grid-rows", grid + ["--peak-lr", "1e-5:1e-3:100000", "--steps", "1:100000:100000", "--warmup",
                              "0:10:11"], "rows"),
        ("grid-csv-over-fit", grid + ["--peak-lr", "1e-4", "--steps", "100", "--csv", "fit.json"], "is the input"),
        ("grid-best-huge", grid + ["--peak-lr", "1e-4", "--steps", "100", "--best", "1e30"], "--best"),
        ("plan-cpt-steps", ["plan", "--params", "fit.json", "--pt", "pt.json", "--cpt-steps", "1e30"], "--cpt-steps"),
        ("plan-many-weights", ["plan", "--params", "fit.json", "--pt", "pt.json", "--w", "0:1:100000"], "--w"),
        ("plan-max-lr-nan", ["plan", "--params", "fit.json", "--pt", "pt.json", "--max-lr", "nan"], "--max-lr"),
        ("plan-warmup", ["plan", "--params", "fit.json", "--pt", "pt.json", "--warmup", "9" * 40], "--warmup"),
        ("fit-warmup-steps", ["fit", "run.csv", "--warmup-steps", "1" + "0" * 30], "--warmup-steps"),
        ("fit-step-offset", ["fit", "run.csv", "--step-offset", "1" + "0" * 30], "--step-offset"),
        ("fit-decay-nan", ["fit", "run.csv", "--decay", "nan"], "--decay"),
        ("fit-delta-inf", ["fit", "run.csv", "--delta", "inf"], "--delta"),
        ("fit-fix-inf", ["fit", "run.csv", "--fix", "L0=inf"], "--fix L0"),
        ("fit-over-input", ["fit", "run.csv", "-o", "run.csv"], "is the input"),
        ("predict-steps-1e30", ["predict", "--params", "fit.json", "--schedule", "spec.json", "--steps", "1e30"],
         "--steps"),
        ("predict-csv-over-spec", ["predict", "--params", "fit.json", "--schedule", "spec.json", "--csv",
                                   "spec.json"], "is the input"),
        ("demo-n-boot", ["demo", "--n-boot", "1e30", "--out", "d"], "--n-boot"),
        ("predict-level-nan", ["predict", "--params", "fit.json", "--schedule", "spec.json", "--level", "nan"],
         "--level"),
        ("predict-level-1", ["predict", "--params", "fit.json", "--schedule", "spec.json", "--level", "1"],
         "--level"),
        ("predict-interval-bad", ["predict", "--params", "fit.json", "--schedule", "spec.json", "--interval", "x"],
         "--interval"),
        ("compare-one-run", ["compare", "run.csv", "--laws", "cpt"], "at least two runs"),
        ("compare-laws-huge", ["compare", "run.csv", "run.csv", "--laws", "cpt," * 10000], "--laws"),
        ("compare-laws-nul", ["compare", "run.csv", "--laws", "cpt\x00"], "--laws"),
        ("compare-group-empty", ["compare", "run.csv", "--laws", "cpt", "--group-by", " "], "--group-by"),
        ("compare-decay-inf", ["compare", "run.csv", "--laws", "cpt", "--decay", "inf"], "--decay"),
        ("compare-over-input", ["compare", "run.csv", "--laws", "cpt", "-o", "run.csv"], "is the input"),
    ]


def _tree_hash(root):
    out = {}
    for dp, _, fs in os.walk(root):
        for f in fs:
            p = os.path.join(dp, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = hashlib.sha256(fh.read()).hexdigest()
    return out


def _check(results, labels, expects=None):
    for i, (res, label) in enumerate(zip(results, labels)):
        assert res["escaped"] is None, (label, res["escaped"])
        lines = res["stderr"].strip().splitlines()
        assert res["code"] in (1, 2), (label, res["code"], res["stderr"], res["stdout"][-500:])
        assert len(lines) == 1, (label, res["stderr"])
        assert "Traceback" not in res["stderr"] and "a bug in cptlaw" not in lines[0], (label, lines[0])
        if expects and expects[i]:
            assert expects[i] in lines[0], (label, lines[0])


def _write_case(folder, name, data):
    os.makedirs(folder, exist_ok=True)
    for fname, text in _base_files().items():
        with open(os.path.join(folder, fname), "w") as fh:
            fh.write(text)
    with open(os.path.join(folder, name), "wb") as fh:
        fh.write(data)


def test_hand_written_malformed_inputs_and_arguments(tmp_path):
    cases, labels, expects = [], [], []
    for case_id, kind, data, argv, expect in _hand_written():
        folder = tmp_path / case_id
        if kind == "npy":
            name, argv = "lr.npy", ["predict", "--params", "fit.json", "--lr", "lr.npy", "-q"]
        elif case_id == "wandb-jsonl-bad-line":
            name, data = "h.jsonl", WANDB.encode()[:40] + b"\n{oops\n"
        else:
            name = f"input.{EXT[kind]}"
        _write_case(folder, name, data)
        argv = argv or READERS["wandb" if name.endswith(".jsonl") else kind](name)
        cases.append(argv)
        labels.append(case_id)
        expects.append(expect)
    for case_id, argv, expect in _arg_cases():
        folder = tmp_path / case_id
        _write_case(folder, "run.csv", CSV.encode())
        cases.append(argv)
        labels.append(case_id)
        expects.append(expect)
    before = _tree_hash(tmp_path)
    # each case runs in its own folder: the batch changes directory per case
    cases = [["--chdir", str(tmp_path / label)] + argv for label, argv in zip(labels, cases)]
    results = run_batch(cases, cwd=tmp_path)
    _check(results, labels, expects)
    assert _tree_hash(tmp_path) == before  # no input written over, nothing new beside the inputs


# ======================================================================================
# hypothesis: random structures and corruptions of every format
# ======================================================================================

_NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.sampled_from([0, 1, -1, 1e-300, 1e300, 1e12, 10**30, 0.5]),
)
_KEYS = st.sampled_from(["kind", "steps", "peak_lr", "lr", "warmup", "decay_steps", "gamma", "values", "parts", "pt",
                         "cpt", "runs", "law", "params", "valsets", "area_options", "domain", "decay", "split",
                         "warmup_as_peak", "history", "_step", "val/loss", "config", "resume_from", "L0", "E",
                         "max_step", "peak_lr", "name"]) | st.text(max_size=6)
_LEAF = st.none() | st.booleans() | _NUMBERS | st.text(max_size=8) | st.sampled_from(["wsd", "cosine", "CPTLaw",
                                                                                      "constant", "by_time"])
_TREE = st.recursive(_LEAF, lambda c: st.lists(c, max_size=4) | st.dictionaries(_KEYS, c, max_size=5), max_leaves=25)


@st.composite
def _json_case(draw):
    kind = draw(st.sampled_from(["wandb", "spec", "fit", "plan", "pt"]))
    good = {"wandb": json.loads(WANDB), "spec": SPEC, "fit": FIT, "plan": FIT, "pt": PT}[kind]
    doc = json.loads(json.dumps(good))
    # replace one node of the good document by a random tree
    node, path = doc, []
    while isinstance(node, (dict, list)) and node and draw(st.booleans()):
        key = draw(st.sampled_from(list(node) if isinstance(node, dict) else list(range(len(node)))))
        path.append(key)
        node = node[key]
    tree = draw(_TREE)
    if path:
        parent = doc
        for k in path[:-1]:
            parent = parent[k]
        parent[path[-1]] = tree
    else:
        doc = tree
    text = json.dumps(doc, allow_nan=True).encode()
    how = draw(st.sampled_from(["as is", "truncate", "insert", "delete"]))
    if how != "as is" and text:
        i = draw(st.integers(0, len(text) - 1))
        if how == "truncate":
            text = text[:i]
        elif how == "insert":
            text = text[:i] + draw(st.sampled_from([b"{", b"]", b",", b'"', b"\x00", b"\xff", b"NaN", b"1e999"])) + \
                text[i:]
        else:
            text = text[:i] + text[i + 1:]
    return kind, text


_CELL = st.one_of(_NUMBERS.map(lambda x: repr(x) if isinstance(x, float) else str(x)),
                  st.sampled_from(["", "nan", "inf", "-", "abc", '"', "1e12", "pt", "cpt", "-0"]),
                  st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=5))
_HEADERS = st.sampled_from([["step", "lr", "loss"], ["run", "phase", "step", "lr", "loss_pt", "loss_cpt"],
                            ["phase", "lr"], ["lr"], ["step", "loss"], ["global_step", "lr", "val_loss", "r_pt"],
                            ["step", "lr", "loss", "source", "run", "phase"]])


@st.composite
def _csv_case(draw):
    header = draw(_HEADERS)
    kind = "lr" if header in (["phase", "lr"], ["lr"]) else ("long" if "run" in header else "csv")
    rows = draw(st.lists(st.lists(_CELL, min_size=max(1, len(header) - 1), max_size=len(header) + 1), max_size=12))
    text = ",".join(header) + "\n" + "".join(",".join(r) + "\n" for r in rows)
    return kind, text.encode("utf-8", "surrogatepass")


@settings(max_examples=4, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(batch=st.lists(st.one_of(_json_case(), _csv_case()), min_size=40, max_size=40))
def test_generated_malformed_inputs(batch):
    """Random documents and tables (some valid by chance): a valid one may succeed (status 0, only
    warnings on stderr); anything else fails with one line; inputs are never modified."""
    with tempfile.TemporaryDirectory() as tmp:
        cases, labels = [], []
        for i, (kind, data) in enumerate(batch):
            folder = os.path.join(tmp, str(i))
            name = f"input.{EXT[kind]}"
            _write_case(folder, name, data)
            cases.append(["--chdir", folder] + READERS[kind](name))
            labels.append(f"{i}: {kind} {data[:200]!r}")
        before = _tree_hash(tmp)
        results = run_batch(cases, cwd=tmp)
        failed = [(r, lab) for r, lab in zip(results, labels) if r["code"] != 0 or r["escaped"]]
        assert len(failed) >= len(batch) // 2  # the generators make mostly malformed inputs
        for r, lab in zip(results, labels):
            if r["code"] == 0 and not r["escaped"]:
                lines = r["stderr"].strip().splitlines()
                assert all(ln.startswith("cptlaw: warning: ") for ln in lines), (lab, r["stderr"])
        _check([r for r, _ in failed], [lab for _, lab in failed])
        assert _tree_hash(tmp) == before

