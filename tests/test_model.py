import pytest
import torch
from torch import nn

from fedmix.model import UNet, count_parameters

torch.set_num_threads(1)


def test_parameter_count_matches_paper_network():
    # FedMix U-Net: about 17.3 M parameters (exactly 17,266,241 by hand count).
    n = count_parameters(UNet(in_channels=1, width=64, levels=5))
    assert n == 17_266_241
    assert abs(n - 17.3e6) / 17.3e6 < 0.01


def test_encoder_widths_are_capped_at_eight_times_width():
    model = UNet(width=64, levels=5)
    outs = [block[3].out_channels for block in model.encoder]
    assert outs == [64, 128, 256, 512, 512]
    dec = [
        (block[0].in_channels, block[0].out_channels, block[3].out_channels)
        for block in model.decoder
    ]
    assert dec == [(1024, 512, 256), (512, 256, 128), (256, 128, 64), (128, 64, 64)]


@pytest.mark.parametrize(("levels", "shape"), [(3, (2, 1, 8, 12)), (4, (1, 1, 16, 24))])
def test_output_shape_is_one_logit_channel(levels, shape):
    model = UNet(width=4, levels=levels)
    assert model(torch.rand(shape)).shape == (shape[0], 1, *shape[2:])


def test_channels_last_gives_same_output():
    model = UNet(width=4, levels=3).eval()
    x = torch.rand(2, 1, 8, 8)
    ref = model(x)
    cl = model.to(memory_format=torch.channels_last)
    out = cl(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


def test_input_size_not_divisible_raises_naming_shape():
    with pytest.raises(ValueError, match=r"\(1, 1, 10, 8\)"):
        UNet(width=4, levels=3)(torch.rand(1, 1, 10, 8))


def test_xavier_init_zero_bias_and_groupnorm_halves():
    torch.manual_seed(0)
    model = UNet(width=8, levels=3)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    for conv in convs:
        assert torch.count_nonzero(conv.bias) == 0
        fan_in = conv.in_channels * conv.kernel_size[0] * conv.kernel_size[1]
        fan_out = conv.out_channels * conv.kernel_size[0] * conv.kernel_size[1]
        bound = (6.0 / (fan_in + fan_out)) ** 0.5
        assert conv.weight.abs().max() <= bound
        # uniform on [-bound, bound]: the largest weight of a big layer lies near the bound
        if conv.weight.numel() > 500:
            assert conv.weight.abs().max() > 0.9 * bound
    norms = [m for m in model.modules() if isinstance(m, nn.GroupNorm)]
    assert len(norms) == 2 * (3 + 2)
    for gn in norms:
        assert gn.num_groups == gn.num_channels // 2


@pytest.mark.parametrize("kwargs", [{"width": 3}, {"levels": 1}, {"in_channels": 0}])
def test_bad_construction_raises(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        UNet(**kwargs)
