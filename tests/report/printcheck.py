"""What a journal's figure check asks of a figure, as assertions."""

from pathlib import Path

import matplotlib.colors as mcolors
from matplotlib.figure import Figure
from matplotlib.text import Text
from PIL import Image

from fedmix.report import style


def visible_texts(fig: Figure) -> list[Text]:
    fig.canvas.draw()  # tick labels exist only once drawn
    return [
        t
        for t in fig.findobj(Text)
        if t.get_visible() and t.get_text().strip() and t.get_window_extent().width > 0
    ]


def assert_print_ready(fig: Figure, png: Path, pdf: Path) -> None:
    """Printed without scaling at most a page wide and tall, every text >= 7 pt, PNG at the
    figure's own size and 300 dpi, PDF written as vectors (text kept as text)."""
    width, height = fig.get_size_inches()
    assert width <= style.PAGE_IN + 1e-6 and height <= style.MAX_HEIGHT_IN + 1e-6, (width, height)
    with Image.open(png) as image:
        expected = (width * style.PNG_DPI, height * style.PNG_DPI)
        assert all(abs(a - b) <= 1 for a, b in zip(image.size, expected, strict=True)), image.size
    small = [(t.get_text(), t.get_fontsize()) for t in visible_texts(fig)]
    small = [s for s in small if s[1] < style.MIN_FONT_PT]
    assert not small, small
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and b"/FontFile2" in data  # embedded TrueType text


def hex_colour(colour) -> str:
    return mcolors.to_hex(colour).upper()
