"""Charts as inline SVG, drawn on the server: no script, no library, no build step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html import escape

WIDTH, HEIGHT = 960, 240
LEFT, BOTTOM, TOP = 56, 28, 12


def histogram(counts: list[int], start: datetime, step: timedelta) -> str:
    """Bars of ``counts``, bar ``i`` covering ``[start + i*step, start + (i+1)*step)``."""
    if not counts:
        return ""
    peak = max(counts)
    top = max(peak, 1)
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
    parts.append("</svg>")
    return "".join(parts)


def _hhmm(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%H:%M")


def _step_text(step: timedelta) -> str:
    minutes = int(step.total_seconds() // 60)
    return f"{minutes} minute{'' if minutes == 1 else 's'}"
