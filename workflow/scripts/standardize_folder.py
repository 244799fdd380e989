# Adapter: rule standardize_folder -> fedmix.datasets.standardize_folder_client.
from fedmix.datasets import standardize_folder_client, user_errors, write_ready
from fedmix.io import write_h5
from fedmix.logs import log_to

sm = snakemake
with log_to(sm.log[0]), user_errors():
    arrays, attrs, manifest = standardize_folder_client(
        sm.wildcards.task, sm.wildcards.client, sm.params.task
    )
    write_ready(sm.output.manifest, manifest)
    write_h5(sm.output.h5, arrays, attrs)
