"""How every figure looks, set once: print sizes, font sizes, colours of methods and clients.

Sizes follow IEEE TMI: a figure is printed at most one page column (3.5 in) or the page width
(7.16 in) wide, without scaling, so a font size here is the printed size. Every text is at least
:data:`MIN_FONT_PT`. Colours are colour-blind safe (Okabe & Ito 2008 for methods, Paul Tol's
"light" scheme for clients); a method keeps its colour in every figure, the proposed method
(:data:`PROPOSED`) is drawn thicker and on top.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence

import matplotlib

__all__ = [
    "COLUMN_IN",
    "FONT_PT",
    "GROUND_TRUTH",
    "MIN_FONT_PT",
    "PAGE_IN",
    "PREDICTION",
    "PROPOSED",
    "RC",
    "client_colours",
    "method_colours",
    "row_styles",
    "styled",
]

COLUMN_IN = 3.5  # one column of IEEE TMI, inches
PAGE_IN = 7.16  # the full text width
MAX_HEIGHT_IN = 9.0  # a figure and its caption fit one page
FONT_PT = 8
MIN_FONT_PT = 7
PNG_DPI = 300

RC = {
    "font.family": "DejaVu Sans",
    "font.size": FONT_PT,
    "axes.titlesize": FONT_PT,
    "axes.labelsize": FONT_PT,
    "figure.titlesize": FONT_PT,
    "xtick.labelsize": MIN_FONT_PT,
    "ytick.labelsize": MIN_FONT_PT,
    "legend.fontsize": MIN_FONT_PT,
    "legend.title_fontsize": MIN_FONT_PT,
    "axes.linewidth": 0.6,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "lines.linewidth": 1.2,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "pdf.fonttype": 42,  # TrueType in the PDF: text stays text (searchable, editable)
    "ps.fonttype": 42,
    "savefig.dpi": PNG_DPI,
}

OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky blue": "#56B4E9",
    "bluish green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish purple": "#CC79A7",
}
PROPOSED = "fedmix-tmi"
# Fixed colours of the methods every table uses; other methods (ablations) take the rest in order.
KNOWN_METHODS = {
    "fedmix-tmi": OKABE_ITO["vermillion"],
    "fedmix-arxiv": OKABE_ITO["orange"],
    "fedavg": OKABE_ITO["blue"],
    "fedprox": OKABE_ITO["sky blue"],
    "fedst": OKABE_ITO["bluish green"],
    "fedrgd": OKABE_ITO["reddish purple"],
    "local": OKABE_ITO["black"],
}
# Paul Tol's "muted" colours (colour-blind safe) for methods without a fixed colour.
OTHER_METHODS = ("#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77", "#882255")
TOL_LIGHT = ("#77AADD", "#EE8866", "#EEDD88", "#FFAABB", "#99DDFF", "#44BB99", "#BBCC33")
LINESTYLES = ("-", "--", ":", "-.")
GROUND_TRUTH = "#00FFFF"  # contour colours on grayscale images: cyan vs orange stay apart
PREDICTION = "#FF9900"  # for every common colour-vision deficiency


def styled(plot: Callable) -> Callable:
    """Build a figure under :data:`RC` (fonts are fixed when each text is created)."""

    @functools.wraps(plot)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(RC):
            return plot(*args, **kwargs)

    return wrapper


def method_colours(methods: Sequence[str]) -> dict[str, str]:
    """{method: colour}: the fixed colour of a known method, else the next unused one in order."""
    spare = iter(OTHER_METHODS + TOL_LIGHT)
    out = {}
    for m in dict.fromkeys(methods):
        out[m] = KNOWN_METHODS.get(m) or next(spare, None)
        if out[m] is None:
            raise ValueError(f"methods {sorted(set(methods))}: more than the colours available")
    return out


def row_styles(methods: Mapping[str, str]) -> dict[str, dict]:
    """Line style of each table row ``{label: method}``: colour by method, dash by repeat.

    A method's first row is solid, its next rows (another setting) dashed, dotted, ...; the
    proposed method's rows are thicker and drawn on top.
    """
    colours = method_colours(list(methods.values()))
    seen: dict[str, int] = {}
    out = {}
    for label, method in methods.items():
        k = seen[method] = seen.get(method, -1) + 1
        main = method == PROPOSED
        out[label] = dict(
            color=colours[method],
            linestyle=LINESTYLES[k % len(LINESTYLES)],
            linewidth=1.8 if main else 1.1,
            zorder=3 if main else 2,
        )
    return out


def client_colours(clients: Sequence[str]) -> dict[str, str]:
    """{client: colour} in client order (the same client, the same colour in every figure)."""
    if len(clients) > len(TOL_LIGHT):
        raise ValueError(f"{len(clients)} clients {list(clients)}: at most {len(TOL_LIGHT)}")
    return dict(zip(clients, TOL_LIGHT, strict=False))
