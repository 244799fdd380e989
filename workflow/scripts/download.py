# Adapter: rule download -> fedmix.datasets.fetch_dataset.
import json

from fedmix.datasets import fetch_dataset
from fedmix.logs import log_to

sm = snakemake
with log_to(sm.log[0]):
    manifest = fetch_dataset(sm.wildcards.dataset, sm.params.datasets)
    with open(sm.output[0], "w") as f:
        json.dump(manifest, f, indent=2)
