"""Guards around one training run: one process per run folder, none outliving its Snakemake,
no half-written file left behind.

- :func:`run_lock`: an exclusive ``flock`` on ``<run folder>/.train.lock`` while training; a
  second process (say, after ``snakemake --unlock`` while the first still runs) stops with
  :class:`RunLockedError` naming the holder's pid. The kernel drops the lock when the holder
  dies, so no stale lock needs cleaning.
- :func:`stop_with_parent`: when the Snakemake process that started this one dies (killed, or
  its terminal closed), training stops within seconds instead of running on as an orphan.
  It watches the nearest ancestor process whose command is ``snakemake`` (Linux ``/proc``);
  without one (a direct call, a batch job) there is nothing to watch.
- :func:`guarded_run`: both, plus removal of unfinished temporaries (``*.tmp*``) at the start
  and, on failure, of the outputs written so far, so nothing is left looking complete.
  ``resume.pt`` is kept: it is complete by construction and lets the next start continue.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

from fedmix.io import remove_partial

__all__ = [
    "RUN_OUTPUTS",
    "ParentExitedError",
    "RunLockedError",
    "guarded_run",
    "run_lock",
    "snakemake_ancestor",
    "stop_with_parent",
]

log = logging.getLogger("fedmix.runguard")

# What a finished run leaves in its folder (resume.pt only while unfinished).
RUN_OUTPUTS = ("final.pt", "best.pt", "history.csv", "config.json")


class RunLockedError(RuntimeError):
    """Another live process is training in the same run folder."""


class ParentExitedError(SystemExit):
    """The Snakemake process that started this run is gone; training stops."""


@contextlib.contextmanager
def guarded_run(out_dir: str | os.PathLike, poll_s: float = 2.0) -> Iterator[None]:
    """Hold the run folder's lock, clear leftovers, stop with Snakemake; clean up on failure."""
    out_dir = Path(out_dir)
    with run_lock(out_dir):
        for tmp in remove_partial(out_dir, (*RUN_OUTPUTS, "resume.pt")):
            log.warning("removed %s, left unfinished by an earlier run", tmp)
        try:
            with stop_with_parent(poll_s):
                yield
        except BaseException:
            remove_partial(out_dir, (*RUN_OUTPUTS, "resume.pt"))
            for name in RUN_OUTPUTS:
                (out_dir / name).unlink(missing_ok=True)
            raise


@contextlib.contextmanager
def run_lock(out_dir: str | os.PathLike) -> Iterator[None]:
    """Exclusive lock on ``out_dir/.train.lock`` (opened without following links)."""
    path = Path(out_dir) / ".train.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "r+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = handle.read().strip() or "unknown"
            raise RunLockedError(
                f"{path.parent} is being trained by another process (pid {holder}); two runs "
                f"in one folder would overwrite each other. Wait for it to finish, or stop it "
                f"(kill {holder}) and start again: it resumes from resume.pt"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield  # closing the file on exit releases the lock


def snakemake_ancestor(pid: int | None = None) -> tuple[int, str] | None:
    """(pid, start time) of the nearest ancestor running ``snakemake``, or None."""
    pid = os.getppid() if pid is None else pid
    while pid > 1:
        stat = _proc_stat(pid)
        if stat is None:
            return None
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:3]
        except OSError:
            return None
        if any(os.path.basename(a.decode(errors="replace")) == "snakemake" for a in args):
            return pid, stat[19]
        pid = int(stat[1])
    return None


@contextlib.contextmanager
def stop_with_parent(poll_s: float = 2.0) -> Iterator[None]:
    """Raise :class:`ParentExitedError` in this (main) thread once the Snakemake ancestor dies.

    A watcher thread polls the ancestor every ``poll_s`` seconds and, when it is gone, sends
    this process SIGTERM, which the handler installed here turns into the exception, so
    ``finally`` blocks and the run folder's cleanup still run.
    """
    ancestor = snakemake_ancestor()
    if ancestor is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    done = threading.Event()

    def on_term(signum, frame):
        if _alive(*ancestor):  # sent by Snakemake itself or by a user: not an orphan
            raise SystemExit("stopped by SIGTERM; rerun snakemake to continue from resume.pt")
        raise ParentExitedError(
            f"stopped: Snakemake (pid {ancestor[0]}) that started this run has exited; "
            "rerun snakemake to continue from resume.pt"
        )

    def watch():
        while not done.wait(poll_s):
            if not _alive(*ancestor):
                log.error("Snakemake (pid %d) has exited; stopping training", ancestor[0])
                os.kill(os.getpid(), signal.SIGTERM)
                return

    previous = signal.signal(signal.SIGTERM, on_term)
    watcher = threading.Thread(target=watch, name="fedmix-parent-watch", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()
        signal.signal(signal.SIGTERM, previous)


def _proc_stat(pid: int) -> list[str] | None:
    """Fields of ``/proc/<pid>/stat`` after the command name: [state, ppid, ...]."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def _alive(pid: int, start_time: str) -> bool:
    stat = _proc_stat(pid)
    return stat is not None and stat[0] not in "ZX" and stat[19] == start_time
