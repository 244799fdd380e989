"""The ``fedmix`` command. Subcommands: ``bench`` and ``compare-paths`` (:mod:`fedmix.bench`)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from pathlib import Path

import torch

from fedmix.bench import (
    PATH_RTOL,
    SMALL,
    BenchSize,
    compare_on_device,
    format_table,
    run_bench,
    save_json,
)

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


OPTION_HELP = {  # sizes a preset sets; a given value overrides the preset's
    "size": "training crop in pixels (paper 224; --small 64)",
    "image-size": "image side in pixels the crops are taken from (paper 256; --small 80)",
    "width": "channels of the first U-Net level (paper 64; --small 16)",
    "levels": "U-Net encoder levels (paper 5)",
    "batch": "local batch size (paper 16)",
    "steps": "training steps per timed epoch (default 4)",
    "repeats": "timed repetitions; medians are reported (default 3)",
}


PRECISION_HELP = "auto: bf16 autocast on CUDA, fp32 on the CPU (default auto)"


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
        b.add_argument(f"--{name}", type=int, help=OPTION_HELP[name])
    b.add_argument("--gemm-n", type=int, help="GEMM reference size n (n x n)")
    b.add_argument("--conv-channels", type=int, help="channels of the conv reference")
    b.add_argument("--clients", type=_sizes, help="I, B, L client sizes (default 48,40,16)")
    b.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    b.add_argument(
        "--precision", default="auto", choices=("auto", "fp32", "bf16"), help=PRECISION_HELP
    )
    b.add_argument("--compile", action="store_true", help="torch.compile the U-Net")
    b.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    b.add_argument("--json", metavar="PATH", help="also write the figures as JSON here")
    c = sub.add_parser(
        "compare-paths",
        help="losses of the fast path vs the plain fp32 path over FedMix rounds; exit 1 if apart",
        description="Both paths start from the same weights on a random I-B-L federation (the "
        "--small bench preset unless sizes are given) and draw the same random numbers; "
        f"tolerance on the relative loss difference: {PATH_RTOL} by the fast path's precision.",
    )
    for name in ("size", "image-size", "width", "levels", "batch"):
        c.add_argument(f"--{name}", type=int, help=OPTION_HELP[name])
    c.add_argument(
        "--clients", type=_sizes, default=(24, 20, 16), help="I, B, L client sizes (24,20,16)"
    )
    c.add_argument("--rounds", type=int, default=2, help="rounds to compare (default 2)")
    c.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    c.add_argument(
        "--precision", default="auto", choices=("auto", "fp32", "bf16"), help=PRECISION_HELP
    )
    c.add_argument("--rtol", type=float, help="tolerance (default by precision, see above)")
    c.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    c.add_argument("--json", metavar="PATH", help="also write the rows as JSON here")
    return parser


def bench_size(args: argparse.Namespace, small: bool = False) -> BenchSize:
    values = dict(SMALL) if small or getattr(args, "small", False) else {}
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
    elif args.command == "compare-paths":
        torch.set_num_threads(args.threads)
        return compare_paths_command(args)
    return 0


def compare_paths_command(args: argparse.Namespace) -> int:
    size = bench_size(args, small=True)
    precision, rows = compare_on_device(size, args.device, args.precision, args.rounds)
    rtol = PATH_RTOL[precision] if args.rtol is None else args.rtol
    where = f"crop {size.size} of {size.image_size}, width {size.width}, clients {size.clients}"
    print(f"fast ({precision}) vs plain (fp32), {args.rounds} FedMix rounds, {where}; rtol {rtol}")
    head = ("round", "client", "kept", "loss fast", "loss plain", "stream 2 f/p", "rel.diff")
    print("{:>5s} {:>6s} {:>9s} {:>10s} {:>10s} {:>17s} {:>9s}".format(*head))
    bad = []
    for r in rows:
        kept = f"{r['n_fast']}/{r['n_plain']}"
        stream2 = f"{r['loss2_fast']:8.5f}/{r['loss2_plain']:8.5f}"
        print(
            f"{r['round']:5d} {r['client']:>6s} {kept:>9s} {r['loss_fast']:10.6f} "
            f"{r['loss_plain']:10.6f} {stream2:>17s} {r['max_rel_diff']:9.2e}"
        )
        if r["n_fast"] != r["n_plain"] or not r["max_rel_diff"] <= rtol:
            bad.append(r)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        clean = [{k: _json_number(v) for k, v in r.items()} for r in rows]
        record = {"precision": precision, "rtol": rtol, "rows": clean}
        Path(args.json).write_text(json.dumps(record, indent=2) + "\n")
    if bad:
        worst = max(bad, key=lambda r: r["max_rel_diff"])
        print(
            f"FAILED: {len(bad)} of {len(rows)} client rounds differ beyond rtol {rtol} or in "
            f"kept samples (worst: round {worst['round']}, client {worst['client']}, "
            f"rel.diff {worst['max_rel_diff']:.2e})",
            file=sys.stderr,
        )
        return 1
    print(f"OK: all {len(rows)} client rounds agree within rtol {rtol}")
    return 0


def _json_number(value):
    """NaN (a client that skipped a round) as null, infinity as a string: strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else str(value)
    return value


if __name__ == "__main__":
    raise SystemExit(main())
