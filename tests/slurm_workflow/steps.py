"""Steps of tests/slurm_workflow: deterministic outputs; scheduler facts go to the log only."""

import os
import sys

import numpy as np

from fedmix.io import read_h5, write_h5


def main(step: str, *args: str) -> None:
    print({k: v for k, v in os.environ.items() if k.startswith("SLURM_JOB_")}, file=sys.stderr)
    if step == "client":
        n, out = int(args[0]), args[1]
        images = np.arange(n * 64, dtype=np.uint8).reshape(n, 1, 8, 8)
        write_h5(out, {"images": images}, {"kind": "test"})
    elif step == "train":
        arrays, _ = read_h5(args[0], ("images",))
        with open(args[1], "w") as f:
            f.write(f"{len(arrays['images'])},{arrays['images'].mean():.6f}\n")
    elif step == "table":
        with open(args[0], "w") as out:
            out.write("client,n_images,mean\n")
            for path in args[1:]:
                name = os.path.basename(path).removesuffix(".txt")
                out.write(f"{name},{open(path).read()}")
    else:
        raise ValueError(f"unknown step {step!r}; use client, train or table")


if __name__ == "__main__":
    main(*sys.argv[1:])
