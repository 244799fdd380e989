"""RETOUCH: MetaImage reading, verification by content and slices, on a miniature fake."""

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from retouch_fakes import make_retouch_folder, write_mhd

from fedmix.datasets.readers import DataLayoutError
from fedmix.datasets.registry import REGISTRY
from fedmix.datasets.retouch import read_mhd, retouch_slices
from fedmix.datasets.standardize import standardize_client
from fedmix.datasets.verify import verify_folder

SMALL = {
    **REGISTRY,
    "retouch": dataclasses.replace(
        REGISTRY["retouch"], counts={"cirrus": 2, "spectralis": 2, "topcon": 1}
    ),
}


def dcfg(tmp_path):
    return {"root": str(tmp_path / "dl")}


def verify(tmp_path, registry=SMALL):
    return verify_folder("retouch", tmp_path / "dl" / "retouch", registry=registry)


def test_read_mhd_reverses_dimsize_and_honours_byte_order(tmp_path):
    volume = np.arange(2 * 3 * 4, dtype=np.uint16).reshape(2, 3, 4) * 300
    path = write_mhd(tmp_path / "v.mhd", volume, "MET_USHORT")
    array, header = read_mhd(path)
    assert array.shape == (2, 3, 4) and header["DimSize"] == "4 3 2"
    assert np.array_equal(array, volume)
    path.write_text(path.read_text().replace("ByteOrderMSB = False", "ByteOrderMSB = True"))
    swapped, _ = read_mhd(path)
    assert np.array_equal(swapped, volume.byteswap())
    path.with_suffix(".raw").write_bytes(volume.tobytes()[:-2])
    with pytest.raises(DataLayoutError, match="46 data bytes, expected 48"):
        read_mhd(path)


def test_verify_counts_volumes_and_fluid_slices_per_vendor(tmp_path):
    make_retouch_folder(tmp_path / "dl" / "retouch")
    manifest = verify(tmp_path)
    assert len(manifest["files"]) == 5 * 4 and manifest["digest"] and manifest["partial"] is None
    assert manifest["counts"] == {
        "cirrus": {"volumes": 2, "slices_with_fluid": 4},
        "spectralis": {"volumes": 2, "slices_with_fluid": 4},
        "topcon": {"volumes": 1, "slices_with_fluid": 2},
    }


def test_verify_names_wrong_counts_labels_and_missing_files(tmp_path):
    root = make_retouch_folder(tmp_path / "dl" / "retouch")
    with pytest.raises(DataLayoutError, match=r"2 cirrus volumes, expected 24"):
        verify(tmp_path, REGISTRY)
    bad = np.zeros((5, 20, 16), np.uint8)
    bad[0, 0, 0] = 7
    write_mhd(root / "RETOUCH-TrainingSet-Topcon" / "TRAIN049" / "reference.mhd", bad, "MET_UCHAR")
    with pytest.raises(DataLayoutError, match=r"TRAIN049/reference: label values \[7\]"):
        verify(tmp_path)
    (root / "RETOUCH-TrainingSet-Cirrus" / "TRAIN002" / "oct.raw").unlink()
    with pytest.raises(DataLayoutError, match="TRAIN002 lacks oct.raw"):
        verify(tmp_path)


def test_slices_keep_only_fluid_and_class_indices(tmp_path):
    root = make_retouch_folder(tmp_path / "retouch")
    images, masks, ids, groups = retouch_slices(root, "spectralis", 8)
    assert ids.tolist() == ["TRAIN025-s001", "TRAIN025-s003", "TRAIN026-s001", "TRAIN026-s003"]
    assert groups.tolist() == ["TRAIN025", "TRAIN025", "TRAIN026", "TRAIN026"]
    assert images.shape == (4, 1, 8, 8) and images.dtype == np.uint8
    assert set(np.unique(masks[0])) == {0, 1, 2} and set(np.unique(masks[1])) == {0, 3}


def test_16_bit_volume_is_scaled_per_volume_to_8_bit(tmp_path):
    folder = tmp_path / "RETOUCH-TrainingSet-Spectralis" / "TRAIN025"
    volume = np.linspace(1000, 5000, 2 * 8 * 8).reshape(2, 8, 8).astype(np.uint16)
    labels = np.zeros((2, 8, 8), np.uint8)
    labels[1, 2, 2] = 2
    write_mhd(folder / "oct.mhd", volume, "MET_USHORT")
    write_mhd(folder / "reference.mhd", labels, "MET_UCHAR")
    images, masks, ids, _ = retouch_slices(tmp_path, "spectralis", 8)  # same size: no resampling
    expected = np.round((volume[1] - 1000.0) / 4000 * 255).astype(np.uint8)
    assert ids.tolist() == ["TRAIN025-s001"] and np.array_equal(images[0, 0], expected)
    assert masks[0, 2, 2] == 2 and masks.sum() == 2


def test_standardize_splits_by_volume(tmp_path):
    make_retouch_folder(tmp_path / "dl" / "retouch", volumes={"Topcon": 6})
    task = {
        "source": "retouch",
        "clients": ["cirrus", "topcon", "spectralis"],
        "classes": ["irf", "srf", "ped"],
        "image_size": 8,
        "channels": 1,
        "split": {"mode": "grouped", "val_fraction": 0.17, "test_fraction": 0.34, "seed": 0},
    }
    arrays, attrs = standardize_client("retouch", "topcon", task, dcfg(tmp_path))
    assert attrs["class_names"] == ["irf", "srf", "ped"] and len(arrays["masks"]) == 12
    per_volume = arrays["split"].reshape(6, 2)
    assert (per_volume == per_volume[:, :1]).all() and set(per_volume[:, 0]) == {0, 1, 2}
    assert arrays["lesion"].all()


@pytest.mark.workflow
def test_paper_config_plans_retouch_verification_standardization_and_table4(tmp_path):
    """No data here: the real-data DAG of Table 4 checks the placed RETOUCH folder once,
    standardizes the three vendors and trains every row and seed."""
    root = Path(__file__).resolve().parents[1]
    cmd = [str(Path(sys.executable).parent / "snakemake"), "--snakefile", str(root / "Snakefile")]
    cmd += ["--directory", str(tmp_path), "--configfile", str(root / "config" / "paper.yaml")]
    cmd += ["-n", "--quiet", "rules", "--", "results/paper/table4.csv"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    counts = {
        line.split()[0]: int(line.split()[1])
        for line in result.stdout.splitlines()
        if len(line.split()) == 2 and line.split()[1].isdigit()
    }
    assert counts["verify_manual"] == 1 and counts["standardize"] == 3, counts
    assert counts["train"] == 18 and counts["table"] == 1 and "download" not in counts, counts
