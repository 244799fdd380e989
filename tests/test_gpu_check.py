"""scripts/gpu_check.sh, rehearsed on the CPU at a tiny size (about a minute).

Device time is scarce (one short session, maybe never): the script that spends it must be known
to run. The rehearsal takes every step the GPU run takes, only smaller and on the CPU.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fedmix.bench import FIGURES

ROOT = Path(__file__).resolve().parents[1]
STEPS = [
    "device",
    "torch",
    "bench paper size",
    "bench paper size fp32",
    "bench breast round",
    "bench compiled",
    "compare paths fp32",
    "compare paths bf16",
]


def test_gpu_check_script_runs_every_step_and_writes_every_figure(tmp_path):
    env = os.environ | {"GPU_CHECK_REHEARSAL": "1", "PYTHON": sys.executable}
    out = tmp_path / "out"
    proc = subprocess.run(
        ["bash", "scripts/gpu_check.sh", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    summary = (out / "summary.txt").read_text().splitlines()
    assert [line.split(":")[0] for line in summary] == STEPS, proc.stdout[-3000:]
    assert all(": exit 0 after" in line for line in summary), summary
    assert proc.returncode == 0
    files = sorted(p.name for p in out.iterdir())
    assert len(files) <= 8, f"the device tool brings back at most 8 files: {files}"
    for name, precision, compiled in (
        ("paper", "fp32", False),  # the CPU's default; bf16 on CUDA
        ("paper_fp32", "fp32", False),
        ("breast_round", "fp32", False),
        ("paper_compiled", "fp32", True),
    ):
        result = json.loads((out / f"{name}.json").read_text())
        assert all(result[k] > 0 for k in FIGURES), name
        assert (result["precision"], result["compile"]) == (precision, compiled), name
    assert json.loads((out / "breast_round.json").read_text())["clients"] == [8, 6, 4]
    for precision in ("fp32", "bf16"):
        record = json.loads((out / f"compare_{precision}.json").read_text())
        assert record["precision"] == precision and len(record["rows"]) == 6


def test_the_check_needs_no_package_a_bare_gpu_machine_lacks():
    """The device image has torch, numpy, h5py and tqdm but nothing can be installed there:
    the bench and compare-paths must not import the pipeline's other dependencies."""
    code = "import sys, fedmix.cli; print(' '.join(sorted(sys.modules)))"
    loaded = set(subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split())  # fmt: skip
    for absent in ("jsonschema", "pooch", "monai", "snakemake", "yaml", "scipy", "matplotlib"):
        assert absent not in loaded, f"fedmix.cli imports {absent}"
