# Stage 0: real data. Each dataset is made ready once: an extracted copy already in its folder
# (datasets.paths.<key> or <root>/<key>; official archive or a mirror) is verified by content and
# used as is; otherwise an automatic dataset is downloaded (licence accepted in
# datasets.accept_licences) and verified the same way; a request-only one (BUSIS, UDIAT) stops
# with where to get it. Both rules write {root}/{dataset}.ready.json: the manifest (per-file
# SHA-256 and digest) that rule standardize records as provenance. Their only params are that
# dataset's own settings, so editing another dataset's entry re-runs nothing here.


rule download:
    """Verify the extracted copy of an automatic dataset, or download it (BUSI, BUS-BRA, HAM10000, ISIC 2018)."""
    output:
        f"{DOWNLOADS}/{{dataset}}.ready.json",
    params:
        entry=dataset_params,
    wildcard_constraints:
        dataset=one_of(AUTOMATIC),
    conda:
        "../../envs/fedmix.yaml"
    log:
        "logs/downloads/{dataset}.log",
    script:
        "../scripts/download.py"


rule verify_manual:
    """Verify the placed copy of a request-only dataset (BUSIS, UDIAT): names, counts, masks."""
    output:
        f"{DOWNLOADS}/{{dataset}}.ready.json",
    params:
        entry=dataset_params,
    wildcard_constraints:
        dataset=one_of(REQUEST_ONLY),
    conda:
        "../../envs/fedmix.yaml"
    log:
        "logs/downloads/{dataset}.log",
    script:
        "../scripts/download.py"
