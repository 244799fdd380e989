import h5py
import numpy as np
import pytest

from fedmix.io import FedmixFileError, write_h5
from fedmix.resources import count_images, train_mem_mb, train_runtime_minutes


def test_runtime_of_the_paper_breast_task():
    # 300 * 1 * 1000 * 224**2 / 1e6 = 15052.8 Mpix; 10 + 2 * 15052.8 * 0.2 / 60 = 110.35
    assert train_runtime_minutes(300, 1, 1000, 224) == 111


def test_runtime_of_a_tiny_run_is_the_overhead_rounded_up():
    # 2 * 1 * 60 * 32**2 / 1e6 = 0.12288 Mpix; 10 + 2 * 0.12288 * 0.2 / 60 = 10.0008 -> 11
    assert train_runtime_minutes(2, 1, 60, 32) == 11
    assert train_runtime_minutes(2, 1, 0, 32) == 10


def test_runtime_grows_linearly_with_rounds_and_images():
    base = dict(local_epochs=1, crop_size=100, overhead_min=0, safety=1, seconds_per_mpix=6)
    # 10 * 100 * 100**2 / 1e6 = 10 Mpix * 6 s = 60 s = 1 minute
    assert train_runtime_minutes(10, n_images=100, **base) == 1
    assert train_runtime_minutes(20, n_images=100, **base) == 2
    assert train_runtime_minutes(20, n_images=300, **base) == 6


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0, 1, 10, 32), "rounds = 0"),
        ((1, 0, 10, 32), "local_epochs = 0"),
        ((1, 1, -1, 32), "n_images = -1"),
    ],
)
def test_runtime_rejects_impossible_sizes(args, message):
    with pytest.raises(ValueError, match=message):
        train_runtime_minutes(*args)


def test_mem_mb():
    # 8 * 1000 * 1 * 256**2 / 1e6 = 524.288 -> 525
    assert train_mem_mb(1000, 1, 256) == 4096 + 525
    assert train_mem_mb(0, 3, 256, base_mb=100) == 100


def test_count_images_sums_files_and_flags_missing_ones(tmp_path):
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    write_h5(a, {"images": np.zeros((5, 1, 8, 8), np.uint8)}, {})
    write_h5(b, {"images": np.zeros((7, 1, 8, 8), np.uint8)}, {})
    assert count_images([a, str(b)]) == 12
    missing = str(tmp_path / "c.h5")
    with pytest.raises(FileNotFoundError) as err:
        count_images([a, missing])
    assert err.value.filename == missing  # Snakemake matches this against the job's input
    with h5py.File(tmp_path / "d.h5", "w") as f:
        f["masks"] = np.zeros((2, 8, 8), np.uint8)
    with pytest.raises(FedmixFileError, match="no 'images' dataset"):
        count_images([tmp_path / "d.h5"])
