# Adapter: rule train -> fedmix.train.
from pathlib import Path

from fedmix.config import RunConfig
from fedmix.logs import log_to
from fedmix.train import train_run

sm = snakemake
with log_to(sm.log[0]):
    train_run(
        RunConfig.from_dict(sm.params.run),
        train_files=list(sm.input.train),
        selection_files=list(sm.input.select),
        out_dir=Path(sm.output.final).parent,
        device=sm.params.runtime["device"],
        threads=sm.threads,
        gpu_slots=sm.params.runtime["gpu_slots"],
        normals_file=sm.input.normals[0] if sm.input.normals else None,
    )
