# Helpers shared by all stages: config validation, input functions, target lists.
import os
import re
import sys

from fedmix.config import parse_setting, resolve_run, validate_config
from fedmix.data.normals import normal_image_source
from fedmix.datasets import dataset_entry, preflight
from fedmix.datasets.folders import check_folder_task
from fedmix.datasets.folds import expand_fold_tasks, table_tasks
from fedmix.datasets.federations import client_dataset
from fedmix.datasets.registry import REGISTRY
from fedmix.resources import count_images, train_mem_mb, train_runtime_minutes

config = expand_fold_tasks(validate_config(config))  # split.folds: one task per fold

# Every output of this configuration lives under its own name, so that two configurations
# (e.g. the demo and the paper's) never overwrite each other. Raw downloads are shared.
EXPERIMENT = config["experiment"]
RESULTS = f"results/{EXPERIMENT}"
RESOURCES = f"resources/{EXPERIMENT}"
LOGS = f"logs/{EXPERIMENT}"
# One run's directory as a pattern (expand it over seeds with allow_missing=True).
RUN = f"{RESULTS}/{{task}}/{{method}}/{{setting}}/seed{{seed}}"

TASKS = sorted(config["tasks"])
SEEDS = config["seeds"]
SETTING_RE = "[LBIU](-[LBIU])*"
SYNTHETIC_TASKS = [t for t in TASKS if config["tasks"][t]["source"] == "synthetic"]
FOLDER_TASKS = [t for t in TASKS if config["tasks"][t]["source"] == "folders"]
REAL_TASKS = [t for t in TASKS if t not in SYNTHETIC_TASKS + FOLDER_TASKS]
DOWNLOADS = config["datasets"]["root"]
AUTOMATIC = sorted(k for k, d in REGISTRY.items() if d.access == "automatic")
REQUEST_ONLY = sorted(k for k, d in REGISTRY.items() if d.access == "request-only")


def one_of(names):
    """Wildcard regex matching exactly one of ``names``; matches nothing when empty."""
    return "|".join(re.escape(n) for n in names) or "(?!)"


def client_key(wildcards):
    return client_dataset(config["tasks"][wildcards.task]["source"], wildcards.client)[0]


def dataset_ready(wildcards):
    """Manifest of the verified (extracted or downloaded) dataset a real client is read from."""
    return f"{DOWNLOADS}/{client_key(wildcards)}.ready.json"


def dataset_params(wildcards):
    """Only what decides this dataset's copy (its folder, URLs, licence, allow_partial)."""
    return dataset_entry(config["datasets"], wildcards.dataset)


def client_data_params(wildcards):
    """Where this client's dataset lives, and nothing about any other dataset."""
    entry = dataset_entry(config["datasets"], client_key(wildcards))
    return {"root": DOWNLOADS, "paths": {entry["dataset"]: entry["folder"]}}


def task_data_params(wildcards):
    """The parts of a task that change this client's standardized file: not its training
    settings, not other clients' folders; the client list only where its order matters
    (HAM10000 keeps a lesion imaged at two sites at the first client)."""
    task = config["tasks"][wildcards.task]
    keys = ("source", "image_size", "channels", "split", "real")
    params = {k: task[k] for k in keys if k in task}
    if task["source"] == "ham10000":
        params["clients"] = task["clients"]
    if task["source"] == "folders":
        folders = dict(task["real"]["folders"])
        folders["clients"] = {wildcards.client: folders["clients"][wildcards.client]}
        params["real"] = {**task["real"], "folders": folders}
    return params


def print_preflight():
    """Every dataset's state, at once, before planning (dry runs included)."""
    if REAL_TASKS or FOLDER_TASKS:
        print(preflight(config)[0], file=sys.stderr)


def synthetic_data_params(wildcards):
    """The parts of a synthetic task that change this client's generated file: its own entry
    under synthetic.clients, the generator's seed and modality, sizes, classes and split; not
    the training settings or the other clients (each sample has its own seed)."""
    task = config["tasks"][wildcards.task]
    keys = ("source", "classes", "image_size", "channels", "split")
    params = {k: task[k] for k in keys if k in task}
    synthetic = task["synthetic"]
    params["synthetic"] = {
        **{k: v for k, v in synthetic.items() if k != "clients"},
        "clients": {wildcards.client: synthetic["clients"][wildcards.client]},
    }
    return params


def check_real_clients():
    """Fail at load time on a real task's client that its federation (or folders) lacks."""
    for task in REAL_TASKS:
        for client in config["tasks"][task]["clients"]:
            client_dataset(config["tasks"][task]["source"], client)
    for task in FOLDER_TASKS:
        check_folder_task(task, config["tasks"][task])


check_real_clients()
print_preflight()


def clients(task):
    return config["tasks"][task]["clients"]


def normal_client(task):
    """The client whose standardized file holds the task's normal images (BUSI: bus)."""
    source = normal_image_source(config["tasks"][task])
    if source is None:
        raise ValueError(f"task {task!r} has no normal images to add (see real.normal_images)")
    return source


def run_dir(task, method, setting, seed):
    return f"{RESULTS}/{task}/{method}/{setting}/seed{seed}"


def train_files(wildcards):
    """Training inputs of one run: each client's file at its supervision level."""
    letters = parse_setting(wildcards.setting, len(clients(wildcards.task)))
    return [
        f"{RESOURCES}/{wildcards.task}/train/{c}.{sup}.h5"
        for c, sup in zip(clients(wildcards.task), letters)
    ]


def split_files(task, split):
    return [f"{RESOURCES}/{task}/{split}/{c}.h5" for c in clients(task)]


def selection_files(wildcards):
    """Files used for model selection: val by default, test only with selection: test."""
    run = resolve_run(config, wildcards.task, wildcards.method, wildcards.setting, wildcards.seed)
    return split_files(wildcards.task, "test" if run.selection == "test" else "val")


def normal_files(wildcards):
    """The normals file, for a run whose clients train on normal images (real.normal_images)."""
    run = resolve_run(config, wildcards.task, wildcards.method, wildcards.setting, wildcards.seed)
    return [f"{RESOURCES}/{wildcards.task}/train/normals.h5"] if run.normal_clients else []


def normals_source(wildcards):
    """The standardized file of the client whose data hold the normal images (BUSI's)."""
    return f"{RESOURCES}/{wildcards.task}/standardized/{normal_client(wildcards.task)}.h5"


def run_config(wildcards):
    return resolve_run(
        config, wildcards.task, wildcards.method, wildcards.setting, int(wildcards.seed)
    ).to_dict()


def train_runtime(wildcards, input):
    """Wall-time request of a training run in minutes, from rounds x training images."""
    run = resolve_run(config, wildcards.task, wildcards.method, wildcards.setting, wildcards.seed)
    n_images = count_images(input.train)
    return train_runtime_minutes(run.rounds, run.local_epochs, n_images, run.crop_size)


def train_mem(wildcards, input):
    """Host memory request of a training run in MB, from the size of its training images."""
    run = resolve_run(config, wildcards.task, wildcards.method, wildcards.setting, wildcards.seed)
    return train_mem_mb(count_images(input.train), run.channels, run.image_size)


def table_runs(table):
    """(task, method, setting, seed) of every run a table needs (every fold's, when swept)."""
    spec = config["tables"][table]
    return [
        (task, row["method"], row["setting"], seed)
        for row in spec["rows"]
        for task in table_tasks(config, table)
        for seed in config["seeds"]
    ]


def table_targets():
    return [f"{RESULTS}/{t}.csv" for t in sorted(config["tables"])]


# `snakemake --report` gathers every report item of the default target and stops at the first
# one not built yet; while reporting, the default target is only what exists, so a report of
# Table 1 alone (or of any part of the pipeline) works. Building is unaffected.
REPORTING = any(arg == "--report" or arg.startswith("--report=") for arg in sys.argv)


def default_targets():
    """Every table and figure; while reporting, those already built."""
    targets = table_targets() + figure_targets()
    if not REPORTING:
        return targets
    built = [t for t in targets if os.path.exists(t)]
    if not built:
        raise ValueError(
            f"snakemake --report: nothing of experiment {EXPERIMENT!r} is built yet (none of "
            f"{targets[:3]}...); build a table first, e.g. snakemake {targets[0]}"
        )
    return built
