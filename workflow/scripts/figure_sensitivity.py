# Adapter: rule figure_sensitivity -> fedmix.report.figures.
from fedmix.logs import log_to
from fedmix.report.figures import plot_sensitivity

sm = snakemake
with log_to(sm.log[0]):
    plot_sensitivity(list(sm.params.run_dirs), sm.params.base_method, sm.output.png, sm.output.pdf)
