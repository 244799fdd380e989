# Adapter: rule figure_labels -> fedmix.report.images.
from fedmix.logs import log_to
from fedmix.report.images import plot_label_gallery

sm = snakemake
with log_to(sm.log[0]):
    plot_label_gallery(
        dict(zip(sm.params.clients, sm.input, strict=True)), sm.output.png, sm.output.pdf
    )
