import numpy as np
import pytest

from fedmix.data.splits import TEST, TRAIN, VAL, assign_split


def test_counts_are_exact_without_groups():
    split = assign_split(100, 0.15, 0.25, seed=0)
    assert split.dtype == np.uint8 and split.shape == (100,)
    assert np.bincount(split, minlength=3).tolist() == [60, 15, 25]


def test_rounding_half_up_on_tiny_client():
    # 16 * 0.15 = 2.4 -> 2 val; 16 * 0.25 = 4 -> 4 test; rest train
    assert np.bincount(assign_split(16, 0.15, 0.25, seed=3), minlength=3).tolist() == [10, 2, 4]
    # 10 * 0.25 = 2.5 rounds up to 3 (not to the even 2)
    assert (assign_split(10, 0.0, 0.25, seed=0) == TEST).sum() == 3


def test_deterministic_and_seed_dependent():
    a = assign_split(50, 0.2, 0.2, seed=7)
    np.testing.assert_array_equal(a, assign_split(50, 0.2, 0.2, seed=7))
    assert not np.array_equal(a, assign_split(50, 0.2, 0.2, seed=8))
    np.testing.assert_array_equal(
        assign_split(50, 0.2, 0.2, seed=[1, 2]), assign_split(50, 0.2, 0.2, seed=[1, 2])
    )


def test_no_held_out_fractions_means_all_train():
    assert (assign_split(7, 0.0, 0.0, seed=0) == TRAIN).all()


def test_groups_never_span_two_splits():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(60), rng.integers(1, 6, 60))  # 60 lesions, 1-5 images each
    rng.shuffle(groups)
    split = assign_split(len(groups), 0.15, 0.25, seed=1, groups=groups)
    for g in np.unique(groups):
        assert len(np.unique(split[groups == g])) == 1, g
    n, largest = len(groups), np.bincount(groups).max()
    for code, fraction in ((VAL, 0.15), (TEST, 0.25)):
        assert abs((split == code).sum() - fraction * n) <= largest / 2 + 0.5


def test_string_groups_are_accepted():
    groups = np.array(["a", "a", "b", "c", "c", "c", "d", "e"])
    split = assign_split(8, 0.25, 0.25, seed=0, groups=groups)
    assert split[0] == split[1] and split[3] == split[4] == split[5]


@pytest.mark.parametrize(("val", "test"), [(0.5, 0.5), (-0.1, 0.2), (0.2, 1.0)])
def test_bad_fractions_raise(val, test):
    with pytest.raises(ValueError, match="fraction"):
        assign_split(10, val, test, seed=0)


def test_groups_of_wrong_length_raise():
    with pytest.raises(ValueError, match=r"expected \(5,\)"):
        assign_split(5, 0.2, 0.2, seed=0, groups=[1, 2, 3])
