# Adapter: rule holdout -> fedmix.data.degrade.
from fedmix.data.degrade import holdout_file
from fedmix.logs import log_to

with log_to(snakemake.log[0]):
    holdout_file(snakemake.input[0], snakemake.output[0], snakemake.wildcards.split)
