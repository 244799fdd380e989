import numpy as np
import pytest
import torch

from fedmix.aggregation import (
    check_weights,
    fedavg_weights,
    fedmix_weights,
    fedst_weights,
    weighted_average,
)
from fedmix.model import UNet

torch.set_num_threads(1)


def test_fedavg_weights_hand_computed():
    np.testing.assert_allclose(fedavg_weights([1, 2]), [1 / 3, 2 / 3])
    np.testing.assert_allclose(fedavg_weights([0, 5]), [0.0, 1.0])


@pytest.mark.parametrize("n", [[0, 0], [1, -1], [], [1, np.nan]])
def test_fedavg_weights_reject_bad_counts(n):
    with pytest.raises(ValueError, match="counts"):
        fedavg_weights(n)


def test_fedmix_with_lambda_zero_is_fedavg():
    n = [516, 449, 130]
    np.testing.assert_allclose(
        fedmix_weights(n, [0.3, 0.2, 0.1], lambda_=0, beta=1.5), fedavg_weights(n)
    )


def test_fedmix_hand_example():
    # q = [1/2, 1/4, 1/4]; l^1.5 = [1, 8, 1] -> s = [0.1, 0.8, 0.1]; w = (q + 10 s) / 11
    w = fedmix_weights([2, 1, 1], [1.0, 4.0, 1.0], lambda_=10, beta=1.5)
    np.testing.assert_allclose(w, [1.5 / 11, 8.25 / 11, 1.25 / 11])
    assert w.sum() == pytest.approx(1.0)


def test_fedmix_client_without_samples_drops_out():
    # client 1 kept nothing: weight 0, its NaN loss ignored, s over clients 0 and 2 only
    w = fedmix_weights([2, 0, 2], [1.0, np.nan, 4.0], lambda_=1, beta=1.5)
    np.testing.assert_allclose(w, [(0.5 + 1 / 9) / 2, 0.0, (0.5 + 8 / 9) / 2])


def test_fedmix_rejects_bad_losses():
    with pytest.raises(ValueError, match="losses"):
        fedmix_weights([1, 1], [np.nan, 1.0], lambda_=10, beta=1.5)
    with pytest.raises(ValueError, match="sum to 0"):
        fedmix_weights([1, 1], [0.0, 0.0], lambda_=10, beta=1.5)
    with pytest.raises(ValueError, match="lam"):
        fedmix_weights([1, 1], [1.0, 1.0], lambda_=-1, beta=1.5)


@pytest.mark.parametrize("w", [[0.5, 0.6], [1.5, -0.5], [np.inf, 0.0]])
def test_check_weights_rejects_and_names_weights(w):
    with pytest.raises(ValueError, match=r"\["):
        check_weights(w)


def test_check_weights_accepts_fixed_fedst_weights():
    np.testing.assert_array_equal(check_weights([0.05, 0.05, 0.9]), [0.05, 0.05, 0.9])


def _two_models():
    torch.manual_seed(0)
    a, b = UNet(1, width=4, levels=2), UNet(1, width=4, levels=2)
    with torch.no_grad():  # make the GroupNorm affine differ too
        for p in b.parameters():
            p.add_(1.0)
    return a.state_dict(), b.state_dict()


def test_weighted_average_one_hot_returns_first_exactly():
    sa, sb = _two_models()
    sb = {k: v.clone().fill_(float("nan")) for k, v in sb.items()}  # a dropped, diverged client
    out = weighted_average([sa, sb], [1.0, 0.0])
    assert out.keys() == sa.keys()
    for k in sa:
        assert torch.equal(out[k], sa[k])
        assert out[k].data_ptr() != sa[k].data_ptr()  # a new tensor, not an alias


def test_weighted_average_midpoint_includes_groupnorm_affine():
    sa, sb = _two_models()
    out = weighted_average([sa, sb], [0.5, 0.5])
    gn_keys = [k for k in sa if k.endswith(".1.weight")]  # GroupNorm after the first conv
    assert gn_keys
    for k in sa:
        torch.testing.assert_close(out[k], (sa[k] + sb[k]) / 2)


def test_weighted_average_non_floating_must_match():
    sa = {"w": torch.ones(2), "steps": torch.tensor(3)}
    sb = {"w": torch.zeros(2), "steps": torch.tensor(3)}
    out = weighted_average([sa, sb], [0.25, 0.75])
    torch.testing.assert_close(out["w"], torch.full((2,), 0.25))
    assert out["steps"].item() == 3
    with pytest.raises(ValueError, match="steps"):
        weighted_average([sa, {"w": torch.zeros(2), "steps": torch.tensor(4)}], [0.5, 0.5])


def test_weighted_average_errors():
    sa = {"w": torch.ones(2)}
    with pytest.raises(ValueError, match="'v'"):
        weighted_average([sa, {"v": torch.ones(2)}], [0.5, 0.5])
    with pytest.raises(ValueError, match="shape"):
        weighted_average([sa, {"w": torch.ones(3)}], [0.5, 0.5])
    with pytest.raises(ValueError, match="sum to 1"):
        weighted_average([sa, sa], [0.5, 0.6])
    with pytest.raises(ValueError, match=">= 0"):
        weighted_average([sa, sa], [1.5, -0.5])
    with pytest.raises(ValueError, match="2 state dicts but 3 weights"):
        weighted_average([sa, sa], [0.2, 0.3, 0.5])


def test_fedst_weights_by_hand():
    # L client c (n = 6) gets a = 0.9; the two participating U clients share 0.1 equally.
    w = fedst_weights([10, 8, 6], [False, False, True], 0.9)
    np.testing.assert_allclose(w, [0.05, 0.05, 0.9])
    # Two L clients split a in proportion to their sizes (2:1); a U client sitting out gets 0.
    w = fedst_weights([2, 0, 1], [True, False, True], 0.5)
    np.testing.assert_allclose(w, [2 / 3, 0.0, 1 / 3])
    # Only L clients: they take everything, whatever a is.
    np.testing.assert_allclose(fedst_weights([3, 1], [True, True], 0.5), [0.75, 0.25])


def test_fedst_weights_refuse_bad_input():
    with pytest.raises(ValueError, match="no labelled client has samples"):
        fedst_weights([0, 4], [True, False], 0.9)
    with pytest.raises(ValueError, match="labelled_weight"):
        fedst_weights([1, 1], [True, False], 1.5)
    with pytest.raises(ValueError, match="differ in length"):
        fedst_weights([1, 1], [True], 0.9)
