# Adapter: rule degrade -> fedmix.data.degrade.
from fedmix.data.degrade import degrade_file
from fedmix.logs import log_to

with log_to(snakemake.log[0]):
    degrade_file(snakemake.input[0], snakemake.output[0], snakemake.wildcards.sup)
