"""Matplotlib, set up once for the report: the Agg backend, one colour per backend, SVG text out.

Imported only by ``rnnbench report`` (matplotlib takes a while to import).
A backend keeps its colour in every chart of a report, and its line style
and width too, so curves that coincide (the backends agree to float32
rounding) stay visible: the thicker one is drawn first, underneath.
"""

from __future__ import annotations

import io
import re

import matplotlib

matplotlib.use("Agg")  # no display, ever: reports are made on servers and in CI

import matplotlib.pyplot as plt  # noqa: E402

from rnnbench.errors import RnnbenchError  # noqa: E402

#: Fixed colours, so numpy is the same blue in every chart of every report.
BACKEND_COLOURS = {"numpy": "#1f77b4", "torch": "#d62728", "tensorflow": "#ff7f0e", "jax": "#2ca02c"}
OTHER_COLOURS = ["#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"]
#: Line style and width per backend: wide first, so a curve another backend repeats exactly shows as a band with
#: the other's dashes or dots on it instead of disappearing.
BACKEND_STYLES = {"numpy": ("-", 4.0), "torch": ("--", 1.8), "tensorflow": (":", 1.8), "jax": ("-.", 1.2)}
MODEL_COLOURS = {
    "rnn": "#7f7f7f",
    "rnn (relu)": "#9467bd",
    "gru": "#2ca02c",
    "lstm": "#1f77b4",
    "recursive": "#8c564b",
    "treelstm": "#e377c2",
}

STYLE = {
    "svg.fonttype": "none",  # text stays text: smaller files, the page's own font
    "svg.hashsalt": "rnnbench",  # the same records give the same SVG
    # every <text> names these: matplotlib's ten-font default list made a sixth of the HTML report (DejaVu Sans is
    # the font it measures text with; the other two are its closest common stand-ins)
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "figure.dpi": 100,
}


def colour(backend: str, others: list[str] | None = None) -> str:
    base = str(backend).split(" ")[0]
    if base in BACKEND_COLOURS:
        return BACKEND_COLOURS[base]
    others = sorted(set(others or [base]) - set(BACKEND_COLOURS))
    return OTHER_COLOURS[others.index(base) % len(OTHER_COLOURS)] if base in others else OTHER_COLOURS[0]


def line_style(backend: str) -> tuple[str, float]:
    """A backend's ``(matplotlib line style, width)``, the same in every chart."""
    return BACKEND_STYLES.get(str(backend).split(" ")[0], ("-.", 1.2))


def line_alpha(backend: str) -> float:
    """The widest line (numpy) is drawn translucent, so the lines on top of it read through."""
    return 0.45 if line_style(backend)[1] >= 3 else 1.0


def model_colour(model: str) -> str:
    """A model's colour (``rnn (relu)`` included), the same in every chart."""
    return MODEL_COLOURS.get(model, OTHER_COLOURS[sum(map(ord, str(model))) % len(OTHER_COLOURS)])


def figure(panels: int, *, columns: int = 3, panel_size=(3.6, 2.6)):
    """A figure of ``panels`` small multiples (unused cells removed), and the list of their axes."""
    columns = max(1, min(columns, panels))
    rows = -(-panels // columns)
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(
            rows, columns, figsize=(panel_size[0] * columns, panel_size[1] * rows + 0.4), squeeze=False
        )
    flat = list(axes.flat)
    for ax in flat[panels:]:
        ax.remove()
    return fig, flat[:panels]


def to_svg(fig) -> str:
    """The figure as one inline ``<svg>`` element (no XML prologue), closed afterwards."""
    buffer = io.StringIO()
    try:
        with plt.rc_context(STYLE):
            fig.tight_layout()
            fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    except (ValueError, RuntimeError) as exc:
        raise RnnbenchError(f"could not draw a chart: {exc}") from None
    finally:
        plt.close(fig)
    text = buffer.getvalue()
    # without matplotlib's indentation (6% of an HTML report; SVG collapses white space between and in elements)
    return re.sub(r"\n[ \t]+", "\n", text[text.index("<svg") :]).strip()


def unique_ids(svg: str, prefix: str) -> str:
    """Prefix every id (and its references) so several charts can be inlined in one page."""
    ids = set(re.findall(r'id="([^"]+)"', svg))
    for name in sorted(ids, key=len, reverse=True):
        svg = (
            svg.replace(f'id="{name}"', f'id="{prefix}-{name}"')
            .replace(f"#{name})", f"#{prefix}-{name})")
            .replace(f'"#{name}"', f'"#{prefix}-{name}"')
        )
    return svg


def style_context():
    return plt.rc_context(STYLE)
