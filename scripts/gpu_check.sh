#!/usr/bin/env bash
# One-shot GPU check for docs/performance.md (about 5-7 minutes on one H200; each step has a
# timeout so the whole script stays under 8 minutes). Run from the repository root with the
# project installed (`pip install -e .` in an environment with CUDA torch):
#     bash scripts/gpu_check.sh [OUTDIR]          # default OUTDIR: $OUT or results/bench
# Writes OUTDIR/*.json (fedmix bench figures), OUTDIR/equal.txt and OUTDIR/gpu_check.log.
set -uo pipefail
OUTDIR="${1:-${OUT:-results/bench}}"
mkdir -p "$OUTDIR"
LOG="$OUTDIR/gpu_check.log"
PY="${PYTHON:-python}"
step() {  # step SECONDS NAME COMMAND...: run with a time limit, log, keep going on failure
  local limit=$1 name=$2; shift 2
  echo "== $name (limit ${limit}s): $*" | tee -a "$LOG"
  local t0=$SECONDS
  timeout "$limit" "$@" 2>&1 | tee -a "$LOG"
  echo "== $name: exit ${PIPESTATUS[0]} after $((SECONDS - t0)) s" | tee -a "$LOG"
}
step 20 "device" nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
step 30 "torch" "$PY" -c "import torch; print(torch.__version__, torch.cuda.get_device_name(0))"
# 1. Paper size (224 crops of 256, width 64, levels 5, batch 16), bf16, small clients.
step 120 "bench paper size" "$PY" -m fedmix.cli bench --device cuda --json "$OUTDIR/paper.json"
# 2. The same in fp32 (TF32 off), for the precision ratio.
step 90 "bench paper size fp32" "$PY" -m fedmix.cli bench --device cuda --precision fp32 \
  --steps 2 --repeats 2 --json "$OUTDIR/paper_fp32.json"
# 3. One FedMix round at the breast federation's size (516 I, 449 B, 130 L training images).
step 240 "bench breast round" "$PY" -m fedmix.cli bench --device cuda --clients 516,449,130 \
  --repeats 2 --json "$OUTDIR/breast_round.json"
# 4. torch.compile (training.compile: true): compile time is included in the warm-up only.
step 150 "bench compiled" "$PY" -m fedmix.cli bench --device cuda --compile --steps 8 \
  --json "$OUTDIR/paper_compiled.json"
# 5. Fast path (bf16) vs plain path (fp32) on the GPU: losses of two FedMix rounds.
step 60 "fast vs plain losses" "$PY" - "$OUTDIR/equal.txt" <<'PYEOF'
import sys, tempfile, math
from pathlib import Path
import torch
from fedmix.bench import BenchSize, bench_run_config, write_federation
from fedmix.naive import PlainLoop
from fedmix.train import RoundLoop
size = BenchSize(size=64, image_size=80, width=16, clients=(24, 20, 16))
lines = []
for precision in ("fp32", "bf16"):
    run = bench_run_config(size, precision, False)
    with tempfile.TemporaryDirectory() as tmp:
        tr, va = write_federation(Path(tmp), size)
        fast = RoundLoop(run, tr, va, Path(tmp) / "o", torch.device("cuda"))
        init = [{k: v.clone() for k, v in m.state_dict().items()} for m in fast.globals["global"]]
        plain = PlainLoop(run, fast.clients, fast.selection, init, device="cuda")
        for rnd in range(2):
            fast.round(rnd)
            stats = plain.round(rnd)
            for row, st in zip(fast.history[-3:], stats.values()):
                rel = abs(row["train_loss"] - st.loss) / max(abs(st.loss), 1e-12)
                lines.append(f"{precision} round {rnd + 1} client {row['client']}: fast "
                             f"{row['train_loss']:.6f} plain {st.loss:.6f} rel.diff {rel:.2e}")
Path(sys.argv[1]).write_text("\n".join(lines) + "\n")
print("\n".join(lines))
PYEOF
echo "done; figures in $OUTDIR" | tee -a "$LOG"
