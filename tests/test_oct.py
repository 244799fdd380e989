import numpy as np
import pytest

from fedmix.data.oct import OCT_SOURCE_VERSION, generate_oct_client

SPLIT = {"val_fraction": 0.2, "test_fraction": 0.3, "seed": 0}


def _task(n=10, **client):
    return {
        "image_size": 32,
        "classes": ["irf", "srf", "ped"],
        "split": SPLIT,
        "synthetic": {"seed": 7, "clients": {"spectralis": {"n": n, **client}}},
    }


def test_layout_classes_and_every_slice_has_fluid():
    arrays, attrs = generate_oct_client("oct", "spectralis", _task(slices=3))
    n = 30
    assert arrays["images"].shape == (n, 1, 32, 32) and arrays["images"].dtype == np.uint8
    assert arrays["masks"].dtype == np.uint8 and set(np.unique(arrays["masks"])) == {0, 1, 2, 3}
    assert arrays["masks"].reshape(n, -1).any(1).all() and arrays["lesion"].all()
    assert arrays["sample_ids"][4] == "spectralis-v0001-s1"
    assert attrs["class_names"] == ["irf", "srf", "ped"]
    assert attrs["source_version"] == OCT_SOURCE_VERSION and attrs["params"]["modality"] == "oct"


def test_split_is_grouped_by_volume():
    arrays, _ = generate_oct_client("oct", "spectralis", _task(n=20))
    per_volume = arrays["split"].reshape(20, 4)
    assert (per_volume == per_volume[:, :1]).all()  # the 4 slices of a volume stay together
    assert set(np.unique(arrays["split"])) == {0, 1, 2}


def test_samples_do_not_depend_on_n():
    small, _ = generate_oct_client("oct", "spectralis", _task(n=3))
    large, _ = generate_oct_client("oct", "spectralis", _task(n=6))
    assert np.array_equal(small["images"], large["images"][:12])
    assert np.array_equal(small["masks"], large["masks"][:12])


def test_fluid_appearance_and_position():
    arrays, _ = generate_oct_client("oct", "spectralis", _task(n=30, noise=0.0, blur=0.0))
    images, masks = arrays["images"][:, 0].astype(float), arrays["masks"]
    rows = np.arange(32)[None, :, None] * np.ones_like(masks)
    depth = {k: rows[masks == k].mean() for k in (1, 2, 3)}
    assert depth[1] < depth[2] < depth[3]  # IRF in the retina, SRF under it, PED under the RPE
    mean = {k: images[masks == k].mean() for k in (1, 2, 3)}
    assert mean[1] < 30 and mean[2] < 30  # optically empty fluid
    assert mean[3] > 1.5 * mean[2]  # PED interior is grainy, brighter than SRF
    retina = images[(masks == 0) & (rows > 8) & (rows < 20)].mean()
    assert retina > 2 * mean[1]


def test_vendor_resolution_blurs_and_bad_keys_are_named():
    sharp, _ = generate_oct_client("oct", "spectralis", _task(n=2, noise=0.0, blur=0.0))
    coarse, _ = generate_oct_client(
        "oct", "spectralis", _task(n=2, noise=0.0, blur=0.0, resolution=0.5)
    )
    grad = [np.abs(np.diff(a["images"].astype(float), axis=2)).mean() for a in (sharp, coarse)]
    assert grad[1] < 0.8 * grad[0]
    with pytest.raises(ValueError, match="unknown OCT generator key.*'hair'"):
        generate_oct_client("oct", "spectralis", _task(hair=0.5))
    with pytest.raises(ValueError, match=r"fluid must be 3 probabilities.*\[0.5, 0.5\]"):
        generate_oct_client("oct", "spectralis", _task(fluid=[0.5, 0.5]))
