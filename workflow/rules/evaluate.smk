# Stage 4: evaluation of every seed's checkpoints (best on validation, and final) of one
# (task, method, setting) row on every client's test split. One job scores the whole row, so
# the torch start-up (about 3 s, more than the scoring) is paid once per row, not per run.


rule evaluate:
    input:
        best=expand(RUN_FILES + "/best.pt", seed=SEEDS),
        final=expand(RUN_FILES + "/final.pt", seed=SEEDS),
        test=lambda wc: split_files(wc.task, "test"),
    output:
        best=expand(RUN_FILES + "/eval_best.csv", seed=SEEDS),
        best_clients=expand(RUN_FILES + "/eval_best_clients.csv", seed=SEEDS),
        final=expand(RUN_FILES + "/eval_final.csv", seed=SEEDS),
        final_clients=expand(RUN_FILES + "/eval_final_clients.csv", seed=SEEDS),
    params:
        runtime=config["runtime"],
    threads: 1
    conda:
        "../../envs/fedmix.yaml"
    log:
        f"{LOGS}/{{task}}/{{method}}/{{setting}}/evaluate.log",
    script:
        "../scripts/evaluate.py"
