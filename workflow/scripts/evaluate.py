# Adapter: rule evaluate -> fedmix.evaluate (best and final checkpoint of every seed of a row).
import logging

from fedmix.evaluate import evaluate_checkpoint
from fedmix.logs import log_to

sm = snakemake
log = logging.getLogger("fedmix.evaluate")
with log_to(sm.log[0]):
    for which in ("best", "final"):
        for k, checkpoint in enumerate(getattr(sm.input, which)):
            rows = evaluate_checkpoint(
                checkpoint,
                test_files=list(sm.input.test),
                per_image_csv=getattr(sm.output, which)[k],
                per_client_csv=getattr(sm.output, f"{which}_clients")[k],
                device=sm.params.runtime["device"],
                threads=sm.threads,
            )
            scores = ", ".join(f"{r['client']} {r['dice']:.3f} ({r['n_images']})" for r in rows)
            log.info("%s (round %d): test Dice (images) %s", checkpoint, rows[0]["round"], scores)
