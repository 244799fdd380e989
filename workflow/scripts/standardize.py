# Adapter: rule standardize -> fedmix.datasets.standardize_client.
from fedmix.datasets import standardize_client
from fedmix.io import write_h5
from fedmix.logs import log_to

sm = snakemake
with log_to(sm.log[0]):
    arrays, attrs = standardize_client(
        sm.wildcards.task, sm.wildcards.client, sm.params.task, sm.params.datasets
    )
    write_h5(sm.output[0], arrays, attrs)
