# Input functions and target lists of stage 5 (tables, figures, report); included by report.smk.
from fedmix.config import describe_data
from fedmix.report.tables import selection_text


def table_rows(table):
    """Rows of a table spec with a unique label each (default: 'method setting')."""
    rows = [
        {**r, "label": r.get("label", f"{r['method']} {r['setting']}")}
        for r in config["tables"][table]["rows"]
    ]
    labels = [r["label"] for r in rows]
    if len(set(labels)) != len(labels):
        raise ValueError(f"tables.{table}: row labels {labels} repeat; give each row a label")
    return rows


def is_fedmix(row):
    return config["methods"][row["method"]]["algorithm"] == "fedmix"


def row_runs(table, fedmix_only=False):
    """{row label: [run directory of each seed (of each fold, when swept)]} of a table's rows."""
    tasks = table_tasks(config, table)
    return {
        r["label"]: [
            run_dir(t, r["method"], r["setting"], s) for t in tasks for s in config["seeds"]
        ]
        for r in table_rows(table)
        if is_fedmix(r) or not fedmix_only
    }


def run_files(table, name, fedmix_only=False):
    return {k: [f"{d}/{name}" for d in v] for k, v in row_runs(table, fedmix_only).items()}


def flat(groups):
    return [f for files in groups.values() for f in files]


def table_protocol(wildcards):
    """Data and protocol of a table, for its report caption (the CSV says the same per row)."""
    spec = config["tables"][wildcards.table]
    first = spec["rows"][0]
    run = resolve_run(config, spec["task"], first["method"], first["setting"], config["seeds"][0])
    return {
        "data": run.data,
        "rounds": run.rounds,
        "selection": selection_text(run.selection, run.selection_clients),
    }


def sensitivity_tables():
    """Tables with a row whose method overrides lambda or beta (the Table 3 sweeps)."""
    def sweeps(row):
        return bool({"lambda", "beta"} & set(config["methods"][row["method"]]))

    return [t for t in sorted(config["tables"]) if any(map(sweeps, config["tables"][t]["rows"]))]


def table_inputs(wildcards):
    """Per-client evaluations (best and final) and config.json of every run of a table."""
    runs = [run_dir(*run) for run in table_runs(wildcards.table)]
    return {
        "clients": [f"{d}/eval_best_clients.csv" for d in runs],
        "configs": [f"{d}/config.json" for d in runs],
        "finals": [f"{d}/eval_final_clients.csv" for d in runs],
    }


def row_methods(wildcards):
    """{row label: method name}: a method's colour is the same in every figure."""
    return {r["label"]: r["method"] for r in table_rows(wildcards.table)}


KIND_NAMES = {
    "weights": "aggregation weights",
    "kept": "pseudo labels kept",
    "val_dice": "validation Dice",
}


def report_labels(item=None):
    """Labels of a report item, the same three for every table and figure: task, table, item."""

    def labels(wildcards):
        table = wildcards.get("table", "-")
        task = wildcards.get("task") or task_of(wildcards)
        kind = wildcards.get("kind")
        return {"task": task, "table": table, "item": item or KIND_NAMES.get(kind, kind)}

    return labels


def history_runs(wildcards):
    """{row label: history.csv per seed}: FedMix rows for weights/kept, all rows for val_dice."""
    return run_files(wildcards.table, "history.csv", wildcards.kind != "val_dice")


def history_inputs(wildcards):
    return flat(history_runs(wildcards))


def task_of(wildcards):
    return config["tables"][wildcards.table]["task"]


def overlay_checkpoints(wildcards):
    """{row label: best.pt of the first seed}."""
    return {k: v[0] for k, v in run_files(wildcards.table, "best.pt").items()}


def overlay_inputs(wildcards):
    return {
        "checkpoints": list(overlay_checkpoints(wildcards).values()),
        "test": split_files(table_tasks(config, wildcards.table)[0], "test"),  # first run's
    }


def sensitivity_runs(wildcards):
    return flat(row_runs(wildcards.table))


def sensitivity_inputs(wildcards):
    names = ("config.json", "eval_best_clients.csv")
    return [f"{d}/{f}" for d in sensitivity_runs(wildcards) for f in names]


def gallery_inputs(wildcards):
    return [f"{RESOURCES}/{wildcards.task}/standardized/{c}.h5" for c in clients(wildcards.task)]


def figure_targets():
    """Every figure of the default target list (PNG; each rule writes the PDF next to it)."""
    figures = [f"{RESULTS}/figures/{t}_labels.png" for t in TASKS]
    for table in sorted(config["tables"]):
        figures += [f"{RESULTS}/figures/{table}_{k}.png" for k in ("val_dice", "overlays")]
        if any(is_fedmix(r) for r in table_rows(table)):
            figures += [f"{RESULTS}/figures/{table}_{k}.png" for k in ("weights", "kept")]
    return figures + [f"{RESULTS}/figures/{t}_sensitivity.png" for t in sensitivity_tables()]


FIGURE_HELP = {
    "labels": "label-degradation gallery of the task's clients",
    "val_dice": "validation Dice per round, per client and method",
    "overlays": "test images where the methods disagree most, with each prediction",
    "weights": "FedMix aggregation weights per round (stacked)",
    "kept": "fraction of pseudo labels kept per weak client and round",
    "sensitivity": "test Dice against lambda and beta",
}


def target_help():
    """One line per buildable target of this configuration, for `snakemake help`."""
    rows = [("all", "every table and figure below (the default target)")]
    for name in sorted(config["tables"]):
        spec = config["tables"][name]
        what = f"{len(spec['rows'])} rows x {len(SEEDS)} seeds on task {spec['task']}"
        rows.append((f"{RESULTS}/{name}.csv", f"{name}: {what} (with .md, .tex, .html)"))
    for path in figure_targets():
        kind = next(k for k in FIGURE_HELP if path.endswith(f"_{k}.png"))
        rows.append((path, f"{FIGURE_HELP[kind]} (with .pdf)"))
    rows.append(("figures", "every figure"))
    rows.append((f"--report {RESULTS}/report.html", "HTML report of whatever is built"))
    width = max(len(target) for target, _ in rows)
    head = f"Targets of experiment {EXPERIMENT!r} (snakemake --cores N TARGET):"
    return "\n".join([head, *(f"  {t:<{width}}  {d}" for t, d in rows)])
