"""Server-side SVG charts for the dashboard and the insight summary (no JavaScript), drawn
from the chart data of ``domain/chart_data.py``.

Accessible by construction: each chart is an ``<svg role="img">`` labelled by its own
``<title>`` and ``<desc>`` (the desc states the figures in words); series differ by line
pattern and marker shape as well as colour (WCAG 1.4.1), colours have at least 3:1
contrast on white (WCAG 1.4.11), and the page puts the same figures in a table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape

from services.reporting.domain.chart_data import (
    BLACK,
    BLUE,
    GREY,
    ORANGE,
    PURPLE,
    BarChart,
    LineChart,
    Series,
)


def _nice_max(values: Sequence[float]) -> float:
    top = max(values, default=0.0)
    if top <= 0:
        return 10.0
    magnitude = 10 ** math.floor(math.log10(top))
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= top:
            return float(step * magnitude)
    return float(10 * magnitude)


def _fmt(v: float, unit: str) -> str:
    text = f"{v:.0f}" if abs(v - round(v)) < 1e-9 else f"{v:.1f}"
    return f"{text}{unit}" if unit == "%" else text


def svg(chart: LineChart | BarChart) -> str:
    """The chart as SVG markup (the templates' ``svg(...)``)."""
    return line_chart(chart) if isinstance(chart, LineChart) else bar_chart(chart)


def line_chart(chart: LineChart) -> str:
    """An SVG line chart; gaps (None) break a line."""
    w, h = chart.width, chart.height
    left, right, top, bottom = 56, 16, 16, 64
    pw, ph = w - left - right, h - top - bottom
    values = [v for s in chart.series for v in s.values if v is not None]
    y_max = chart.y_max if chart.y_max is not None else _nice_max(values)
    n = max(len(chart.x_labels), 1)

    def x(i: int) -> float:
        return left + (pw * (i + 0.5) / n)

    def y(v: float) -> float:
        return top + ph - (ph * min(max(v, 0.0), y_max) / y_max if y_max else 0)

    cid = escape(chart.chart_id)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="sw-chart" viewBox="0 0 {w} {h}" '
        f'width="100%" role="img" aria-labelledby="{cid}-title {cid}-desc" '
        f'font-family="Arial, Helvetica, sans-serif" font-size="14">',
        f'<title id="{cid}-title">{escape(chart.title)}</title>',
        f'<desc id="{cid}-desc">{escape(chart.description)}</desc>',
        f'<rect x="0" y="0" width="{w}" height="{h}" fill="#ffffff"/>',
    ]
    for k in range(5):  # gridlines and y labels
        v = y_max * k / 4
        yy = y(v)
        out.append(
            f'<line x1="{left}" y1="{yy:.1f}" x2="{w - right}" y2="{yy:.1f}" '
            f'stroke="#b1b4b6" stroke-width="1"/>'
        )
        out.append(
            f'<text x="{left - 8}" y="{yy + 5:.1f}" text-anchor="end" fill="{BLACK}">'
            f"{escape(_fmt(v, chart.unit))}</text>"
        )
    every = max(1, math.ceil(n / 12))
    for i, label in enumerate(chart.x_labels):
        if i % every == 0 or i == n - 1:
            out.append(
                f'<text x="{x(i):.1f}" y="{top + ph + 20}" text-anchor="middle" '
                f'fill="{BLACK}">{escape(label)}</text>'
            )
    out.append(
        f'<line x1="{left}" y1="{top + ph}" x2="{w - right}" y2="{top + ph}" '
        f'stroke="{BLACK}" stroke-width="1"/>'
    )
    for s in chart.series:
        out.extend(_series(s, x, y))
    for m in chart.markers:
        cx, cy = x(m.index), y(m.value)
        out.append(
            f'<path d="M{cx:.1f},{cy - 9:.1f} L{cx + 9:.1f},{cy:.1f} L{cx:.1f},{cy + 9:.1f} '
            f'L{cx - 9:.1f},{cy:.1f} Z" fill="none" stroke="{ORANGE}" stroke-width="2"/>'
        )
        out.append(
            f'<text x="{cx + 11:.1f}" y="{cy - 9:.1f}" fill="{BLACK}" font-size="12">'
            f"{escape(m.label)}</text>"
        )
    # legend
    lx, ly = left, h - 18
    for s in chart.series:
        dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
        out.append(
            f'<line x1="{lx}" y1="{ly - 5}" x2="{lx + 28}" y2="{ly - 5}" stroke="{s.colour}" '
            f'stroke-width="3"{dash}/>'
        )
        out.append(f'<text x="{lx + 34}" y="{ly}" fill="{BLACK}">{escape(s.name)}</text>')
        lx += 46 + 8 * len(s.name)
    if chart.markers:
        out.append(
            f'<path d="M{lx + 8},{ly - 13} L{lx + 16},{ly - 5} L{lx + 8},{ly + 3} '
            f'L{lx},{ly - 5} Z" fill="none" stroke="{ORANGE}" stroke-width="2"/>'
        )
        out.append(f'<text x="{lx + 22}" y="{ly}" fill="{BLACK}">Revised figure</text>')
    out.append("</svg>")
    return "\n".join(out)


def _series(s: Series, fx: Callable[[int], float], fy: Callable[[float], float]) -> list[str]:
    out: list[str] = []
    runs: list[list[tuple[float, float]]] = [[]]
    for i, v in enumerate(s.values):
        if v is None:
            if runs[-1]:
                runs.append([])
            continue
        runs[-1].append((fx(i), fy(v)))
    dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
    for run in runs:
        if not run:
            continue
        if s.step:
            pts: list[tuple[float, float]] = []
            for j, (px, py) in enumerate(run):
                if j:
                    pts.append((px, pts[-1][1]))
                pts.append((px, py))
            run = pts
        path = " ".join(
            f"{'M' if j == 0 else 'L'}{px:.1f},{py:.1f}" for j, (px, py) in enumerate(run)
        )
        out.append(
            f'<path d="{path}" fill="none" stroke="{s.colour}" stroke-width="3"{dash} '
            f'stroke-linejoin="round"/>'
        )
    if s.marker:
        for i, v in enumerate(s.values):
            if v is None:
                continue
            px, py = fx(i), fy(v)
            if s.marker == "square":
                out.append(
                    f'<rect x="{px - 4:.1f}" y="{py - 4:.1f}" width="8" height="8" '
                    f'fill="{s.colour}"/>'
                )
            else:
                out.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="4.5" fill="{s.colour}"/>')
    return out


def bar_chart(chart: BarChart) -> str:
    """Horizontal bars with labels and values written next to each bar."""
    title, description, bars = chart.title, chart.description, chart.bars
    unit, x_max, reference, width = chart.unit, chart.x_max, chart.reference, chart.width
    longest = max((len(b.label) for b in bars), default=10)
    row_h, right, top = 26, 70, 12
    left = int(min(width * 0.55, 16 + 7.6 * longest))
    h = top + row_h * len(bars) + 40
    pw = width - left - right
    vals = [b.value for b in bars if b.value is not None]
    if reference is not None:
        vals.append(reference[1])
    top_v = x_max if x_max is not None else _nice_max(vals)
    cid = escape(chart.chart_id)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="sw-chart" viewBox="0 0 {width} {h}" '
        f'width="100%" role="img" aria-labelledby="{cid}-title {cid}-desc" '
        f'font-family="Arial, Helvetica, sans-serif" font-size="14">',
        f'<title id="{cid}-title">{escape(title)}</title>',
        f'<desc id="{cid}-desc">{escape(description)}</desc>',
        f'<rect x="0" y="0" width="{width}" height="{h}" fill="#ffffff"/>',
    ]
    for i, b in enumerate(bars):
        yy = top + i * row_h
        weight = ' font-weight="bold"' if b.highlight else ""
        out.append(
            f'<text x="{left - 8}" y="{yy + 17}" text-anchor="end" fill="{BLACK}"{weight}>'
            f"{escape(b.label)}</text>"
        )
        if b.value is None:
            out.append(
                f'<text x="{left + 4}" y="{yy + 17}" fill="{BLACK}">{escape(b.note or "no data")}'
                "</text>"
            )
            continue
        bw = pw * min(max(b.value, 0.0), top_v) / top_v if top_v else 0
        colour = BLUE if b.highlight else GREY
        out.append(
            f'<rect x="{left}" y="{yy + 4}" width="{bw:.1f}" height="{row_h - 8}" fill="{colour}"/>'
        )
        out.append(
            f'<text x="{left + bw + 6:.1f}" y="{yy + 17}" fill="{BLACK}"{weight}>'
            f"{escape(_fmt(b.value, unit))}</text>"
        )
    if reference is not None:
        name, v = reference
        rx = left + pw * min(max(v, 0.0), top_v) / top_v if top_v else left
        bottom = top + row_h * len(bars)
        out.append(
            f'<line x1="{rx:.1f}" y1="{top}" x2="{rx:.1f}" y2="{bottom}" stroke="{PURPLE}" '
            f'stroke-width="2" stroke-dasharray="6 4"/>'
        )
        out.append(
            f'<text x="{rx:.1f}" y="{bottom + 18}" text-anchor="middle" fill="{BLACK}">'
            f"{escape(name)} {escape(_fmt(v, unit))}</text>"
        )
    out.append("</svg>")
    return "\n".join(out)
