"""A table's HTML rendering (for the Snakemake report), from its Markdown rendering.

:func:`fedmix.report.tables.build_table` writes the Markdown: a bold caption line, a header row,
an alignment row and one row per method. The HTML shows the same cells, so the report displays the
table itself rather than a CSV to download.
"""

from __future__ import annotations

import html
import os
from pathlib import Path

__all__ = ["markdown_table_to_html", "write_table_html"]

STYLE = (
    "body{font-family:sans-serif;font-size:14px;margin:1em}"
    "table{border-collapse:collapse}th,td{padding:3px 8px;border-bottom:1px solid #ccc}"
    "th{border-bottom:2px solid #333;text-align:left}td.num{text-align:right}"
    "caption{caption-side:top;text-align:left;max-width:60em;margin-bottom:.5em}"
)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def markdown_table_to_html(markdown: str, title: str) -> str:
    """A complete HTML page of the table in ``markdown`` (the layout ``build_table`` writes)."""
    lines = [line for line in markdown.splitlines() if line.strip()]
    if len(lines) < 3 or not lines[0].startswith("**") or not lines[1].startswith("|"):
        raise ValueError(
            f"{title}: not a table written by fedmix.report.tables (caption, header, rows); "
            "rebuild it with snakemake"
        )
    caption = lines[0].strip("*")
    header, align, rows = _cells(lines[1]), _cells(lines[2]), [_cells(r) for r in lines[3:]]
    numeric = [a.endswith(":") for a in align]
    out = [
        "<!DOCTYPE html>",
        f'<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>',
        f"<style>{STYLE}</style></head><body><table>",
        f"<caption>{html.escape(caption)}</caption>",
        "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>",
    ]
    for row in rows:
        cells = (
            f'<td class="num">{html.escape(c)}</td>' if num else f"<td>{html.escape(c)}</td>"
            for c, num in zip(row, numeric, strict=True)
        )
        out.append("<tr>" + "".join(cells) + "</tr>")
    return "\n".join([*out, "</table></body></html>"]) + "\n"


def write_table_html(md_path: str | os.PathLike, out_html: str | os.PathLike, title: str) -> Path:
    out = Path(out_html)
    out.write_text(markdown_table_to_html(Path(md_path).read_text(), title))
    return out
