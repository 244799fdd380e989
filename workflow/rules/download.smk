# Stage 0: real data. Automatic datasets are downloaded (hash-checked, licence accepted in
# datasets.accept_licences); request-only ones (BUSIS, UDIAT) are placed by the user and checked.
# Both leave the marker {root}/{dataset}.ready.json that rule standardize depends on.


rule download:
    """Download, hash-check and unpack one automatic dataset (BUSI, HAM10000, ISIC 2018)."""
    output:
        f"{DOWNLOADS}/{{dataset}}.ready.json",
    params:
        datasets=config["datasets"],
    wildcard_constraints:
        dataset=one_of(AUTOMATIC),
    conda:
        "../../envs/fedmix.yaml"
    log:
        "logs/downloads/{dataset}.log",
    script:
        "../scripts/download.py"


rule verify_manual:
    """Check a hand-placed request-only dataset (counts, names, 0/255 masks)."""
    output:
        f"{DOWNLOADS}/{{dataset}}.ready.json",
    params:
        datasets=config["datasets"],
    wildcard_constraints:
        dataset=one_of(REQUEST_ONLY),
    conda:
        "../../envs/fedmix.yaml"
    log:
        "logs/downloads/{dataset}.log",
    script:
        "../scripts/verify_manual.py"
