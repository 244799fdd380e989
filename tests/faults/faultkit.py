"""Helpers of the fault-injection suite: damage a pipeline file, check what a failure left."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from fedmix.io import read_h5, write_h5
from fedmix.runguard import RUN_OUTPUTS


def rewrite(path, **changes) -> None:
    """Rewrite a pipeline HDF5 file with some arrays replaced (a valid file, wrong content)."""
    arrays, attrs = read_h5(path)
    arrays.update(changes)
    write_h5(path, arrays, attrs)


def take(path, n: int) -> None:
    """Keep only the first ``n`` samples of every array of ``path``."""
    arrays, attrs = read_h5(path)
    write_h5(path, {k: v[:n] for k, v in arrays.items()}, attrs)


def truncate(path, keep: float = 0.5) -> None:
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[: int(len(data) * keep)])


def flip_bit_in_data(path, dataset: str = "images") -> None:
    """Flip one bit inside the first stored chunk of ``dataset`` (not its metadata)."""
    with h5py.File(path, "r") as f:
        info = f[dataset].id.get_chunk_info(0)
    offset = info.byte_offset + info.size // 2
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([byte ^ 0x10]))


def assert_nothing_looks_complete(out_dir) -> None:
    """No output a finished run leaves, and no unfinished temporary, is in ``out_dir``."""
    out_dir = Path(out_dir)
    left = [n for n in RUN_OUTPUTS if (out_dir / n).exists()]
    assert not left, f"outputs left after a failure: {left}"
    tmps = sorted(p.name for p in out_dir.glob("*.tmp*")) if out_dir.exists() else []
    assert not tmps, f"temporaries left after a failure: {tmps}"


def float_images(path, with_nan: bool) -> np.ndarray:
    images = read_h5(path)[0]["images"].astype(np.float32)
    if with_nan:
        images[1, 0, 3, 3] = np.nan
    return images
