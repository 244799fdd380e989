# Stage 1: standardized data, one HDF5 file per task and client. The task's `source` picks the
# rule: synthesize for synthetic tasks, standardize (from downloaded or placed data) otherwise.


rule synthesize:
    """Generate one synthetic client deterministically (one seed per sample)."""
    output:
        f"{RESOURCES}/{{task}}/standardized/{{client}}.h5",
    params:
        task=task_config,
    wildcard_constraints:
        task=one_of(SYNTHETIC_TASKS),
    conda:
        "../../envs/fedmix.yaml"
    log:
        f"{LOGS}/{{task}}/standardized/{{client}}.log",
    script:
        "../scripts/synthesize.py"


rule standardize:
    """Read one real client (grayscale, resized, 0/1 masks, split) into the common layout."""
    input:
        dataset_ready,
    output:
        f"{RESOURCES}/{{task}}/standardized/{{client}}.h5",
    params:
        task=task_config,
        datasets=config["datasets"],
    wildcard_constraints:
        task=one_of(REAL_TASKS),
    conda:
        "../../envs/fedmix.yaml"
    log:
        f"{LOGS}/{{task}}/standardized/{{client}}.log",
    script:
        "../scripts/standardize.py"
