"""The finance pages' charts, drawn here as inline SVG: no script (the strict CSP holds, nothing to vendor), they
print, and a test reads them as markup. Colours are SVG presentation attributes, which the CSP's `style-src` does
not govern. Each chart carries a `<title>` and `<desc>` (what it shows, in words) and every mark its own
`<title>` with the exact figure; the page puts the same figures in a table beside it.

Pure functions of figures the pages already computed: nothing here reads the book or rounds money for a table."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

from markupsafe import Markup, escape

# Okabe and Ito's palette, told apart with the common colour-vision deficiencies; series past eight repeat it (the
# legend and the table still name each).
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000")
_WIDTH, _HEIGHT = 720, 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 96, 12, 12, 28
_PLOT_W, _PLOT_H = _WIDTH - _LEFT - _RIGHT, _HEIGHT - _TOP - _BOTTOM
_AXIS = "#59636e"


class Mark(NamedTuple):
    """One series' figure on one day: a bar segment linking to the records it adds up (None: not a link)."""

    series: str
    value: int
    href: str | None


class Day(NamedTuple):
    day: str
    marks: Sequence[Mark]


def stacked_bars(
    *, ident: str, title: str, days: Sequence[Day], series: Sequence[str], label: Callable[[int], str]
) -> Markup:
    """One bar per day, a segment per series stacked in `series` order, each segment a link; `label` writes a
    value as the axis and the tooltips show it (exact dollars, seconds)."""
    top = max((sum(m.value for m in d.marks) for d in days), default=0)
    scale = _PLOT_H / top if top > 0 else 0.0
    slot = _PLOT_W / max(len(days), 1)
    width = max(slot * 0.8, 1.0)
    colour = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(series)}
    desc = f"{len(days)} days from {days[0].day} to {days[-1].day}; highest day {label(top)}." if days else "No days."
    parts = [_open(ident, title, desc), *_y_axis(top, label), *_x_labels([d.day for d in days], slot)]
    for i, day in enumerate(days):
        base = float(_TOP + _PLOT_H)
        for mark in sorted(day.marks, key=lambda m: series.index(m.series)):
            if mark.value <= 0:
                continue
            height = mark.value * scale
            base -= height
            tip = f"{mark.series}, {day.day}: {label(mark.value)}"
            rect = (
                f'<rect x="{_LEFT + i * slot + (slot - width) / 2:.1f}" y="{base:.1f}" width="{width:.1f}" '
                f'height="{height:.1f}" fill="{colour[mark.series]}"><title>{escape(tip)}</title></rect>'
            )
            parts.append(rect if mark.href is None else f'<a href="{escape(mark.href)}">{rect}</a>')
    return _close(parts)


class BurnDown(NamedTuple):
    """A month's budget and the spend against it: `spent[i]` is the spend settled by the end of day i + 1 (the
    last, today's so far), `gone` how many days of the month have gone by (fractional)."""

    budget: int
    days_in_month: int
    spent: Sequence[int]
    gone: float
    projected: int | None


def burn_down(*, ident: str, title: str, month: BurnDown, label: Callable[[int], str]) -> Markup:
    """Spend to date (solid) against the straight line from nothing to the budget at the month's end (dashed
    grey), the budget itself (red) and the projection of the pace so far to the month's end (dashed orange)."""
    top = max(month.budget, month.projected or 0, *month.spent, 1)
    days = month.days_in_month

    def y(value: int) -> float:
        return _TOP + _PLOT_H * (1 - value / top)

    def point(day: float, value: int) -> str:
        return f"{_LEFT + _PLOT_W * day / days:.1f},{y(value):.1f}"

    spent = month.spent[-1] if month.spent else 0
    desc = f"Spent {label(spent)} in {month.gone:.1f} of {days} days; budget {label(month.budget)}"
    desc += "." if month.projected is None else f"; at this pace {label(month.projected)} by the month's end."
    parts = [_open(ident, title, desc), *_y_axis(top, label)]
    parts += _x_labels([str(d) for d in range(1, days + 1)], _PLOT_W / days)
    parts.append(
        f'<line x1="{_LEFT}" x2="{_LEFT + _PLOT_W}" y1="{y(month.budget):.1f}" y2="{y(month.budget):.1f}" '
        f'stroke="#b3261e" stroke-width="1.5"><title>{escape(f"Budget: {label(month.budget)}")}</title></line>'
    )
    parts.append(
        f'<polyline points="{point(0, 0)} {point(days, month.budget)}" fill="none" stroke="{_AXIS}" '
        f'stroke-dasharray="6 4"><title>The straight line to the budget</title></polyline>'
    )
    ends = [float(i + 1) for i in range(len(month.spent) - 1)] + [month.gone] if month.spent else []
    line = " ".join([point(0, 0), *(point(day, value) for day, value in zip(ends, month.spent, strict=True))])
    parts.append(
        f'<polyline points="{line}" fill="none" stroke="{PALETTE[0]}" stroke-width="2.5">'
        f"<title>{escape(f'Spent to date: {label(spent)}')}</title></polyline>"
    )
    if month.projected is not None and month.spent:
        parts.append(
            f'<polyline points="{point(month.gone, spent)} {point(days, month.projected)}" fill="none" '
            f'stroke="{PALETTE[5]}" stroke-width="2" stroke-dasharray="3 3">'
            f"<title>{escape(f'Projected month end: {label(month.projected)}')}</title></polyline>"
        )
    return _close(parts)


def legend(series: Sequence[str]) -> Markup:
    """The series' names beside their colours, as a list (the colours in the bars follow `series`' order)."""
    items = "".join(
        f'<li><svg width="12" height="12" aria-hidden="true"><rect width="12" height="12" '
        f'fill="{PALETTE[i % len(PALETTE)]}"/></svg> {escape(name)}</li>'
        for i, name in enumerate(series)
    )
    return Markup(f'<ul class="legend" aria-label="Legend">{items}</ul>')  # noqa: S704 - names escaped above


def _open(ident: str, title: str, desc: str) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {_WIDTH} {_HEIGHT}" role="img" xmlns="http://www.w3.org/2000/svg" '
        f'aria-labelledby="{ident}-title {ident}-desc"><title id="{ident}-title">{escape(title)}</title>'
        f'<desc id="{ident}-desc">{escape(desc)}</desc>'
    )


def _close(parts: list[str]) -> Markup:
    return Markup("".join([*parts, "</svg>"]))  # noqa: S704 - every text above went through escape()


def _y_axis(top: int, label: Callable[[int], str]) -> list[str]:
    """Grid lines at nothing, half and the top, labelled with `label`."""
    lines = []
    for value in sorted({0, top // 2, top}):
        y = _TOP + _PLOT_H * (1 - value / top) if top > 0 else _TOP + _PLOT_H
        lines.append(
            f'<line x1="{_LEFT}" x2="{_LEFT + _PLOT_W}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d0d5da"/>'
            f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="12" fill="{_AXIS}">'
            f"{escape(label(value))}</text>"
        )
    return lines


def _x_labels(names: Sequence[str], slot: float) -> list[str]:
    """The first, middle and last names under the plot (every one would overlap on a long range)."""
    shown = sorted({0, len(names) // 2, len(names) - 1}) if names else []
    return [
        f'<text x="{_LEFT + (i + 0.5) * slot:.1f}" y="{_HEIGHT - 8}" text-anchor="middle" font-size="12" '
        f'fill="{_AXIS}">{escape(names[i])}</text>'
        for i in shown
    ]
