# Adapter: rule figure_history -> fedmix.report.figures (one function per figure kind).
from fedmix.logs import log_to
from fedmix.report.figures import plot_kept_fraction, plot_val_dice, plot_weights

PLOTS = {"weights": plot_weights, "kept": plot_kept_fraction, "val_dice": plot_val_dice}

sm = snakemake
with log_to(sm.log[0]):
    PLOTS[sm.wildcards.kind](dict(sm.params.runs), sm.output.png, sm.output.pdf)
