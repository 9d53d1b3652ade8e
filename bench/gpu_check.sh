#!/usr/bin/env bash
# One prepared check of cptlaw's CUDA paths on a GPU machine: build the package with its CUDA
# module, run tests/test_cuda.py and the GPU benchmarks (bench/cases_gpu.py: the law over 1e9
# device points vs the copy bandwidth, the best of 1e9 CPT configurations, fit_many on 1e6
# curves, each against the CPU path on the same machine), and write one JSON of results.
#
#   bench/gpu_check.sh [OUT.json]            default: $OUT/gpu_check.json, else ./gpu_check.json
#   bench/gpu_check.sh --dry-run [OUT.json]  no build and no GPU needed: the tree's own build
#                                            (python/cptlaw), quick benchmark sizes; checks this
#                                            script and the CPU sides of the benchmarks
#
# Needs nvcc, cmake (ninja or make), and a Python with numpy, pybind11, PyTorch or CuPy, pytest
# (pandas for the grid tests); nothing is downloaded. Each stage runs under a time limit, and all
# of them within GPU_CHECK_BUDGET seconds (default 450, so the check ends within 8 minutes);
# the JSON is written whatever happens, with every stage's status, time and the tail of its log.
set -euo pipefail

DRY=0
if [[ "${1:-}" == "--dry-run" ]]; then
  DRY=1
  shift
fi
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEFAULT_DIR=${OUT:-$PWD}
JSON=${1:-$DEFAULT_DIR/gpu_check.json}
mkdir -p "$(dirname "$JSON")"
JSON=$(cd "$(dirname "$JSON")" && pwd)/$(basename "$JSON")
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cptlaw-gpu-check.XXXXXX")
PY=${PYTHON:-$(command -v python3 || command -v python)}
JOBS=$(nproc 2>/dev/null || echo 2)
T0=$(date +%s)
BUDGET=${GPU_CHECK_BUDGET:-450}
STAGES=()

# run_stage NAME SECONDS CMD...: runs CMD with a time limit, logging to $WORK/NAME.log, and
# records its status (ok / failed / timeout), exit code and wall time in $WORK/NAME.stage.
run_stage() {
  local name=$1 limit=$2
  shift 2
  STAGES+=("$name")
  local left=$((BUDGET - ($(date +%s) - T0) - 15))  # 15 s kept for the JSON
  if [[ $left -lt 10 ]]; then
    printf 'out_of_time 0 0\n' >"$WORK/$name.stage"
    echo "not run: the check's time budget (${BUDGET}s) is spent" >"$WORK/$name.log"
    echo "== $name: not run (time budget spent)" >&2
    return 1
  fi
  [[ $limit -gt $left ]] && limit=$left
  local t=$(date +%s) rc=0
  echo "== $name (limit ${limit}s): $*" >&2
  if timeout --kill-after=15 "$limit" "$@" >"$WORK/$name.log" 2>&1; then rc=0; else rc=$?; fi
  local status=ok
  if [[ $rc -eq 124 || $rc -eq 137 ]]; then status=timeout; elif [[ $rc -ne 0 ]]; then status=failed; fi
  printf '%s %s %s\n' "$status" "$rc" "$(($(date +%s) - t))" >"$WORK/$name.stage"
  echo "   $status (rc $rc, $(($(date +%s) - t)) s)" >&2
  tail -n 5 "$WORK/$name.log" >&2 || true
  [[ $status == ok ]]
}

skip_stage() {
  STAGES+=("$1")
  printf 'skipped 0 0\n' >"$WORK/$1.stage"
  echo "$2" >"$WORK/$1.log"
}

# Writes the JSON from the stage records, the test report and the benchmark rows.
finish() {
  local rc=$?
  "$PY" - "$JSON" "$WORK" "$DRY" "$(($(date +%s) - T0))" "${STAGES[@]}" <<'EOF' || echo "could not write $JSON" >&2
import json, os, sys, xml.etree.ElementTree as ET
out, work, dry, elapsed, stages = sys.argv[1], sys.argv[2], sys.argv[3] == "1", int(sys.argv[4]), sys.argv[5:]

def text(path, tail=None):
    try:
        with open(path, errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-tail:] if tail else lines)

res = {"script": "bench/gpu_check.sh", "dry_run": dry, "elapsed_s": elapsed, "stages": {}}
for s in stages:
    status, rc, secs = (text(os.path.join(work, s + ".stage")).split() + ["unknown", "-1", "0"])[:3]
    res["stages"][s] = {"status": status, "rc": int(rc), "seconds": int(secs),
                        "log_tail": text(os.path.join(work, s + ".log"), 40)}
try:
    res["machine"] = json.loads(text(os.path.join(work, "machine.json")) or "{}")
except ValueError:
    res["machine"] = {}
junit = os.path.join(work, "junit.xml")
if os.path.exists(junit):
    try:
        root = ET.parse(junit).getroot()
        suite = root if root.tag == "testsuite" else root.find("testsuite")
        n = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
        n["passed"] = n["tests"] - n["failures"] - n["errors"] - n["skipped"]
        bad = []
        for case in suite.iter("testcase"):
            for kind in ("failure", "error"):
                e = case.find(kind)
                if e is not None:
                    bad.append({"test": f"{case.get('classname')}::{case.get('name')}", "kind": kind,
                                "message": (e.get("message") or "")[:500]})
        skipped = sorted({(c.find("skipped").get("message") or "")[:200] for c in suite.iter("testcase")
                          if c.find("skipped") is not None})
        res["tests"] = dict(n, failed_tests=bad, skip_reasons=skipped)
    except Exception as exc:  # a broken report must not lose the rest
        res["tests"] = {"error": f"cannot read junit.xml: {exc}"}
bench = os.path.join(work, "bench.json")
if os.path.exists(bench):
    try:
        with open(bench) as f:
            b = json.load(f)
        res["bench"] = {"machine": b.get("machine"), "rows": b.get("rows", [])}
        targets = {}
        for r in b.get("rows", []):
            key = {"gpu.law": "law_fraction_of_copy_bandwidth", "gpu.grid_best": "best_of_1e9_configs_1s_over_time",
                   "gpu.fit_many": "fit_many_fits_per_s"}.get(r.get("case"))
            if r.get("name", "").endswith("vs the CPU path"):
                key = {"gpu.fit_many": "fit_many_vs_cpu"}.get(r.get("case"), None)
                if key is None:
                    res.setdefault("vs_cpu", {})[r["case"]] = r.get("ratio")
                    continue
            if key:
                targets[key] = {"value": r.get("ratio"), "target": r.get("target"), "result": r.get("result"),
                                "seconds": r.get("cptlaw_s"), "note": r.get("note")}
        res["targets"] = targets
    except Exception as exc:
        res["bench"] = {"error": f"cannot read bench.json: {exc}"}
res["ok"] = all(v["status"] in ("ok", "skipped") for v in res["stages"].values())
with open(out, "w") as f:
    json.dump(res, f, indent=2)
print(f"wrote {out}: " + ", ".join(f"{k} {v['status']}" for k, v in res["stages"].items()))
EOF
  rm -rf "$WORK"
  exit "$rc"
}
trap finish EXIT

# -- 0. what machine ------------------------------------------------------------------------
"$PY" - "$WORK/machine.json" <<'EOF' || true
import json, platform, shutil, subprocess, sys, importlib.util
def run(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout.strip()
    except Exception as exc:
        return f"unavailable: {exc}"
info = {"python": sys.version.split()[0], "platform": platform.platform(),
        "nvidia_smi": run("nvidia-smi", "--query-gpu=name,driver_version,memory.total,compute_cap",
                          "--format=csv,noheader") if shutil.which("nvidia-smi") else "not found",
        "nvcc": run("nvcc", "--version").splitlines()[-1:] if shutil.which("nvcc") else "not found",
        "cmake": run("cmake", "--version").splitlines()[:1] if shutil.which("cmake") else "not found",
        "modules": {m: importlib.util.find_spec(m) is not None
                    for m in ("numpy", "pybind11", "torch", "cupy", "pytest", "pandas", "scipy")}}
json.dump(info, open(sys.argv[1], "w"), indent=2)
EOF

# -- 1. build -------------------------------------------------------------------------------
SITE=$WORK/site
if [[ $DRY -eq 1 ]]; then
  SITE=$ROOT/python
  skip_stage build "dry run: using $ROOT/python as it is"
else
  GEN=""
  command -v ninja >/dev/null && GEN="-G Ninja"
  # A script of its own, so that `timeout` can run (and stop) it.
  cat >"$WORK/build.sh" <<BUILD
set -euo pipefail
cmake -S "$ROOT" -B "$WORK/build" $GEN -DCMAKE_BUILD_TYPE=Release -DCPTLAW_PYTHON=ON -DCPTLAW_CUDA=ON \\
  -DPython_EXECUTABLE="$PY" -Dpybind11_DIR="\$("$PY" -m pybind11 --cmakedir)" -DCMAKE_CUDA_FLAGS=--threads=0
cmake --build "$WORK/build" -j "$JOBS"
mkdir -p "$SITE"
cp -r "$ROOT/python/cptlaw" "$SITE/"
rm -f "$SITE"/cptlaw/*.so
cp "$WORK"/build/_core*.so "$WORK"/build/_cuda*.so "$SITE/cptlaw/"
BUILD
  run_stage build 300 bash "$WORK/build.sh" || true
fi
export PYTHONPATH=$SITE${PYTHONPATH:+:$PYTHONPATH}

# -- 2. the module sees the GPU -------------------------------------------------------------
run_stage import 60 "$PY" -c "
import cptlaw, cptlaw.cuda as c
print('cptlaw from', cptlaw.__file__)
print('available', c.is_available(), c.unavailable_reason())
if c.is_available():
    print(c.device_count(), 'device(s);', c.device_info(0))
" || true

# -- 3. tests -------------------------------------------------------------------------------
run_stage tests 150 "$PY" -m pytest "$ROOT/tests/test_cuda.py" -q -rs -p no:cacheprovider \
  --junitxml="$WORK/junit.xml" || true

# -- 4. benchmarks --------------------------------------------------------------------------
BENCH=(--only 'gpu.*' --repeat 3 --json "$WORK/bench.json")
[[ $DRY -eq 1 ]] && BENCH+=(--quick)
run_stage bench 240 "$PY" "$ROOT/bench/run.py" "${BENCH[@]}" || true

# -- 5. the JSON (finish, on exit) ----------------------------------------------------------
exit 0
