# Adapter: rule figure_history -> fedmix.report.figures (one function per figure kind).
from fedmix.logs import log_to
from fedmix.report.figures import plot_kept_fraction, plot_val_dice, plot_weights

sm = snakemake
with log_to(sm.log[0]):
    runs = dict(sm.params.runs)
    if sm.wildcards.kind == "val_dice":
        plot_val_dice(runs, sm.output.png, sm.output.pdf, methods=dict(sm.params.methods))
    else:
        plot = plot_weights if sm.wildcards.kind == "weights" else plot_kept_fraction
        plot(runs, sm.output.png, sm.output.pdf)
