# Stage 2: label degradation and held-out splits. A training file holds only what its
# supervision letter allows; masks of val/test images live in separate files.


rule degrade:
    """Train split of one client at supervision L (masks), B (boxes), I (image labels) or U."""
    input:
        f"{RESOURCES}/{{task}}/standardized/{{client}}.h5",
    output:
        f"{RESOURCES}/{{task}}/train/{{client}}.{{sup}}.h5",
    conda:
        "../../envs/fedmix.yaml"
    log:
        f"{LOGS}/{{task}}/train/{{client}}.{{sup}}.log",
    script:
        "../scripts/degrade.py"


rule normals:
    """BUSI's normal images (training only), added per run where its normal-image rule says."""
    input:
        normals_source,
    output:
        f"{RESOURCES}/{{task}}/train/normals.h5",
    conda:
        "../../envs/fedmix.yaml"
    log:
        f"{LOGS}/{{task}}/train/normals.log",
    script:
        "../scripts/normals.py"


rule holdout:
    """Validation or test split of one client, with masks, for selection or evaluation."""
    input:
        f"{RESOURCES}/{{task}}/standardized/{{client}}.h5",
    output:
        f"{RESOURCES}/{{task}}/{{split}}/{{client}}.h5",
    wildcard_constraints:
        split="val|test",
    conda:
        "../../envs/fedmix.yaml"
    log:
        f"{LOGS}/{{task}}/{{split}}/{{client}}.log",
    script:
        "../scripts/holdout.py"
