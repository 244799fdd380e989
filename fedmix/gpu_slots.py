"""GPU slots: spread concurrent training jobs over the GPUs of one workstation.

``snakemake --cores 16 --resources gpu=4`` lets at most four training jobs run at once, but it
does not say which GPU each should use; without help every job would pick ``cuda:0``. Each job
therefore claims a *slot* ``k`` in ``0 .. n_slots - 1`` by taking an exclusive OS file lock
(``fcntl.flock``) on ``lock_dir/gpu{k}.lock`` and trains on ``cuda:k``. The kernel drops a
flock lock when its file is closed or its process dies, so a crashed or killed job frees its
slot at once; no stale lock file needs cleaning up.

The lock folder is private: created with mode 0700, and on every use it must be a real folder
(not a link) owned by this user and closed to others, and lock files are opened without
following links (``O_NOFOLLOW``), so nobody else can plant a link that makes a job truncate
another file.

Under a scheduler (SLURM and the like) the scheduler has already picked the GPU and exposes it
through ``CUDA_VISIBLE_DEVICES``: no lock is taken and the job uses ``cuda``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "SCHEDULER_JOB_VARIABLES",
    "claim_gpu_slot",
    "default_lock_dir",
    "private_lock_dir",
    "scheduler_job",
    "select_device",
]

# Environment variables that a batch scheduler sets inside every job it starts.
SCHEDULER_JOB_VARIABLES = ("SLURM_JOB_ID", "LSB_JOBID", "PBS_JOBID", "JOB_ID")


def default_lock_dir() -> Path:
    """Machine-wide folder for the slot locks of this user: ``$FEDMIX_GPU_LOCK_DIR`` if set,
    else ``<tmp>/fedmix-gpu-slots-<uid>`` (shared by every workflow directory of the user)."""
    env = os.environ.get("FEDMIX_GPU_LOCK_DIR")
    if env:
        return Path(env)
    return Path(tempfile.gettempdir()) / f"fedmix-gpu-slots-{os.getuid()}"


def scheduler_job(environ: dict[str, str] | None = None) -> str | None:
    """Name of the scheduler variable that marks this process as a batch job, or None."""
    environ = os.environ if environ is None else environ
    return next((name for name in SCHEDULER_JOB_VARIABLES if environ.get(name)), None)


def private_lock_dir(lock_dir: str | os.PathLike) -> Path:
    """Create ``lock_dir`` (mode 0700) if needed and check it is a folder, not a link, owned by
    this user and closed to group and others; raise ``PermissionError`` naming the fix if not."""
    lock_dir = Path(lock_dir)
    lock_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = os.lstat(lock_dir)
    problem = None
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        problem = "is not a plain folder (a symbolic link or a file)"
    elif st.st_uid != os.getuid():
        problem = f"belongs to user id {st.st_uid}, not to you ({os.getuid()})"
    elif st.st_mode & 0o077:
        problem = f"is open to other users (mode {stat.S_IMODE(st.st_mode):o}; run chmod 700 on it)"
    if problem:
        raise PermissionError(
            f"GPU lock folder {lock_dir} {problem}; its lock files could be planted by someone "
            "else. Remove it, or set FEDMIX_GPU_LOCK_DIR to a private folder of yours"
        )
    return lock_dir


def _try_lock(path: Path):
    """Open ``path`` (never through a link) and take a non-blocking exclusive flock; return the
    file or None."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as err:
        raise PermissionError(
            f"GPU lock file {path} cannot be opened safely ({err.strerror}); it is probably a "
            "symbolic link planted there. Remove it"
        ) from err
    handle = os.fdopen(fd, "r+")  # kept open (not `with`) while the slot is held
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        handle.close()
        raise PermissionError(f"GPU lock file {path} is not a regular file; remove it")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")  # for people looking at the folder; the lock is what counts
    handle.flush()
    return handle


@contextlib.contextmanager
def claim_gpu_slot(
    n_slots: int,
    lock_dir: str | os.PathLike,
    timeout_s: float = 3600.0,
    poll_s: float = 0.5,
) -> Iterator[int]:
    """Hold the first free slot ``k`` of ``0 .. n_slots - 1`` for the duration of the block.

    Tries ``lock_dir/gpu0.lock``, ``gpu1.lock``, ... without blocking and takes the first one
    free; when all are held, retries every ``poll_s`` seconds and raises ``TimeoutError`` after
    ``timeout_s``. The lock is released when the block exits, or by the kernel when the process
    dies (crash, SIGKILL).
    """
    if n_slots < 1:
        raise ValueError(f"n_slots = {n_slots}: need at least one GPU slot (runtime.gpu_slots)")
    deadline = time.monotonic() + timeout_s
    while True:
        lock_dir = private_lock_dir(lock_dir)  # checked on every attempt, not once
        for k in range(n_slots):
            handle = _try_lock(lock_dir / f"gpu{k}.lock")
            if handle is not None:
                try:
                    yield k
                finally:
                    handle.close()  # closing the file releases the flock
                return
        if time.monotonic() >= deadline:
            raise TimeoutError(
                f"all {n_slots} GPU slots in {lock_dir} stayed taken for {timeout_s:g} s. "
                f"Run Snakemake with --resources gpu=N where N <= runtime.gpu_slots "
                f"({n_slots}), or check for other fedmix runs on this machine."
            )
        time.sleep(poll_s)


def _cuda_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


@contextlib.contextmanager
def select_device(
    requested: str,
    gpu_slots: int,
    lock_dir: str | os.PathLike | None = None,
    timeout_s: float = 3600.0,
    cuda_count: int | None = None,
    environ: dict[str, str] | None = None,
) -> Iterator[str]:
    """Yield the torch device string a training job should use, holding its GPU slot if any.

    ``requested`` is ``runtime.device``: ``auto`` (CUDA if available), ``cpu``, ``cuda`` or
    ``cuda:N``. ``gpu_slots`` is ``runtime.gpu_slots`` (0 = no slots). Outcomes:

    - CPU (asked for, or ``auto`` without CUDA): ``"cpu"``, no lock.
    - CUDA and ``gpu_slots == 0``: ``requested`` as given (``auto`` -> ``"cuda"``), no lock.
    - CUDA inside a scheduler job (``SLURM_JOB_ID`` ...): ``"cuda"``, no lock; the scheduler
      picked the GPU through ``CUDA_VISIBLE_DEVICES``.
    - CUDA with ``gpu_slots = n > 0`` on a workstation: ``"cuda:k"`` for the claimed slot ``k``.

    ``cuda_count`` (visible CUDA devices; None asks torch) and ``environ`` exist for tests.
    """
    environ = os.environ if environ is None else environ
    if gpu_slots < 0:
        raise ValueError(f"runtime.gpu_slots = {gpu_slots}: use 0 (no slots) or the GPU count")
    if requested not in ("auto", "cpu", "cuda") and not requested.startswith("cuda:"):
        raise ValueError(f"runtime.device = {requested!r}: use auto, cpu, cuda or cuda:N")
    count = _cuda_count() if cuda_count is None else cuda_count
    if requested == "cpu" or (requested == "auto" and count == 0):
        yield "cpu"
        return
    if count == 0:
        raise ValueError(f"runtime.device = {requested!r} but no CUDA device is visible; use auto")
    if gpu_slots == 0:
        yield "cuda" if requested == "auto" else requested
        return
    if scheduler_job(environ):
        yield "cuda"
        return
    if requested.startswith("cuda:"):
        raise ValueError(
            f"runtime.device = {requested!r} pins every job to one GPU while runtime.gpu_slots = "
            f"{gpu_slots} asks to spread them; use device: auto (or cuda), or gpu_slots: 0"
        )
    if gpu_slots > count:
        visible = environ.get("CUDA_VISIBLE_DEVICES")
        where = f" (CUDA_VISIBLE_DEVICES={visible})" if visible is not None else ""
        raise ValueError(
            f"runtime.gpu_slots = {gpu_slots} but only {count} CUDA device(s) are visible{where}; "
            f"set gpu_slots <= {count}"
        )
    lock_dir = default_lock_dir() if lock_dir is None else lock_dir
    with claim_gpu_slot(gpu_slots, lock_dir, timeout_s=timeout_s) as k:
        yield f"cuda:{k}"
