# Adapter: rule synthesize -> fedmix.data.synthetic.
import logging

from fedmix.data.synthetic import generate_client
from fedmix.io import write_h5
from fedmix.logs import log_to

sm = snakemake
with log_to(sm.log[0]):
    arrays, attrs = generate_client(sm.wildcards.task, sm.wildcards.client, sm.params.task)
    write_h5(sm.output[0], arrays, attrs)
    logging.getLogger("fedmix.data").info(
        "%s/%s: %d synthetic images (%d with a lesion), %s -> %s",
        sm.wildcards.task, sm.wildcards.client, len(arrays["lesion"]), int(arrays["lesion"].sum()),
        "x".join(map(str, arrays["images"].shape[1:])), sm.output[0],
    )  # fmt: skip
