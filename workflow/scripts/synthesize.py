# Adapter: rule synthesize -> fedmix.data.synthetic (fedmix.data.oct for modality oct).
from fedmix.data.oct import generate_oct_client
from fedmix.data.synthetic import generate_client
from fedmix.io import write_h5
from fedmix.logs import log_to

sm = snakemake
with log_to(sm.log[0]):
    oct_task = sm.params.task["synthetic"]["modality"] == "oct"
    generate = generate_oct_client if oct_task else generate_client
    arrays, attrs = generate(sm.wildcards.task, sm.wildcards.client, sm.params.task)
    write_h5(sm.output[0], arrays, attrs)
