# Stage 1: standardized data, one HDF5 file per task and client. The task's `source` picks the
# rule: synthesize for synthetic tasks, standardize_folder for `source: folders`, standardize
# (from a verified dataset) otherwise. Params hold only what changes the file.


rule synthesize:
    """Generate one synthetic client deterministically (one seed per sample)."""
    output:
        f"{RESOURCES}/{{task}}/standardized/{{client}}.h5",
    params:
        task=synthetic_data_params,
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
        task=task_data_params,
        datasets=client_data_params,
    wildcard_constraints:
        task=one_of(REAL_TASKS),
    conda:
        "../../envs/fedmix.yaml"
    log:
        f"{LOGS}/{{task}}/standardized/{{client}}.log",
    script:
        "../scripts/standardize.py"


rule standardize_folder:
    """Verify and read one client of a `source: folders` task (your own images and masks)."""
    output:
        h5=f"{RESOURCES}/{{task}}/standardized/{{client}}.h5",
        manifest=f"{RESOURCES}/{{task}}/standardized/{{client}}.manifest.json",
    params:
        task=task_data_params,
    wildcard_constraints:
        task=one_of(FOLDER_TASKS),
    conda:
        "../../envs/fedmix.yaml"
    log:
        f"{LOGS}/{{task}}/standardized/{{client}}.log",
    script:
        "../scripts/standardize_folder.py"
