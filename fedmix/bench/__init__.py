"""Benchmarks, kept out of the science package's core: ``fedmix bench`` and ``compare-paths``.

- :mod:`fedmix.bench.speed`: throughput, FLOP rate, pseudo labels and one FedMix round of the fast
  path against the plain path and the hardware's reference rates;
- :mod:`fedmix.bench.naive`: the plain reference path (per-image host work, fp32), driven by the
  same strategy hooks as the fast path;
- :mod:`fedmix.bench.compare`: both paths round for round from the same weights;
- :mod:`fedmix.bench.federation`: the random federation and run config they measure on;
- :mod:`fedmix.bench.cli`: the ``fedmix`` command.

They use only the public training API (:class:`fedmix.train.RoundLoop`, the strategies' hooks)
and import nothing a bare GPU machine lacks (no jsonschema, scipy, matplotlib, snakemake).
"""

from fedmix.bench.compare import PATH_RTOL, compare_on_device, compare_paths
from fedmix.bench.federation import SMALL, BenchSize
from fedmix.bench.speed import FIGURES, format_table, host_syncs, run_bench, save_json

__all__ = [
    "FIGURES",
    "PATH_RTOL",
    "SMALL",
    "BenchSize",
    "compare_on_device",
    "compare_paths",
    "format_table",
    "host_syncs",
    "run_bench",
    "save_json",
]
