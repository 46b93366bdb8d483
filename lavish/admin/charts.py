"""Server-rendered SVG charts for the dashboard: no JavaScript, no library from the internet.

Values are integers (cents or counts); only the geometry is fractional. Every point carries a
<title> so hovering shows the exact figure, and the chart has a text alternative.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

from lavish.admin.queries import MonthFigures
from lavish.formatting import format_money

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 84, 12, 14, 30
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
TICKS = 4


def nice_step(maximum: int, *, ticks: int = TICKS, minimum_step: int = 1) -> int:
    """The smallest 1/2/5×10ⁿ step (at least `minimum_step`) with `ticks` steps covering
    `maximum`."""
    raw = max(-(-maximum // ticks), minimum_step, 1)
    magnitude = 10 ** (len(str(raw)) - 1)
    for multiple in (1, 2, 5, 10):
        if multiple * magnitude >= raw:
            return multiple * magnitude
    raise AssertionError("unreachable")


def _y(value: int, top: int) -> float:
    return TOP + PLOT_H - (PLOT_H * value / top if top else 0)


def _frame(title: str, description: str, top: int, step: int, fmt: Callable[[int], str]) -> list:
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMidYMid meet">',
        f"<title>{escape(title)}</title><desc>{escape(description)}</desc>",
    ]
    for value in range(0, top + 1, step):
        y = _y(value, top)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="axis" x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(fmt(value))}</text>"
        )
    return parts


def _x_labels(labels: Sequence[str], centers: Sequence[float]) -> list[str]:
    return [
        f'<text class="axis" x="{x:.1f}" y="{HEIGHT - 10}" text-anchor="middle">'
        f"{escape(label)}</text>"
        for label, x in zip(labels, centers, strict=True)
    ]


def _whole_money(cents: int) -> str:
    text = format_money(cents)
    return text[:-3] if text.endswith(".00") else text


def mrr_chart(months: Sequence[MonthFigures]) -> Markup:
    """MRR at the end of each month (the running month: now), as a line over an area."""
    values = [month.mrr_cents for month in months]
    step = nice_step(max(values, default=0), minimum_step=100)  # whole dollars on the axis
    top = step * TICKS
    description = "; ".join(f"{m.label}: {format_money(m.mrr_cents)}" for m in months)
    parts = _frame(
        "Monthly recurring revenue, last 12 months", description, top, step, _whole_money
    )
    slot = PLOT_W / max(len(months), 1)
    centers = [LEFT + slot * (index + 0.5) for index in range(len(months))]
    points = [(x, _y(value, top)) for x, value in zip(centers, values, strict=True)]
    if points:
        line = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        base = TOP + PLOT_H
        parts.append(
            f'<polygon class="area" points="{points[0][0]:.1f},{base} {line} '
            f'{points[-1][0]:.1f},{base}"/>'
        )
        parts.append(f'<polyline class="line" points="{line}"/>')
    for month, (x, y) in zip(months, points, strict=True):
        parts.append(
            f'<circle class="dot" cx="{x:.1f}" cy="{y:.1f}" r="4">'
            f"<title>{escape(month.label)}: {escape(format_money(month.mrr_cents))}</title>"
            "</circle>"
        )
    parts += _x_labels(_month_labels(months), centers)
    parts.append("</svg>")
    return Markup("".join(parts))


def subscriptions_chart(months: Sequence[MonthFigures]) -> Markup:
    """New subscriptions (activated) and churned ones (cancelled + expired) per month, side by
    side; months with neither show empty slots, not gaps in the axis."""
    largest = max((max(m.new_subscriptions, m.churned_subscriptions) for m in months), default=0)
    step = nice_step(largest)
    top = step * TICKS
    description = "; ".join(
        f"{m.label}: {m.new_subscriptions} new, {m.churned_subscriptions} churned" for m in months
    )
    parts = _frame("New and churned subscriptions per month", description, top, step, str)
    slot = PLOT_W / max(len(months), 1)
    bar = slot * 0.32
    centers = []
    base = TOP + PLOT_H
    for index, month in enumerate(months):
        center = LEFT + slot * (index + 0.5)
        centers.append(center)
        for kind, value, x in (
            ("new", month.new_subscriptions, center - bar - 1),
            ("churned", month.churned_subscriptions, center + 1),
        ):
            y = _y(value, top)
            parts.append(
                f'<rect class="bar {kind}" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" '
                f'height="{base - y:.1f}"><title>{escape(month.label)}: {value} {kind}'
                f"</title></rect>"
            )
    parts += _x_labels(_month_labels(months), centers)
    parts.append("</svg>")
    return Markup("".join(parts))


def _month_labels(months: Sequence[MonthFigures]) -> list[str]:
    """Month abbreviations, with the year where it changes (and on the first month)."""
    labels = []
    previous_year = None
    for month in months:
        year = month.month[:4]
        name = month.label.split(" ")[0]
        labels.append(f"{name} {year[2:]}" if year != previous_year else name)
        previous_year = year
    return labels
