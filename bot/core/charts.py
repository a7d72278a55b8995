"""Charts drawn off-screen with a CJK font the project ships (never the system's luck).

The font is Noto Sans CJK SC from the ``noto-cjk-sans-otc`` package (OFL); it is
registered with matplotlib once, at start-up or at the first chart.
"""

from __future__ import annotations

import functools
import io
from importlib.resources import files
from typing import Any

FAMILY = "Noto Sans CJK SC"


@functools.cache
def register_cjk_font() -> str:
    """Registers the shipped font with matplotlib; the family name to draw with."""
    import matplotlib
    from matplotlib import font_manager

    font = files("noto_cjk_sans_otc").joinpath("NotoSansCJK-Regular.ttc")
    font_manager.fontManager.addfont(str(font))
    matplotlib.rcParams["font.family"] = "sans-serif"
    matplotlib.rcParams["font.sans-serif"] = [FAMILY, *matplotlib.rcParams["font.sans-serif"]]
    return FAMILY


def figure(width: float, height: float) -> Any:
    """A matplotlib Figure (Agg: needs no display) whose text is set in the CJK font."""
    from matplotlib.figure import Figure

    register_cjk_font()
    return Figure(figsize=(width, height), dpi=120)


def png_of(fig: Any, margins: tuple[float, float, float, float] | None = None) -> bytes:
    """The figure as PNG; fixed ``margins`` (left, right, top, bottom) skip tight_layout,
    which draws the figure a second time to measure it (a third of a chart's time)."""
    buf = io.BytesIO()
    if margins is None:
        fig.tight_layout()
    else:
        left, right, top, bottom = margins
        fig.subplots_adjust(left=left, right=right, top=top, bottom=bottom)
    fig.savefig(buf, format="png")
    return buf.getvalue()
