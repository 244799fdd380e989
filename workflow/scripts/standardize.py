# Adapter: rule standardize -> fedmix.datasets.standardize_client.
from fedmix.datasets import read_ready, standardize_client, user_errors
from fedmix.io import write_h5
from fedmix.logs import log_to

sm = snakemake
with log_to(sm.log[0]), user_errors():
    arrays, attrs = standardize_client(
        sm.wildcards.task,
        sm.wildcards.client,
        sm.params.task,
        sm.params.datasets,
        manifest=read_ready(sm.input[0]),
    )
    write_h5(sm.output[0], arrays, attrs)
