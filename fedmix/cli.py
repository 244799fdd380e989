"""The ``fedmix`` command: ``bench`` and ``compare-paths`` live in :mod:`fedmix.bench.cli`,
``data check`` in :mod:`fedmix.datasets.cli`."""

import sys

from fedmix.bench.cli import main as bench_main
from fedmix.datasets.cli import main as data_main

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["data"]:
        return data_main(argv[1:])
    return bench_main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
