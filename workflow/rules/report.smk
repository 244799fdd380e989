# Stage 5: tables, figures and the report, built only from result files.


rule table:
    input:
        lambda wc: [
            f"{run_dir(*run)}/eval_best_clients.csv" for run in table_runs(wc.table)
        ],
    output:
        csv="results/{table}.csv",
        md="results/{table}.md",
        tex="results/{table}.tex",
    params:
        spec=lambda wc: config["tables"][wc.table],
        task=lambda wc: config["tasks"][config["tables"][wc.table]["task"]],
        seeds=config["seeds"],
    wildcard_constraints:
        table="table[0-9]+",
    conda:
        "../../envs/fedmix.yaml"
    log:
        "logs/{table}.log",
    script:
        "../scripts/table.py"
