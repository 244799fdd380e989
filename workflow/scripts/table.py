# Adapter: rule table -> fedmix.report.tables.
from fedmix.logs import log_to
from fedmix.report.tables import build_table

sm = snakemake
with log_to(sm.log[0]):
    build_table(
        name=sm.wildcards.table,
        spec=sm.params.spec,
        task=sm.params.task,
        seeds=sm.params.seeds,
        tasks=sm.params.tasks,
        per_client_csvs=list(sm.input.clients),
        out_csv=sm.output.csv,
        out_md=sm.output.md,
        out_tex=sm.output.tex,
    )
