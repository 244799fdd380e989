# Adapter: rules download and verify_manual -> fedmix.datasets.prepare_dataset.
from fedmix.datasets import prepare_dataset, user_errors, write_ready
from fedmix.logs import log_to

sm = snakemake
with log_to(sm.log[0]), user_errors():
    write_ready(sm.output[0], prepare_dataset(sm.params.entry))
