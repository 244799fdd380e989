import pytest
import torch

from fedmix.methods import FedMixParams
from fedmix.pseudo import batch_dice
from fedmix.pseudo import select_pseudo_labels as _select

# FedMix's defaults (tmi), so each test states only what it varies.
_P = FedMixParams(variant="tmi")
DEFAULTS = dict(
    variant=_P.variant,
    tau=_P.tau,
    box_tau=_P.box_tau,
    box_refinement=_P.box_refinement,
    use_image_labels=_P.use_image_labels,
)


def select_pseudo_labels(p1, p2, **kwargs):
    return _select(p1, p2, **(DEFAULTS | kwargs))


H = W = 6


def _maps(*pixel_lists):
    """Boolean (N, H, W) with the listed (row, col) pixels set, one list per sample."""
    out = torch.zeros(len(pixel_lists), H, W, dtype=torch.bool)
    for i, pixels in enumerate(pixel_lists):
        for r, c in pixels:
            out[i, r, c] = True
    return out


def _rect(y0, x0, y1, x1):
    return [(r, c) for r in range(y0, y1) for c in range(x0, x1)]


TEN = _rect(0, 0, 2, 5)  # 10 pixels
TEN_MOVED_1 = TEN[:-1] + [(5, 5)]  # 9 shared
TEN_MOVED_2 = TEN[:-2] + [(5, 5), (5, 4)]  # 8 shared
EPS = 1e-4


def test_batch_dice_values_and_empty_pair_is_one():
    a = _maps(TEN, TEN, [], [])
    b = _maps(TEN_MOVED_1, [], [], TEN)
    d = batch_dice(a, b)
    expected = torch.tensor(
        [(18 + EPS) / (20 + EPS), EPS / (10 + EPS), 1.0, EPS / (10 + EPS)], dtype=torch.float64
    )
    torch.testing.assert_close(d, expected)
    assert d[2].item() == 1.0


def test_agreement_threshold_is_batched_for_u():
    p1 = _maps(TEN, TEN, TEN)
    p2 = _maps(TEN, TEN_MOVED_1, TEN_MOVED_2)
    _, _, keep = select_pseudo_labels(p1, p2, supervision="U", tau=0.9)
    assert keep.tolist() == [True, True, False]  # d = 1, 0.90000..., 0.8
    _, _, keep = select_pseudo_labels(p1, p2, supervision="U", tau=0.91)
    assert keep.tolist() == [True, False, False]
    _, _, keep = select_pseudo_labels(p1, p2, supervision="U", tau=0.0)
    assert keep.tolist() == [True, True, True]


def test_labels_are_crossed_between_streams():
    p1, p2 = _maps(TEN), _maps(TEN_MOVED_1)
    label1, label2, _ = select_pseudo_labels(p1, p2, supervision="U")
    assert torch.equal(label1, p2) and torch.equal(label2, p1)


def test_two_empty_maps_kept_for_u_rejected_for_b_tmi_kept_for_b_arxiv():
    empty = _maps([])
    box = _maps(_rect(1, 1, 4, 4))
    l1, l2, keep = select_pseudo_labels(empty, empty, supervision="U")
    assert keep.tolist() == [True] and not l1.any() and not l2.any()
    _, _, keep = select_pseudo_labels(empty, empty, supervision="B", box_masks=box)
    assert keep.tolist() == [False]  # Dice(P1, box) = eps / (9 + eps) < 0.5
    _, _, keep = select_pseudo_labels(empty, empty, supervision="B", variant="arxiv", box_masks=box)
    assert keep.tolist() == [True]


def test_refinement_cuts_pixels_outside_the_box():
    inside = _rect(1, 1, 4, 4)
    p = _maps(inside + [(5, 5), (0, 5)])
    box = _maps(inside)
    for variant in ("tmi", "arxiv"):
        l1, l2, keep = select_pseudo_labels(
            p, p.clone(), supervision="B", variant=variant, box_masks=box
        )
        assert torch.equal(l1, box) and torch.equal(l2, box) and keep.tolist() == [True]
    l1, _, _ = select_pseudo_labels(
        p, p.clone(), supervision="B", box_masks=box, box_refinement=False
    )
    assert torch.equal(l1, p)


def test_tmi_and_arxiv_differ_when_models_disagree_outside_the_box():
    inside = _rect(2, 2, 5, 5)  # 9 pixels, the box
    p1 = _maps(inside + _rect(0, 0, 1, 6))  # plus 6 pixels of row 0
    p2 = _maps(inside + _rect(5, 0, 6, 6))  # plus 6 different pixels of row 5
    box = _maps(inside)
    # tmi refines first: both maps equal the box -> d = 1, Dice(P1, box) = 1 -> kept
    _, _, keep = select_pseudo_labels(p1, p2, supervision="B", variant="tmi", box_masks=box)
    assert keep.tolist() == [True]
    # arxiv measures agreement before refinement: d = 18 / 30 = 0.6 -> rejected
    _, _, keep = select_pseudo_labels(p1, p2, supervision="B", variant="arxiv", box_masks=box)
    assert keep.tolist() == [False]
    # tmi without refinement: d = 0.6 as well -> rejected
    _, _, keep = select_pseudo_labels(p1, p2, supervision="B", box_masks=box, box_refinement=False)
    assert keep.tolist() == [False]


def test_box_consistency_rejects_small_prediction_in_large_box():
    box = _maps(_rect(0, 0, 6, 6))  # 36 pixels
    p = _maps(_rect(0, 0, 2, 2))  # 4 pixels: Dice with box = 8/40 = 0.2
    _, _, keep = select_pseudo_labels(p, p.clone(), supervision="B", box_masks=box)
    assert keep.tolist() == [False]
    _, _, keep = select_pseudo_labels(p, p.clone(), supervision="B", box_masks=box, box_tau=0.0)
    assert keep.tolist() == [True]


def test_empty_box_gives_background_and_is_kept_under_tmi():
    p = _maps(TEN)
    l1, l2, keep = select_pseudo_labels(p, p.clone(), supervision="B", box_masks=_maps([]))
    assert keep.tolist() == [True] and not l1.any() and not l2.any()


def test_image_level_rules_are_batched():
    # 0: lesion absent, models disagree -> background, kept
    # 1: lesion present, both empty (d = 1) -> rejected
    # 2: lesion present, good agreement -> kept with crossed labels
    # 3: lesion present, poor agreement -> rejected
    p1 = _maps(TEN, [], TEN, TEN)
    p2 = _maps(_rect(3, 0, 6, 6), [], TEN_MOVED_1, TEN_MOVED_2)
    lesion = torch.tensor([0, 1, 1, 1])
    rules = dict(supervision="I", lesion=lesion, use_image_labels=True)  # the named variant
    l1, l2, keep = select_pseudo_labels(p1, p2, **rules)
    assert keep.tolist() == [True, False, True, False]
    assert not l1[0].any() and not l2[0].any()
    assert torch.equal(l1[2], p2[2]) and torch.equal(l2[2], p1[2])
    # tau = 0 drops the agreement test but not the lesion-present-but-empty rule
    _, _, keep = select_pseudo_labels(p1, p2, **rules, tau=0.0)
    assert keep.tolist() == [True, False, True, True]


def test_image_level_labels_off_makes_i_equal_u():
    p1 = _maps(TEN, [], TEN)
    p2 = _maps([], [], TEN_MOVED_2)
    lesion = torch.tensor([0, 1, 1])
    got = select_pseudo_labels(p1, p2, supervision="I", lesion=lesion, use_image_labels=False)
    ref = select_pseudo_labels(p1, p2, supervision="U")
    for g, r in zip(got, ref, strict=True):
        assert torch.equal(g, r)
    assert got[2].tolist() == [False, True, False]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"supervision": "L"}, "L client"),
        ({"supervision": "U", "variant": "paper"}, "variant"),
        ({"supervision": "U", "tau": 1.5}, "tau"),
        ({"supervision": "B"}, "box_masks"),
        ({"supervision": "U", "box_masks": torch.zeros(1, H, W, dtype=torch.bool)}, "box_masks"),
        ({"supervision": "I", "use_image_labels": True}, "lesion"),
        ({"supervision": "I", "use_image_labels": True, "lesion": torch.tensor([2])}, "0 and 1"),
        ({"supervision": "U", "lesion": torch.tensor([1])}, "lesion"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    p = _maps(TEN)
    with pytest.raises(ValueError, match=match):
        select_pseudo_labels(p, p.clone(), **kwargs)


def test_non_boolean_or_mismatched_maps_raise():
    p = _maps(TEN)
    with pytest.raises(ValueError, match="boolean"):
        batch_dice(p.float(), p)
    with pytest.raises(ValueError, match=r"\(2, 6, 6\)"):
        select_pseudo_labels(p, _maps(TEN, TEN), supervision="U")
