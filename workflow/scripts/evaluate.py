# Adapter: rule evaluate -> fedmix.evaluate (best and final checkpoint).
from fedmix.evaluate import evaluate_checkpoint
from fedmix.logs import log_to

sm = snakemake
with log_to(sm.log[0]):
    for which in ("best", "final"):
        evaluate_checkpoint(
            sm.input[which],
            test_files=list(sm.input.test),
            per_image_csv=sm.output[which],
            per_client_csv=sm.output[f"{which}_clients"],
            device=sm.params.runtime["device"],
            threads=sm.threads,
        )
