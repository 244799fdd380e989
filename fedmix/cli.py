"""The ``fedmix`` command (``bench``, ``compare-paths``); it lives in :mod:`fedmix.bench.cli`."""

from fedmix.bench.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
