import pytest
import torch
import torch.nn.functional as F
from torch import nn

from fedmix.model import (
    UNet,
    bilinear_matrix,
    bilinear_upsample,
    count_parameters,
    inference_batch,
)

torch.set_num_threads(1)


def test_parameter_count_matches_paper_network():
    # FedMix U-Net: about 17.3 M parameters (exactly 17,266,241 by hand count).
    n = count_parameters(UNet(in_channels=1, width=64, levels=5))
    assert n == 17_266_241
    assert abs(n - 17.3e6) / 17.3e6 < 0.01


def test_encoder_widths_are_capped_at_eight_times_width():
    model = UNet(1, width=64, levels=5)
    outs = [block[3].out_channels for block in model.encoder]
    assert outs == [64, 128, 256, 512, 512]
    dec = [
        (block[0].in_channels, block[0].out_channels, block[3].out_channels)
        for block in model.decoder
    ]
    assert dec == [(1024, 512, 256), (512, 256, 128), (256, 128, 64), (128, 64, 64)]


@pytest.mark.parametrize(("levels", "shape"), [(3, (2, 1, 8, 12)), (4, (1, 1, 16, 24))])
def test_output_shape_is_one_logit_channel(levels, shape):
    model = UNet(1, width=4, levels=levels)
    assert model(torch.rand(shape)).shape == (shape[0], 1, *shape[2:])


def test_channels_last_gives_same_output():
    model = UNet(1, width=4, levels=3).eval()
    x = torch.rand(2, 1, 8, 8)
    ref = model(x)
    cl = model.to(memory_format=torch.channels_last)
    out = cl(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


def test_input_size_not_divisible_raises_naming_shape():
    with pytest.raises(ValueError, match=r"\(1, 1, 10, 8\)"):
        UNet(1, width=4, levels=3)(torch.rand(1, 1, 10, 8))


def test_xavier_init_zero_bias_and_groupnorm_halves():
    torch.manual_seed(0)
    model = UNet(1, width=8, levels=3)
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
        UNet(**({"in_channels": 1, "width": 4, "levels": 2} | kwargs))


@pytest.mark.parametrize(("n_in", "n_out"), [(4, 8), (5, 10), (3, 7), (1, 4), (6, 6)])
def test_bilinear_matrix_rows_by_hand_and_sum_to_one(n_in, n_out):
    a = bilinear_matrix(n_in, n_out)
    assert a.shape == (n_out, n_in)
    torch.testing.assert_close(a.sum(1), torch.ones(n_out, dtype=torch.float64))
    # first and last outputs copy the first and last inputs (align_corners=True)
    assert a[0, 0] == 1 and a[-1, -1] == 1


def test_bilinear_matrix_two_to_four_by_hand():
    # outputs at source coordinates 0, 1/3, 2/3, 1
    expected = torch.tensor([[1, 0], [2 / 3, 1 / 3], [1 / 3, 2 / 3], [0, 1]], dtype=torch.float64)
    torch.testing.assert_close(bilinear_matrix(2, 4), expected)


@pytest.mark.parametrize("shape", [(2, 3, 4, 4), (1, 2, 5, 3)])
def test_bilinear_upsample_equals_interpolate_values_and_gradients(shape):
    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    size = (2 * shape[2], 2 * shape[3])
    ours = bilinear_upsample(x, size)
    ref = F.interpolate(x, size=size, mode="bilinear", align_corners=True)
    torch.testing.assert_close(ours, ref)
    g = torch.randn_like(ref)
    (gx,) = torch.autograd.grad(ours, x, g)
    (rx,) = torch.autograd.grad(ref, x, g)
    torch.testing.assert_close(gx, rx)


def test_upsample_first_used_in_inference_mode_still_trains():
    x = torch.randn(1, 1, 3, 5)  # a size no other test uses, so the cache starts empty
    with torch.inference_mode():
        bilinear_upsample(x, (6, 10))
    y = x.clone().requires_grad_()
    bilinear_upsample(y, (6, 10)).sum().backward()
    assert y.grad is not None and y.grad.shape == y.shape


def test_inference_batch_fills_the_cache_but_stays_a_training_batch_within_memory():
    assert inference_batch(torch.zeros(54, 1, 32, 32, dtype=torch.uint8), 8) == 32  # 1 MiB
    assert inference_batch(torch.zeros(1, 1, 24, 24), 8) == 56
    assert inference_batch(torch.zeros(1, 1, 64, 64), 64) == 16  # paper width: not 1
    assert inference_batch(torch.zeros(1, 1, 256, 256), 64) == 16
    # the memory bound: 9 x 64 fp32 channels of 1024 x 1024 are 2.4 GB per image, 8 GiB in all
    assert inference_batch(torch.zeros(1, 1, 1024, 1024), 64) == 3
    assert inference_batch(torch.zeros(1, 1, 8192, 8192), 64) == 1  # never 0


def test_inference_batch_on_a_gpu_is_256_within_the_memory_bound():
    meta = torch.device("meta")  # any device but the CPU; no GPU needed
    assert inference_batch(torch.zeros(1, 1, 64, 64, device=meta), 64) == 256
    assert inference_batch(torch.zeros(1, 1, 256, 256, device=meta), 64) == 56
