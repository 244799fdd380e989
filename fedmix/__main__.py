"""``python -m fedmix``: the same as the ``fedmix`` command."""

from fedmix.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
