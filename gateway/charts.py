"""Charts drawn on the server as SVG: the console shows them without JavaScript, and the
numbers stand beside each chart in a table (the chart's ``<desc>`` says so for screen readers).

Every text is escaped here; the caller passes plain strings and numbers. Sizes are bounded:
at most :data:`MAX_BARS` bars (the caller picks a coarser period for longer ranges).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from xml.sax.saxutils import escape, quoteattr

__all__ = ["MAX_BARS", "PALETTE", "bar_chart", "stacked_bar_chart"]

MAX_BARS = 400
#: Colours told apart by people with the common colour-vision deficiencies (Okabe–Ito).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
_FONT = 'font-family="sans-serif" font-size="11"'


def stacked_bar_chart(labels: Sequence[str], series: Mapping[str, Sequence[int]], *, title: str,
                      width: int = 720, height: int = 260) -> str:
    """One bar per label, stacked by series (a channel per colour), with a legend and a
    y axis in whole numbers. ``series`` values line up with ``labels``."""
    if len(labels) > MAX_BARS:
        raise ValueError(f"{len(labels)} bars; at most {MAX_BARS} are drawn")
    for name, values in series.items():
        if len(values) != len(labels):
            raise ValueError(f"series {name!r} has {len(values)} values for {len(labels)} labels")
    totals = [sum(values[i] for values in series.values()) for i in range(len(labels))]
    top = _nice_top(max(totals, default=0))
    left, right, upper, lower = 48, 12, 28, 56
    plot_w, plot_h = width - left - right, height - upper - lower
    step = plot_w / max(1, len(labels))
    bar_w = max(1.0, step * 0.7)
    parts = [_open(width, height, title, f"{len(labels)} bars; the numbers are in the table beside the chart")]
    parts += _y_axis(top, left=left, upper=upper, plot_w=plot_w, plot_h=plot_h)
    colours = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(series)}
    every = max(1, len(labels) // 12)  # at most about 12 labels under the axis
    for i, label in enumerate(labels):
        x = left + i * step + (step - bar_w) / 2
        y: float = upper + plot_h
        for name, values in series.items():
            h = plot_h * values[i] / top if top else 0
            if h > 0:
                y -= h
                parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{colours[name]}">'
                             f"<title>{escape(label)}: {escape(name)} {values[i]}</title></rect>")
        if i % every == 0:
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{upper + plot_h + 14}" text-anchor="middle" {_FONT}>{escape(label)}</text>')
    x = left
    for name, colour in colours.items():  # the legend, under the labels
        parts.append(f'<rect x="{x}" y="{height - 22}" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{x + 14}" y="{height - 13}" {_FONT}>{escape(name)}</text>')
        x += 24 + 7 * len(name)
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(items: Sequence[tuple[str, int]], *, title: str, width: int = 720, bar_height: int = 18) -> str:
    """Horizontal bars, one per (label, value), in the order given (most frequent first)."""
    if len(items) > MAX_BARS:
        raise ValueError(f"{len(items)} bars; at most {MAX_BARS} are drawn")
    label_w, upper = 260, 28
    height = upper + len(items) * (bar_height + 6) + 8
    top = max((value for _, value in items), default=0)
    plot_w = width - label_w - 60
    parts = [_open(width, height, title, f"{len(items)} bars; the numbers are in the table beside the chart")]
    for i, (label, value) in enumerate(items):
        y = upper + i * (bar_height + 6)
        w = plot_w * value / top if top else 0
        shown = label if len(label) <= 40 else label[:39] + "…"
        parts.append(f'<text x="{label_w - 6}" y="{y + bar_height - 5}" text-anchor="end" {_FONT}>{escape(shown)}'
                     f"<title>{escape(label)}</title></text>")
        parts.append(f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_height}" fill="{PALETTE[0]}"/>')
        parts.append(f'<text x="{label_w + w + 4:.1f}" y="{y + bar_height - 5}" {_FONT}>{value}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _open(width: int, height: int, title: str, description: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" aria-label={quoteattr(title)}><title>{escape(title)}</title>'
            f"<desc>{escape(description)}</desc>"
            f'<text x="4" y="16" font-family="sans-serif" font-size="13" font-weight="bold">{escape(title)}</text>')


def _y_axis(top: int, *, left: int, upper: int, plot_w: int, plot_h: int) -> list[str]:
    parts = []
    for k in range(5):
        value = top * k // 4
        y = upper + plot_h - plot_h * k / 4
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" {_FONT}>{value}</text>')
    return parts


def _nice_top(value: int) -> int:
    """The axis' top: four even steps of 1, 2 or 5 times a power of ten, reaching ``value``."""
    magnitude = 1
    while True:
        for factor in (1, 2, 5):
            if 4 * factor * magnitude >= value:
                return 4 * factor * magnitude
        magnitude *= 10
