# Adapter: rule evaluate -> fedmix.evaluate (best and final checkpoint of every seed of a row).
from fedmix.evaluate import evaluate_checkpoint
from fedmix.logs import log_to

sm = snakemake
with log_to(sm.log[0]):
    for which in ("best", "final"):
        for k, checkpoint in enumerate(getattr(sm.input, which)):
            evaluate_checkpoint(
                checkpoint,
                test_files=list(sm.input.test),
                per_image_csv=getattr(sm.output, which)[k],
                per_client_csv=getattr(sm.output, f"{which}_clients")[k],
                device=sm.params.runtime["device"],
                threads=sm.threads,
            )
