# Adapter: rule figure_overlays -> fedmix.report.images.
import torch

from fedmix.logs import log_to
from fedmix.report.images import plot_overlays

sm = snakemake
torch.set_num_threads(sm.threads)
with log_to(sm.log[0]):
    plot_overlays(
        dict(zip(sm.params.clients, sm.input.test, strict=True)),
        dict(sm.params.checkpoints),
        sm.output.png,
        sm.output.pdf,
    )
