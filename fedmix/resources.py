"""Resource requests of a training job (wall time, memory) derived from the run's size.

A scheduler such as SLURM kills a job that outlives its time limit and queues a long request
behind short ones, so each training run asks for a limit that grows with its work:

    work_mpix = rounds * local_epochs * n_images * crop_size**2 / 1e6      (megapixels seen)
    runtime   = ceil(overhead_min + safety * work_mpix * seconds_per_mpix / 60)   minutes

``seconds_per_mpix`` = 0.2 is a deliberately pessimistic throughput for the paper's U-Net
(width 64, five levels, forward + backward, plus FedMix's extra pseudo-label passes) on one
data-centre GPU; smaller models only finish earlier. Per-round validation is covered by
``safety``. Users override any request in a profile (``set-resources``).
"""

from __future__ import annotations

import errno
import math
import os
from collections.abc import Iterable

import h5py

from fedmix.io import FedmixFileError

__all__ = [
    "SECONDS_PER_MPIX",
    "count_images",
    "train_mem_mb",
    "train_runtime_minutes",
]

SECONDS_PER_MPIX = 0.2


def train_runtime_minutes(
    rounds: int,
    local_epochs: int,
    n_images: int,
    crop_size: int,
    seconds_per_mpix: float = SECONDS_PER_MPIX,
    overhead_min: float = 10.0,
    safety: float = 2.0,
) -> int:
    """Wall-time request in whole minutes (formula in the module docstring).

    Example: the paper's breast task, 300 rounds x 1 epoch x 1000 images x 224**2 crops
    = 15052.8 Mpix -> 10 + 2 * 15052.8 * 0.2 / 60 = 110.35 -> 111 minutes.
    """
    for name, value in (("rounds", rounds), ("local_epochs", local_epochs)):
        if value < 1:
            raise ValueError(f"{name} = {value}: must be at least 1")
    if n_images < 0 or crop_size < 1:
        raise ValueError(f"n_images = {n_images}, crop_size = {crop_size}: need >= 0 and >= 1")
    work_mpix = rounds * local_epochs * n_images * crop_size**2 / 1e6
    return math.ceil(overhead_min + safety * work_mpix * seconds_per_mpix / 60)


def train_mem_mb(n_images: int, channels: int, image_size: int, base_mb: int = 4096) -> int:
    """Host memory request in MB: ``base_mb`` (Python, torch, CUDA context) plus eight bytes
    per pixel of the training images (uint8 on disk, float32 copies in batches and augments):

        mem_mb = base_mb + ceil(8 * n_images * channels * image_size**2 / 1e6)
    """
    if n_images < 0:
        raise ValueError(f"n_images = {n_images}: must be >= 0")
    return base_mb + math.ceil(8 * n_images * channels * image_size**2 / 1e6)


def count_images(paths: Iterable[str | os.PathLike]) -> int:
    """Total number of images (first dimension of ``images``) in the given HDF5 files.

    A missing file raises ``FileNotFoundError`` carrying that path, which Snakemake reads as
    "not known yet" and evaluates again once the upstream job has written the file.
    """
    total = 0
    for path in paths:
        if not os.path.exists(path):
            raise FileNotFoundError(errno.ENOENT, "training file not written yet", str(path))
        try:
            f = h5py.File(path, "r")
        except OSError as err:  # truncated or damaged: say which file, not just h5py's words
            raise FedmixFileError(
                f"{path}: not a readable HDF5 file ({err}); delete it and let snakemake rebuild it"
            ) from err
        with f:
            if "images" not in f:
                raise FedmixFileError(f"{path}: no 'images' dataset; rebuild it with snakemake")
            total += f["images"].shape[0]
    return total
