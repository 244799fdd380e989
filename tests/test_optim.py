"""FusedAdam must repeat torch.optim.Adam(fused=True) bit for bit, save and restore its state."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from fedmix.model import UNet
from fedmix.optim import FusedAdam

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
def test_fused_adam_equals_torch_adam_exactly(weight_decay):
    kw = dict(lr=1e-2, betas=(0.8, 0.95), eps=1e-6, weight_decay=weight_decay)
    ref, _ = _train(lambda p: torch.optim.Adam(p, fused=True, **kw))
    ours, _ = _train(lambda p: FusedAdam(p, **kw))
    loop, _ = _train(lambda p: torch.optim.Adam(p, foreach=False, **kw))
    for (name, a), b, c in zip(ref.named_parameters(), ours.parameters(), loop.parameters(),
                               strict=True):  # fmt: skip
        assert torch.equal(a, b), name
        # the for-loop implementation differs only by rounding
        torch.testing.assert_close(b, c, rtol=1e-5, atol=1e-6)


def test_state_dict_round_trip_continues_identically():
    a, opt_a = _train(lambda p: FusedAdam(p, lr=1e-2), steps=2)
    state = {k: v for k, v in opt_a.state_dict().items()}
    b = UNet(1, 4, 2)
    b.load_state_dict(a.state_dict())
    opt_b = FusedAdam(b.parameters(), lr=1e-2)
    opt_b.load_state_dict(state)
    assert opt_b.steps == 2
    x = torch.rand(2, 1, 8, 8)
    for model, opt in ((a, opt_a), (b, opt_b)):
        opt.zero_grad()
        model(x).mean().backward()
        opt.step()
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)


def test_state_moves_between_memory_layouts_unchanged():
    """A GPU run keeps channels-last weights; its saved moments must resume anywhere."""
    a, opt_a = _train(lambda p: FusedAdam(p, lr=1e-2), steps=2)
    b = UNet(1, 4, 2)
    b.load_state_dict(a.state_dict())
    b = b.to(memory_format=torch.channels_last)
    opt_b = FusedAdam(b.parameters(), lr=1e-2)
    opt_b.load_state_dict(opt_a.state_dict())
    conv_b = next(p for p in b.parameters() if p.ndim == 4 and p.shape[1] > 1)
    assert conv_b.is_contiguous(memory_format=torch.channels_last)
    assert not conv_b.is_contiguous()  # the layouts really differ
    for key in ("exp_avg", "exp_avg_sq"):
        assert torch.equal(opt_b.state_dict()[key], opt_a.state_dict()[key])
    gen = torch.Generator().manual_seed(3)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        pa.grad = torch.randn(pa.shape, generator=gen)
        layout = torch.channels_last if pb.ndim == 4 else torch.contiguous_format
        pb.grad = pa.grad.clone(memory_format=layout)
    opt_a.step()
    opt_b.step()
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)


def test_state_of_another_model_and_bad_settings_are_refused():
    _, opt = _train(lambda p: FusedAdam(p), steps=1)
    other = FusedAdam(UNet(1, 8, 2).parameters())
    with pytest.raises(ValueError, match="another model"):
        other.load_state_dict(opt.state_dict())
    with pytest.raises(ValueError, match="weight_decay"):
        FusedAdam(UNet(1, 4, 2).parameters(), weight_decay=-1.0)


def test_step_without_gradients_changes_nothing_and_a_partial_set_is_refused():
    model = UNet(1, 4, 2)
    before = [p.detach().clone() for p in model.parameters()]
    opt = FusedAdam(model.parameters())
    opt.step()
    assert opt.steps == 0
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    next(model.parameters()).grad = torch.ones_like(before[0])
    with pytest.raises(ValueError, match="all or none"):
        opt.step()


def test_building_and_stepping_does_not_import_torch_dynamo():
    """The reason this class exists: torch.optim imports torch._dynamo (seconds per process)."""
    code = (
        "import sys, torch\n"
        "from fedmix.optim import FusedAdam\n"
        "p = torch.nn.Parameter(torch.zeros(3)); opt = FusedAdam([p])\n"
        "p.grad = torch.ones(3); opt.step(); assert p[0] < 0\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
