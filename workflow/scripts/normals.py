# Adapter: rule normals -> fedmix.data.degrade.normals_file.
from fedmix.data.degrade import normals_file
from fedmix.logs import log_to

with log_to(snakemake.log[0]):
    normals_file(snakemake.input[0], snakemake.output[0])
