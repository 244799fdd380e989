import hashlib

import h5py
import numpy as np
import pytest

from fedmix.data.degrade import (
    binarize_mask,
    boxes_to_masks,
    degrade_file,
    holdout_file,
    mask_to_box,
    masks_to_boxes,
)
from fedmix.file_layout import SUPERVISION_FIELDS
from fedmix.io import FedmixFileError, read_h5, write_h5


def _mask(shape, *boxes):
    m = np.zeros(shape, np.uint8)
    for y0, x0, y1, x1 in boxes:
        m[y0:y1, x0:x1] = 1
    return m


def test_single_blob():
    box, valid = mask_to_box(_mask((6, 8), (1, 2, 3, 5)))
    assert valid and box.tolist() == [1, 2, 3, 5] and box.dtype == np.int32


def test_two_blobs_get_one_box_spanning_both():
    m = _mask((6, 8), (0, 0, 1, 1), (4, 6, 5, 7))
    assert mask_to_box(m)[0].tolist() == [0, 0, 5, 7]


def test_blob_touching_the_border_ends_at_h_and_w():
    m = _mask((6, 8), (3, 5, 6, 8))
    assert mask_to_box(m)[0].tolist() == [3, 5, 6, 8]


def test_empty_mask_is_flagged_not_boxed():
    box, valid = mask_to_box(np.zeros((4, 4), np.uint8))
    assert not valid and box.tolist() == [-1, -1, -1, -1]


def test_masks_to_boxes_matches_single_and_round_trips():
    disc = (np.hypot(*np.mgrid[-3:4, -3:4]) <= 3.0).astype(np.uint8)  # a 7x7 disc
    masks = np.zeros((3, 9, 9), np.uint8)
    masks[0, 1:8, 2:9] = disc
    masks[1] = _mask((9, 9), (2, 3, 5, 4))
    boxes, valid = masks_to_boxes(masks)
    assert boxes.dtype == np.int32 and valid.dtype == np.uint8
    assert boxes.tolist() == [[1, 2, 8, 9], [2, 3, 5, 4], [-1, -1, -1, -1]]
    assert valid.tolist() == [1, 1, 0]
    filled = boxes_to_masks(boxes, valid, 9, 9)
    np.testing.assert_array_equal(filled[1], masks[1])  # a rectangle survives the round trip
    assert filled[0].sum() == 7 * 7 and (filled[0] >= masks[0]).all()
    assert filled[2].sum() == 0


def test_binarize_mask_imports_0_255_and_rejects_the_rest():
    np.testing.assert_array_equal(binarize_mask(np.array([[0, 255]]), "a.png"), [[0, 1]])
    np.testing.assert_array_equal(binarize_mask(np.array([[0, 1]]), "a.png"), [[0, 1]])
    with pytest.raises(ValueError, match=r"b\.png.*unexpected: \[128\]"):
        binarize_mask(np.array([[0, 128, 255]]), "b.png")
    with pytest.raises(ValueError, match="unexpected: \\[1\\]"):
        binarize_mask(np.array([[0, 1, 255]]), "c.png")


def _standardized(path, masks=None):
    """A 6-sample standardized file: split train, train, val, test, train, test."""
    if masks is None:
        masks = np.stack([_mask((8, 8), (i, 1, i + 2, 4)) for i in range(6)])
        masks[4] = 0
    arrays = {
        "images": np.arange(6 * 64, dtype=np.uint8).reshape(6, 1, 8, 8),
        "masks": masks,
        "lesion": masks.any(axis=(1, 2)).astype(np.uint8),
        "diagnosis": np.array([1, 2, 1, 2, 0, 1], np.uint8),
        "sample_ids": np.array([f"s{i}" for i in range(6)]),
        "split": np.array([0, 0, 1, 2, 0, 2], np.uint8),
    }
    attrs = {"kind": "standardized", "task": "t", "client": "c", "source": "synthetic"}
    write_h5(path, arrays, attrs)
    return arrays


@pytest.mark.parametrize("letter", sorted(SUPERVISION_FIELDS))
def test_train_file_holds_exactly_the_allowed_fields(tmp_path, letter):
    src, dst = tmp_path / "c.h5", tmp_path / f"c.{letter}.h5"
    std = _standardized(src)
    degrade_file(src, dst, letter)
    with h5py.File(dst) as f:
        assert set(f.keys()) == set(SUPERVISION_FIELDS[letter])
    data, attrs = read_h5(dst)
    train = std["split"] == 0
    assert data["sample_ids"].tolist() == ["s0", "s1", "s4"]
    np.testing.assert_array_equal(data["images"], std["images"][train])
    assert attrs["kind"] == "train" and attrs["supervision"] == letter
    assert attrs["task"] == "t" and attrs["client"] == "c" and attrs["source_file"] == "c.h5"
    assert attrs["source_sha256"] == hashlib.sha256(src.read_bytes()).hexdigest()
    if letter == "L":
        np.testing.assert_array_equal(data["masks"], std["masks"][train])
    if letter == "B":
        assert data["boxes"].tolist() == [[0, 1, 2, 4], [1, 1, 3, 4], [-1, -1, -1, -1]]
        assert data["box_valid"].tolist() == [1, 1, 0]
    if letter == "I":
        assert data["lesion"].tolist() == [1, 1, 0] and data["diagnosis"].tolist() == [1, 2, 0]


def test_holdout_files_keep_masks_of_their_split_only(tmp_path):
    std = _standardized(tmp_path / "c.h5")
    for split, ids in (("val", ["s2"]), ("test", ["s3", "s5"])):
        holdout_file(tmp_path / "c.h5", tmp_path / f"{split}.h5", split)
        data, attrs = read_h5(tmp_path / f"{split}.h5")
        assert sorted(data) == ["diagnosis", "images", "lesion", "masks", "sample_ids"]
        assert data["sample_ids"].tolist() == ids
        keep = np.isin(std["sample_ids"], ids)
        np.testing.assert_array_equal(data["masks"], std["masks"][keep])
        assert attrs["kind"] == "eval" and attrs["split"] == split
    with pytest.raises(ValueError, match="'train'"):
        holdout_file(tmp_path / "c.h5", tmp_path / "x.h5", "train")


def test_mask_values_other_than_0_1_are_a_clear_error(tmp_path):
    masks = np.zeros((6, 8, 8), np.uint8)
    masks[0, 2, 2] = 3
    _standardized(tmp_path / "bad.h5", masks)
    with pytest.raises(ValueError, match=r"bad\.h5.*\[3\].*binarize") as err:
        degrade_file(tmp_path / "bad.h5", tmp_path / "out.h5", "B")
    assert "0 and 1" in str(err.value)
    assert not (tmp_path / "out.h5").exists()


def test_unknown_supervision_letter_lists_valid_ones(tmp_path):
    _standardized(tmp_path / "c.h5")
    with pytest.raises(ValueError, match=r"'X'.*\['B', 'I', 'L', 'U'\]"):
        degrade_file(tmp_path / "c.h5", tmp_path / "out.h5", "X")


def test_missing_truncated_or_incomplete_input_is_a_fedmix_file_error(tmp_path):
    with pytest.raises(FedmixFileError, match="not found"):
        degrade_file(tmp_path / "absent.h5", tmp_path / "out.h5", "L")
    _standardized(tmp_path / "c.h5")
    raw = (tmp_path / "c.h5").read_bytes()
    (tmp_path / "cut.h5").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(FedmixFileError, match=r"cut\.h5.*(not a readable|rebuild)"):
        degrade_file(tmp_path / "cut.h5", tmp_path / "out.h5", "L")
    with h5py.File(tmp_path / "c.h5", "a") as f:
        del f.attrs["complete"]
    with pytest.raises(FedmixFileError, match="incomplete"):
        holdout_file(tmp_path / "c.h5", tmp_path / "out.h5", "test")
    assert not (tmp_path / "out.h5").exists()


class _Exploding:
    def __array__(self, dtype=None, copy=None):
        raise RuntimeError("interrupted while converting")


def test_interrupted_write_leaves_no_file_and_keeps_the_old_one(tmp_path):
    dst = tmp_path / "out.h5"
    with pytest.raises(RuntimeError, match="interrupted"):
        write_h5(dst, {"images": np.zeros((2, 2)), "bad": _Exploding()}, {})
    assert list(tmp_path.iterdir()) == []  # neither out.h5 nor a temporary file
    write_h5(dst, {"images": np.ones((2, 2))}, {"kind": "old"})
    with pytest.raises(RuntimeError, match="interrupted"):
        write_h5(dst, {"images": np.zeros((2, 2)), "bad": _Exploding()}, {})
    assert [p.name for p in tmp_path.iterdir()] == ["out.h5"]
    assert read_h5(dst)[1]["kind"] == "old"
