"""GPU slots simulated on CPU: real OS locks, real processes, no GPU needed."""

import multiprocessing
import os
import queue
import signal

import pytest

from fedmix.gpu_slots import claim_gpu_slot, scheduler_job, select_device

FORK = multiprocessing.get_context("fork")


def _hold(n_slots, lock_dir, got, release):
    """Child process: claim a slot, report (pid, slot), hold it until ``release`` is set."""
    with claim_gpu_slot(n_slots, lock_dir, timeout_s=30, poll_s=0.05) as k:
        got.put((os.getpid(), k))
        release.wait(30)


def _start_holder(n_slots, lock_dir, got):
    release = FORK.Event()
    proc = FORK.Process(target=_hold, args=(n_slots, lock_dir, got, release))
    proc.start()
    return proc, release


def _stop(holders):
    for proc, release in holders:
        release.set()
        proc.join(10)
        if proc.is_alive():
            proc.kill()
            proc.join()


def test_four_processes_get_four_distinct_slots_and_a_fifth_waits(tmp_path):
    got = FORK.Queue()
    holders = [_start_holder(4, tmp_path, got) for _ in range(4)]
    try:
        claimed = dict(got.get(timeout=10) for _ in holders)
        assert sorted(claimed.values()) == [0, 1, 2, 3]
        fifth = _start_holder(4, tmp_path, got)
        holders.append(fifth)
        with pytest.raises(queue.Empty):
            got.get(timeout=0.5)  # every slot is taken: the fifth job waits
        pid_on_2 = next(pid for pid, k in claimed.items() if k == 2)
        proc, release = next(h for h in holders if h[0].pid == pid_on_2)
        release.set()
        proc.join(10)
        assert got.get(timeout=10) == (fifth[0].pid, 2)  # it gets exactly the freed slot
    finally:
        _stop(holders)


def test_a_killed_holder_frees_its_slot(tmp_path):
    got = FORK.Queue()
    proc, _ = _start_holder(1, tmp_path, got)
    try:
        assert got.get(timeout=10) == (proc.pid, 0)
        with pytest.raises(TimeoutError, match=r"all 1 GPU slots in .* stayed taken"):
            with claim_gpu_slot(1, tmp_path, timeout_s=0.2, poll_s=0.05):
                pass
        os.kill(proc.pid, signal.SIGKILL)  # no cleanup code runs: the kernel drops the lock
        proc.join(10)
        assert proc.exitcode == -signal.SIGKILL
        with claim_gpu_slot(1, tmp_path, timeout_s=5, poll_s=0.05) as k:
            assert k == 0
    finally:
        _stop([(proc, FORK.Event())])


def test_slots_are_released_when_the_block_ends_even_on_error(tmp_path):
    with claim_gpu_slot(2, tmp_path) as a:
        with claim_gpu_slot(2, tmp_path) as b:
            assert (a, b) == (0, 1)
        with claim_gpu_slot(2, tmp_path) as c:
            assert c == 1  # b's slot came back
    with pytest.raises(RuntimeError, match="boom"):
        with claim_gpu_slot(1, tmp_path):
            raise RuntimeError("boom")
    with claim_gpu_slot(1, tmp_path, timeout_s=0) as k:
        assert k == 0
    assert (tmp_path / "gpu0.lock").read_text().strip() == str(os.getpid())


def test_zero_slots_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="n_slots = 0"):
        with claim_gpu_slot(0, tmp_path):
            pass


def _device(requested, gpu_slots, lock_dir, cuda_count, environ=None):
    with select_device(
        requested, gpu_slots, lock_dir, cuda_count=cuda_count, environ=environ or {}
    ) as dev:
        return dev, sorted(p.name for p in lock_dir.glob("*.lock"))


def test_select_device_on_cpu_and_without_slots(tmp_path):
    assert _device("auto", 4, tmp_path, cuda_count=0) == ("cpu", [])
    assert _device("cpu", 4, tmp_path, cuda_count=4) == ("cpu", [])
    assert _device("auto", 0, tmp_path, cuda_count=2) == ("cuda", [])
    assert _device("cuda:1", 0, tmp_path, cuda_count=2) == ("cuda:1", [])


def test_select_device_spreads_jobs_over_slots(tmp_path):
    with select_device("auto", 2, tmp_path, cuda_count=2, environ={}) as first:
        with select_device("cuda", 2, tmp_path, cuda_count=2, environ={}) as second:
            assert (first, second) == ("cuda:0", "cuda:1")


def test_select_device_takes_no_lock_inside_a_scheduler_job(tmp_path):
    slurm = {"SLURM_JOB_ID": "42", "CUDA_VISIBLE_DEVICES": "3"}
    assert scheduler_job(slurm) == "SLURM_JOB_ID"
    assert scheduler_job({"CUDA_VISIBLE_DEVICES": "0"}) is None
    assert _device("auto", 4, tmp_path, cuda_count=1, environ=slurm) == ("cuda", [])


@pytest.mark.parametrize(
    ("requested", "gpu_slots", "count", "message"),
    [
        ("cuda:1", 2, 2, "pins every job to one GPU"),
        ("auto", 4, 2, r"gpu_slots = 4 but only 2 CUDA device"),
        ("cuda", 0, 0, "no CUDA device is visible"),
        ("gpu", 0, 1, "use auto, cpu, cuda or cuda:N"),
        ("auto", -1, 1, "gpu_slots = -1"),
    ],
)
def test_select_device_rejects_contradictions(tmp_path, requested, gpu_slots, count, message):
    with pytest.raises(ValueError, match=message):
        _device(requested, gpu_slots, tmp_path, cuda_count=count)
