# Stage 4: evaluation of a run's checkpoints (best on validation, and final) on every client's
# test split. One job scores both, so the torch start-up is paid once per run.


rule evaluate:
    input:
        best="results/{task}/{method}/{setting}/seed{seed}/best.pt",
        final="results/{task}/{method}/{setting}/seed{seed}/final.pt",
        test=lambda wc: split_files(wc.task, "test"),
    output:
        best="results/{task}/{method}/{setting}/seed{seed}/eval_best.csv",
        best_clients="results/{task}/{method}/{setting}/seed{seed}/eval_best_clients.csv",
        final="results/{task}/{method}/{setting}/seed{seed}/eval_final.csv",
        final_clients="results/{task}/{method}/{setting}/seed{seed}/eval_final_clients.csv",
    params:
        runtime=config["runtime"],
    threads: 1
    conda:
        "../../envs/fedmix.yaml"
    log:
        "logs/{task}/{method}/{setting}/seed{seed}/evaluate.log",
    script:
        "../scripts/evaluate.py"
