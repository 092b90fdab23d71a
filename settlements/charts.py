"""The dashboard's 30-day chart, drawn on the server as SVG: no chart library to ship, nothing
to run in the browser, and it scales with the phone's width through its viewBox."""

from decimal import Decimal

from django.template.loader import render_to_string
from django.utils.formats import date_format

WIDTH = 600
HEIGHT = 220
LEFT = 8
RIGHT = 8
TOP = 26
BOTTOM = 28


def nice_ceiling(value: Decimal) -> Decimal:
    """A round number at or above ``value`` for the top of the scale (1, 2, 5 × 10ⁿ)."""
    if value <= 0:
        return Decimal(100)
    exponent = len(str(int(value))) - 1
    base = Decimal(10) ** exponent
    for step in (1, 2, 5, 10):
        if value <= step * base:
            return step * base
    return 10 * base  # pragma: no cover - the loop always returns


def daily_chart(points) -> str:
    """SVG markup: a bar per day for takings, a line with dots for payouts."""
    if not points:
        return ""
    top_value = nice_ceiling(max(max(p.takings, p.payouts) for p in points))
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    slot = plot_width / len(points)
    bar_width = max(2.0, slot * 0.62)

    def y(value: Decimal) -> float:
        value = max(Decimal(0), value)
        return round(TOP + plot_height - float(value / top_value) * plot_height, 1)

    bars, dots, labels = [], [], []
    line = []
    for index, point in enumerate(points):
        centre = LEFT + slot * index + slot / 2
        top = y(point.takings)
        bars.append(
            {
                "x": round(centre - bar_width / 2, 1),
                "y": top,
                "width": round(bar_width, 1),
                "height": round(TOP + plot_height - top, 1),
                "point": point,
            }
        )
        if point.payouts:
            dots.append({"cx": round(centre, 1), "cy": y(point.payouts), "point": point})
            line.append(f"{round(centre, 1)},{y(point.payouts)}")
        # A date under every seventh bar (and the last): readable on a 360-pixel phone.
        if index % 7 == 0 or index == len(points) - 1:
            labels.append({"x": round(centre, 1), "text": date_format(point.day, "n/j")})
    return render_to_string(
        "settlements/_chart_svg.html",
        {
            "width": WIDTH,
            "height": HEIGHT,
            "baseline": TOP + plot_height,
            "left": LEFT,
            "right": WIDTH - RIGHT,
            "top": TOP,
            "middle": round(TOP + plot_height / 2, 1),
            "top_value": top_value,
            "half_value": top_value / 2,
            "bars": bars,
            "dots": dots,
            "line": " ".join(line),
            "labels": labels,
            "label_y": HEIGHT - 8,
        },
    )
