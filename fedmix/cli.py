"""The ``fedmix`` command. Subcommands: ``bench`` (see :mod:`fedmix.bench`)."""

from __future__ import annotations

import argparse
import dataclasses

import torch

from fedmix.bench import SMALL, BenchSize, format_table, run_bench, save_json

__all__ = ["main"]


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--clients {text!r}: give 3 integers, e.g. 48,40,16"
        ) from None
    if len(sizes) != 3 or min(sizes) < 1:
        raise argparse.ArgumentTypeError(
            f"--clients {text!r}: give 3 positive sizes (I, B, L clients), e.g. 48,40,16"
        )
    return sizes


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fedmix", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser(
        "bench",
        help="training-step throughput, FLOP rate, pseudo labels, one FedMix round; fast vs naive",
        description="Defaults: paper size (224 crops of 256, width 64, levels 5, batch 16). "
        "--small: 64 crops of 80, width 16, for a CPU.",
    )
    b.add_argument("--small", action="store_true", help="CPU preset: " + str(SMALL))
    for name in ("size", "image-size", "width", "levels", "batch", "steps", "repeats"):
        b.add_argument(f"--{name}", type=int, help="override the preset's value")
    b.add_argument("--gemm-n", type=int, help="GEMM reference size n (n x n)")
    b.add_argument("--conv-channels", type=int, help="channels of the conv reference")
    b.add_argument("--clients", type=_sizes, help="I, B, L client sizes (default 48,40,16)")
    b.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    b.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"))
    b.add_argument("--compile", action="store_true", help="torch.compile the U-Net")
    b.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    b.add_argument("--json", metavar="PATH", help="also write the figures as JSON here")
    return parser


def bench_size(args: argparse.Namespace) -> BenchSize:
    values = dict(SMALL) if args.small else {}
    for field in dataclasses.fields(BenchSize):
        given = getattr(args, field.name, None)
        if given is not None:
            values[field.name] = given
    return BenchSize(**values)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "bench":
        torch.set_num_threads(args.threads)
        result = run_bench(bench_size(args), args.device, args.precision, args.compile)
        print(format_table(result))
        if args.json:
            save_json(result, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
