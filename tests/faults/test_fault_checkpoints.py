"""Damaged checkpoints are refused by name with the fix; a full disk never leaves a torn file."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import torch
from faultkit import assert_nothing_looks_complete, truncate
from tinyfed import tiny_run

from fedmix import io, train
from fedmix.checkpoint import CheckpointFileError, load_checkpoint, save_checkpoint
from fedmix.evaluate import evaluate_checkpoint


class Opaque:
    """Not a tensor: torch.save pickles it, and weights_only loading must refuse it."""


def zero_bytes(path):
    Path(path).write_bytes(b"")


def half(path):
    torch.save({"config": {}, "round": 1, "models": {"global": {"w": torch.ones(64)}}}, path)
    truncate(path)


def pickled(path):
    torch.save({"config": {}, "round": 1, "models": {}, "extra": Opaque()}, path)


def foreign(path):
    torch.save({"state_dict": {"w": torch.ones(2)}}, path)


DAMAGE = {
    "zero-byte": (zero_bytes, r"truncated or damaged checkpoint \(empty file\)"),
    "truncated": (half, r"truncated or damaged checkpoint \(RuntimeError"),
    "pickle": (pickled, r"holds pickled Python objects.*refused unread \(weights_only=True"),
    "not fedmix": (foreign, r"not a fedmix checkpoint \(needs config, round, models"),
}


@pytest.mark.parametrize("kind", DAMAGE)
def test_damaged_best_checkpoint_is_named_by_evaluation(tmp_path, tiny_task, kind):
    damage, words = DAMAGE[kind]
    _, _, test_files = tiny_task("I-B-L")
    best = tmp_path / "run" / "best.pt"
    best.parent.mkdir()
    damage(best)
    out = tmp_path / "run" / "eval_best.csv"
    with pytest.raises(CheckpointFileError) as caught:
        evaluate_checkpoint(best, test_files, out, tmp_path / "run" / "eval_clients.csv", "cpu")
    message = str(caught.value)
    assert type(caught.value) is CheckpointFileError
    assert message.startswith(f"{best}: ") and re.search(words, message), message
    assert message.endswith("delete it and rerun training (snakemake rebuilds it)")
    assert sorted(p.name for p in out.parent.iterdir()) == ["best.pt"]


@pytest.mark.parametrize("kind", DAMAGE)
def test_damaged_resume_checkpoint_is_named_before_training(tmp_path, tiny_task, kind):
    damage, words = DAMAGE[kind]
    train_files, val_files, _ = tiny_task("I-B-L")
    out = tmp_path / "run"
    out.mkdir()
    damage(out / "resume.pt")
    with pytest.raises(CheckpointFileError) as caught:
        train.train_run(tiny_run(), train_files, val_files, out)
    message = str(caught.value)
    assert type(caught.value) is CheckpointFileError
    assert message.startswith(f"{out / 'resume.pt'}: ") and re.search(words, message), message
    assert message.endswith("delete it; training starts afresh from round 0")
    assert_nothing_looks_complete(out)


def test_missing_checkpoint_is_named(tmp_path):
    with pytest.raises(CheckpointFileError, match=f"^{re.escape(str(tmp_path))}/best.pt: check"):
        load_checkpoint(tmp_path / "best.pt")


def full_disk_save(monkeypatch, only: str = ""):
    """Make torch.save write to /dev/full (a real ENOSPC) for files whose name starts with
    ``only``, the way a full disk fails it."""
    real = torch.save

    def save(obj, f, *args, **kw):
        target = "/dev/full" if Path(f).name.startswith(only) else f
        return real(obj, target, *args, **kw)

    monkeypatch.setattr(torch, "save", save)


def test_full_disk_during_checkpoint_save_names_the_file_and_leaves_nothing(tmp_path, monkeypatch):
    full_disk_save(monkeypatch)
    target = tmp_path / "best.pt"
    with pytest.raises(CheckpointFileError) as caught:
        save_checkpoint(target, {"round": 1, "models": {"w": torch.ones(1000)}})
    message = str(caught.value)
    assert message.startswith(f"{target}: could not be written"), message
    assert "MB free on its disk. Free disk space and run again" in message
    assert list(tmp_path.iterdir()) == []


def test_full_disk_at_the_end_of_training_leaves_no_complete_looking_run(
    tmp_path, tiny_task, monkeypatch
):
    train_files, val_files, _ = tiny_task("I-B-L")
    full_disk_save(monkeypatch, only="best.pt")  # final.pt is written first and succeeds
    out = tmp_path / "run"
    with pytest.raises(CheckpointFileError, match=re.escape(f"{out / 'best.pt'}: could not")):
        train.train_run(tiny_run(rounds=2), train_files, val_files, out)
    assert_nothing_looks_complete(out)


def test_every_published_file_is_synced_before_its_rename(tmp_path, monkeypatch):
    calls = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: calls.append("fsync") or real_fsync(fd))
    monkeypatch.setattr(os, "replace", lambda a, b: calls.append("replace") or real_replace(a, b))
    save_checkpoint(tmp_path / "x.pt", {"round": 1})
    io.write_text(tmp_path / "x.json", "{}")
    io.write_h5(tmp_path / "x.h5", {"images": torch.zeros(2, 1, 4, 4).numpy()}, {})
    # per file: the data synced, renamed, then the folder entry synced
    assert calls == ["fsync", "replace", "fsync"] * 3
