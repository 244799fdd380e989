"""FlatAdam must repeat torch.optim.Adam bit for bit, save and restore its state."""

from __future__ import annotations

import pytest
import torch

from fedmix.model import UNet
from fedmix.optim import FlatAdam

torch.set_num_threads(1)


def _train(make_opt, steps=4, model_seed=0):
    torch.manual_seed(model_seed)
    model = UNet(1, 4, 2)
    opt = make_opt(model.parameters())
    gen = torch.Generator().manual_seed(1)
    for _ in range(steps):
        x = torch.rand(3, 1, 8, 8, generator=gen)
        loss = model(x).square().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model, opt


@pytest.mark.parametrize("weight_decay", [0.0, 1e-2])
def test_flat_adam_equals_torch_adam_exactly(weight_decay):
    kw = dict(lr=1e-2, betas=(0.8, 0.95), eps=1e-6, weight_decay=weight_decay)
    ref, _ = _train(lambda p: torch.optim.Adam(p, foreach=False, **kw))
    ours, _ = _train(lambda p: FlatAdam(p, **kw))
    for (name, a), b in zip(ref.named_parameters(), ours.parameters(), strict=True):
        assert torch.equal(a, b), name


def test_state_dict_round_trip_continues_identically():
    a, opt_a = _train(lambda p: FlatAdam(p, lr=1e-2), steps=2)
    state = {k: v for k, v in opt_a.state_dict().items()}
    b = UNet(1, 4, 2)
    b.load_state_dict(a.state_dict())
    opt_b = FlatAdam(b.parameters(), lr=1e-2)
    opt_b.load_state_dict(state)
    assert opt_b.steps == 2
    x = torch.rand(2, 1, 8, 8)
    for model, opt in ((a, opt_a), (b, opt_b)):
        opt.zero_grad()
        model(x).mean().backward()
        opt.step()
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)


def test_state_of_another_model_and_bad_settings_are_refused():
    _, opt = _train(lambda p: FlatAdam(p), steps=1)
    other = FlatAdam(UNet(1, 8, 2).parameters())
    with pytest.raises(ValueError, match="another model"):
        other.load_state_dict(opt.state_dict())
    with pytest.raises(ValueError, match="weight_decay"):
        FlatAdam(UNet(1, 4, 2).parameters(), weight_decay=-1.0)


def test_step_without_gradients_changes_nothing():
    model = UNet(1, 4, 2)
    before = [p.detach().clone() for p in model.parameters()]
    opt = FlatAdam(model.parameters())
    opt.step()
    assert opt.steps == 0
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
