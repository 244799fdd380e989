import numpy as np
import pytest
import torch
from printcheck import assert_print_ready, hex_colour

from fedmix.io import write_h5
from fedmix.report import style
from fedmix.report.images import (
    disagreement_order,
    mask_box,
    pick_samples,
    plot_label_gallery,
    plot_overlays,
    predict_masks,
)

CLIENTS = ("a", "b")


def _client_arrays(n: int = 4, size: int = 8) -> dict[str, np.ndarray]:
    """Bright square lesions on a dark background; the last image is lesion-free."""
    images = np.full((n, 1, size, size), 40, np.uint8)
    masks = np.zeros((n, size, size), np.uint8)
    for i in range(n - 1):
        masks[i, 1 + i : 4 + i, 2:6] = 1
    images[:, 0][masks == 1] = 220
    lesion = masks.reshape(n, -1).max(axis=1)
    return dict(
        images=images, masks=masks, lesion=lesion, diagnosis=lesion * 2,
        sample_ids=np.array([f"s{i}" for i in range(n)]), split=np.zeros(n, np.uint8),
    )  # fmt: skip


@pytest.fixture
def h5_files(tmp_path):
    return {c: write_h5(tmp_path / f"{c}.h5", _client_arrays(), {"kind": "eval"}) for c in CLIENTS}


def _threshold_model(config: dict) -> torch.nn.Module:
    """1x1 convolution: logit = x - 0.5, so the prediction is [image / 255 > 0.5]."""
    return torch.nn.Conv2d(config["channels"], 1, 1)


def _checkpoint(path, keys):
    state = {"weight": torch.ones(1, 1, 1, 1), "bias": torch.tensor([-0.5])}
    config = {"channels": 1, "width": 4, "levels": 2}
    torch.save({"config": config, "round": 3, "models": {k: state for k in keys}}, path)
    return path


def test_mask_box_is_tight_and_end_exclusive():
    mask = np.zeros((5, 6), np.uint8)
    mask[1:3, 2:5] = 1
    assert mask_box(mask) == (1, 2, 3, 5)
    assert mask_box(np.zeros((4, 4))) is None


def test_pick_samples_lesion_first_then_free():
    assert pick_samples(np.array([0, 1, 1, 0, 1]), 2, 1) == [1, 2, 0]
    assert pick_samples(np.array([1, 1]), 1, 3) == [0]  # no lesion-free image to show


def test_gallery_one_row_per_client_four_panels_per_sample(tmp_path, h5_files):
    png, pdf = tmp_path / "g.png", tmp_path / "g.pdf"
    fig = plot_label_gallery(h5_files, png, pdf, n_lesion=1, n_free=1)
    assert_print_ready(fig, png, pdf)
    assert len(fig.axes) == len(CLIENTS) * 2 * 4
    boxes = [p for ax in fig.axes[2::4] for p in ax.patches]
    assert len(boxes) == len(CLIENTS)  # one box per lesion sample, none for the free one
    assert boxes[0].get_width() == 4 and boxes[0].get_height() == 3
    texts = [t.get_text() for t in fig.axes[6].texts]  # no-lesion sample's box panel
    assert texts == ["no box"]


def test_contour_of_a_lesion_cut_by_the_border_is_closed(tmp_path):
    arrays = _client_arrays()
    arrays["masks"][0] = 0
    arrays["masks"][0, :3, :3] = 1  # in the top-left corner
    path = write_h5(tmp_path / "corner.h5", arrays, {"kind": "eval"})
    fig = plot_label_gallery({"a": path}, tmp_path / "c.png", tmp_path / "c.pdf", 1, 0)
    (contour,) = fig.axes[1].collections
    (outline,) = [p for p in contour.get_paths() if len(p.vertices)]
    vertices = outline.vertices
    assert np.allclose(vertices[0], vertices[-1])  # closed
    assert vertices.min() < 0  # runs along the image border, outside pixel 0's centre


def test_predict_masks_uses_global_or_client_model(tmp_path, h5_files):
    images = _client_arrays()["images"]
    glob = _checkpoint(tmp_path / "g.pt", ["global"])
    local = _checkpoint(tmp_path / "l.pt", ["client:a", "client:b"])
    expected = images[:, 0] > 127
    assert np.array_equal(predict_masks(glob, "a", images, _threshold_model), expected)
    assert np.array_equal(predict_masks(local, "b", images, _threshold_model), expected)
    with pytest.raises(ValueError, match="client:z"):
        predict_masks(local, "z", images, _threshold_model)


def test_disagreement_order_puts_the_widest_dice_range_first():
    scores = np.array([[1.0, 0.5, 0.9, 0.8], [1.0, 0.9, 0.2, 0.4]])
    assert disagreement_order(scores) == [2, 1, 3, 0]


def test_overlays_grid_contours_and_dice(tmp_path, h5_files):
    ckpts = {
        "FedAvg": _checkpoint(tmp_path / "g.pt", ["global"]),
        "LL": _checkpoint(tmp_path / "l.pt", ["client:a", "client:b"]),
    }
    png, pdf = tmp_path / "o.png", tmp_path / "o.pdf"
    fig = plot_overlays(h5_files, ckpts, png, pdf, n_images=2, build_model=_threshold_model)
    assert_print_ready(fig, png, pdf)
    assert len(fig.axes) == len(CLIENTS) * 2 * (1 + len(ckpts))
    assert [ax.get_title() for ax in fig.axes[:3]] == ["ground truth", "FedAvg", "LL"]
    (truth,) = fig.axes[0].collections  # ground truth only
    assert hex_colour(truth.get_edgecolor()[0]) == style.GROUND_TRUTH
    for ax in fig.axes[1:3]:
        assert [hex_colour(c.get_edgecolor()[0]) for c in ax.collections] == [
            style.GROUND_TRUTH,
            style.PREDICTION,
        ]
        assert [t.get_text() for t in ax.texts] == ["1.00"]  # the threshold model is exact
