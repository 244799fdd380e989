"""The benchmarks' synthetic federation: sizes, random I-B-L clients, and the run config.

Random images (tau = 0 keeps every weak sample, so every round does the most work) written in
the pipeline's HDF5 layout to a temporary directory; FedMix tmi at the given U-Net size.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from fedmix.config import RunConfig
from fedmix.io import write_h5
from fedmix.methods import FedMixParams
from fedmix.model import UNetParams
from fedmix.networks import ModelSpec

__all__ = ["SMALL", "VAL_PER_TRAIN", "BenchSize", "bench_run_config", "write_federation"]

# Validation images per training image in a real run: the default split (config/config.yaml)
# sets val_fraction 0.15 and test_fraction 0.35 of each client's images aside, 0.5 trains.
VAL_PER_TRAIN = 0.15 / 0.5


@dataclasses.dataclass(frozen=True)
class BenchSize:
    """What to measure: crop ``size`` (from images of ``image_size``), U-Net, batch, clients."""

    size: int = 224
    image_size: int = 256
    width: int = 64
    levels: int = 5
    batch: int = 16
    clients: tuple[int, ...] = (48, 40, 16)
    steps: int = 4  # training steps per timed epoch
    repeats: int = 3  # timed repetitions; medians are reported
    gemm_n: int = 8192
    conv_channels: int = 256


SMALL = dict(size=64, image_size=80, width=16, gemm_n=1024, conv_channels=128)


def write_federation(root: Path, size: BenchSize, seed: int = 0) -> tuple[list, list]:
    """Random I-B-L clients (train) and validation files of :data:`VAL_PER_TRAIN` x their size;
    returns their paths."""
    rng = np.random.default_rng(seed)
    s = size.image_size
    train, val = [], []
    for name, sup, n in zip(("i", "b", "l"), "IBL", size.clients, strict=True):
        images = rng.integers(0, 256, (n, 1, s, s), dtype=np.uint8)
        arrays = {"images": images, "sample_ids": np.array([f"{name}{k}" for k in range(n)])}
        if sup == "L":
            arrays["masks"] = (rng.random((n, s, s)) < 0.3).astype(np.uint8)
        elif sup == "B":
            arrays["boxes"] = np.tile(np.array([[s // 4, s // 4, 3 * s // 4, 3 * s // 4]]), (n, 1))
            arrays["box_valid"] = np.ones(n, np.uint8)
        else:
            arrays["lesion"] = np.ones(n, np.uint8)
            arrays["diagnosis"] = np.ones(n, np.uint8)
        train.append(write_h5(root / f"{name}.{sup}.h5", arrays, {"supervision": sup}))
        nv = max(1, round(n * VAL_PER_TRAIN))
        val_arrays = {
            "images": rng.integers(0, 256, (nv, 1, s, s), dtype=np.uint8),
            "masks": (rng.random((nv, s, s)) < 0.3).astype(np.uint8),
            "lesion": np.ones(nv, np.uint8),
            "diagnosis": np.ones(nv, np.uint8),
            "sample_ids": np.array([f"{name}v{k}" for k in range(nv)]),
        }
        val.append(write_h5(root / f"{name}.val.h5", val_arrays, {"split": "val"}))
    return [str(p) for p in train], [str(p) for p in val]


def bench_run_config(size: BenchSize, precision: str, compile: bool) -> RunConfig:
    return RunConfig(
        task="bench", method="fedmix-tmi", algorithm="fedmix", setting="I-B-L", seed=0,
        clients=("i", "b", "l"), supervision=("I", "B", "L"), data="random (bench)",
        image_size=size.image_size, channels=1, rounds=2, local_epochs=1,
        batch_size=size.batch, crop_size=size.size, flips=True, lr=1e-3, weight_decay=1e-4,
        selection="validation", selection_clients="labelled", checkpoint_every=1000,
        precision=precision, compile=compile,
        model=ModelSpec("unet", UNetParams(width=size.width, levels=size.levels)),
        params=FedMixParams(variant="tmi", tau=0.0, box_tau=0.0),
    )  # fmt: skip
