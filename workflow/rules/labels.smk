# Stage 2: label degradation and held-out splits. A training file holds only what its
# supervision letter allows; masks of val/test images live in separate files.


rule degrade:
    """Train split of one client at supervision L (masks), B (boxes), I (image labels) or U."""
    input:
        "resources/{task}/standardized/{client}.h5",
    output:
        "resources/{task}/train/{client}.{sup}.h5",
    conda:
        "../../envs/fedmix.yaml"
    log:
        "logs/{task}/train/{client}.{sup}.log",
    script:
        "../scripts/degrade.py"


rule holdout:
    """Validation or test split of one client, with masks, for selection or evaluation."""
    input:
        "resources/{task}/standardized/{client}.h5",
    output:
        "resources/{task}/{split}/{client}.h5",
    conda:
        "../../envs/fedmix.yaml"
    log:
        "logs/{task}/{split}/{client}.log",
    script:
        "../scripts/holdout.py"
