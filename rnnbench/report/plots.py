"""Small self-contained SVG charts (line and horizontal bar), so an HTML report needs no plotting library.

Each function returns one ``<svg>`` element as text, with its data already
laid out in pixels: the report embeds it inline and the page has no
external assets.
"""
from __future__ import annotations

import math
from html import escape

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
DASHES = ["", "6 3", "2 3"]
FONT = 'font-family="system-ui, sans-serif" font-size="12"'


def line_chart(series, *, title: str, x_label: str, y_label: str, log_y: bool = False,
               plot_w: int = 440, height: int = 340) -> str:
    """``series``: ``[(label, xs, ys), ...]``; points that are not finite (or not positive on a log axis) are left out.

    The legend sits right of the plot and the chart widens to fit its longest label.
    """
    series = [(label, _clean(xs, ys, log_y)) for label, xs, ys in series]
    series = [(label, points) for label, points in series if points]
    longest = max((len(label) for label, _ in series), default=0)
    left, right, top, bottom = 70, max(120, 50 + 7 * longest), 34, 46
    width, plot_h = left + plot_w + right, height - top - bottom
    parts = [_open(width, height, title), _text(left + plot_w / 2, 20, title, anchor="middle", weight="bold")]
    if not series:
        parts.append(_text(left + plot_w / 2, top + plot_h / 2, "no data", anchor="middle"))
        return "\n".join(parts + ["</svg>"])
    xs = [x for _, points in series for x, _ in points]
    ys = [y for _, points in series for _, y in points]
    x_ticks = nice_ticks(min(xs), max(xs))
    y_ticks = log_ticks(min(ys), max(ys)) if log_y else nice_ticks(min(ys), max(ys))
    x_lo, x_hi = x_ticks[0], x_ticks[-1]
    transform = (lambda v: math.log10(v)) if log_y else (lambda v: v)
    y_lo, y_hi = transform(y_ticks[0]), transform(y_ticks[-1])

    def px(x):
        return left + (x - x_lo) / ((x_hi - x_lo) or 1.0) * plot_w

    def py(y):
        return top + plot_h - (transform(y) - y_lo) / ((y_hi - y_lo) or 1.0) * plot_h

    parts += _axes(left, top, plot_w, plot_h)
    for x in x_ticks:
        parts.append(_line(px(x), top + plot_h, px(x), top + plot_h + 4, "#444"))
        parts.append(_text(px(x), top + plot_h + 17, tick_label(x), anchor="middle"))
    for y in y_ticks:
        parts.append(_line(left, py(y), left + plot_w, py(y), "#e4e4e4"))
        parts.append(_text(left - 6, py(y) + 4, tick_label(y, log_y), anchor="end"))
    parts.append(_text(left + plot_w / 2, height - 8, x_label, anchor="middle"))
    parts.append(f'<text {FONT} transform="translate(16,{top + plot_h / 2:.1f}) rotate(-90)" '
                 f'text-anchor="middle">{escape(y_label)}</text>')
    for index, (label, points) in enumerate(series):
        color, dash = PALETTE[index % len(PALETTE)], DASHES[(index // len(PALETTE)) % len(DASHES)]
        path = " ".join(f"{'M' if i == 0 else 'L'}{px(x):.1f},{py(y):.1f}" for i, (x, y) in enumerate(points))
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<path d="{path}" fill="none" stroke="{color}" stroke-width="1.8"{dashed}>'
                     f'<title>{escape(label)}</title></path>')
        if len(points) <= 30:
            parts += [f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="2.5" fill="{color}"/>' for x, y in points]
        legend_y = top + 6 + 18 * index
        parts.append(_line(left + plot_w + 14, legend_y, left + plot_w + 36, legend_y, color, 2, dash))
        parts.append(_text(left + plot_w + 42, legend_y + 4, label))
    return "\n".join(parts + ["</svg>"])


def bar_chart(bars, *, title: str, unit: str, width: int = 660) -> str:
    """``bars``: ``[(label, value), ...]`` drawn as horizontal bars from zero, the value printed beside each."""
    bars = [(label, float(value)) for label, value in bars if value is not None and math.isfinite(value)]
    left, right, top, row = 210, 90, 34, 22
    height = top + row * max(len(bars), 1) + 36
    plot_w = width - left - right
    parts = [_open(width, height, title), _text(width / 2, 20, title, anchor="middle", weight="bold")]
    if not bars:
        parts.append(_text(width / 2, top + 14, "no data", anchor="middle"))
        return "\n".join(parts + ["</svg>"])
    ticks = nice_ticks(0.0, max(v for _, v in bars))
    scale = plot_w / (ticks[-1] or 1.0)
    for index, (label, value) in enumerate(bars):
        y = top + index * row
        color = PALETTE[index % len(PALETTE)]
        parts.append(_text(left - 8, y + 15, label, anchor="end"))
        parts.append(f'<rect x="{left}" y="{y + 4}" width="{max(value * scale, 1):.1f}" height="{row - 8}" '
                     f'fill="{color}"><title>{escape(label)}: {escape(tick_label(value))} {escape(unit)}</title></rect>')
        parts.append(_text(left + value * scale + 6, y + 15, f"{tick_label(value)} {unit}"))
    axis_y = top + row * len(bars) + 2
    parts.append(_line(left, axis_y, left + plot_w, axis_y, "#444"))
    for tick in ticks:
        parts.append(_line(left + tick * scale, axis_y, left + tick * scale, axis_y + 4, "#444"))
        parts.append(_text(left + tick * scale, axis_y + 16, tick_label(tick), anchor="middle"))
    return "\n".join(parts + ["</svg>"])


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten) covering ``[lo, hi]``."""
    if hi == lo:
        lo, hi = (lo - 1, hi + 1) if lo == 0 else (lo - abs(lo) * 0.1, hi + abs(hi) * 0.1)
    raw = (hi - lo) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(lo / step + 1e-9) * step
    ticks = [first]
    while ticks[-1] < hi - 1e-9 * step:
        ticks.append(ticks[-1] + step)
    return [round(t, 12) for t in ticks]


def log_ticks(lo: float, hi: float) -> list[float]:
    """Powers of ten covering ``[lo, hi]`` (every second or third one when there are many)."""
    first, last = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    if last == first:
        last += 1
    stride = max(1, math.ceil((last - first) / 8))
    return [10.0 ** e for e in range(first, last + stride, stride)][: (last - first) // stride + 2]


def tick_label(value: float, log: bool = False) -> str:
    if log:
        exponent = round(math.log10(value))
        return f"1e{exponent}" if not -2 <= exponent <= 3 else f"{value:g}"
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
        return f"{value:.1e}"
    return f"{value:.4g}"


def _clean(xs, ys, log_y: bool) -> list[tuple[float, float]]:
    points = []
    for x, y in zip(xs, ys):
        if x is None or y is None:
            continue
        x, y = float(x), float(y)
        if math.isfinite(x) and math.isfinite(y) and (y > 0 or not log_y):
            points.append((x, y))
    return points


def _open(width: int, height: int, title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
            f'<rect width="{width}" height="{height}" fill="white"/>')


def _axes(left, top, plot_w, plot_h) -> list[str]:
    return [_line(left, top, left, top + plot_h, "#444"), _line(left, top + plot_h, left + plot_w, top + plot_h, "#444")]


def _line(x1, y1, x2, y2, color, width=1, dash="") -> str:
    dashed = f' stroke-dasharray="{dash}"' if dash else ""
    return f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{color}" stroke-width="{width}"{dashed}/>'


def _text(x, y, text, anchor="start", weight="normal") -> str:
    bold = ' font-weight="bold"' if weight != "normal" else ""
    return f'<text {FONT} x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{bold}>{escape(str(text))}</text>'
