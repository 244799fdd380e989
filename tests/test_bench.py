"""``fedmix bench`` at a tiny size: every figure present, positive and consistent (no timings)."""

from __future__ import annotations

import json
import math

import pytest

from fedmix import cli
from fedmix.bench import FIGURES

TINY = (
    "bench --small --size 16 --image-size 20 --width 4 --levels 2 --batch 4 --steps 1 "
    "--repeats 1 --clients 6,5,4 --gemm-n 64 --conv-channels 8 --device cpu"
).split()


def test_bench_writes_every_figure_with_consistent_ratios(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert cli.main([*TINY, "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    for key in FIGURES:
        assert isinstance(r[key], (int, float)) and math.isfinite(r[key]) and r[key] > 0, key
    assert r["size"] == 16 and r["width"] == 4 and r["clients"] == [6, 5, 4]
    assert r["precision"] == "fp32" and r["device"] == "cpu"
    assert math.isclose(r["achieved_tflops"], r["flops_per_step"] / r["step_s"] / 1e12)
    assert math.isclose(r["train_images_per_s"], 4 / r["step_s"])
    assert math.isclose(r["ceiling_tflops"], max(r["gemm_tflops"], r["conv_ref_tflops"]))
    assert math.isclose(r["ratio_to_ceiling"], r["achieved_tflops"] / r["ceiling_tflops"])
    assert math.isclose(r["speedup_round"], r["naive_round_s"] / r["round_s"])
    # FLOPs of one step: forward + backward ~ 3x forward of the U-Net at 16 x 16, batch 4
    assert 1e5 < r["flops_per_step"] < 1e9
    table = capsys.readouterr().out
    assert "FedMix round (s)" in table and "achieved / ceiling" in table


@pytest.mark.parametrize("bad", ["48,40", "a,b,c", "48,0,16"])
def test_bad_client_sizes_are_refused_naming_the_value(bad, capsys):
    with pytest.raises(SystemExit):
        cli.main(["bench", "--clients", bad])
    assert bad in capsys.readouterr().err


def test_sizes_the_unet_cannot_take_are_refused_before_any_work():
    from fedmix.bench import BenchSize, run_bench

    with pytest.raises(ValueError, match="multiples of 16"):
        run_bench(BenchSize(size=64, image_size=72, width=4), device="cpu")
