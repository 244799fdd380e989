"""Damaged or wrong training and evaluation files: each is refused by name before training.

Every case goes through :func:`fedmix.train.train_run` (what the train rule calls) and checks
the exact error class, that the message names the damaged file, and that the run folder holds
nothing that looks like a finished run.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from faultkit import (
    assert_nothing_looks_complete,
    flip_bit_in_data,
    float_images,
    rewrite,
    take,
    truncate,
)
from tinyfed import tiny_run

from fedmix import train
from fedmix.io import FedmixFileError, read_h5
from fedmix.resources import count_images

# (case id, which file: ("train", k) or ("val", k), damage, words the message must contain)
# Setting I-B-L: train[0] is client a (I), train[1] is b (B), train[2] is c (L).
CASES = [
    ("L masks 0/255", ("train", 2), lambda p: rewrite(p, masks=read_h5(p)[0]["masks"] * 255),
     r"'masks' holds values 0\.\.255, expected 0\.\.1 \(a 0/255 mask must be divided by 255\)"),
    ("NaN image", ("train", 2), lambda p: rewrite(p, images=float_images(p, True)),
     r"'images' holds NaN or infinite values \(first at sample 1\)"),
    ("float images", ("train", 0), lambda p: rewrite(p, images=float_images(p, False)),
     r"'images' has dtype float32, expected uint8"),
    ("empty L client", ("train", 2), lambda p: take(p, 0), r"holds no training samples"),
    ("empty I client", ("train", 0), lambda p: take(p, 0), r"holds no training samples"),
    ("empty B client", ("train", 1), lambda p: take(p, 0), r"holds no training samples"),
    ("mask shape", ("train", 2), lambda p: rewrite(p, masks=read_h5(p)[0]["masks"][:, 1:]),
     r"'masks' has shape \(6, 15, 16\), expected \(6, 16, 16\)"),
    ("box outside", ("train", 1),
     lambda p: rewrite(p, boxes=read_h5(p)[0]["boxes"] + np.array([0, 0, 30, 0], np.int32)),
     r"is empty or outside the 16x16 image"),
    ("lesion label 2", ("train", 0), lambda p: rewrite(p, lesion=read_h5(p)[0]["lesion"] * 2),
     r"'lesion' holds values 0\.\.2, expected 0\.\.1"),
    ("ids too few", ("train", 1), lambda p: rewrite(p, sample_ids=read_h5(p)[0]["sample_ids"][1:]),
     r"'sample_ids' has shape \(7,\), expected \(8,\)"),
    ("masks in a B file", ("train", 1), lambda p: rewrite(p, masks=np.zeros((8, 16, 16), np.uint8)),
     r"expected a 'B' training file"),
    ("truncated train file", ("train", 2), truncate, r"not a readable HDF5 file"),
    ("bit flip in train data", ("train", 2), flip_bit_in_data, r"damaged data"),
    ("zero-byte train file", ("train", 0), lambda p: open(p, "w").close(),
     r"not a readable HDF5 file"),
    ("empty validation file", ("val", 2), lambda p: take(p, 0),
     r"holds no samples.*raise the task's split\.val_fraction"),
    ("validation masks 0/255", ("val", 0), lambda p: rewrite(p, masks=read_h5(p)[0]["masks"] * 255),
     r"'masks' holds values 0\.\.255"),
    ("bit flip in validation data", ("val", 1), lambda p: flip_bit_in_data(p, "masks"),
     r"damaged data"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "where", "damage", "words"), CASES, ids=[c[0] for c in CASES])
def test_damaged_input_is_refused_by_name(tmp_path, tiny_task, case, where, damage, words):
    files = dict(zip(("train", "val"), tiny_task("I-B-L"), strict=False))
    path = files[where[0]][where[1]]
    damage(path)
    out = tmp_path / "run"
    with pytest.raises(FedmixFileError) as caught:
        train.train_run(tiny_run(), files["train"], files["val"], out)
    assert type(caught.value) is FedmixFileError
    message = str(caught.value)
    assert message.startswith(str(path)), message
    assert any(fix in message for fix in ("rebuild", "delete it", "raise the")), message
    assert re.search(words, message), message
    assert_nothing_looks_complete(out)


@pytest.mark.parametrize("damage", [truncate, lambda p: open(p, "w").close()])
def test_damaged_file_is_named_when_snakemake_sizes_the_job(tiny_task, damage):
    """The resource functions open the training files at DAG time, before any rule runs."""
    train_files, _, _ = tiny_task("I-B-L")
    damage(train_files[1])
    with pytest.raises(
        FedmixFileError, match="^" + re.escape(train_files[1]) + r": not a readable HDF5"
    ):
        count_images(train_files)
