"""``fedmix bench`` at a tiny size: every figure present, positive and consistent (no timings)."""

from __future__ import annotations

import json
import math

import pytest

from fedmix import cli
from fedmix.bench import FIGURES
from fedmix.bench.federation import VAL_PER_TRAIN

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
    assert math.isclose(r["run_300_rounds_min"], 300 * r["round_s"] / 60)
    # FLOPs of one step: forward + backward ~ 3x forward of the U-Net at 16 x 16, batch 4
    assert 1e5 < r["flops_per_step"] < 1e9
    assert r["host_syncs_per_epoch"] is None and r["host_syncs_per_round"] is None  # CPU
    # validation on as many images per client as the default split gives a real run
    assert r["val_clients"] == [round(n * VAL_PER_TRAIN) for n in (6, 5, 4)]
    assert math.isclose(r["optimizer_share"], r["optimizer_step_s"] / r["step_s"])
    assert math.isclose(r["speedup_validate"], r["naive_validate_s"] / r["validate_s"])
    # inference_batch's rule at width 4: 16 x 16 crops and 20 x 20 images fill 1 MiB
    assert r["pseudo_batch"] == 2**18 // (4 * 16 * 16) and r["validation_batch"] == 163
    table = capsys.readouterr().out
    assert "FedMix round (s)" in table and "achieved / ceiling" in table
    assert "host synchronisations              n/a (CPU)" in table
    assert "optimizer share of a training step" in table and "images per inference pass" in table


@pytest.mark.parametrize("bad", ["48,40", "a,b,c", "48,0,16"])
def test_bad_client_sizes_are_refused_naming_the_value(bad, capsys):
    with pytest.raises(SystemExit):
        cli.main(["bench", "--clients", bad])
    assert bad in capsys.readouterr().err


def test_sizes_the_unet_cannot_take_are_refused_before_any_work():
    from fedmix.bench import BenchSize, run_bench

    with pytest.raises(ValueError, match="multiples of 16"):
        run_bench(BenchSize(size=64, image_size=72, width=4), device="cpu")


COMPARE = (
    "compare-paths --size 16 --image-size 32 --width 4 --levels 2 --batch 3 --clients 6,5,4 "
    "--device cpu"
).split()


def test_compare_paths_passes_in_fp32_and_reports_every_client_round(tmp_path, capsys):
    out = tmp_path / "cmp.json"
    assert cli.main([*COMPARE, "--precision", "fp32", "--json", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["precision"] == "fp32" and record["rtol"] == 1e-4
    rows = record["rows"]
    assert [(r["round"], r["client"]) for r in rows] == [(k, c) for k in (1, 2) for c in "ibl"]
    assert all(r["n_fast"] == r["n_plain"] > 0 and r["max_rel_diff"] <= 1e-4 for r in rows)
    assert "OK: all 6 client rounds agree" in capsys.readouterr().out


def test_compare_paths_fails_loudly_beyond_its_tolerance(capsys):
    # bf16 differs from the plain fp32 path by rounding, so a zero tolerance must fail.
    assert cli.main([*COMPARE, "--precision", "bf16", "--rtol", "0", "--rounds", "1"]) == 1
    err = capsys.readouterr().err
    assert "FAILED: " in err and "beyond rtol 0.0" in err


def test_host_syncs_counts_torch_sync_warnings_only(monkeypatch):
    """The counting glue of the CUDA-only figure, with torch's sync debug mode stubbed out."""
    import warnings

    import torch

    from fedmix.bench import host_syncs

    modes = []
    monkeypatch.setattr(torch.cuda, "set_sync_debug_mode", modes.append)

    def work():
        warnings.warn("called a synchronizing CUDA operation", UserWarning, stacklevel=1)
        warnings.warn("something else", UserWarning, stacklevel=1)
        warnings.warn("called a synchronizing CUDA operation", UserWarning, stacklevel=1)

    assert host_syncs(work, torch.device("cuda")) == 2
    assert modes == ["warn", "default"]  # switched back off afterwards
    assert host_syncs(work, torch.device("cpu")) is None
