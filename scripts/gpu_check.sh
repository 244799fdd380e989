#!/usr/bin/env bash
# One-shot GPU check for docs/performance.md: about 5-7 minutes on one H200, each step with a
# timeout so the whole script stays under 8 minutes. Run from the repository root:
#     bash scripts/gpu_check.sh [OUTDIR]          # default OUTDIR: $OUT or results/bench
# It needs only torch (with CUDA), numpy, h5py and tqdm, and imports fedmix from this checkout
# (PYTHONPATH), so it runs on a machine where nothing can be installed.
# Writes OUTDIR/*.json (fedmix bench and compare-paths figures), OUTDIR/gpu_check.log and
# OUTDIR/summary.txt (one line per step with its exit status); exits 1 if any step failed.
#
# GPU_CHECK_REHEARSAL=1 runs the same steps on the CPU at a tiny size (tests/test_gpu_check.py
# does), so the script is known to work before device time is spent on it.
set -uo pipefail
OUTDIR="${1:-${OUT:-results/bench}}"
mkdir -p "$OUTDIR"
LOG="$OUTDIR/gpu_check.log"
SUMMARY="$OUTDIR/summary.txt"
: >"$LOG"
: >"$SUMMARY"
PY="${PYTHON:-python3}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
FAILED=0

if [[ "${GPU_CHECK_REHEARSAL:-0}" == 1 ]]; then
  DEVICE=cpu
  SCALE=3  # a CPU compiles torch.compile's kernels slowly
  TINY=(--size 16 --image-size 32 --width 4 --levels 2 --batch 4)
  PAPER=("${TINY[@]}" --steps 1 --repeats 1 --clients 6,5,4 --gemm-n 64 --conv-channels 8)
  BREAST=(--clients 8,6,4)
  COMPARE=("${TINY[@]}" --clients 6,5,4)
  INFO=("$PY" -c "import platform; print('rehearsal on', platform.processor() or 'cpu')")
else
  DEVICE=cuda
  SCALE=1
  PAPER=()     # paper size: 224 crops of 256, width 64, levels 5, batch 16, clients 48,40,16
  BREAST=(--clients 516,449,130)  # the breast federation's training sizes (docs/method.md)
  COMPARE=()   # the --small preset, clients 24,20,16
  INFO=(nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv)
fi

step() {  # step SECONDS NAME COMMAND...: run with a time limit, log, keep going on failure
  local limit=$(($1 * SCALE)) name=$2
  shift 2
  echo "== $name (limit ${limit}s): $*" | tee -a "$LOG"
  local t0=$SECONDS
  timeout "$limit" "$@" 2>&1 | tee -a "$LOG"
  local rc=${PIPESTATUS[0]}
  echo "== $name: exit $rc after $((SECONDS - t0)) s" | tee -a "$LOG"
  echo "$name: exit $rc after $((SECONDS - t0)) s" >>"$SUMMARY"
  [[ $rc == 0 ]] || FAILED=1
}

BENCH=("$PY" -m fedmix.cli bench --device "$DEVICE")
step 20 "device" "${INFO[@]}"
step 60 "torch" "$PY" -c "import torch; print(torch.__version__, torch.cuda.is_available())"
# 1. Paper size, the fast path's default precision (bf16 on CUDA).
step 120 "bench paper size" "${BENCH[@]}" "${PAPER[@]}" --json "$OUTDIR/paper.json"
# 2. The same in IEEE fp32, for the precision ratio.
step 90 "bench paper size fp32" "${BENCH[@]}" "${PAPER[@]}" --precision fp32 --steps 2 \
  --repeats 2 --json "$OUTDIR/paper_fp32.json"
# 3. One FedMix round at the breast federation's size; run_300_rounds_min is the goal's figure.
step 240 "bench breast round" "${BENCH[@]}" "${PAPER[@]}" "${BREAST[@]}" --repeats 2 \
  --json "$OUTDIR/breast_round.json"
# 4. torch.compile (training.compile: true); compile time falls in the warm-up only.
step 150 "bench compiled" "${BENCH[@]}" "${PAPER[@]}" --compile --steps 8 \
  --json "$OUTDIR/paper_compiled.json"
# 5. Fast path vs plain fp32 path, two FedMix rounds from the same weights, in fp32 and bf16.
for precision in fp32 bf16; do
  step 60 "compare paths $precision" "$PY" -m fedmix.cli compare-paths --device "$DEVICE" \
    --precision "$precision" "${COMPARE[@]}" --json "$OUTDIR/compare_$precision.json"
done
echo "done (failed steps: $FAILED); figures in $OUTDIR" | tee -a "$LOG"
exit "$FAILED"
