import math

import pytest
import torch
from torch import nn

from fedmix.losses import confident_bce, proximal_term, soft_dice_loss

torch.set_num_threads(1)


def test_soft_dice_hand_computed():
    p = torch.tensor([[[0.5, 1.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]]])
    y = torch.tensor([[[1.0, 1.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]]])
    per = soft_dice_loss(p, y, reduction="none")
    # sample 0: 1 - (2*1.5 + eps) / (1.5 + 2 + eps); sample 1: both empty -> 0
    expected0 = 1 - (3 + 1e-4) / (3.5 + 1e-4)
    torch.testing.assert_close(per, torch.tensor([expected0, 0.0]))
    torch.testing.assert_close(soft_dice_loss(p, y), torch.tensor(expected0 / 2))
    torch.testing.assert_close(soft_dice_loss(p[:, None], y[:, None]), torch.tensor(expected0 / 2))


def test_soft_dice_disjoint_is_almost_one_and_errors():
    p = torch.tensor([[[1.0, 0.0]]])
    y = torch.tensor([[[0.0, 1.0]]])
    assert soft_dice_loss(p, y).item() == pytest.approx(1 - 1e-4 / 2.0001)
    with pytest.raises(ValueError, match=r"\(1, 1, 2\) and \(1, 2\)"):
        soft_dice_loss(p, y[0])
    with pytest.raises(ValueError, match="reduction"):
        soft_dice_loss(p, y, reduction="sum")


def test_confident_bce_uses_only_confident_pixels():
    teacher = torch.tensor([[[0.95, 0.05, 0.5, 0.92]]])
    probs = torch.tensor([[[0.8, 0.3, 0.01, 0.6]]])
    logits = torch.logit(probs).requires_grad_()
    loss = confident_bce(logits, teacher, confidence=0.9)
    expected = -(math.log(0.8) + math.log(0.7) + math.log(0.6)) / 3
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    loss.backward()
    assert logits.grad[0, 0, 2] == 0  # the uncertain pixel gives no gradient


def test_confident_bce_without_confident_pixel_is_zero_with_graph():
    logits = torch.full((1, 1, 2, 2), -0.8, requires_grad=True)
    loss = confident_bce(logits, torch.full((1, 1, 2, 2), 0.5), confidence=0.9)
    assert loss.item() == 0.0
    loss.backward()
    assert torch.count_nonzero(logits.grad) == 0
    with pytest.raises(ValueError, match="confidence"):
        confident_bce(logits, logits, confidence=0.4)


def test_confident_bce_saturated_student_has_finite_gradient():
    # sigmoid(-200) underflows to 0 in float32: log(p) would be -inf and its gradient NaN
    logits = torch.tensor([[[-200.0, 200.0, 0.0]]], requires_grad=True)
    teacher = torch.tensor([[[0.99, 0.01, 0.5]]])  # labels 1, 0, ignored
    loss = confident_bce(logits, teacher, confidence=0.9)
    loss.backward()
    assert loss.item() == pytest.approx(200.0, rel=1e-4)  # mean of two losses of 200
    assert torch.isfinite(logits.grad).all()
    torch.testing.assert_close(logits.grad, torch.tensor([[[-0.5, 0.5, 0.0]]]))


def test_proximal_term_hand_computed_and_gradient():
    model = nn.Linear(2, 1)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, 2.0]]))
        model.bias.copy_(torch.tensor([3.0]))
    anchor = {"weight": torch.tensor([[0.0, 0.0]]), "bias": torch.tensor([1.0])}
    term = proximal_term(model, anchor, mu=0.1)
    # 0.1 / 2 * (1 + 4 + 4) = 0.45
    assert term.item() == pytest.approx(0.45)
    term.backward()
    torch.testing.assert_close(model.bias.grad, torch.tensor([0.2]))  # mu * (w - w_g)
    seq = proximal_term(model, [anchor["weight"], anchor["bias"]], mu=0.1)
    assert seq.item() == pytest.approx(0.45)
    assert proximal_term(model, model.state_dict(), mu=1.0).item() == 0.0


def test_proximal_term_errors():
    model = nn.Linear(2, 1)
    with pytest.raises(ValueError, match="bias"):
        proximal_term(model, {"weight": model.weight.detach()}, mu=0.1)
    with pytest.raises(ValueError, match="mu"):
        proximal_term(model, model.state_dict(), mu=-1.0)
    with pytest.raises(ValueError, match="1 tensors"):
        proximal_term(model, [model.weight], mu=0.1)
