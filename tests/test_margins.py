import pytest
import torch

from fedmix.data.margins import (
    check_margin,
    draw_margins,
    grow_boxes,
    margin_box_masks,
    margin_generator,
    masks_to_boxes_torch,
    scale_margins,
)


def _box_masks(side, *boxes):
    m = torch.zeros(len(boxes), side, side, dtype=torch.bool)
    for i, b in enumerate(boxes):
        if b is not None:
            y0, x0, y1, x1 = b
            m[i, y0:y1, x0:x1] = True
    return m


def test_scaling_keeps_224_pixels_and_shrinks_them_on_small_crops():
    m = torch.arange(0, 10)[:, None]
    assert scale_margins(m, 224).flatten().tolist() == list(range(10))
    # 24-px crop: m * 24 / 224 = 0.107 m, rounded half up: 1-4 -> 0, 5-9 -> 1
    assert scale_margins(m, 24).flatten().tolist() == [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
    # 112-px crop: exactly half; 1 * 0.5 = 0.5 rounds up to 1, 3 -> 1.5 -> 2
    assert scale_margins(m, 112).flatten().tolist() == [0, 1, 1, 2, 2, 3, 3, 4, 4, 5]


def test_fixed_margin_grows_each_side_and_clamps():
    boxes = torch.tensor([[10, 20, 30, 40], [0, 1, 223, 224]])
    m = draw_margins(2, 2, torch.Generator())
    assert m.tolist() == [[2, 2, 2, 2]] * 2
    assert grow_boxes(boxes, m, 224, 224).tolist() == [[8, 18, 32, 42], [0, 0, 224, 224]]
    unclamped = grow_boxes(boxes, m, 224, 224, clamp=False)
    assert unclamped.tolist() == [[8, 18, 32, 42], [-2, -1, 225, 226]]


def test_drawn_margins_are_seeded_per_side_and_inclusive():
    a = draw_margins(500, [1, 9], torch.Generator().manual_seed(7))
    b = draw_margins(500, [1, 9], torch.Generator().manual_seed(7))
    c = draw_margins(500, [1, 9], torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.min() == 1 and a.max() == 9  # randint(1, 10): both ends reachable
    assert (a[:, 0] != a[:, 2]).any()  # sides are independent draws


def test_bad_margins_name_the_value():
    for bad in (-1, [3, 2], [1, 2, 3], 1.5, True):
        with pytest.raises(ValueError, match="box margin"):
            check_margin(bad)
    assert check_margin(0) == (0, 0) and check_margin([1, 9]) == (1, 9)


def test_tight_boxes_of_maps_by_hand():
    m = _box_masks(8, (1, 2, 4, 7), None)
    m[0, 6, 0] = True  # a second blob widens the box
    boxes, valid = masks_to_boxes_torch(m)
    assert boxes.tolist() == [[1, 0, 7, 7], [0, 0, 0, 0]] and valid.tolist() == [True, False]


def test_margin_zero_is_the_tight_box_and_draws_nothing():
    m = _box_masks(24, (3, 4, 10, 12))
    gen = torch.Generator().manual_seed(0)
    state = gen.get_state()
    assert margin_box_masks(m, 0, gen) is m
    assert torch.equal(gen.get_state(), state)


def test_rendered_margin_on_a_224_crop_by_hand():
    m = _box_masks(224, (100, 50, 120, 60), (0, 0, 5, 5), None)
    out = margin_box_masks(m, 3, torch.Generator())
    boxes, valid = masks_to_boxes_torch(out)
    assert boxes.tolist() == [[97, 47, 123, 63], [0, 0, 8, 8], [0, 0, 0, 0]]
    assert valid.tolist() == [True, True, False]  # an empty box stays empty


def test_scaled_margin_on_a_24_crop_is_at_most_one_pixel():
    m = _box_masks(24, *[(8, 8, 12, 12)] * 200)
    out = margin_box_masks(m, [1, 9], torch.Generator().manual_seed(3))
    boxes, _ = masks_to_boxes_torch(out)
    grown = (boxes - torch.tensor([8, 8, 12, 12])).abs()
    assert grown.max() == 1 and grown.min() == 0  # 1-9 px of 224 -> 0 or 1 px of 24
    # same generator state -> same boxes (the run's (seed, round) generator decides)
    again = margin_box_masks(m, [1, 9], torch.Generator().manual_seed(3))
    assert torch.equal(out, again)


def test_margin_applies_to_the_crop_not_the_full_image():
    # 32-px image, box rows 20-30 / cols 2-6; the 24 crop at offset (0, 0) keeps rows 20-23:
    # the cropped box is (20, 2, 24, 6); 18 px of 224 -> round(18 * 24 / 224) = 2 px of 24
    full = _box_masks(32, (20, 2, 30, 6))
    crop = full[:, :24, :24]
    assert masks_to_boxes_torch(crop)[0].tolist() == [[20, 2, 24, 6]]
    grown = margin_box_masks(crop, 18, torch.Generator())
    assert masks_to_boxes_torch(grown)[0].tolist() == [[18, 0, 24, 8]]  # clamped at 0 and 24
    # on the uncropped 32-px image: 18 px -> 3 px, reaching row 32 (clamped)
    assert masks_to_boxes_torch(margin_box_masks(full, 18, torch.Generator()))[0].tolist() == [
        [17, 0, 32, 9]
    ]


def test_each_client_and_round_has_its_own_repeatable_margin_stream():
    def draws(seed, rnd, client):
        return draw_margins(50, [1, 9], margin_generator(seed, rnd, client))

    assert torch.equal(draws(0, 3, "busis"), draws(0, 3, "busis"))
    assert not torch.equal(draws(0, 3, "busis"), draws(0, 4, "busis"))
    assert not torch.equal(draws(0, 3, "busis"), draws(1, 3, "busis"))
    assert not torch.equal(draws(0, 3, "busis"), draws(0, 3, "bus"))
