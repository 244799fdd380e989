# Stage 4: evaluation of every seed's checkpoints (best on validation, and final) of one
# (task, method, setting) row on every client's test split. One job scores the whole row, so
# the torch start-up (about 3 s, more than the scoring) is paid once per row, not per run.


rule evaluate:
    input:
        best=expand(f"{RUN}/best.pt", seed=SEEDS, allow_missing=True),
        final=expand(f"{RUN}/final.pt", seed=SEEDS, allow_missing=True),
        test=lambda wc: split_files(wc.task, "test"),
    output:
        best=expand(f"{RUN}/eval_best.csv", seed=SEEDS, allow_missing=True),
        best_clients=expand(f"{RUN}/eval_best_clients.csv", seed=SEEDS, allow_missing=True),
        final=expand(f"{RUN}/eval_final.csv", seed=SEEDS, allow_missing=True),
        final_clients=expand(f"{RUN}/eval_final_clients.csv", seed=SEEDS, allow_missing=True),
    params:
        runtime=config["runtime"],
    threads: 1
    conda:
        "../../envs/fedmix.yaml"
    log:
        f"{LOGS}/{{task}}/{{method}}/{{setting}}/evaluate.log",
    script:
        "../scripts/evaluate.py"
