"""Resume is tied to its data, survives a SIGKILL bit-identically, and leaves no debris."""

from __future__ import annotations

import errno
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from faultkit import assert_nothing_looks_complete
from tinyfed import crash_in_round, tiny_run, write_tiny_task

from fedmix import io, train
from fedmix.checkpoint import CheckpointInputsError, load_checkpoint
from fedmix.io import FedmixFileError, file_digests

ROOT = Path(__file__).resolve().parents[2]


def same_run(a: Path, b: Path) -> None:
    for name in ("final.pt", "best.pt"):
        x, y = load_checkpoint(a / name), load_checkpoint(b / name)
        assert x["round"] == y["round"] and x["inputs"] == y["inputs"]
        for key, state in x["models"].items():
            for k, v in state.items():
                assert torch.equal(v, y["models"][key][k]), (name, key, k)
    assert (a / "history.csv").read_bytes() == (b / "history.csv").read_bytes()


def test_resume_on_regenerated_data_is_refused_naming_the_files(tmp_path, monkeypatch):
    train_files, val_files, _ = write_tiny_task(tmp_path / "data", seed=0)
    run, out = tiny_run(rounds=4, checkpoint_every=1), tmp_path / "run"
    real_round = crash_in_round(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        train.train_run(run, train_files, val_files, out)
    monkeypatch.setattr(train.RoundLoop, "round", real_round)
    write_tiny_task(tmp_path / "data", seed=1)  # the inputs regenerated from another seed
    with pytest.raises(CheckpointInputsError) as caught:
        train.train_run(run, train_files, val_files, out)
    message = str(caught.value)
    assert type(caught.value) is CheckpointInputsError
    assert message.startswith(f"{out / 'resume.pt'} was trained on other data: ")
    for path in train_files + val_files:
        assert f"{path} (changed since)" in message
    assert f"Delete {out / 'resume.pt'} to start afresh" in message
    assert "restore the files it was trained on" in message
    assert_nothing_looks_complete(out)

    write_tiny_task(tmp_path / "data", seed=0)  # restoring the data lets it resume
    train.train_run(run, train_files, val_files, out)
    train.train_run(run, train_files, val_files, tmp_path / "straight")
    same_run(out, tmp_path / "straight")


def test_checkpoints_record_the_digests_of_their_inputs(tmp_path, tiny_task):
    train_files, val_files, _ = tiny_task("I-B-L")
    train.train_run(tiny_run(rounds=2), train_files, val_files, tmp_path / "run")
    digests = file_digests(train_files + val_files)
    for name in ("final.pt", "best.pt"):
        assert load_checkpoint(tmp_path / "run" / name)["inputs"] == digests
    assert json.loads((tmp_path / "run/config.json").read_text())["inputs"] == digests


KILLABLE = """
import json, sys
from fedmix import train
from tinyfed import tiny_run
train_files, val_files, out = json.loads(sys.argv[1])
train.train_run(tiny_run(rounds=6, checkpoint_every=1), train_files, val_files, out)
"""


def test_sigkill_at_a_random_round_then_resume_is_bit_identical(tmp_path):
    train_files, val_files, _ = write_tiny_task(tmp_path / "data")
    run, out = tiny_run(rounds=6, checkpoint_every=1), tmp_path / "killed"
    seed = random.randrange(1 << 30)
    kill_after = random.Random(seed).randint(1, 4)  # rounds done when the kill lands
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    args = json.dumps([train_files, val_files, str(out)])
    job = subprocess.Popen([sys.executable, "-c", KILLABLE, args], env=env)
    try:
        deadline = time.monotonic() + 90
        while _resume_round(out / "resume.pt") < kill_after:
            assert job.poll() is None and time.monotonic() < deadline, f"seed {seed}"
            time.sleep(0.05)
    finally:
        job.send_signal(signal.SIGKILL)
        job.wait()
    assert not (out / "final.pt").exists(), f"seed {seed}: killed too late"
    train.train_run(run, train_files, val_files, out)
    train.train_run(run, train_files, val_files, tmp_path / "straight")
    same_run(out, tmp_path / "straight")
    assert not list(out.glob("*.tmp*")) and not (out / "resume.pt").exists()


def _resume_round(path: Path) -> int:
    try:
        return int(load_checkpoint(path)["round"])
    except FedmixFileError:  # not written yet
        return 0


def test_leftover_temporaries_are_removed_at_start(tmp_path, tiny_task):
    train_files, val_files, _ = tiny_task("I-B-L")
    out = tmp_path / "run"
    out.mkdir()
    debris = ["history.csv.tmp", "best.pt.tmp-12345", "resume.pt.tmp-7", "config.json.tmp-9"]
    for name in debris:
        (out / name).write_text("half written")
    train.train_run(tiny_run(rounds=1), train_files, val_files, out)
    assert sorted(p.name for p in out.iterdir()) == [
        ".train.lock", "best.pt", "config.json", "final.pt", "history.csv"
    ]  # fmt: skip


def test_failure_while_publishing_leaves_no_debris(tmp_path, tiny_task, monkeypatch):
    train_files, val_files, _ = tiny_task("I-B-L")
    real = io.publish

    def disk_full_on_history(tmp, path):
        if Path(path).name == "history.csv":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(tmp, path)

    monkeypatch.setattr(io, "publish", disk_full_on_history)
    out = tmp_path / "run"
    with pytest.raises(FedmixFileError) as caught:
        train.train_run(tiny_run(rounds=1), train_files, val_files, out)
    assert type(caught.value) is FedmixFileError
    assert re.match(re.escape(f"{out / 'history.csv'}: could not be written"), str(caught.value))
    assert "the disk is full: free space and run again" in str(caught.value)
    assert_nothing_looks_complete(out)
