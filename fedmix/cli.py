"""The ``fedmix`` command: its version, and the benchmarks (:mod:`fedmix.bench.cli`).

The pipeline itself runs through Snakemake (``snakemake help`` lists its targets); this command
holds what is not a pipeline target.
"""

from __future__ import annotations

import argparse

from fedmix import __version__
from fedmix.bench import cli as bench_cli

__all__ = ["build_parser", "main"]

DESCRIPTION = (
    "FedMix reproduction tools. The pipeline (data, training, tables, figures, report) runs "
    "through Snakemake ('snakemake help' lists its targets). This command measures speed "
    "(bench) and checks the fast training path against the plain one (compare-paths)."
)


def build_parser() -> argparse.ArgumentParser:
    """The benchmarks' parser with a plain-text description and ``--version``."""
    parser = bench_cli.build_parser()
    parser.description = DESCRIPTION
    parser.add_argument("--version", action="version", version=f"fedmix {__version__}")
    return parser


def main(argv: list[str] | None = None) -> int:
    build_parser().parse_args(argv)  # --version and --help end here; bad arguments too
    return bench_cli.main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
