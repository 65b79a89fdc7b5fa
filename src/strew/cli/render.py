"""Drawing helpers shared by the commands: the load histogram, relative times.

`histogram` is public on purpose: ``strew snapshot`` draws the scheduled load with it, and
``strew scatter`` draws the planned load of an agenda with the same picture, so the two can
be compared by eye.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from strew.cli.durations import format_duration

# Eighths of a cell, so a bar's length is exact to 1/8 of a character.
_EIGHTHS = " ▏▎▍▌▋▊▉"
_FULL = "█"


def bar(value: int, peak: int, width: int) -> str:
    """A horizontal bar ``value / peak`` of ``width`` cells long, drawn with block characters.

    Any non-zero value gets at least a sliver, so a slice with one task never looks empty.
    """
    if value <= 0 or peak <= 0 or width <= 0:
        return ""
    eighths = round(value * width * 8 / peak)
    eighths = max(eighths, 1)
    full, rest = divmod(eighths, 8)
    return _FULL * full + (_EIGHTHS[rest] if rest else "")


def histogram(
    counts: Sequence[int],
    labels: Sequence[str],
    *,
    width: int = 40,
    title: str | None = None,
    style: str = "cyan",
    limit: float | None = None,
) -> RenderableType:
    """One row per slice: its label, a bar scaled to the largest count, and the count.

    ``counts`` and ``labels`` must have the same length. Returns a Rich renderable (print it
    with ``Console().print``); an all-zero histogram still draws every row, with empty bars.
    With ``limit`` (the most a slice may hold, a rate limit's share of it) a ``│`` marks it on
    every row, and a slice over it shows its count in red.
    """
    if len(counts) != len(labels):
        raise ValueError(
            f"counts and labels must have the same length, got {len(counts)} and {len(labels)}"
        )
    if width < 1:
        raise ValueError(f"width must be at least 1, got {width!r}")
    peak = max(counts, default=0)
    scale = max(peak, math.ceil(limit)) if limit is not None else peak
    mark = None if limit is None or scale <= 0 else min(round(limit * width / scale), width - 1)
    grid = Table.grid(padding=(0, 1))
    grid.add_column(justify="right", style="dim", no_wrap=True)
    grid.add_column(no_wrap=True, min_width=width)
    grid.add_column(justify="right", no_wrap=True)
    for label, count in zip(labels, counts, strict=True):
        drawn = Text(bar(count, scale, width), style=style)
        over = limit is not None and count > limit
        if mark is not None:
            drawn.pad_right(width - len(drawn))
            drawn = (
                drawn[:mark] + Text("│", style="bold red" if over else "red") + drawn[mark + 1 :]
            )
        grid.add_row(label, drawn, Text(f"{count:,}", style="bold red" if over else ""))
    if title is None:
        return grid
    return Group(Text(title, style="bold"), grid)


def slice_edges(start: datetime, end: datetime, buckets: int) -> list[datetime]:
    """The ``buckets + 1`` edges of equal slices of ``[start, end)``."""
    if buckets < 1:
        raise ValueError(f"buckets must be at least 1, got {buckets!r}")
    step = (end - start) / buckets
    return [start + step * i for i in range(buckets + 1)]


def offset_labels(start: datetime, end: datetime, buckets: int) -> list[str]:
    """A label per slice: how far its beginning is from ``start`` (``+0s``, ``+2m30s``...)."""
    edges = slice_edges(start, end, buckets)
    return [f"+{format_duration(edge - start)}" for edge in edges[:-1]]


def relative(moment: datetime, now: datetime) -> str:
    """``in 5m`` for the future, ``5m ago`` for the past, ``now`` within a millisecond."""
    delta = moment - now
    if abs(delta) < timedelta(milliseconds=1):
        return "now"
    if delta > timedelta(0):
        return f"in {format_duration(delta)}"
    return f"{format_duration(-delta)} ago"


def due_text(due: datetime, now: datetime) -> Text:
    """``in 5m`` for a task not yet due, ``overdue by 3s`` (highlighted) for a late one."""
    delta = due - now
    if delta >= timedelta(0):
        return Text(f"in {format_duration(delta)}")
    return Text(f"overdue by {format_duration(-delta)}", style="yellow")


def clock(moment: datetime) -> str:
    """A UTC timestamp to the millisecond, the form logs use."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def count_into_slices(
    moments: Sequence[datetime], start: datetime, end: datetime, buckets: int
) -> list[int]:
    """How many of ``moments`` fall in each of ``buckets`` equal slices of ``[start, end]``.

    The end is included (in the last slice), because a scatter puts its last task exactly
    there; moments outside the window are not counted. A zero-length window (one task, or
    ``every`` with a single entry) counts everything at ``start`` in the first slice.
    """
    if buckets < 1:
        raise ValueError(f"buckets must be at least 1, got {buckets!r}")
    counts = [0] * buckets
    span = (end - start).total_seconds()
    for moment in moments:
        if moment < start or moment > end:
            continue
        offset = (moment - start).total_seconds()
        index = 0 if span <= 0 else min(int(offset / span * buckets), buckets - 1)
        counts[index] += 1
    return counts


def short_clock(moment: datetime, now: datetime) -> str:
    """`clock` without the date when it is the same UTC day as ``now``: tables stay narrow."""
    if moment.astimezone(UTC).date() == now.astimezone(UTC).date():
        return clock(moment)[11:]
    return clock(moment)
