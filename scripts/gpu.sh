#!/usr/bin/env bash
# The GPU tier in one command that ends by itself inside 8 minutes on one H200 (BUDGET_S=480): four
# stages, most important first, each stopped at its own deadline, each writing its results under
# $OUT as soon as it ends, so that a stage cut off, or a command killed, still leaves every earlier
# stage's files:
#
#   1. throughput    ResNet-18 (CIFAR variant) training through empirical.train on 32x32 inputs: bf16
#                    autocast, channels_last, torch.compile (TrainConfig.compile: on for CUDA), fused SGD,
#                    evaluation summed on the device; images/s and model FLOP/s over the H200's bf16 peak
#                    (790 TFLOP/s). Target: 25,000 images/s.                   -> $OUT/throughput.json
#   2. memorization  ResNet-18 on Fashion-MNIST's 60,000 training images, random labels until 100% training
#                    accuracy (target: under 60 s), then the true labels; test accuracy of each and the fit-
#                    time factor of zhang2017 (benchmarks/resnet_throughput.py).  -> $OUT/memorization.json
#   3. bounds        `python -m genproof.bounds --tier full` (every default quantity, the CPU's code) on a
#                    GPU-trained ResNet-18: the CIFAR-10 subset, then Fashion-MNIST. -> $OUT/bounds.tar.gz
#   4. claims        full-tier claims in the order of CLAIMS below: those that train on the GPU, cheapest
#                    complete verdicts first; the ledger is rewritten after every claim. -> $OUT/claims.tar.gz
#   and $OUT/provenance.txt (device, driver, torch, commit, each stage's exit status, wall time and deadline)
#   and $OUT/log.txt: six files, one folder down at most (the device tool returns 8, 2 folders down).
#
# The device-tool call (one H200, 15 minutes of device time in all, machine start included), from the
# repository root of the checkout the tool sends, after `bash scripts/gpu_prepare.sh` there:
#
#     run(command="GENPROOF_COMMIT=<git rev-parse HEAD, written out> bash scripts/gpu.sh",
#         carry=[".whl", "data"], timeout_s=560)
#
# then `give_back` unless a rerun follows at once. The machine start (a minute or more) and the run
# take about 10 of the 15 minutes; a machine stays warm 30 s after a call and none starts with under 4
# minutes left, so a second run is possible only at once, and short: if the first ended early for a
# reason that needs no edit here, call again at once with `BUDGET_S=150 STAGES="throughput memorization"`
# before `bash` and timeout_s=200. Unpack what came back into results/gpu/ and commit it:
#
#     mkdir -p results/gpu && cp FILES_AT/*.json FILES_AT/*.txt results/gpu/ && for t in FILES_AT/*.tar.gz; do
#       mkdir -p "results/gpu/$(basename "$t" .tar.gz)" && tar -xzf "$t" -C "results/gpu/$(basename "$t" .tar.gz)"; done
#
# Prepared here, once (scripts/gpu_prepare.sh does all three and checks the size):
#   1. Wheels of what the GPU image lacks (its Python is 3.12; torch, numpy, scipy, scikit-learn,
#      matplotlib, sympy, tqdm, threadpoolctl, filelock are there), in .whl/ (git-ignored by .gitignore):
#        python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#          --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
#          --platform manylinux2014_x86_64 --platform manylinux1_x86_64 \
#          -d .whl cvxpy==1.9.3 clarabel==0.11.1 qdldl==0.1.9.post1 mnist1d==0.0.2.post1 platformdirs==4.14.9
#      (the versions of the CPU venv; `unzip -p .whl/NAME-*.whl '*/METADATA' | grep ^Requires-Dist` names
#      any other dependency. cvxpy's OSQP, SCS, highspy and sparsediffpy stay behind: genproof calls
#      CLARABEL and SCIPY only, and SCS's wheel alone is 43 MB; the preflight below solves with both.)
#   2. The data, in data/ (git-ignored by .gitignore's /data/), found through GENPROOF_DATA=data:
#        mkdir -p data/fashion-mnist && cp /usr/share/datasets/fashion-mnist/*.gz data/fashion-mnist/
#        cp -r ../shared/data/cifar10-subset/cifar-10-batches-py data/
#      Fashion-MNIST (30 MB) and the CIFAR-10 subset (18 MB) with the wheels (7 MB) are 55 MiB of the
#      tool's 64 MiB that travel; the full CIFAR-10 (178 MB) does not: on the GPU the cifar10 claims and
#      table run on the 5,000 / 1,000 subset, and their records say so (n_train in every record).
#   3. The commit the results belong to is not in the copy that travels (no .git there): pass it as
#      GENPROOF_COMMIT=<sha>, written out in the device command.
#
# Rehearsal on the CPU: `bash scripts/gpu.sh --tiny` runs the same stages, commands and file layout at
# tiny sizes (claims through `genproof.claims --rehearse`); the wheels are installed for Python 3.12
# into a folder this Python does not read, so a wheel that does not install fails here, not there;
# tests/test_gpu_script.py runs it. Stage times at tiny size on this 2-core CPU, loaded by four other
# engineers (2026-12-02; benchmarks/RESULTS.md): see that file. They say nothing about the GPU's times.
#
# Predicted H200 times, from FLOPs (FlopCounterMode, forward and backward: 3.33 GFLOP per 32x32 image
# and training step, 2.73 per 28x28 Fashion-MNIST image; a forward pass a third of that) at an assumed
# 83 TFLOP/s in the training steps (25,000 images/s, 10.5% of the 790 TFLOP/s peak: the target, not a
# measurement) and torch.compile's cost guessed at 40 s per new input shape and mode (inductor; nothing
# here measures it):
#   1. throughput   200 steps x 512 images x 3.33 GFLOP = 341 TFLOP: 4 s, after a warm-up of 10 steps that
#                   compiles (~40 s); with imports and the FLOP count, ~60 s of the 132 s stage.
#   2. memorization an epoch of 60,000 images is 164 TFLOP of steps (2.0 s) and 55 TFLOP of evaluation on
#                   the training set (0.7 s at the same rate); guessing ~15 epochs to fit random labels
#                   and ~5 for true ones (zhang2017 says "a small constant factor", Figure 1b; its values
#                   were not read): ~40 s random, ~15 s true, plus ~60 s of compiling (train and eval
#                   graphs for the new shape): ~120 s of the 171 s stage; the random-label run gets 60%
#                   of the time left after the warm-up, the true one the rest.
#   3. bounds       CIFAR-10 subset: 1,000 steps x 256 x 3.33 GFLOP = 853 TFLOP (10 s) and Fashion-MNIST:
#                   1,500 steps x 256 x 2.73 = 1,048 TFLOP (13 s), with per-epoch evaluations; then the
#                   default table on the host's 16 CPU cores (the same code as here: margins of the
#                   training set through the ResNet-18 in float32, 0.91 GFLOP x 60,000 = 55 TFLOP for
#                   Fashion-MNIST: one to two minutes at 0.5 to 1 TFLOP/s): the CIFAR-10 table surely,
#                   Fashion-MNIST's perhaps, inside the 113 s stage.
#   4. claims       what is left (~54 s and the earlier stages' slack): the MLP and digits claims (seconds
#                   of steps each, ~10 s of compiling per new network), then zhang2017's randomization
#                   sweep on the CIFAR-10 subset (9 fits of the small Inception, 1.6 M parameters, ~40
#                   steps an epoch), which is unlikely to finish. Compare these predictions with
#                   provenance.txt's wall times.
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

TINY=0
case "${1:-}" in
  --tiny) TINY=1 ;;
  "") ;;
  *) echo "usage: bash scripts/gpu.sh [--tiny]" >&2; exit 2 ;;
esac

PYTHON=${PYTHON:-python3}
OUT=${OUT:-$REPO/results/gpu/local}
STAGES=${STAGES:-throughput memorization bounds claims}
SETUP_S=20  # wheels and preflight
PACK_S=10   # the last packing, after the last stage's deadline
export GENPROOF_DATA=${GENPROOF_DATA:-$REPO/data} PYTHONUNBUFFERED=1 MPLBACKEND=Agg
# a torch.compile that fails runs the model eagerly, its error in log.txt, rather than ending the stage;
# the benchmarks' JSON counts the graphs compiled (compiled_graphs: 0 means none was)
export TORCHDYNAMO_SUPPRESS_ERRORS=1
export PYTHONPATH=$REPO${PYTHONPATH:+:$PYTHONPATH}  # the code of this tree, never an installed genproof

# Sizes. Full: the H200 run; tiny: the CPU rehearsal of every command.
if [ "$TINY" = 1 ]; then
  BUDGET_S=${BUDGET_S:-240}
  THROUGHPUT="--n 16 --steps 1 --warmup 1 --batch 4 --no-reference"
  MEMORIZE="--n 16 --n-test 8 --batch 8 --warmup 1 --fit-steps 2"
  BOUNDS_CIFAR="--n-train 16 --n-test 8 --max-steps 1"
  BOUNDS_FASHION="--n-train 16 --n-test 8 --max-steps 1"
  REHEARSE="--rehearse"
else
  BUDGET_S=${BUDGET_S:-480}
  THROUGHPUT="--n 50000 --steps 200 --warmup 10 --batch 512 --no-reference"
  MEMORIZE="--n 60000 --n-test 10000 --batch 512 --warmup 3 --fit-steps 20000"
  BOUNDS_CIFAR="--max-steps 1000"
  BOUNDS_FASHION="--max-steps 1500"
  REHEARSE=""
fi
# The claims: those that train on the GPU first, cheapest complete verdicts first (an MLP on the CIFAR-10
# subset, short MLP and digits runs; zhang2017's randomization runs, one sweep that six claims share; the
# Deep Bootstrap's runs, shared by four; then the rest); last, the claims that need no GPU (constructions,
# linear models, kernels), which a CPU can run at full: on this workplace's loaded 2-core CPU,
# zhang2017.memorization-2n+d took 4 s, relu-net-shatters 167 s and the three classical claims 43 to 66 s
# each (2026-12-02, all holding). CLAIMS=... runs others, in the order given.
CLAIMS=${CLAIMS:-"zhang2017.memorizer-does-not-generalize chatterjee2020.easy-first chatterjee2020.coherence-bound
  zhang2017.random-labels zhang2017.fit-time-factor zhang2017.all-randomizations-fit zhang2017.random-pixels-vs-labels
  zhang2017.noise-degrades-test zhang2017.regularization-* nakkiran2021.* chatterjee2020.* zhang2017.rademacher-near-one
  zhang2017.vc-vacuous hardt2016.* neyshabur2017.* dziugaite2017.* perezortiz2021.* jiang2020.* bansal2021.*
  zhang2017.* classical.*"}

# Each stage's deadline, in seconds from the start: the budget after setup and packing, split by weight
# over the stages selected; a stage that ends early leaves its time to the next.
declare -A WEIGHT=([throughput]=25 [memorization]=38 [bounds]=25 [claims]=12) END=()
total=0
for s in $STAGES; do
  [ -n "${WEIGHT[$s]:-}" ] || { echo "unknown stage '$s'; stages: ${!WEIGHT[*]}" >&2; exit 2; }
  total=$((total + WEIGHT[$s]))
done
acc=0
for s in $STAGES; do
  acc=$((acc + WEIGHT[$s])); END[$s]=$((SETUP_S + (BUDGET_S - SETUP_S - PACK_S) * acc / total))
done

SECONDS=0
WORK=$(mktemp -d)
mkdir -p "$OUT"
exec > >(tee -a "$OUT/log.txt") 2>&1
PROV=$OUT/provenance.txt
{
  echo "script: scripts/gpu.sh${1:+ $1}, budget $BUDGET_S s, stages: $STAGES"
  echo "commit: ${GENPROOF_COMMIT:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}"
  echo "start (UTC): $(date -u +%FT%TZ)"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | sed 's/^/device: /' \
    || echo "device: no GPU (nvidia-smi absent)"
  echo "cpu: $(nproc) cores"
  "$PYTHON" -c "import sys, torch; print('python:', sys.version.split()[0], '| torch:', torch.__version__, '| cuda:', torch.version.cuda)"
  echo "data: $GENPROOF_DATA"
} > "$PROV"

fail() { echo "preflight: $*" | tee -a "$PROV" >&2; rm -rf "$WORK"; exit 1; }

# Wheels: on the GPU machine, installed where its python3 reads them; in a rehearsal, installed for
# that machine's Python 3.12 into a folder this Python does not read (the install is what is tried).
if ls .whl/*.whl >/dev/null 2>&1; then
  if [ "$TINY" = 1 ]; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$WORK/site" \
      --python-version 3.12 --implementation cp --only-binary=:all: --platform manylinux_2_28_x86_64 \
      --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 .whl/*.whl \
      || fail "the wheels in .whl/ do not install for Python 3.12 (rerun scripts/gpu_prepare.sh)"
  else
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
      || fail "the wheels in .whl/ did not install"
    export PYTHONPATH=$PYTHONPATH:/tmp/site
  fi
  echo "wheels: $(cd .whl && ls *.whl | tr '\n' ' ')" >> "$PROV"
else
  echo "wheels: none in .whl/ (scripts/gpu_prepare.sh builds them)" >> "$PROV"
fi

# Preflight, in seconds: every import, both convex solvers, both data sets, and the GPU.
"$PYTHON" - "$TINY" <<'EOF' || fail "see the lines above"
import importlib, sys
for name in ("torch", "numpy", "scipy", "sympy", "matplotlib", "sklearn", "tqdm", "threadpoolctl", "filelock",
             "platformdirs", "mnist1d", "cvxpy", "genproof.claims", "genproof.bounds"):
    importlib.import_module(name)
import cvxpy as cp
import numpy as np
import torch
x = cp.Variable(3)
for norm, solver in ((2, "CLARABEL"), (1, "SCIPY")):
    problem = cp.Problem(cp.Minimize(cp.norm(x, norm)), [np.ones(3) @ x == 1])
    problem.solve(solver=solver)
    assert problem.status == "optimal", (solver, problem.status)
from empirical import data
for name in ("fashion-mnist", "cifar10"):
    data.load(name, n_train=10, n_test=10, download=False)
if sys.argv[1] != "1" and not torch.cuda.is_available():
    sys.exit("no GPU visible to torch: on a CPU, run the rehearsal, bash scripts/gpu.sh --tiny")
print("preflight: imports, CLARABEL and SCIPY, fashion-mnist and cifar10, device", "cuda" if torch.cuda.is_available() else "cpu")
EOF
echo "setup (s): $SECONDS" >> "$PROV"

until_end() {  # until_end STAGE CMD...: CMD, stopped at STAGE's deadline (exit status 124)
  local left=$((END[$1] - SECONDS))
  [ "$left" -gt 0 ] || return 124
  timeout --kill-after=10 "$left" "${@:2}"
}

small_files() {  # small_files ROOT: the runs' tables, summaries, curves and figures (no weights), relative to ROOT
  (cd "$1" && find . -mindepth 2 -maxdepth 2 \( -name '*.png' -o -name '*.json' -o -name '*.jsonl' -o -name '*.md' \) \
     -print0 | tar --null -czf - -T -)
}

stage_throughput() {
  until_end throughput "$PYTHON" benchmarks/resnet_throughput.py --stages throughput $THROUGHPUT --json "$OUT/throughput.json"
}

stage_memorization() {
  until_end memorization "$PYTHON" benchmarks/resnet_throughput.py --stages memorization $MEMORIZE \
    --deadline "$(($(date +%s) + END[memorization] - SECONDS))" --json "$OUT/memorization.json"
}

stage_bounds() {
  local status=0 runs=$WORK/bounds-runs
  for args in "--dataset cifar10 $BOUNDS_CIFAR" "--dataset fashion-mnist $BOUNDS_FASHION"; do
    # shellcheck disable=SC2086
    until_end bounds "$PYTHON" -m genproof.bounds --tier full --out "$runs" $args || status=$?
    [ -d "$runs" ] && small_files "$runs" > "$OUT/bounds.tar.gz"  # after each table
    [ "$status" = 0 ] || break
  done
  return "$status"
}

stage_claims() {
  local status runs=$WORK/claims-runs
  set -f  # the patterns go to the CLI as they are, never expanded against file names here
  # shellcheck disable=SC2086
  until_end claims "$PYTHON" -m genproof.claims --tier full $REHEARSE --out "$runs" --ledger "$runs/ledger" --only $CLAIMS
  status=$?
  set +f
  [ -d "$runs" ] && small_files "$runs" > "$OUT/claims.tar.gz"
  return "$status"
}

STATUS=0
for s in $STAGES; do
  start=$SECONDS
  echo "== stage $s: until $((END[$s])) s of $BUDGET_S ($((END[$s] - SECONDS)) s left)"
  "stage_$s"
  status=$?
  word=$([ "$status" = 124 ] || [ "$status" = 137 ] && echo "stopped at its deadline" || echo "exit $status")
  echo "stage $s: $word, wall $((SECONDS - start)) s, ended at $SECONDS s, deadline ${END[$s]} s" >> "$PROV"
  # a claim that does not hold (exit 1) and a stage stopped at its deadline are results, not failures
  case "$s:$status" in *:0 | *:124 | *:137 | claims:1) ;; *) [ "$STATUS" = 0 ] && STATUS=$status ;; esac
done
echo "wall (s): $SECONDS; exit status: $STATUS" >> "$PROV"
echo "written under $OUT: $(cd "$OUT" && ls | tr '\n' ' ')"
rm -rf "$WORK"
exit "$STATUS"
