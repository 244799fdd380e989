"""The fast path's GPU defaults, bf16 autocast and torch.compile, checked on the CPU.

CUDA itself cannot run here; what can is checked: which precision and layout a CUDA device
gets by default (pure decisions), that bf16 autocast stays within bf16 tolerance of the plain
fp32 path, that a compiled U-Net computes the losses of the eager one, and that config.json
says how a run was computed.
"""

from __future__ import annotations

import json
import math

import pytest
import torch
from tinyfed import tiny_run

from fedmix import devices, train
from fedmix.bench.compare import compare_paths
from fedmix.bench.naive import PlainLoop
from fedmix.devices import configure_cuda
from fedmix.losses import soft_dice_loss
from fedmix.model import UNet

CUDA, CPU = torch.device("cuda"), torch.device("cpu")


def test_gpu_default_is_bf16_channels_last_and_cpu_default_is_fp32():
    assert devices.autocast_dtype("auto", CUDA) is torch.bfloat16
    assert devices.autocast_dtype("auto", torch.device("cuda:1")) is torch.bfloat16
    assert devices.autocast_dtype("auto", CPU) is None
    assert devices.autocast_dtype("fp32", CUDA) is None  # the documented fallback
    assert devices.autocast_dtype("bf16", CPU) is torch.bfloat16
    assert devices.uses_channels_last(CUDA) and not devices.uses_channels_last(CPU)
    with pytest.raises(ValueError, match="'fp16'.*auto, fp32, bf16"):
        devices.autocast_dtype("fp16", CUDA)


def _round_losses(loop, rounds):
    for rnd in range(rounds):
        loop.round(rnd)
    return [(r["n_samples"], r["train_loss"], r["train_loss_stream2"]) for r in loop.history]


def _close(a, b, rel):
    return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=rel)


# bf16 keeps 8 significand bits: one rounding changes a value by at most U_BF16 relative.
U_BF16 = 2.0**-8


def bf16_allowance(model: torch.nn.Module, steps: int) -> float:
    """Relative loss difference that bf16 autocast explains after ``steps`` optimiser steps.

    Derived, not measured (a bound read off one CPU failed on another, whose native bf16
    kernels round and accumulate differently). To first order each convolution on the forward
    path adds at most U_BF16 to the relative error (its inputs and output are rounded to bf16;
    products accumulate in fp32), so one forward pass through R convolutions in series is within
    R * U_BF16 of fp32. Every optimiser step starts from weights that carry the earlier steps'
    error, so the loss of step k is within k * R * U_BF16, and a mean over steps within the
    bound of its last step.
    """
    convs = sum(isinstance(m, torch.nn.Conv2d) for m in model.modules())
    return convs * U_BF16 * max(steps, 1)


def _dice_loss(model, x, y):
    return soft_dice_loss(torch.sigmoid(model(x).float()), y)


@pytest.mark.precision
def test_one_bf16_forward_pass_stays_within_the_rounding_bound_of_fp32():
    torch.manual_seed(0)
    model = UNet(1, 4, 2)
    x = torch.rand(6, 1, 16, 16)
    y = (torch.rand(6, 1, 16, 16) > 0.7).float()
    fp32 = _dice_loss(model, x, y).item()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        bf16 = _dice_loss(model, x, y).item()
    diff = abs(bf16 - fp32) / fp32
    assert 0 < diff <= bf16_allowance(model, steps=1), (bf16, fp32)


@pytest.mark.precision
@pytest.mark.parametrize(
    ("setting", "overrides"),
    [("I-B-L", {"tau": 0.0}), ("L-L-L", {"algorithm": "fedavg", "method": "fedavg"})],
)
def test_bf16_fast_path_stays_within_bf16_tolerance_of_plain_fp32(
    tmp_path, tiny_task, setting, overrides
):
    tr, val, _ = tiny_task(setting)
    run = tiny_run(setting=setting, rounds=2, batch_size=3, precision="bf16", **overrides)
    torch.set_num_threads(1)
    fast = train.RoundLoop(run, tr, val, tmp_path / "fast", CPU)
    rows = compare_paths(fast, PlainLoop.alongside(fast), rounds=2)  # plain: fp32
    steps: dict[str, int] = {}
    for row in rows:
        assert row["n_fast"] == row["n_plain"]  # tau = 0 / fully labelled: no threshold to flip
        steps[row["client"]] = steps.get(row["client"], 0) + run.local_epochs * math.ceil(
            row["n_fast"] / run.batch_size
        )
        bound = bf16_allowance(fast.globals["global"][0], steps[row["client"]])
        assert row["max_rel_diff"] <= bound, (row, bound)
    assert max(r["max_rel_diff"] for r in rows) > 1e-6, "bf16 gave fp32's losses: no autocast"


def test_compiled_unet_computes_the_eager_losses(tmp_path, tiny_task):
    """``training.compile: true`` (TorchInductor, C++ on the CPU; about a minute here)."""
    from torch._dynamo.utils import counters

    tr, val, _ = tiny_task("I-B-L")
    torch.set_num_threads(1)
    losses = {}
    for compiled in (False, True):
        run = tiny_run(setting="I-B-L", rounds=2, batch_size=5, tau=0.0, compile=compiled)
        devices.deterministic_cpu(compiled)
        counters.clear()
        loop = train.RoundLoop(run, tr, val, tmp_path / f"c{compiled}", CPU)
        losses[compiled] = _round_losses(loop, 2)
        graphs = counters["stats"]["unique_graphs"]
        assert (graphs > 0) == compiled, f"compile={compiled} but {graphs} graphs were compiled"
    for eager, comp in zip(losses[False], losses[True], strict=True):
        assert eager[0] == comp[0]
        for a, b in zip(eager[1:], comp[1:], strict=True):
            # fp32 both ways: Inductor fuses and reorders sums (roundoff 2^-24 = 6e-8 each), the
            # same oneDNN convolutions run in both, so 1e-5 holds whatever the CPU's ISA.
            assert _close(a, b, 1e-5), (eager, comp)


def test_config_json_says_how_the_run_was_computed(tmp_path, tiny_task):
    tr, val, _ = tiny_task("L-L-L")
    run = tiny_run(method="fedavg", algorithm="fedavg", setting="L-L-L", rounds=1)
    train.train_run(run, tr, val, tmp_path / "run", device="cpu", threads=1)
    runtime = json.loads((tmp_path / "run" / "config.json").read_text())["runtime"]
    assert runtime["device"] == "cpu" and runtime["precision"] == "fp32"
    assert runtime["compiled"] is False and runtime["threads"] == 1
    assert runtime["torch"] == torch.__version__


def test_cuda_settings_ieee_fp32_and_cudnn_benchmark_and_none_on_cpu():
    conv, matmul, cudnn = (
        torch.backends.cudnn.conv,
        torch.backends.cuda.matmul,
        torch.backends.cudnn,
    )
    saved = conv.fp32_precision, matmul.fp32_precision, cudnn.benchmark
    try:
        conv.fp32_precision, cudnn.benchmark = "tf32", False  # torch 2.13's defaults
        configure_cuda(CPU)
        assert (conv.fp32_precision, cudnn.benchmark) == ("tf32", False)  # untouched off CUDA
        configure_cuda(CUDA)
        assert (conv.fp32_precision, matmul.fp32_precision) == ("ieee", "ieee")
        assert cudnn.benchmark
    finally:
        conv.fp32_precision, matmul.fp32_precision, cudnn.benchmark = saved
