"""The fast path (fedmix.train) and the plain path (fedmix.bench.naive) compute the same round,
for every built-in method: the plain path runs the methods' own hooks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from tinyfed import tiny_run

from fedmix import train
from fedmix.bench import naive
from fedmix.bench.compare import compare_paths
from fedmix.clients import views


def test_plain_views_equal_batched_views():
    gen_a, gen_b = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    images = torch.randint(0, 256, (5, 2, 9, 7), dtype=torch.uint8, generator=torch.Generator())
    masks = images[:, 0] > 128
    fast_img, (fast_mask,) = views(images, [masks], 6, True, gen_a)
    plain_img, (plain_mask,) = naive.plain_views(images.numpy(), [masks.numpy()], 6, True, gen_b)
    assert torch.equal(fast_img, torch.from_numpy(np.stack(plain_img)))
    assert torch.equal(fast_mask, torch.from_numpy(np.stack(plain_mask)))


@pytest.mark.precision
@pytest.mark.parametrize(
    ("setting", "overrides"),
    [
        ("I-B-L", {"tau": 0.0}),
        ("B-B-L", {"variant": "arxiv", "method": "fedmix-arxiv"}),
        ("L-L-L", {"algorithm": "local", "method": "local"}),
        ("L-L-L", {"algorithm": "fedprox", "method": "fedprox", "mu": 0.1}),
        ("U-U-L", {"algorithm": "fedst", "method": "fedst", "warmup_fraction": 0.0}),
    ],
)
def test_fast_and_plain_rounds_give_the_same_losses_and_weights(
    tmp_path, tiny_task, setting, overrides
):
    tr, val, _ = tiny_task(setting)
    run = tiny_run(setting=setting, rounds=2, batch_size=3, **overrides)
    torch.set_num_threads(1)
    fast = train.RoundLoop(run, tr, val, tmp_path / "fast", torch.device("cpu"))
    plain = naive.PlainLoop.alongside(fast)
    rows = compare_paths(fast, plain, rounds=2)
    assert [(r["round"], r["client"]) for r in rows] == [(k, c) for k in (1, 2) for c in "abc"]
    for row in rows:
        assert row["n_fast"] == row["n_plain"], row
        # fp32 (unit roundoff 2^-24 = 6e-8) on both paths; they differ only in summation order,
        # so 1e-5 (about 170 roundoffs) holds on any CPU while bf16 already differs by > 1e-4.
        assert row["max_rel_diff"] <= 1e-5, row
        assert math.isclose(row["val_dice_fast"], row["val_dice_plain"], abs_tol=1e-6), row
    if setting != "L-L-L":  # the weak clients trained too
        assert any(row["n_samples"] > 0 for row in fast.history if row["supervision"] != "L")
    assert fast.globals.keys() == plain.globals.keys()
    for group, streams in fast.globals.items():
        for g_fast, g_plain in zip(streams, plain.globals[group], strict=True):
            for (name, a), b in zip(
                g_fast.state_dict().items(), g_plain.state_dict().values(), strict=True
            ):
                torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6, msg=name)
