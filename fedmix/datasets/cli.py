"""``fedmix data check --configfile X [--full]``: the preflight (:mod:`fedmix.datasets.preflight`)
of a workflow config; exit status 1 when a dataset blocks the run, 2 when the config is unusable."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fedmix data",
        description="Preflight of a workflow config: lists every dataset its targets need and "
        "whether it is ready. Exit status 1 when a dataset blocks the run, 2 when the config is "
        "unusable.",
    )
    sub = parser.add_subparsers(dest="data_command", required=True)
    check = sub.add_parser(
        "check",
        help="list every needed dataset: verified / present / to download / licence not "
        "accepted / missing (with where to get it and where to put it); exit 1 if blocked",
    )
    check.add_argument("--configfile", required=True, help="the workflow config (YAML)")
    check.add_argument(
        "--full", action="store_true", help="verify present copies by content now (slower)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import yaml  # the command line reads the YAML; the package itself takes the validated dict

    from fedmix.config import ConfigError, validate_config
    from fedmix.datasets.folds import expand_fold_tasks
    from fedmix.datasets.preflight import preflight

    try:
        raw = yaml.safe_load(Path(args.configfile).read_text())
        config = expand_fold_tasks(validate_config(raw))
        text, ok = preflight(config, full=args.full)
    except (OSError, yaml.YAMLError, ConfigError, ValueError) as err:
        print(f"fedmix data check: {args.configfile}: {err}", file=sys.stderr)
        return 2
    print(text)
    return 0 if ok else 1
