import math

import numpy as np
import pytest
import torch
from monai.metrics import compute_hausdorff_distance

from fedmix.metrics import dice, hd95, iou, one_empty

torch.set_num_threads(1)
pytestmark = pytest.mark.filterwarnings("ignore:.*always_return_as_numpy:FutureWarning")


def _monai_hd95(pred: np.ndarray, target: np.ndarray) -> float:
    p = torch.from_numpy(pred)[None, None].float()
    t = torch.from_numpy(target)[None, None].float()
    return compute_hausdorff_distance(p, t, include_background=True, percentile=95).item()


def _square(shape, y0, x0, y1, x1):
    m = np.zeros(shape, dtype=bool)
    m[y0:y1, x0:x1] = True
    return m


def test_dice_iou_hand_computed():
    pred = np.array([[1, 1], [0, 0]], dtype=bool)
    target = np.array([[1, 1], [1, 0]], dtype=bool)
    assert dice(pred, target) == pytest.approx(0.8)  # 2*2 / (2+3)
    assert iou(pred, target) == pytest.approx(2 / 3)


def test_empty_conventions():
    empty = np.zeros((3, 4), dtype=bool)
    full = np.ones((3, 4), dtype=bool)
    assert (dice(empty, empty), iou(empty, empty), hd95(empty, empty)) == (1.0, 1.0, 0.0)
    assert not one_empty(empty, empty)
    for a, b in ((empty, full), (full, empty)):
        assert dice(a, b) == 0.0 and iou(a, b) == 0.0
        assert hd95(a, b) == 5.0  # sqrt(3^2 + 4^2)
        assert one_empty(a, b)
    assert not one_empty(full, full)


def test_hd95_hand_computed_shift():
    # two 4x4 squares shifted by 3 columns: every boundary distance is 0 or 3 or in between
    a = _square((10, 12), 2, 2, 6, 6)
    b = _square((10, 12), 2, 5, 6, 9)
    assert hd95(a, a) == 0.0
    assert hd95(a, b) == pytest.approx(_monai_hd95(a, b), abs=1e-4)
    assert hd95(a, b) == pytest.approx(3.0)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (_square((16, 16), 0, 0, 16, 16), _square((16, 16), 4, 4, 9, 9)),  # touches the border
        (_square((16, 20), 1, 1, 3, 3), _square((16, 20), 10, 14, 15, 19)),  # far apart
        (_square((8, 8), 3, 3, 4, 4), _square((8, 8), 2, 2, 6, 7)),  # single pixel
        (
            _square((20, 20), 2, 2, 8, 8) | _square((20, 20), 12, 12, 18, 18),
            _square((20, 20), 3, 3, 17, 17) & ~_square((20, 20), 6, 6, 14, 14),  # ring
        ),
    ],
)
def test_hd95_matches_monai_on_shapes(a, b):
    assert hd95(a, b) == pytest.approx(_monai_hd95(a, b), abs=1e-4)
    assert hd95(b, a) == pytest.approx(hd95(a, b), abs=1e-12)


def test_hd95_matches_monai_on_random_masks():
    rng = np.random.default_rng(7)
    checked = 0
    for _ in range(20):
        h, w = rng.integers(6, 40, size=2)
        a = rng.random((h, w)) < rng.uniform(0.05, 0.6)
        b = rng.random((h, w)) < rng.uniform(0.05, 0.6)
        if a.any() and b.any():
            assert hd95(a, b) == pytest.approx(_monai_hd95(a, b), abs=1e-4)
            checked += 1
    assert checked >= 15


def test_errors_name_shapes_and_types():
    a = np.zeros((3, 4), dtype=bool)
    with pytest.raises(ValueError, match=r"\(3, 4\) and \(4, 3\)"):
        dice(a, a.T.copy())
    with pytest.raises(ValueError, match="boolean"):
        iou(a.astype(np.uint8), a)
    with pytest.raises(ValueError, match=r"\(1, 3, 4\)"):
        hd95(a[None], a[None])
    with pytest.raises(ValueError, match="numpy"):
        one_empty(torch.zeros(3, 4, dtype=torch.bool), a)
    assert math.isclose(hd95(a, a), 0.0)
