"""Locks that cannot be hijacked: GPU slots, one trainer per run folder, no orphan trainers."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from faultkit import assert_nothing_looks_complete
from tinyfed import tiny_run

from fedmix import train
from fedmix.gpu_slots import claim_gpu_slot, private_lock_dir
from fedmix.runguard import RunLockedError, run_lock

ROOT = Path(__file__).resolve().parents[2]


def test_planted_lock_symlink_is_refused_and_its_target_untouched(tmp_path):
    locks = private_lock_dir(tmp_path / "locks")
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me\n")
    (locks / "gpu0.lock").symlink_to(victim)
    with pytest.raises(PermissionError, match=r"gpu0\.lock cannot be opened safely.*Remove it"):
        with claim_gpu_slot(2, locks):
            pass
    assert victim.read_text() == "keep me\n"


def test_lock_folder_is_created_private(tmp_path):
    locks = private_lock_dir(tmp_path / "new" / "locks")
    assert (os.stat(locks).st_mode & 0o777) == 0o700


def test_lock_folder_open_to_others_is_refused(tmp_path):
    locks = tmp_path / "shared"
    locks.mkdir()
    locks.chmod(0o777)
    with pytest.raises(PermissionError, match=r"shared is open to other users \(mode 777"):
        with claim_gpu_slot(1, locks):
            pass


def test_lock_folder_that_is_a_link_is_refused(tmp_path):
    real = private_lock_dir(tmp_path / "real")
    (tmp_path / "link").symlink_to(real)
    with pytest.raises(PermissionError, match=r"link is not a plain folder"):
        with claim_gpu_slot(1, tmp_path / "link"):
            pass


def test_lock_folder_is_checked_on_every_use(tmp_path):
    locks = private_lock_dir(tmp_path / "locks")
    with claim_gpu_slot(1, locks):
        pass
    locks.chmod(0o755)  # opened up between two jobs
    with pytest.raises(PermissionError, match=r"mode 755"):
        with claim_gpu_slot(1, locks):
            pass


HOLD = """
import sys, time
from fedmix.runguard import run_lock
with run_lock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_second_trainer_in_one_run_folder_stops_naming_the_holder(tmp_path, tiny_task):
    train_files, val_files, _ = tiny_task("I-B-L")
    out = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline() == "locked\n"
        with pytest.raises(RunLockedError) as caught:
            train.train_run(tiny_run(), train_files, val_files, out)
    finally:
        holder.kill()
        holder.wait()
    message = str(caught.value)
    assert message.startswith(f"{out} is being trained by another process (pid {holder.pid})")
    assert f"kill {holder.pid}" in message
    assert_nothing_looks_complete(out)
    with run_lock(out):  # the kernel released the dead holder's lock
        pass


# Stands in for Snakemake: a process whose command is `snakemake` starting training through a
# shell, as the train rule's script directive does.
FAKE_SNAKEMAKE = """
import subprocess, sys
subprocess.run(["/bin/sh", "-c", 'set -e; "$0" "$@"', sys.executable, *sys.argv[1:]])
"""

TRAIN = """
import sys
from tinyfed import write_tiny_task, tiny_run
from pathlib import Path
from fedmix import train
root = Path(sys.argv[1])
tr, val, _ = write_tiny_task(root / "data")
print("training", flush=True)
train.train_run(tiny_run(rounds=100000, checkpoint_every=1), tr, val, root / "run")
"""


def test_training_stops_when_its_snakemake_dies(tmp_path):
    fake = tmp_path / "bin" / "snakemake"
    fake.parent.mkdir()
    fake.write_text(FAKE_SNAKEMAKE)
    script = tmp_path / "train_forever.py"
    script.write_text(textwrap.dedent(TRAIN))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    cmd = [sys.executable, str(fake), str(script), str(tmp_path)]
    snakemake = subprocess.Popen(cmd, env=env, start_new_session=True)
    run = tmp_path / "run"
    try:
        deadline = time.monotonic() + 60
        while not (run / "resume.pt").exists():  # training is under way
            assert time.monotonic() < deadline and snakemake.poll() is None
            time.sleep(0.2)
        trainer = int((run / ".train.lock").read_text())
        os.kill(snakemake.pid, signal.SIGKILL)
        snakemake.wait()
        deadline = time.monotonic() + 30
        while _running(trainer):
            assert time.monotonic() < deadline, "training outlived its Snakemake"
            time.sleep(0.2)
    finally:  # whatever happened, leave no process of this test behind
        with contextlib.suppress(ProcessLookupError):
            os.killpg(snakemake.pid, signal.SIGKILL)
    assert (run / "resume.pt").exists()  # progress kept for the next start
    assert_nothing_looks_complete(run)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in "ZX"
