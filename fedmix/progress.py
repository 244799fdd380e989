"""Progress of a training run that a person can read: a header, the rounds, a closing summary.

On a terminal the rounds show as a tqdm bar. Anywhere else (a Snakemake log file, a SLURM
output file) a carriage-return bar becomes one unreadable line, so the run logs one line per
``every`` rounds instead (and always the first and the last round)::

    round 12/64 | loss bus 0.412 busis 0.388 udiat 0.301 | w bus 0.21 busis 0.27 udiat 0.52 |
        val Dice 0.512 (best 0.530, round 9) | 0:00:41 elapsed, ETA 0:02:58

Lines go through :mod:`logging` (logger ``fedmix.train``), which :func:`fedmix.logs.log_to`
routes to the job's log file.
"""

from __future__ import annotations

import datetime
import logging
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence

from tqdm import tqdm

__all__ = [
    "REPORTS_PER_RUN",
    "RoundProgress",
    "format_duration",
    "format_round",
    "header_fields",
    "log_header",
    "log_summary",
    "report_every",
    "reported_rounds",
]

REPORTS_PER_RUN = 20  # lines a run writes about its rounds when not on a terminal
log = logging.getLogger("fedmix.train")


def format_duration(seconds: float) -> str:
    """``H:MM:SS`` of a duration (``?`` when unknown)."""
    if not math.isfinite(seconds):
        return "?"
    return str(datetime.timedelta(seconds=round(max(seconds, 0.0))))


def report_every(total: int, reports: int = REPORTS_PER_RUN) -> int:
    """Rounds between two logged lines so that a run of ``total`` rounds logs about ``reports``."""
    return max(1, math.ceil(total / reports))


def reported_rounds(start: int, total: int, every: int) -> list[int]:
    """The 1-based rounds a run from round ``start + 1`` to ``total`` logs: the first, every
    ``every``-th and the last."""
    return [
        r for r in range(start + 1, total + 1) if r == start + 1 or r % every == 0 or r == total
    ]


def _values(name: str, values: Mapping[str, float], fmt: str) -> str:
    parts = [f"{c} {'-' if not math.isfinite(v) else format(v, fmt)}" for c, v in values.items()]
    return f"{name} " + " ".join(parts)


def format_round(
    rnd: int,
    total: int,
    losses: Mapping[str, float],
    weights: Mapping[str, float],
    score: float,
    best: tuple[float, int],
    elapsed: float,
    eta: float,
) -> str:
    """One log line of round ``rnd`` (1-based); a skipped client's loss shows as ``-``."""
    return " | ".join(
        [
            f"round {rnd}/{total}",
            _values("loss", losses, ".3f"),
            _values("w", weights, ".2f"),
            f"val Dice {score:.3f} (best {best[0]:.3f}, round {best[1]})",
            f"{format_duration(elapsed)} elapsed, ETA {format_duration(eta)}",
        ]
    )


class RoundProgress:
    """Rounds ``start + 1 .. total`` of one run: a bar on a terminal, else logged lines.

    ``interactive`` defaults to whether stderr is a terminal (under :func:`fedmix.logs.log_to`
    it is the log file, so it is not); ``clock`` is injectable for tests.
    """

    def __init__(
        self,
        start: int,
        total: int,
        desc: str,
        interactive: bool | None = None,
        every: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.start, self.total, self.clock = start, total, clock
        self.due = set(reported_rounds(start, total, every or report_every(total)))
        self.interactive = sys.stderr.isatty() if interactive is None else interactive
        self.began = clock()
        self.bar = (
            tqdm(total=total, initial=start, desc=desc, mininterval=2.0)
            if self.interactive
            else None
        )

    def update(
        self,
        rnd: int,
        losses: Mapping[str, float],
        weights: Mapping[str, float],
        score: float,
        best: tuple[float, int],
    ) -> None:
        """Round ``rnd`` (1-based) is done: advance the bar or log its line when it is due."""
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(val_dice=f"{score:.3f}", best=f"{best[0]:.3f}")
            return
        if rnd not in self.due:
            return
        elapsed = self.clock() - self.began
        done = rnd - self.start
        eta = elapsed / done * (self.total - rnd) if done else math.inf
        log.info(format_round(rnd, self.total, losses, weights, score, best, elapsed, eta))

    def close(self) -> float:
        """Close the bar; return the wall time since the start in seconds."""
        if self.bar is not None:
            self.bar.close()
        return self.clock() - self.began


def header_fields(run, clients, runtime: Mapping, n_parameters: int) -> list[tuple[str, str]]:
    """What a reader of a run's log needs first: data, hardware, clients, model, protocol.

    ``run``: the :class:`fedmix.config.RunConfig`; ``clients``: objects with ``name``,
    ``supervision`` and ``n_train``; ``runtime``: :func:`fedmix.outputs.runtime_record`.
    """
    d = run.to_dict()
    sizes = ", ".join(f"{c.name} {c.supervision} {c.n_train}" for c in clients)
    return [
        ("data", str(run.data)),
        ("device", f"{runtime['device']} ({runtime['device_name']}), {runtime['precision']}, "
                   f"torch {runtime['torch']}, {runtime['threads']} thread(s)"),
        ("clients (supervision, training images)", sizes),
        ("model", f"{d['model']}, {n_parameters:,} parameters"),
        ("method parameters", str(d.get("params", {}))),
        ("protocol", f"{run.rounds} rounds x {run.local_epochs} local epoch(s), batch "
                     f"{run.batch_size}, crop {run.crop_size}, lr {run.lr:g}, weight decay "
                     f"{run.weight_decay:g}; best.pt chosen on {run.selection} "
                     f"({run.selection_clients} clients)"),
    ]  # fmt: skip


def log_header(title: str, fields: Sequence[tuple[str, str]]) -> None:
    """The run's header: one line naming it, then one ``  key: value`` line per field."""
    log.info(title)
    for key, value in fields:
        log.info("  %s: %s", key, value)


def log_summary(best: tuple[float, int], total: int, files: Sequence[str], wall: float) -> None:
    log.info(
        "done: best round %d (val Dice %.3f) of %d; wrote %s; wall time %s",
        best[1], best[0], total, ", ".join(files), format_duration(wall),
    )  # fmt: skip
