"""End to end through a real SLURM: the single-node cluster that .ci/run starts (.ci/slurm.sh).

Runs the tiny config's Table 1 through ``--profile profiles/slurm`` (partition placeholder filled
in), then checks with squeue (MinJobAge keeps finished jobs listed) that every job of the DAG
went through sbatch and ended COMPLETED with the expected GPU, time and memory requests, and that
the table is byte-identical to a local run's.
"""

import collections
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slurm

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
COPIED = ["Snakefile", "workflow", "config", "profiles", "envs", "tests/configs"]
TIMEOUT_S = 420

# The tiny config's Table 1 (9 rows, 36 jobs: 18 submitted, 18 `localrules`).
TARGETS = ["results/tiny/table1.csv"]
ARGS = ["--configfile", "tests/configs/tiny.yaml"]
COMPARE = [f"results/tiny/table1.{ext}" for ext in ("csv", "md", "tex")]
# Wall-time requests in minutes: train from the run's size (2 rounds x 30 images: the 10 min
# overhead, rounded up), evaluate from profiles/default, anything else from profiles/slurm.
TIME_LIMITS = {"train": "11:00", "evaluate": "30:00"}
DEFAULT_TIME_LIMIT = "30:00"


def _require_slurm():
    if os.environ.get("FEDMIX_SLURM") == "1":
        return
    if os.environ.get("CI"):
        pytest.fail("CI is set but FEDMIX_SLURM is not 1: run the suite through .ci/run")
    pytest.skip("needs the single-node SLURM of .ci/run (.ci/slurm.sh start DIR; FEDMIX_SLURM=1)")


def _copy_workflow(dest: Path) -> Path:
    dest.mkdir()
    for rel in COPIED:
        src = REPO / rel
        if src.is_dir():
            shutil.copytree(src, dest / rel, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dest / rel)
    return dest


def _snakemake(cwd: Path, *args: str, timeout_s: int = TIMEOUT_S) -> str:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    # --foreground keeps Snakemake in the caller's process group: cancelling CI stops it too.
    cmd = ["timeout", "--foreground", "-k", "15", str(timeout_s), str(BIN / "snakemake"), *args]
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{' '.join(cmd)} exited {proc.returncode}:\n{log[-4000:]}"
    return log


def _planned_jobs(cwd: Path) -> collections.Counter:
    """Jobs per rule from a dry run's "Job stats" table."""
    log = _snakemake(cwd, "-n", "--cores", "1", *TARGETS, *ARGS)
    table = log.split("Job stats:", 1)[1].split("total", 1)[0]
    rows = re.findall(r"^(\w+)\s+(\d+)\s*$", table, flags=re.MULTILINE)
    return collections.Counter({rule: int(n) for rule, n in rows})


def _slurm_profile(cwd: Path) -> Path:
    """profiles/slurm with the partition placeholder set to the CI cluster's partition."""
    text = (cwd / "profiles/slurm/config.yaml").read_text()
    assert 'slurm_partition: "<partition>"' in text, "profiles/slurm lost its placeholder"
    dest = cwd / "profiles/ci-slurm"
    dest.mkdir()
    (dest / "config.yaml").write_text(text.replace("<partition>", "debug"))
    return dest


def _squeue() -> dict[str, dict[str, str]]:
    """Every job the controller still lists (finished ones included), by job id."""
    fields = ["JobID", "Name", "State", "TimeLimit", "MinMemory", "tres-per-job", "Comment"]
    out = subprocess.run(
        ["squeue", "-h", "-t", "all", "-O", ",".join(f"{f}:|" for f in fields)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    jobs = {}
    for line in out.splitlines():
        values = [v.strip() for v in line.split("|")[: len(fields)]]
        jobs[values[0]] = dict(zip(fields, values, strict=True))
    return jobs


def _rule(comment: str) -> str:
    """Rule name from the plugin's job comment ``rule_<name>[_wildcards_<values>]``."""
    match = re.match(r"rule_(.+?)(_wildcards_|$)", comment)
    assert match, f"job comment {comment!r} is not the SLURM plugin's rule_<name>... form"
    return match.group(1)


def _check_jobs(jobs: list[dict[str, str]], planned: collections.Counter, log: str) -> None:
    """Every planned job went through sbatch (but `localrules`), completed, and asked for the
    expected resources."""
    submitted = collections.Counter(re.findall(r"^rule (\w+):$", log, flags=re.MULTILINE))
    local = collections.Counter(re.findall(r"^localrule (\w+):$", log, flags=re.MULTILINE))
    assert submitted + local == planned
    assert set(submitted) == {"train", "evaluate"}  # the rest are `localrules` (Snakefile)
    assert collections.Counter(_rule(j["Comment"]) for j in jobs) == submitted
    assert {j["State"] for j in jobs} == {"COMPLETED"}, jobs
    assert len({j["Name"] for j in jobs}) == 1  # one Snakemake run (its run id) submitted all
    for j in jobs:
        rule = _rule(j["Comment"])
        assert (j["tres-per-job"] == "gres:gpu:1") == (rule == "train"), j
        assert j["TimeLimit"] == TIME_LIMITS.get(rule, DEFAULT_TIME_LIMIT), j
        if rule == "train":  # 4096 + ceil(8 * 30 images * 32**2 / 1e6)
            assert j["MinMemory"] == "4097M", j


def test_table1_through_sbatch_matches_a_local_run(tmp_path):
    _require_slurm()
    local, cluster = _copy_workflow(tmp_path / "local"), _copy_workflow(tmp_path / "slurm")
    planned = _planned_jobs(local)
    _snakemake(local, "--cores", "2", *TARGETS, *ARGS)

    before = set(_squeue())
    start = time.monotonic()
    # The plugin waits 40 s before its first status check of each batch; 3 s keeps CI short.
    poll = ["--slurm-init-seconds-before-status-checks", "3"]
    log = _snakemake(cluster, "--profile", str(_slurm_profile(cluster)), *poll, *TARGETS, *ARGS)
    print(f"SLURM run: {time.monotonic() - start:.1f} s for {sum(planned.values())} jobs")

    _check_jobs([j for jid, j in _squeue().items() if jid not in before], planned, log)
    for rel in COMPARE:
        assert (cluster / rel).read_bytes() == (local / rel).read_bytes(), rel
