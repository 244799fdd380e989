"""``fedmix bench``: how fast the training path runs, and how close to the hardware's rate.

Measured in one process on a synthetic federation written to a temporary directory (random
images, I-B-L clients of the given sizes, tau = 0 so every weak sample is kept and every round
does the most work):

- one training step of the fast path (:meth:`fedmix.train.RoundLoop.local_train`: uint8 data
  on the device, batched views, autocast at ``precision``): seconds, images/s, FLOPs counted by
  ``torch.utils.flop_counter.FlopCounterMode`` (forward + backward), achieved TFLOP/s;
- reference rates at the same precision: a square GEMM and a 3x3 convolution (forward). On an
  H200 the GEMM is the ceiling; on a CPU a oneDNN convolution can beat MKL's GEMM, so the
  ceiling there is the larger of the two (docs/performance.md);
- the optimizer's step alone (:class:`fedmix.optim.FusedAdam`) and its share of a training step;
- pseudo labels: images/s through both global models, and the images per pass
  (:func:`fedmix.model.inference_batch`);
- validation: the global model's predictions on every client's validation images, as many per
  client as the default split gives a real run (:data:`fedmix.bench.federation.VAL_PER_TRAIN`),
  and the images per pass;
- one FedMix round (training of all clients, pseudo labels, aggregation, validation);
- the same phases on the plain path (:mod:`fedmix.bench.naive`: ``torch.optim.Adam``, inference
  image by image), and the ratios.

It uses only the public training API: :class:`fedmix.train.RoundLoop` and the strategies' hooks.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from fedmix.bench.federation import BenchSize, bench_run_config, write_federation
from fedmix.bench.naive import PlainLoop, plain_views, predict_one_by_one
from fedmix.clients import views
from fedmix.devices import autocast_dtype, deterministic_cpu, precision_name, resolve_device
from fedmix.methods import LocalJob
from fedmix.model import inference_batch, predict_binary
from fedmix.model_keys import GLOBAL
from fedmix.train import RoundLoop

__all__ = ["FIGURES", "PAPER_ROUNDS", "format_table", "host_syncs", "run_bench", "save_json"]

# Every figure the JSON holds (tests check them all).
FIGURES = (
    "flops_per_step",
    "step_s",
    "optimizer_step_s",
    "optimizer_share",
    "train_images_per_s",
    "achieved_tflops",
    "gemm_tflops",
    "conv_ref_tflops",
    "ceiling_tflops",
    "ratio_to_ceiling",
    "ratio_to_gemm",
    "pseudo_images_per_s",
    "pseudo_batch",
    "validate_s",
    "validation_batch",
    "round_s",
    "naive_step_s",
    "naive_train_images_per_s",
    "naive_pseudo_images_per_s",
    "naive_optimizer_step_s",
    "naive_optimizer_share",
    "naive_validate_s",
    "naive_round_s",
    "speedup_step",
    "speedup_optimizer",
    "speedup_pseudo",
    "speedup_validate",
    "speedup_round",
    "run_300_rounds_min",
)
PAPER_ROUNDS = 300  # the paper trains 300 rounds of one local epoch (docs/method.md)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _median_time(fn: Callable[[], object], device, repeats: int) -> float:
    fn()  # warm-up (allocations, kernel selection, compilation)
    times = []
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def optimizer_step_time(opt, params, device, repeats: int) -> float:
    """Median seconds of ``opt.step()`` alone, on fixed random gradients in the weights' layout
    (an Adam step's cost does not depend on the values)."""
    gen = torch.Generator().manual_seed(0)
    grads = [torch.empty_like(p).copy_(torch.randn(p.shape, generator=gen)) for p in params]

    def step():
        for p, g in zip(params, grads, strict=True):
            p.grad = g
        opt.step()

    return _median_time(step, device, repeats)


def host_syncs(fn: Callable[[], object], device) -> int | None:
    """How many synchronising CUDA calls ``fn`` makes (torch's sync debug mode warns on each:
    a ``.item()``, a device-to-host copy, a host-to-device copy from pageable memory, ...).
    None off CUDA, where there is nothing to wait for."""
    if device.type != "cuda":
        return None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            fn()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return sum("synchroniz" in str(w.message).lower() for w in caught)


def reference_rates(device, dtype, gemm_n: int, conv_channels: int, repeats: int):
    """TFLOP/s of an n x n GEMM and of a 3x3 conv (16, C, 32, 32) -> (16, C, 32, 32), forward."""
    a = torch.randn(gemm_n, gemm_n, device=device, dtype=dtype)
    b = torch.randn(gemm_n, gemm_n, device=device, dtype=dtype)
    gemm = 2 * gemm_n**3 / _median_time(lambda: a @ b, device, repeats) / 1e12
    x = torch.randn(16, conv_channels, 32, 32, device=device, dtype=dtype)
    w = torch.randn(conv_channels, conv_channels, 3, 3, device=device, dtype=dtype)
    fmt = torch.channels_last if device.type == "cuda" else torch.contiguous_format
    x, w = x.contiguous(memory_format=fmt), w.contiguous(memory_format=fmt)
    flops = 2 * 16 * 32 * 32 * conv_channels**2 * 9

    def conv():
        with torch.no_grad():
            return torch.nn.functional.conv2d(x, w, padding=1)

    return gemm, flops / _median_time(conv, device, repeats) / 1e12


def run_bench(size: BenchSize, device: str = "auto", precision: str = "auto",
              compile: bool = False) -> dict:  # fmt: skip
    """Measure every figure of :data:`FIGURES` (plus the settings used) and return them."""
    step = 2 ** (size.levels - 1)
    if size.size % step or size.image_size % step or size.size > size.image_size:
        raise ValueError(
            f"bench sizes: crop {size.size} and image {size.image_size} must be multiples of "
            f"{step} (levels {size.levels}; validation sees whole images) with crop <= image"
        )
    dev = resolve_device(device)
    if dev.type == "cpu":
        deterministic_cpu(compiled=compile)
    run = bench_run_config(size, precision, compile)
    with tempfile.TemporaryDirectory() as tmp:
        train_files, val_files = write_federation(Path(tmp), size)
        loop = RoundLoop(run, train_files, val_files, Path(tmp) / "out", dev)
        plain = PlainLoop.alongside(loop)
        out = _fast_figures(loop, size, dev)
        out |= _naive_figures(plain, size, dev)
        out |= _validation_figures(loop, plain, size, dev)
        out["round_s"] = _median_time(lambda: loop.round(1), dev, max(1, size.repeats - 1))
        out["host_syncs_per_round"] = host_syncs(lambda: loop.round(1), dev)
        out["naive_round_s"] = _median_time(lambda: plain.round(1), dev, 1)
    dtype = autocast_dtype(precision, dev) or torch.float32
    out["gemm_tflops"], out["conv_ref_tflops"] = reference_rates(
        dev, dtype, size.gemm_n, size.conv_channels, size.repeats
    )
    out["ceiling_tflops"] = (
        out["gemm_tflops"]
        if dev.type == "cuda"
        else max(out["gemm_tflops"], out["conv_ref_tflops"])
    )
    out["ratio_to_ceiling"] = out["achieved_tflops"] / out["ceiling_tflops"]
    out["ratio_to_gemm"] = out["achieved_tflops"] / out["gemm_tflops"]
    out["speedup_step"] = out["naive_step_s"] / out["step_s"]
    out["speedup_optimizer"] = out["naive_optimizer_step_s"] / out["optimizer_step_s"]
    out["speedup_pseudo"] = out["pseudo_images_per_s"] / out["naive_pseudo_images_per_s"]
    out["speedup_validate"] = out["naive_validate_s"] / out["validate_s"]
    out["speedup_round"] = out["naive_round_s"] / out["round_s"]
    # Upper bound for a whole run at these client sizes: tau = 0 keeps every weak sample.
    out["run_300_rounds_min"] = PAPER_ROUNDS * out["round_s"] / 60
    settings = dataclasses.asdict(size) | {
        "device": str(dev),
        "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
        "threads": torch.get_num_threads(),
        "precision": precision_name(precision, dev),
        "compile": compile,
        "torch": torch.__version__,
    }
    syncs = {k: out[k] for k in ("host_syncs_per_epoch", "host_syncs_per_round", "val_clients")}
    return settings | {k: out[k] for k in FIGURES} | syncs


def _fast_figures(loop: RoundLoop, size: BenchSize, dev) -> dict:
    client = loop.clients[-1]  # the L client
    n = size.batch * size.steps
    idx = torch.arange(n, device=dev) % client.n_train
    gen = torch.Generator().manual_seed(0)
    images, (masks, _) = views(client.images[idx], [client.masks[idx], None], size.size, True, gen)
    job = LocalJob(images, [masks.float()], n)
    model, opt = loop.local[client.name][0], loop.optims[client.name][0]
    global_model = loop.globals[GLOBAL][0]

    def epoch():
        return loop.local_train(model, opt, job, job.targets[0], global_model, gen)

    step_s = _median_time(epoch, dev, size.repeats) / size.steps
    opt_s = optimizer_step_time(opt, list(model.parameters()), dev, size.repeats)
    one = LocalJob(images[: size.batch], [masks[: size.batch].float()], size.batch)
    with FlopCounterMode(display=False) as counter:
        loop.local_train(model, opt, one, one.targets[0], global_model, gen)
    flops = counter.get_total_flops()
    weak = loop.clients[0]
    crops, _ = views(weak.images, [None], size.size, True, gen)

    def pseudo():
        with loop.autocast():
            return [predict_binary(g, crops) for g in loop.globals[GLOBAL]]

    pseudo_s = _median_time(pseudo, dev, size.repeats)
    return {
        "flops_per_step": flops,
        "step_s": step_s,
        "optimizer_step_s": opt_s,
        "optimizer_share": opt_s / step_s,
        "pseudo_batch": inference_batch(crops, size.width),
        "train_images_per_s": size.batch / step_s,
        "achieved_tflops": flops / step_s / 1e12,
        "pseudo_images_per_s": weak.n_train / pseudo_s,
        "host_syncs_per_epoch": host_syncs(epoch, dev),
    }


def _naive_figures(plain: PlainLoop, size: BenchSize, dev) -> dict:
    c = plain.clients[-1]
    n = size.batch * size.steps
    pick = np.arange(n) % c.n_train
    images_np, masks_np = c.images.numpy()[pick], c.masks.numpy()[pick]
    gen = torch.Generator().manual_seed(0)
    model, opt = plain.local[c.name][0], plain.optims[c.name][0]
    global_model = plain.globals[GLOBAL][0]

    def epoch():  # views are part of the plain step: the original augments every epoch
        images, (masks, _) = plain_views(images_np, [masks_np, None], size.size, True, gen)
        target = torch.from_numpy(np.stack(masks)).float().to(dev)
        plain.local_train(model, opt, images, target, gen, global_model)

    step_s = _median_time(epoch, dev, max(1, size.repeats - 1)) / size.steps
    opt_s = optimizer_step_time(opt, list(model.parameters()), dev, size.repeats)
    weak = plain.clients[0]
    crops, _ = plain_views(weak.images.numpy(), [None], size.size, True, gen)
    pseudo_s = _median_time(
        lambda: [predict_one_by_one(g, crops) for g in plain.globals[GLOBAL]], dev, 1
    )  # fmt: skip
    return {
        "naive_step_s": step_s,
        "naive_train_images_per_s": size.batch / step_s,
        "naive_pseudo_images_per_s": weak.n_train / pseudo_s,
        "naive_optimizer_step_s": opt_s,
        "naive_optimizer_share": opt_s / step_s,
    }


def _validation_figures(loop: RoundLoop, plain: PlainLoop, size: BenchSize, dev) -> dict:
    """Both paths' global model predicting every client's validation images (what a round's
    validation costs, less the Dice arithmetic)."""
    images = [e.images for e in loop.selection]
    host = [[img for img in x.cpu().numpy()] for x in images]

    def fast():
        with loop.autocast():
            return [predict_binary(loop.globals[GLOBAL][0], x) for x in images]

    return {
        "validate_s": _median_time(fast, dev, size.repeats),
        "naive_validate_s": _median_time(
            lambda: [predict_one_by_one(plain.globals[GLOBAL][0], x) for x in host],
            dev,
            max(1, size.repeats - 1),
        ),  # fmt: skip
        "validation_batch": inference_batch(images[0], size.width),
        "val_clients": [int(x.shape[0]) for x in images],
    }


def format_table(result: dict) -> str:
    """Human-readable table of a :func:`run_bench` result."""
    r = result
    rows = [
        ("training step (s)", r["step_s"], r["naive_step_s"], r["speedup_step"]),
        ("training images/s", r["train_images_per_s"], r["naive_train_images_per_s"],
         r["speedup_step"]),
        ("optimizer step (s)", r["optimizer_step_s"], r["naive_optimizer_step_s"],
         r["speedup_optimizer"]),
        ("pseudo-label images/s (2 models)", r["pseudo_images_per_s"],
         r["naive_pseudo_images_per_s"], r["speedup_pseudo"]),
        ("validation of all clients (s)", r["validate_s"], r["naive_validate_s"],
         r["speedup_validate"]),
        ("FedMix round (s)", r["round_s"], r["naive_round_s"], r["speedup_round"]),
    ]  # fmt: skip
    head = (
        f"fedmix bench on {r['device_name']} ({r['device']}, {r['threads']} thread(s), "
        f"{r['precision']}, torch {r['torch']}): crop {r['size']} of {r['image_size']}, "
        f"width {r['width']}, levels {r['levels']}, batch {r['batch']}, clients {r['clients']}"
    )
    lines = [head, "", f"{'figure':34s} {'fast':>12s} {'naive':>12s} {'fast/naive':>11s}"]
    lines += [f"{a:34s} {b:12.4g} {c:12.4g} {d:10.2f}x" for a, b, c, d in rows]
    lines += [
        "",
        f"FLOPs per training step (fwd+bwd)  {r['flops_per_step'] / 1e9:12.3f} GFLOP",
        f"achieved                           {r['achieved_tflops']:12.4f} TFLOP/s",
        f"GEMM ({r['gemm_n']}^2, same precision)   {r['gemm_tflops']:12.4f} TFLOP/s",
        f"3x3 conv reference ({r['conv_channels']} ch)      {r['conv_ref_tflops']:12.4f} TFLOP/s",
        f"achieved / ceiling                 {r['ratio_to_ceiling']:12.3f}"
        f"   (ceiling {r['ceiling_tflops']:.4f} TFLOP/s; vs GEMM {r['ratio_to_gemm']:.3f})",
        f"300 FedMix rounds at these sizes   {r['run_300_rounds_min']:12.2f} min"
        "   (upper bound: every weak sample kept)",
        f"optimizer share of a training step {100 * r['optimizer_share']:11.2f} %"
        f"   (plain path: {100 * r['naive_optimizer_share']:.2f} %)",
        f"images per inference pass          {r['pseudo_batch']} (pseudo labels), "
        f"{r['validation_batch']} (validation; the plain path: 1)",
        f"validation images per client       {r['val_clients']}",
    ]
    if r.get("host_syncs_per_epoch") is None:
        lines.append("host synchronisations              n/a (CPU)")
    else:
        lines.append(
            f"host synchronisations              {r['host_syncs_per_epoch']} per epoch of "
            f"{r['steps']} steps, {r['host_syncs_per_round']} per FedMix round"
        )
    return "\n".join(lines)


def save_json(result: dict, path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
