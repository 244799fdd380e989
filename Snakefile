# fedmix: FedMix (Wicaksana et al., IEEE TMI 2023) as a reproducible Snakemake pipeline.
#
# Layout of what it writes (logs/ mirrors results/ and resources/):
#   resources/downloads/{dataset}[.ready.json]      real data and its verified manifest (real tasks)
#   resources/{task}/standardized/{client}.h5      all samples of a client (images, masks, labels, split)
#   resources/{task}/train/{client}.{L,B,I,U}.h5    train split, only what the supervision allows
#   resources/{task}/{val,test}/{client}.h5         held-out splits with masks (test: evaluation only)
#   results/{task}/{method}/{setting}/seed{seed}/   checkpoints, history.csv, config.json, eval_*.csv
#   results/table{1,2,3}.{csv,md,tex}, results/figures/*.{png,pdf}, results/report.html
from snakemake.utils import min_version

min_version("9.0")


# The embedded default, unless another complete config is given (--configfile config/paper.yaml):
# Snakemake would otherwise merge the two, mixing the synthetic tasks into the paper's.
if "tasks" not in config:

    configfile: "config/config.yaml"



report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"


wildcard_constraints:
    task="|".join(TASKS),
    client="[A-Za-z0-9_]+",
    sup="[LBIU]",
    setting=SETTING_RE,
    method="[A-Za-z0-9_.-]+",
    seed=r"\d+",
    split="val|test",


include: "workflow/rules/download.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/labels.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"


# Under a cluster executor (--profile profiles/slurm) only the heavy jobs (train, evaluate,
# standardize of real data) are submitted; these light ones run on the submitting machine,
# and download needs the internet, which compute nodes often lack.
localrules:
    all,
    download,
    verify_manual,
    synthesize,
    degrade,
    holdout,
    table,
    figure_labels,
    figure_history,
    figure_overlays,
    figure_sensitivity,
    figures,


rule all:
    input:
        table_targets(),
        figure_targets(),
