"""Charts as inline SVG, drawn on the server: no script, no library, no build step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html import escape

WIDTH, HEIGHT = 960, 240
LEFT, BOTTOM, TOP = 56, 28, 12
DOTS_UP_TO = 120
"""The most points a line chart marks with a dot (and its value on hover)."""


def histogram(
    counts: list[int], start: datetime, step: timedelta, line: tuple[int, str] | None = None
) -> str:
    """Bars of ``counts``, bar ``i`` covering ``[start + i*step, start + (i+1)*step)``; with
    ``line`` (a value and what it means), a dashed line across at that value."""
    if not counts:
        return ""
    peak = max(counts)
    top = max(peak, 1, line[0] if line else 0)
    plot_width = WIDTH - LEFT - 8
    plot_height = HEIGHT - BOTTOM - TOP
    bar = plot_width / len(counts)
    parts = [
        f'<svg class="histogram" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="Tasks due per {_step_text(step)}, peak {peak:,}">',
        f'<line class="axis" x1="{LEFT}" y1="{TOP + plot_height}" x2="{WIDTH - 8}" '
        f'y2="{TOP + plot_height}"/>',
        f'<text class="tick" x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end">{top:,}</text>',
        f'<text class="tick" x="{LEFT - 6}" y="{TOP + plot_height}" text-anchor="end">0</text>',
    ]
    every = max(1, len(counts) // 8)
    for index, count in enumerate(counts):
        x = LEFT + index * bar
        slice_start = start + step * index
        if count:
            height = max(1.0, plot_height * count / top)
            label = f"{count:,} due from {_hhmm(slice_start)} to {_hhmm(slice_start + step)} UTC"
            parts.append(
                f'<rect class="bar" x="{x + 0.5:.1f}" y="{TOP + plot_height - height:.1f}" '
                f'width="{max(bar - 1, 0.5):.1f}" height="{height:.1f}">'
                f"<title>{escape(label)}</title></rect>"
            )
        if index % every == 0:
            parts.append(
                f'<text class="tick" x="{x:.1f}" y="{HEIGHT - 8}">{_hhmm(slice_start)}</text>'
            )
    if line is not None:
        y = TOP + plot_height - plot_height * line[0] / top
        parts.append(
            f'<line class="capacity" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - 8}" y2="{y:.1f}">'
            f"<title>{escape(line[1])}</title></line>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _hhmm(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%H:%M")


def _step_text(step: timedelta) -> str:
    minutes = int(step.total_seconds() // 60)
    return f"{minutes} minute{'' if minutes == 1 else 's'}"


def planned_started(
    planned: list[int], started: list[int], starts: list[datetime], step: timedelta
) -> str:
    """A scatter over its window: per slice, the tasks planned as an outlined bar and those
    started as a filled one in front of it (the picture `strew scatters ID` draws)."""
    if not planned:
        return ""
    peak = max(max(planned), 1)
    plot_width = WIDTH - LEFT - 8
    plot_height = HEIGHT - BOTTOM - TOP
    bar = plot_width / len(planned)
    parts = [
        f'<svg class="histogram scatter" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="Tasks planned and started per slice, peak {peak:,} planned">',
        f'<line class="axis" x1="{LEFT}" y1="{TOP + plot_height}" x2="{WIDTH - 8}" '
        f'y2="{TOP + plot_height}"/>',
        f'<text class="tick" x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end">{peak:,}</text>',
        f'<text class="tick" x="{LEFT - 6}" y="{TOP + plot_height}" text-anchor="end">0</text>',
    ]
    every = max(1, len(planned) // 8)
    for index, (count, done) in enumerate(zip(planned, started, strict=True)):
        x = LEFT + index * bar
        width = max(bar - 1, 0.5)
        label = escape(
            f"{count:,} planned, {done:,} started from {_hhmm(starts[index])} "
            f"to {_hhmm(starts[index] + step)} UTC"
        )
        for cls, value in (("planned", count), ("started", done)):
            if value:
                height = max(1.0, plot_height * value / peak)
                parts.append(
                    f'<rect class="{cls}" x="{x + 0.5:.1f}" '
                    f'y="{TOP + plot_height - height:.1f}" width="{width:.1f}" '
                    f'height="{height:.1f}"><title>{label}</title></rect>'
                )
        if index % every == 0:
            parts.append(
                f'<text class="tick" x="{x:.1f}" y="{HEIGHT - 8}">{_hhmm(starts[index])}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def lines(
    series: dict[str, list[float]], times: list[datetime], start: datetime, end: datetime
) -> str:
    """One polyline per named series (values in seconds) over ``[start, end)``; each point
    at its time, with its value on hover."""
    if not times:
        return ""
    peak = max((max(values) for values in series.values() if values), default=0.0)
    top = peak if peak > 0 else 1.0
    plot_width = WIDTH - LEFT - 8
    plot_height = HEIGHT - BOTTOM - TOP
    span = max((end - start).total_seconds(), 1e-9)

    def x_of(moment: datetime) -> float:
        return LEFT + plot_width * min(max((moment - start).total_seconds() / span, 0.0), 1.0)

    def y_of(value: float) -> float:
        return TOP + plot_height - plot_height * value / top

    parts = [
        f'<svg class="histogram lines" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="Start lateness over time, peak {seconds_text(peak)}">',
        f'<line class="axis" x1="{LEFT}" y1="{TOP + plot_height}" x2="{WIDTH - 8}" '
        f'y2="{TOP + plot_height}"/>',
        f'<text class="tick" x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end">'
        f"{seconds_text(top)}</text>",
        f'<text class="tick" x="{LEFT - 6}" y="{TOP + plot_height}" text-anchor="end">0</text>',
    ]
    for name, values in series.items():
        points = " ".join(
            f"{x_of(at):.1f},{y_of(value):.1f}" for at, value in zip(times, values, strict=True)
        )
        parts.append(f'<polyline class="line {escape(name)}" points="{points}"/>')
        if len(times) > DOTS_UP_TO:
            continue  # a dot per point would hide the lines
        for at, value in zip(times, values, strict=True):
            label = escape(f"{name} {seconds_text(value)} at {at.astimezone(UTC):%H:%M:%S} UTC")
            parts.append(
                f'<circle class="dot {escape(name)}" cx="{x_of(at):.1f}" cy="{y_of(value):.1f}" '
                f'r="2"><title>{label}</title></circle>'
            )
    ticks = 6
    for index in range(ticks):
        moment = start + (end - start) * index / ticks
        parts.append(
            f'<text class="tick" x="{x_of(moment):.1f}" y="{HEIGHT - 8}">{_hhmm(moment)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def seconds_text(value: float) -> str:
    """Seconds as ``20ms`` under one second, ``1.5s`` over."""
    if value >= 1:
        return f"{value:,.1f}s"
    return f"{value * 1000:,.0f}ms"
