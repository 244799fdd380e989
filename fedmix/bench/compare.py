"""Fast path vs plain path: the same rounds from the same weights, compared client by client."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

from fedmix.bench.federation import BenchSize, bench_run_config, write_federation
from fedmix.bench.naive import PlainLoop
from fedmix.devices import deterministic_cpu, precision_name, resolve_device
from fedmix.train import RoundLoop

__all__ = ["PATH_RTOL", "compare_on_device", "compare_paths"]

# Largest relative difference of a local loss between the fast path at a precision and the plain
# fp32 path. fp32: summation order only (measured on the CPU: under 1e-6). bf16: measured on the
# CPU at most 0.3 % in round 1 and 2 % in round 2 (tests/test_fast_path.py).
PATH_RTOL = {"fp32": 1e-4, "bf16": 5e-2}


def compare_on_device(size: BenchSize, device: str = "auto", precision: str = "auto",
                      rounds: int = 2) -> tuple[str, list[dict]]:  # fmt: skip
    """FedMix rounds of the fast path and the plain path from the same weights on a random
    federation of ``size`` (:func:`compare_paths`); returns (precision, rows)."""
    dev = resolve_device(device)
    if dev.type == "cpu":
        deterministic_cpu()
    run = bench_run_config(size, precision, False)
    with tempfile.TemporaryDirectory() as tmp:
        train_files, val_files = write_federation(Path(tmp), size)
        fast = RoundLoop(run, train_files, val_files, Path(tmp) / "out", dev)
        rows = compare_paths(fast, PlainLoop.alongside(fast), rounds)
    return precision_name(precision, dev), rows


def compare_paths(fast: RoundLoop, plain: PlainLoop, rounds: int) -> list[dict]:
    """Step both loops ``rounds`` rounds from round 0; one row per round and client.

    Each row: round, client, kept samples of both paths, both streams' mean local losses and
    validation Dice of both paths, and ``max_rel_diff`` over the losses (NaN pairs, clients that
    skipped the round on both paths, count as equal; a skip on one path only as infinite).
    """
    rows = []
    for rnd in range(rounds):
        fast.round(rnd)
        stats = plain.round(rnd)
        for hist, (name, st) in zip(fast.history[-len(stats) :], stats.items(), strict=True):
            pairs = ((hist["train_loss"], st.loss), (hist["train_loss_stream2"], st.loss2))
            rows.append(
                {
                    "round": rnd + 1,
                    "client": name,
                    "n_fast": hist["n_samples"],
                    "n_plain": st.n_samples,
                    "loss_fast": hist["train_loss"],
                    "loss_plain": st.loss,
                    "loss2_fast": hist["train_loss_stream2"],
                    "loss2_plain": st.loss2,
                    "val_dice_fast": hist["val_dice"],
                    "val_dice_plain": plain.val_dice[name],
                    "max_rel_diff": max(_rel_diff(a, b) for a, b in pairs),
                }
            )
    return rows


def _rel_diff(a: float, b: float) -> float:
    if math.isnan(a) and math.isnan(b):
        return 0.0
    if math.isnan(a) or math.isnan(b):
        return math.inf
    return abs(a - b) / max(abs(b), 1e-12)
