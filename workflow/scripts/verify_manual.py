# Adapter: rule verify_manual -> fedmix.datasets.verify_manual.
import json

from fedmix.datasets import verify_manual
from fedmix.logs import log_to

sm = snakemake
with log_to(sm.log[0]):
    manifest = verify_manual(sm.wildcards.dataset, sm.params.datasets)
    with open(sm.output[0], "w") as f:
        json.dump(manifest, f, indent=2)
