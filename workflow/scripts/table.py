# Adapter: rule table -> fedmix.report.tables (CSV, Markdown, LaTeX) and fedmix.report.html.
import logging

from fedmix.logs import log_to
from fedmix.report.html import write_table_html
from fedmix.report.tables import build_table

sm = snakemake
with log_to(sm.log[0]):
    rows = build_table(
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
    write_table_html(sm.output.md, sm.output.html, title=sm.wildcards.table)
    logging.getLogger("fedmix.report").info(
        "%s: %d rows from %d runs -> %s (.md, .tex, .html)",
        sm.wildcards.table, len(rows), len(sm.input.clients), sm.output.csv,
    )  # fmt: skip
