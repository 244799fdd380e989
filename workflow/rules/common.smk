# Helpers shared by all stages: config validation, input functions, target lists.
from fedmix.config import parse_setting, resolve_run, validate_config

config = validate_config(config)

TASKS = sorted(config["tasks"])
SETTING_RE = "[LBIU](-[LBIU])*"


def clients(task):
    return config["tasks"][task]["clients"]


def run_dir(task, method, setting, seed):
    return f"results/{task}/{method}/{setting}/seed{seed}"


def train_files(wildcards):
    """Training inputs of one run: each client's file at its supervision level."""
    letters = parse_setting(wildcards.setting, len(clients(wildcards.task)))
    return [
        f"resources/{wildcards.task}/train/{c}.{sup}.h5"
        for c, sup in zip(clients(wildcards.task), letters)
    ]


def split_files(task, split):
    return [f"resources/{task}/{split}/{c}.h5" for c in clients(task)]


def selection_files(wildcards):
    """Files used for model selection: val by default, test only with selection: test."""
    run = resolve_run(config, wildcards.task, wildcards.method, wildcards.setting, wildcards.seed)
    return split_files(wildcards.task, "test" if run.selection == "test" else "val")


def run_config(wildcards):
    return resolve_run(
        config, wildcards.task, wildcards.method, wildcards.setting, int(wildcards.seed)
    ).to_dict()


def table_runs(table):
    """(task, method, setting, seed) of every run a table needs."""
    spec = config["tables"][table]
    return [
        (spec["task"], row["method"], row["setting"], seed)
        for row in spec["rows"]
        for seed in config["seeds"]
    ]


def table_targets():
    return [f"results/{t}.csv" for t in sorted(config["tables"])]
