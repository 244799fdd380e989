# Stage 4: evaluation of a run's checkpoints on every client's test split.


rule evaluate:
    input:
        checkpoint="results/{task}/{method}/{setting}/seed{seed}/{which}.pt",
        test=lambda wc: split_files(wc.task, "test"),
    output:
        per_image="results/{task}/{method}/{setting}/seed{seed}/eval_{which}.csv",
        per_client="results/{task}/{method}/{setting}/seed{seed}/eval_{which}_clients.csv",
    params:
        runtime=config["runtime"],
    wildcard_constraints:
        which="best|final",
    threads: 1
    conda:
        "../../envs/fedmix.yaml"
    log:
        "logs/{task}/{method}/{setting}/seed{seed}/eval_{which}.log",
    script:
        "../scripts/evaluate.py"
