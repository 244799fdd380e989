import numpy as np
import pytest
import torch

from fedmix.data.classes import (
    check_class_masks,
    class_box_masks,
    class_boxes,
    class_presence,
    grow_boxes,
    one_hot_classes,
)
from fedmix.data.degrade import masks_to_boxes
from fedmix.losses import soft_dice_loss
from fedmix.multiclass import class_metrics, select_pseudo_labels_per_class, soft_dice_per_class
from fedmix.pseudo import select_pseudo_labels

EPS = 1e-4
RULES = {"variant": "tmi", "tau": 0.9, "box_tau": 0.5, "box_refinement": True}
RULES["use_image_labels"] = True


def select(p1, p2, **kw):
    """The per-class selection with the method's default rules, overridden by ``kw``."""
    return select_pseudo_labels_per_class(p1, p2, **{**RULES, **kw})


def _mask():
    """6x6 class-index mask: class 1 at rows 0-1 cols 0-2, class 3 at (4, 5) and (5, 3)."""
    m = np.zeros((6, 6), np.uint8)
    m[0:2, 0:3] = 1
    m[4, 5] = 3
    m[5, 3] = 3
    return m


def test_presence_vector_by_hand():
    masks = np.stack([_mask(), np.zeros((6, 6), np.uint8)])
    assert class_presence(masks, 3).tolist() == [[1, 0, 1], [0, 0, 0]]


def test_one_box_per_class_present_end_exclusive():
    boxes, valid = class_boxes(_mask()[None], 3)
    assert valid.tolist() == [[1, 0, 1]]
    assert boxes[0, 0].tolist() == [0, 0, 2, 3]
    assert boxes[0, 1].tolist() == [-1, -1, -1, -1]  # SRF absent: no fake box
    assert boxes[0, 2].tolist() == [4, 3, 6, 6]  # spans both PED pixels


def test_class_boxes_equal_binary_boxes_of_each_class():
    rng = np.random.default_rng(3)
    masks = rng.integers(0, 4, (5, 7, 9)) * (rng.random((5, 7, 9)) < 0.1)
    boxes, valid = class_boxes(masks.astype(np.uint8), 3)
    for k in range(3):
        b, v = masks_to_boxes(masks == k + 1)
        assert np.array_equal(boxes[:, k], b) and np.array_equal(valid[:, k], v)


def test_grow_boxes_per_side_clamped_and_invalid_untouched():
    boxes, valid = class_boxes(_mask()[None], 3)
    margins = np.array([[[1, 2, 3, 4], [9, 9, 9, 9], [0, 1, 0, 9]]])
    grown = grow_boxes(boxes, valid, margins, 6, 6)
    assert grown[0, 0].tolist() == [0, 0, 5, 6]  # y0 0-1 and x0 0-2 clamp at 0, x1 3+4 -> 6
    assert grown[0, 1].tolist() == [-1, -1, -1, -1]
    assert grown[0, 2].tolist() == [4, 2, 6, 6]
    with pytest.raises(ValueError, match="margins"):
        grow_boxes(boxes, valid, -margins, 6, 6)


def test_class_box_masks_fill_only_valid_channels():
    boxes, valid = class_boxes(_mask()[None], 3)
    filled = class_box_masks(boxes, valid, 6, 6)
    assert filled.shape == (1, 3, 6, 6)
    assert filled[0, 0].sum() == 6 and filled[0, 1].sum() == 0 and filled[0, 2].sum() == 2 * 3


def test_class_masks_outside_range_rejected():
    with pytest.raises(ValueError, match=r"hold 0..3 only.*\[4\]"):
        check_class_masks(np.array([[0, 4]]), 3, "x.h5")


def _t(a):
    return torch.as_tensor(np.asarray(a), dtype=torch.bool)


def _channels(*maps):
    """(1, K, 4, 4) bool from K lists of (row, col) pixels."""
    out = np.zeros((1, len(maps), 4, 4), bool)
    for k, pixels in enumerate(maps):
        for r, c in pixels:
            out[0, k, r, c] = True
    return _t(out)


FOUR = [(0, 0), (0, 1), (1, 0), (1, 1)]
FOUR_SHIFTED = [(0, 0), (0, 1), (1, 0), (3, 3)]  # 3 of 4 shared: Dice 0.75


def test_image_level_absent_class_is_zeroed_and_passes():
    # class 1 present and agreed; class 2 absent but predicted differently by the two models;
    # class 3 absent and empty.
    p1 = _channels(FOUR, FOUR, [])
    p2 = _channels(FOUR, FOUR_SHIFTED, [])
    lab1, lab2, keep, per_class = select(
        p1, p2, supervision="I", presence=torch.tensor([[1, 0, 0]]), tau=0.9
    )
    assert per_class.tolist() == [[True, True, True]] and keep.tolist() == [True]
    assert lab1[0, 0].sum() == 4 and not lab1[0, 1].any() and not lab2[0, 1].any()


def test_image_level_present_class_empty_in_both_maps_is_rejected():
    p1 = _channels(FOUR, [], [])
    p2 = _channels(FOUR, [], [])
    _, _, keep, per_class = select(
        p1, p2, supervision="I", presence=torch.tensor([[1, 1, 0]]), tau=0.9
    )
    assert per_class.tolist() == [[True, False, True]] and keep.tolist() == [False]


def test_unlabelled_class_empty_in_both_maps_passes_but_disagreement_fails():
    p1 = _channels(FOUR, [], FOUR)
    p2 = _channels(FOUR, [], FOUR_SHIFTED)
    _, _, keep, per_class = select(p1, p2, supervision="U", tau=0.9)
    # class 3: Dice (2*3 + eps) / (8 + eps) = 0.75 < 0.9; classes 1, 2 agree (empty pair: 1)
    assert per_class.tolist() == [[True, True, False]] and keep.tolist() == [False]
    _, _, keep, _ = select(p1, p2, supervision="U", tau=0.7)
    assert keep.tolist() == [True]


def test_box_tests_per_class_and_empty_box_passes():
    box1 = [(r, c) for r in range(2) for c in range(3)]  # 6 px around FOUR
    boxes = _channels(box1, [], [(3, 3)])
    # class 1: maps agree inside the box (the pixel at (3, 3) of p1 is cut by refinement);
    # Dice(P1, box) = 2*4 / (4 + 6) = 0.8 >= 0.5. Class 2: empty box refines both maps to
    # empty, Dice(empty, empty) = 1 both times. Class 3: one-pixel box, both maps empty after
    # refinement: Dice(P1, box) = eps / (1 + eps) < 0.5, the class fails.
    p1 = _channels(FOUR + [(3, 3)], FOUR, [])
    p2 = _channels(FOUR, [(2, 2)], [])
    lab1, lab2, keep, per_class = select(
        p1, p2, supervision="B", box_masks=boxes, tau=0.9, box_tau=0.5
    )
    assert per_class.tolist() == [[True, True, False]] and keep.tolist() == [False]
    assert lab2[0, 0].sum() == 4 and not lab2[0, 1].any() and not lab1[0, 1].any()
    boxes_ok = _channels(box1, [], [])
    _, _, keep, per_class = select(
        p1, p2, supervision="B", box_masks=boxes_ok, tau=0.9, box_tau=0.5
    )
    assert per_class.tolist() == [[True, True, True]] and keep.tolist() == [True]


def test_one_class_selection_equals_the_binary_function():
    gen = torch.Generator().manual_seed(0)
    p1 = torch.rand(8, 5, 5, generator=gen) > 0.4
    p2 = p1 ^ (torch.rand(8, 5, 5, generator=gen) > 0.9)
    box = torch.rand(8, 5, 5, generator=gen) > 0.3
    for sup, extra in (("U", {}), ("B", {"box_masks": box})):
        b1, b2, bkeep = select_pseudo_labels(p1, p2, supervision=sup, **RULES, **extra)
        extra_mc = {k: v[:, None] for k, v in extra.items()}
        m1, m2, mkeep, _ = select(p1[:, None], p2[:, None], supervision=sup, **extra_mc)
        assert torch.equal(m1[:, 0], b1) and torch.equal(m2[:, 0], b2)
        assert torch.equal(mkeep, bkeep)


def test_soft_dice_per_class_by_hand_and_one_class_is_binary():
    probs = torch.zeros(2, 2, 2, 2)
    probs[0, 0] = torch.tensor([[1.0, 0.5], [0.0, 0.0]])
    probs[1, 0, 1, 1] = 0.5  # a false positive of class 1 in an image without class 1
    target = torch.zeros(2, 2, 2, 2)
    target[0, 0, 0, 0] = 1.0
    per_sample = soft_dice_per_class(probs, target, over="sample")
    # image 0, class 1: 1 - (2*1 + eps) / (1.5 + 1 + eps); image 1, class 1: 1 - eps / (0.5 + eps)
    # (near 1 whatever is predicted); class 2: both empty -> 0
    expected = torch.tensor([[1 - (2 + EPS) / (2.5 + EPS), 0.0], [1 - EPS / (0.5 + EPS), 0.0]])
    torch.testing.assert_close(per_sample, expected)
    per_batch = soft_dice_per_class(probs, target)  # over the batch: the FP enters the sum
    torch.testing.assert_close(per_batch, torch.tensor([1 - (2 + EPS) / (3.0 + EPS), 0.0]))
    x = torch.rand(3, 1, 4, 4)
    y = (torch.rand(3, 1, 4, 4) > 0.5).float()
    assert torch.equal(soft_dice_per_class(x, y, over="sample").mean(), soft_dice_loss(x, y))
    with pytest.raises(ValueError, match="over must be 'batch' or 'sample', got 'pixel'"):
        soft_dice_per_class(x, y, over="pixel")


def test_class_metrics_per_class_and_mean():
    mask = _mask()
    pred = one_hot_classes(mask[None], 3)[0].copy()
    pred[0, 0, 0] = False  # class 1: 5 of 6 pixels -> Dice 10/11, IoU 5/6
    pred[1, 3, 3] = True  # class 2 absent but predicted: Dice 0, HD95 = diagonal
    row = class_metrics(pred, mask, ["irf", "srf", "ped"])
    assert row["dice_irf"] == pytest.approx(10 / 11) and row["iou_irf"] == pytest.approx(5 / 6)
    assert row["dice_srf"] == 0.0 and row["hd95_srf"] == pytest.approx(np.hypot(6, 6))
    assert row["dice_ped"] == 1.0 and row["hd95_ped"] == 0.0
    assert (row["present_irf"], row["present_srf"], row["present_ped"]) == (1, 0, 1)
    assert row["one_empty_srf"] == 1 and row["one_empty_irf"] == 0
    assert row["dice"] == pytest.approx((10 / 11 + 0 + 1) / 3)


def test_one_hot_classes_numpy_and_torch_agree():
    masks = np.stack([_mask(), _mask()[::-1]])
    a = one_hot_classes(masks, 3)
    b = one_hot_classes(torch.from_numpy(masks.copy()), 3).numpy()
    assert a.dtype == bool and np.array_equal(a, b) and a[:, 1].sum() == 0


def test_unet_one_channel_per_class_and_binary_unchanged():
    from fedmix.model import UNet, predict_binary, predict_channels

    torch.manual_seed(0)
    default = UNet(1, 4, 2)
    torch.manual_seed(0)
    one = UNet(1, 4, 2, out_channels=1)
    for a, b in zip(default.state_dict().values(), one.state_dict().values(), strict=True):
        assert torch.equal(a, b)  # same parameters drawn in the same order
    three = UNet(1, 4, 2, out_channels=3)
    images = torch.randint(0, 256, (5, 1, 8, 8), dtype=torch.uint8)
    assert three(images.float()).shape == (5, 3, 8, 8)
    assert predict_channels(three, images).shape == (5, 3, 8, 8)
    assert torch.equal(predict_channels(default, images)[:, 0], predict_binary(default, images))
    with pytest.raises(ValueError, match="out_channels must be >= 1, got 0"):
        UNet(1, 4, 2, out_channels=0)
