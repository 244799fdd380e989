# Stage 3: one federated training run per task, method, setting and seed (one rule for all).


rule train:
    input:
        train=train_files,
        select=selection_files,
        normals=normal_files,
    output:
        final=f"{RUN}/final.pt",
        best=f"{RUN}/best.pt",
        history=f"{RUN}/history.csv",
        config=f"{RUN}/config.json",
    params:
        run=run_config,
        runtime=config["runtime"],
    threads: 1  # one torch thread per job is fastest on CPU; parallelise across jobs
    resources:
        gpu=1,  # sbatch --gpus=1 on SLURM; locally caps concurrent jobs (--resources gpu=N)
        runtime=train_runtime,  # minutes, from rounds x training images (fedmix.resources)
        mem_mb=train_mem,
    conda:
        "../../envs/fedmix.yaml"
    log:
        f"{LOGS}/{{task}}/{{method}}/{{setting}}/seed{{seed}}/train.log",
    script:
        "../scripts/train.py"
