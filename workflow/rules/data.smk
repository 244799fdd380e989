# Stage 1: standardized data, one HDF5 file per task and client.


rule synthesize:
    """Generate one synthetic client deterministically (one seed per sample)."""
    output:
        "resources/{task}/standardized/{client}.h5",
    params:
        task=lambda wc: config["tasks"][wc.task],
    conda:
        "../../envs/fedmix.yaml"
    log:
        "logs/{task}/standardized/{client}.log",
    script:
        "../scripts/synthesize.py"
