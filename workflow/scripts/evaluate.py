# Adapter: rule evaluate -> fedmix.evaluate.
from fedmix.evaluate import evaluate_checkpoint
from fedmix.logs import log_to

sm = snakemake
with log_to(sm.log[0]):
    evaluate_checkpoint(
        sm.input.checkpoint,
        test_files=list(sm.input.test),
        per_image_csv=sm.output.per_image,
        per_client_csv=sm.output.per_client,
        device=sm.params.runtime["device"],
        threads=sm.threads,
    )
