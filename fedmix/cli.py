"""The ``fedmix`` command: its version, ``data check`` (:mod:`fedmix.datasets.cli`) and the
benchmarks (:mod:`fedmix.bench.cli`).

The pipeline itself runs through Snakemake (``snakemake help`` lists its targets); this command
holds what is not a pipeline target.
"""

from __future__ import annotations

import argparse
import sys

from fedmix import __version__
from fedmix.bench import cli as bench_cli

__all__ = ["build_parser", "main"]

DESCRIPTION = (
    "FedMix reproduction tools. The pipeline (data, training, tables, figures, report) runs "
    "through Snakemake ('snakemake help' lists its targets). This command checks real data "
    "before a run ('fedmix data check --configfile FILE'), measures speed (bench) and checks "
    "the fast training path against the plain one (compare-paths)."
)


def build_parser() -> argparse.ArgumentParser:
    """The benchmarks' parser with a plain-text description and ``--version``; ``fedmix data``
    has its own parser (:mod:`fedmix.datasets.cli`)."""
    parser = bench_cli.build_parser()
    parser.description = DESCRIPTION
    parser.add_argument("--version", action="version", version=f"fedmix {__version__}")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["data"]:
        # imported here: the data tools need pooch and PIL, which a bare GPU machine running
        # the benchmarks (scripts/gpu_check.sh) does not have
        from fedmix.datasets import cli as data_cli

        return data_cli.main(argv[1:])
    build_parser().parse_args(argv)  # --version and --help end here; bad arguments too
    return bench_cli.main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
