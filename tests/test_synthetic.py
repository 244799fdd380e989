import copy
from pathlib import Path

import numpy as np
import pytest
import yaml

from fedmix.config import validate_config
from fedmix.data.synthetic import SOURCE_VERSION, generate_client

ROOT = Path(__file__).resolve().parents[1]
CONFIG = validate_config(yaml.safe_load((ROOT / "config" / "config.yaml").read_text()))
BREAST, SKIN = CONFIG["tasks"]["synthetic-breast"], CONFIG["tasks"]["synthetic-skin"]
SIZE = BREAST["image_size"]


def _with(task_cfg, client, **params):
    cfg = copy.deepcopy(task_cfg)
    cfg["synthetic"]["clients"][client].update(params)
    return cfg


@pytest.mark.parametrize(
    ("task", "cfg", "client"),
    [("synthetic-breast", BREAST, "udiat"), ("synthetic-skin", SKIN, "vienna_dias")],
)
def test_layout_and_labels_agree(task, cfg, client):
    arrays, attrs = generate_client(task, client, cfg)
    n = cfg["synthetic"]["clients"][client]["n"]
    assert (
        arrays["images"].shape == (n, 1, cfg["image_size"], cfg["image_size"])
        and arrays["images"].dtype == np.uint8
    )
    assert arrays["masks"].shape == (n, cfg["image_size"], cfg["image_size"]) and set(
        np.unique(arrays["masks"])
    ) == {0, 1}
    has_mask = arrays["masks"].any(axis=(1, 2))
    np.testing.assert_array_equal(arrays["lesion"], has_mask)  # lesion-free <=> empty mask
    np.testing.assert_array_equal(arrays["diagnosis"] == 0, ~has_mask)
    assert set(np.unique(arrays["diagnosis"])) == {0, 1, 2}
    assert arrays["sample_ids"][0] == f"{client}-00000" and len(set(arrays["sample_ids"])) == n
    assert set(np.unique(arrays["split"])) == {0, 1, 2}
    assert attrs["kind"] == "standardized" and attrs["source"] == "synthetic"
    assert attrs["task"] == task and attrs["client"] == client
    assert attrs["source_version"] == SOURCE_VERSION
    assert attrs["params"]["n"] == n and attrs["params"]["image_size"] == cfg["image_size"]
    assert attrs["params"]["modality"] == cfg["synthetic"]["modality"]


def test_same_config_gives_identical_arrays():
    a, _ = generate_client("synthetic-breast", "bus", BREAST)
    b, _ = generate_client("synthetic-breast", "bus", copy.deepcopy(BREAST))
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


def test_other_clients_params_do_not_change_a_client():
    a, _ = generate_client("synthetic-breast", "bus", BREAST)
    changed = _with(BREAST, "busis", n=10, noise=0.5, posterior="enhancement")
    b, _ = generate_client("synthetic-breast", "bus", changed)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


def test_sample_k_does_not_depend_on_n():
    small, _ = generate_client("synthetic-breast", "udiat", _with(BREAST, "udiat", n=20))
    large, _ = generate_client("synthetic-breast", "udiat", _with(BREAST, "udiat", n=33))
    for key in ("images", "masks", "lesion", "diagnosis", "sample_ids"):
        np.testing.assert_array_equal(small[key], large[key][:20])


def test_seed_changes_the_data():
    other = copy.deepcopy(BREAST)
    other["synthetic"]["seed"] += 1
    a, _ = generate_client("synthetic-breast", "bus", BREAST)
    b, _ = generate_client("synthetic-breast", "bus", other)
    assert not np.array_equal(a["images"], b["images"])


@pytest.mark.parametrize("client", ["bus", "busis", "udiat"])
def test_class_fractions_are_close_to_the_config(client):
    arrays, _ = generate_client("synthetic-breast", client, BREAST)
    params = BREAST["synthetic"]["clients"][client]
    assert abs((arrays["diagnosis"] == 0).mean() - params["lesion_free"]) <= 0.05
    lesion = arrays["diagnosis"] > 0
    assert abs((arrays["diagnosis"][lesion] == 2).mean() - params["malignant"]) <= 0.08


def _below_over_beside(arrays):
    """Mean of (intensity in the 4 rows under each lesion) / (same rows away from it)."""
    ratios = []
    for image, mask in zip(arrays["images"][:, 0].astype(float), arrays["masks"], strict=True):
        rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
        if rows.size == 0 or rows.max() + 5 > SIZE:
            continue
        band = image[rows.max() + 1 : rows.max() + 5]
        away = np.ones(SIZE, bool)
        away[max(cols.min() - 2, 0) : cols.max() + 3] = False
        if away.sum() >= 3:
            ratios.append(band[:, cols.min() : cols.max() + 1].mean() / band[:, away].mean())
    return np.mean(ratios)


def test_posterior_shadow_versus_enhancement():
    shadow, _ = generate_client("synthetic-breast", "bus", BREAST)
    enhanced, _ = generate_client("synthetic-breast", "udiat", BREAST)
    assert _below_over_beside(shadow) < 0.65  # 50-70% darker before blur and speckle
    assert _below_over_beside(enhanced) > 1.2


def test_lesions_are_dark_and_sized_as_configured():
    arrays, _ = generate_client("synthetic-breast", "busis", BREAST)
    lesion = arrays["lesion"] == 1
    images, masks = arrays["images"][lesion, 0].astype(float), arrays["masks"][lesion]
    contrast = [i[m == 1].mean() / i[m == 0].mean() for i, m in zip(images, masks, strict=True)]
    assert max(contrast) < 0.9
    radius = np.sqrt(masks.sum(axis=(1, 2)) / np.pi) / SIZE  # equivalent-disc radius
    # configured 0.15-0.30; spiculated outlines and 24-pixel rasters make the disc a bit smaller
    assert 0.10 < radius.min() and radius.max() < 0.36 and 0.18 < np.median(radius) < 0.28


def test_dermoscopy_in_colour():
    colour = copy.deepcopy(SKIN)
    colour["channels"] = 3
    arrays, _ = generate_client("synthetic-skin", "rosendahl", colour)
    images = arrays["images"].astype(float)
    assert images.shape[1] == 3
    assert images[:, 0].mean() > images[:, 2].mean() + 20  # skin tones: red above blue


def test_modality_specific_key_is_rejected():
    bad = _with(SKIN, "rosendahl", posterior="shadow")
    with pytest.raises(ValueError, match="'posterior' applies to ultrasound only"):
        generate_client("synthetic-skin", "rosendahl", bad)


def test_unknown_client_and_tiny_lesions_are_rejected():
    with pytest.raises(ValueError, match="no synthetic client 'nope'"):
        generate_client("synthetic-breast", "nope", BREAST)
    with pytest.raises(ValueError, match="lesion_radius"):
        generate_client("synthetic-breast", "bus", _with(BREAST, "bus", lesion_radius=[0.01, 0.1]))


def test_paper_split_mode_is_rejected_for_synthetic_data():
    cfg = copy.deepcopy(BREAST)
    cfg["split"]["mode"] = "paper"
    with pytest.raises(ValueError, match="real data only"):
        generate_client("synthetic-breast", "bus", cfg)
