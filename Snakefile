# fedmix: FedMix (Wicaksana et al., IEEE TMI 2023) as a reproducible Snakemake pipeline.
#
# Layout of what it writes, per configuration (<exp> = its `experiment:` name; logs/<exp>/
# mirrors results/<exp>/ and resources/<exp>/; raw downloads are shared by every configuration):
#   resources/downloads/{dataset}[.ready.json]          real data and its verified manifest
#   resources/<exp>/{task}/standardized/{client}.h5     all samples of a client (images, masks, split)
#   resources/<exp>/{task}/train/{client}.{L,B,I,U}.h5  train split, only what the supervision allows
#   resources/<exp>/{task}/{val,test}/{client}.h5       held-out splits with masks (test: evaluation)
#   results/<exp>/{task}/{method}/{setting}/seed{seed}/ checkpoints, history.csv, config.json, eval_*
#   results/<exp>/table{1,2,3}.{csv,md,tex}, results/<exp>/figures/*.{png,pdf}
#   results/<exp>/report.html                           snakemake --report results/<exp>/report.html
# `snakemake help` lists every target with one line each.
from snakemake.utils import min_version

min_version("9.0")


# The embedded default, unless another complete config is given (--configfile config/paper.yaml):
# Snakemake would otherwise merge the two, mixing the synthetic tasks into the paper's.
if "tasks" not in config:

    configfile: "config/config.yaml"



report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"


wildcard_constraints:
    task=one_of(TASKS),
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
    help,


rule all:
    """Every table and figure of this configuration."""
    input:
        default_targets(),
