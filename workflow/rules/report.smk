# Stage 5: tables, figures and the report, built only from result files.
# Tables: results/<exp>/{table}.{csv,md,tex,html}; figures: results/<exp>/figures/{task}_labels
# (data) and results/<exp>/figures/{table}_{kind} (runs of a table). The report shows the HTML.
# Every report item's caption lives in workflow/report/ (Jinja: snakemake.params, .wildcards).


include: "report_helpers.smk"


rule table:
    input:
        unpack(table_inputs),
    output:
        csv=f"{RESULTS}/{{table}}.csv",
        md=f"{RESULTS}/{{table}}.md",
        tex=f"{RESULTS}/{{table}}.tex",
        html=report(
            f"{RESULTS}/{{table}}.html",
            caption="../report/table.rst",
            category="Tables",
            labels=report_labels("table"),
        ),
    params:
        spec=lambda wc: config["tables"][wc.table],
        task=lambda wc: config["tasks"][task_of(wc)],
        tasks=lambda wc: table_tasks(config, wc.table),
        seeds=config["seeds"],
        protocol=table_protocol,
    wildcard_constraints:
        table="table[0-9]+",
    conda:
        "../../envs/fedmix.yaml"
    log:
        f"{LOGS}/{{table}}.log",
    script:
        "../scripts/table.py"


rule figure_labels:
    """Gallery of one task's clients at every supervision level (from the standardized data)."""
    input:
        gallery_inputs,
    output:
        png=report(
            f"{RESULTS}/figures/{{task}}_labels.png",
            caption="../report/labels.rst",
            category="Figures",
            subcategory="{task}",
            labels=report_labels("label gallery"),
        ),
        pdf=f"{RESULTS}/figures/{{task}}_labels.pdf",
    params:
        clients=lambda wc: clients(wc.task),
        data=lambda wc: describe_data(config["tasks"][wc.task]),
    log:
        f"{LOGS}/figures/{{task}}_labels.log",
    conda:
        "../../envs/fedmix.yaml"
    script:
        "../scripts/figure_labels.py"


rule figure_history:
    """Curves over rounds from history.csv: weights, kept fraction (FedMix rows), val Dice (all)."""
    input:
        history_inputs,
    output:
        png=report(
            f"{RESULTS}/figures/{{table}}_{{kind}}.png",
            caption="../report/history.rst",
            category="Figures",
            subcategory="{table}",
            labels=report_labels(),
        ),
        pdf=f"{RESULTS}/figures/{{table}}_{{kind}}.pdf",
    params:
        runs=history_runs,
        methods=row_methods,
        protocol=table_protocol,
    wildcard_constraints:
        table="table[0-9]+",
        kind="weights|kept|val_dice",
    log:
        f"{LOGS}/figures/{{table}}_{{kind}}.log",
    conda:
        "../../envs/fedmix.yaml"
    script:
        "../scripts/figure_history.py"


rule figure_overlays:
    """Ground truth vs each row's best model (first seed) on a few test images per client."""
    input:
        unpack(overlay_inputs),
    output:
        png=report(
            f"{RESULTS}/figures/{{table}}_overlays.png",
            caption="../report/overlays.rst",
            category="Figures",
            subcategory="{table}",
            labels=report_labels("test overlays"),
        ),
        pdf=f"{RESULTS}/figures/{{table}}_overlays.pdf",
    params:
        checkpoints=overlay_checkpoints,
        clients=lambda wc: clients(task_of(wc)),
        seed=config["seeds"][0],
        protocol=table_protocol,
    wildcard_constraints:
        table="table[0-9]+",
    threads: 1
    log:
        f"{LOGS}/figures/{{table}}_overlays.log",
    conda:
        "../../envs/fedmix.yaml"
    script:
        "../scripts/figure_overlays.py"


rule figure_sensitivity:
    """Test Dice against lambda and beta from a table's one-parameter sweeps."""
    input:
        sensitivity_inputs,
    output:
        png=report(
            f"{RESULTS}/figures/{{table}}_sensitivity.png",
            caption="../report/sensitivity.rst",
            category="Figures",
            subcategory="{table}",
            labels=report_labels("lambda / beta sensitivity"),
        ),
        pdf=f"{RESULTS}/figures/{{table}}_sensitivity.pdf",
    params:
        run_dirs=sensitivity_runs,
        base_method=lambda wc: config["tables"][wc.table]["rows"][0]["method"],
        protocol=table_protocol,
    wildcard_constraints:
        table="table[0-9]+",
    log:
        f"{LOGS}/figures/{{table}}_sensitivity.log",
    conda:
        "../../envs/fedmix.yaml"
    script:
        "../scripts/figure_sensitivity.py"


rule figures:
    """Every figure of the configured tasks and tables."""
    input:
        figure_targets(),


rule help:
    """List every target of this configuration with one line each: snakemake help."""
    params:
        text=target_help(),
    log:
        f"{LOGS}/help.log",
    conda:
        "../../envs/fedmix.yaml"
    shell:
        "printf '%s\\n' {params.text:q} | tee {log}"
