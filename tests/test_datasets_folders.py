"""`source: folders`: clients read from plain folders of images and masks (your own data)."""

import numpy as np
import pytest
from fakes import make_folder_client, write_image

from fedmix.config import ConfigError
from fedmix.datasets import DataLayoutError, standardize_folder_client
from fedmix.datasets.folders import check_folder_task, list_folder

SPLIT = {"mode": "grouped", "val_fraction": 0.2, "test_fraction": 0.2, "seed": 0}
LAYOUT = {"images": "images", "masks": "masks", "mask_name": "{stem}_mask.png"}


def task(clients, **layout):
    folders = {**LAYOUT, **layout, "clients": {c: str(p) for c, p in clients.items()}}
    return {
        "source": "folders",
        "clients": list(clients),
        "image_size": 16,
        "channels": 1,
        "split": SPLIT,
        "real": {"folders": folders},
    }


def test_client_folder_is_standardized_with_labels_and_a_manifest(tmp_path):
    folder = make_folder_client(tmp_path / "a", n=9, seed=1)
    t = task({"a": folder}, labels="labels.csv")
    arrays, attrs, manifest = standardize_folder_client("clinics", "a", t)
    assert arrays["sample_ids"].tolist() == [f"case{k:03d}" for k in range(9)]
    assert arrays["diagnosis"].tolist() == [0, 1, 2] * 3
    assert arrays["lesion"].tolist() == [0, 1, 1] * 3
    assert not arrays["masks"][0].any() and arrays["masks"][1].any()  # normal: empty mask
    assert arrays["images"].shape == (9, 1, 16, 16) and set(np.unique(arrays["masks"])) == {0, 1}
    assert sorted(set(arrays["split"].tolist())) == [0, 1, 2]
    assert len(manifest["files"]) == 19 and "labels.csv" in manifest["files"]
    assert "images/case000.png" in manifest["files"]
    assert attrs["data_provenance"] == f"folders/a manifest {manifest['digest'][:23]} (19 files)"


def test_without_labels_the_diagnosis_comes_from_the_mask(tmp_path):
    folder = make_folder_client(tmp_path / "a", n=3, seed=1, labels=False)
    arrays, _, manifest = standardize_folder_client("clinics", "a", task({"a": folder}))
    assert arrays["diagnosis"].tolist() == [0, 1, 1] and "labels.csv" not in manifest["files"]


def test_unpaired_files_are_listed(tmp_path):
    folder = make_folder_client(tmp_path / "a", n=3, seed=1)
    (folder / "masks" / "case001_mask.png").unlink()
    write_image(folder / "masks" / "stray_mask.png", 8, 8, seed=0)
    with pytest.raises(DataLayoutError) as err:
        list_folder(folder, LAYOUT)
    msg = str(err.value)
    assert "1 image(s) without a mask: case001.png" in msg
    assert "1 mask(s) without an image: stray_mask.png" in msg


def test_mask_name_rule_is_configurable(tmp_path):
    folder = tmp_path / "b"
    for k in range(2):
        write_image(folder / f"img{k}.jpg", 12, 12, seed=k)
        write_image(folder / f"img{k}.seg.png", 12, 12, seed=k, rgb=False)
    samples, _ = list_folder(folder, {"mask_name": "{stem}.seg.png"})
    assert [(s.image.name, s.masks[0].name) for s in samples] == [
        ("img0.jpg", "img0.seg.png"),
        ("img1.jpg", "img1.seg.png"),
    ]


def test_labels_rows_must_match_the_images(tmp_path):
    folder = make_folder_client(tmp_path / "a", n=3, seed=1)
    (folder / "labels.csv").write_text("image,diagnosis\ncase000.png,normal\nghost.png,benign\n")
    with pytest.raises(DataLayoutError, match=r"2 image\(s\) without a row.*1 row\(s\) naming"):
        list_folder(folder, {**LAYOUT, "labels": "labels.csv"})


def test_every_client_needs_a_folder(tmp_path):
    t = task({"a": tmp_path})
    t["clients"].append("b")
    with pytest.raises(ConfigError, match=r"\['b'\] have no folder"):
        check_folder_task("clinics", t)
