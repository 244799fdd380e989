"""Multi-class files: standardized class-index masks -> per-class boxes, presence, client data."""

import numpy as np
import pytest
import torch

from fedmix.clients import load_client, views
from fedmix.data.classes import class_boxes, class_presence
from fedmix.data.degrade import degrade_file, holdout_file
from fedmix.data.oct import generate_oct_client
from fedmix.io import FedmixFileError, read_h5, write_h5

TASK = {
    "image_size": 16,
    "classes": ["irf", "srf", "ped"],
    "split": {"val_fraction": 0.2, "test_fraction": 0.3, "seed": 0},
    "synthetic": {"seed": 1, "clients": {"spectralis": {"n": 10, "slices": 2}}},
}


@pytest.fixture(scope="module")
def standardized(tmp_path_factory):
    arrays, attrs = generate_oct_client("oct", "spectralis", TASK)
    path = tmp_path_factory.mktemp("std") / "spectralis.h5"
    write_h5(path, arrays, attrs)
    return path, arrays


def test_train_files_hold_per_class_labels_and_no_masks(standardized, tmp_path):
    src, arrays = standardized
    train = arrays["split"] == 0
    for letter, fields in {
        "L": {"images", "sample_ids", "masks"},
        "B": {"images", "sample_ids", "boxes", "box_valid"},
        "I": {"images", "sample_ids", "lesion", "diagnosis", "presence"},
        "U": {"images", "sample_ids"},
    }.items():
        degrade_file(src, tmp_path / f"{letter}.h5", letter)
        data, attrs = read_h5(tmp_path / f"{letter}.h5")
        assert set(data) == fields and attrs["class_names"] == ["irf", "srf", "ped"]
    boxes, _ = read_h5(tmp_path / "B.h5")
    expected = class_boxes(arrays["masks"][train], 3)
    assert boxes["boxes"].shape == (train.sum(), 3, 4)
    assert np.array_equal(boxes["boxes"], expected[0])
    assert np.array_equal(boxes["box_valid"], expected[1])
    image, _ = read_h5(tmp_path / "I.h5")
    assert np.array_equal(image["presence"], class_presence(arrays["masks"][train], 3))
    holdout_file(src, tmp_path / "test.h5", "test")
    test, attrs = read_h5(tmp_path / "test.h5")
    assert set(np.unique(test["masks"])) <= {0, 1, 2, 3} and attrs["class_names"][2] == "ped"


def test_bad_class_index_in_a_standardized_file_is_named(standardized, tmp_path):
    _, arrays = standardized
    _, attrs = read_h5(standardized[0])
    masks = arrays["masks"].copy()
    masks[0, 0, 0] = 9
    write_h5(tmp_path / "bad.h5", {**arrays, "masks": masks}, attrs)
    with pytest.raises(ValueError, match=r"bad.h5: class-index masks.*\[9\]"):
        degrade_file(tmp_path / "bad.h5", tmp_path / "L.h5", "L")


def test_client_loads_per_class_boxes_and_views_crop_them_like_masks(standardized, tmp_path):
    src, _ = standardized
    degrade_file(src, tmp_path / "B.h5", "B")
    degrade_file(src, tmp_path / "L.h5", "L")
    degrade_file(src, tmp_path / "I.h5", "I")
    b = load_client(tmp_path / "B.h5", "spectralis", "B", "cpu")
    assert b.box_masks.shape[1] == 3 and b.box_masks.dtype == torch.bool
    assert b.class_names == ("irf", "srf", "ped")
    assert load_client(tmp_path / "I.h5", "spectralis", "I", "cpu").presence.shape[1] == 3
    gen = torch.Generator().manual_seed(0)
    per_channel = [b.box_masks[:, k] for k in range(3)]
    _, cropped = views(b.images, [b.box_masks, *per_channel], 8, True, gen)
    for k in range(3):
        assert torch.equal(cropped[0][:, k], cropped[k + 1])
    with pytest.raises(FedmixFileError, match="expected a 'B' training file"):
        load_client(tmp_path / "L.h5", "spectralis", "B", "cpu")
