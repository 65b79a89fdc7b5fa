"""What the workers report: the "Workers" page (each live worker's report and the tasks it
holds), the "Punctuality" page (start lateness over the last hour), and the measure of what
the fleet has shown it can start that "Load ahead" draws over the schedule."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from strew.dashboard.charts import lines, seconds_text
from strew.dashboard.html import Context, table, task_link, text, when
from strew.docket.docket import Docket
from strew.docket.snapshots import DocketSnapshot, WorkerInfo
from strew.docket.workers import DEFAULT_SPAN, PunctualityPoint

POINTS_LISTED = 30
"""Intervals listed under the punctuality chart (the latest)."""


@dataclass(frozen=True, slots=True)
class Workers:
    snapshot: DocketSnapshot
    reports: dict[str, WorkerInfo]


async def read_workers(docket: Docket, params: dict[str, str]) -> Workers:
    taken, reports = await asyncio.gather(docket.snapshot(0), docket.workers())
    return Workers(taken, {seen.name: seen for seen in reports})


def _or_dash(value: object) -> str:
    if value is None:
        return '<span class="muted">-</span>'
    return f"{value:,}" if isinstance(value, int) else text(value)


def draw_workers(ctx: Context, found: Workers) -> str:
    held = {seen.name: seen.tasks for seen in found.snapshot.workers}
    names = sorted(set(held) | set(found.reports))
    rows = []
    for name in names:
        report = found.reports.get(name)
        tasks = sorted(held.get(name, frozenset()))
        last_seen = report.last_seen if report is not None else None
        if last_seen is None:
            last_seen = next(w.last_seen for w in found.snapshot.workers if w.name == name)
        rows.append(
            [
                text(name),
                _or_dash(report and report.host),
                _or_dash(None if report is None or report.pid is None else str(report.pid)),
                _or_dash(report and report.concurrency),
                _or_dash(report and report.running),
                _or_dash(report and report.done),
                _or_dash(report and report.failed),
                when(report.started, ctx.now)
                if report is not None and report.started is not None
                else _or_dash(None),
                _or_dash(report and report.version),
                when(last_seen, ctx.now),
                ", ".join(task_link(ctx, key) for key in tasks[:20])
                + (" ..." if len(tasks) > 20 else ""),
            ]
        )
    capacity = sum(r.concurrency or 0 for r in found.reports.values())
    total = (
        f'<p class="totals"><b>{len(names):,}</b> live worker{"" if len(names) == 1 else "s"}, '
        f"able to run <b>{capacity:,}</b> tasks at once (their reported concurrency).</p>"
        if names
        else ""
    )
    return (
        total
        + '<div class="compact">'
        + table(
            [
                "Worker",
                "Host",
                "PID",
                "Concurrency",
                "Running",
                "Done",
                "Failed",
                "Since",
                "Version",
                "Last heartbeat",
                "Tasks",
            ],
            rows,
            "No live workers: none has sent a heartbeat recently.",
        )
        + "</div>"
    )


async def read_punctuality(docket: Docket, params: dict[str, str]) -> list[PunctualityPoint]:
    return await docket.punctuality()


def draw_punctuality(ctx: Context, points: list[PunctualityPoint]) -> str:
    if not points:
        return (
            '<p class="empty">No worker has reported starting a task in the last hour. Each '
            "worker sums up the start lateness of what it ran every 10 seconds, on its "
            "heartbeat after the interval ends: points appear here once workers run tasks "
            "(a strew before these reports sends none).</p>"
        )
    start, end = ctx.now - DEFAULT_SPAN, ctx.now
    times = [point.at for point in points]
    series = {
        name: [getattr(point, name).total_seconds() for point in points]
        for name in ("p50", "p99", "max")
    }
    started = sum(point.count for point in points)
    worst = max(point.max for point in points)
    totals = (
        f'<p class="totals"><b>{started:,}</b> tasks started in the last hour, over '
        f"<b>{len(points):,}</b> 10-second intervals; no task started more than "
        f"<b>{late(worst)}</b> late.</p>"
    )
    legend = (
        '<p class="legend"><span class="p50">p50 (estimated: the workers\' medians, '
        'weighted)</span><span class="p99">p99 (the largest of the workers\')</span>'
        '<span class="max">max</span></p>'
    )
    rows = [
        [
            when(point.at, ctx.now),
            f"{point.count:,}",
            late(point.p50),
            late(point.p99),
            late(point.max),
            f"{point.workers:,}",
        ]
        for point in reversed(points[-POINTS_LISTED:])
    ]
    listed = table(["Interval", "Started", "p50", "p99", "Max", "Workers"], rows, "")
    return (
        totals
        + legend
        + lines(series, times, start, end)
        + f"<h2>The latest {min(len(points), POINTS_LISTED)} intervals</h2>"
        + listed
    )


def late(delta: timedelta) -> str:
    return seconds_text(delta.total_seconds())


def started_peak(points: list[PunctualityPoint], step: timedelta) -> int | None:
    """The most tasks the workers started in one ``step`` (aligned on the clock) among
    ``points``: what they have shown they can start in the time of a bar. None without a
    point."""
    if not points:
        return None
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    bins: dict[int, int] = {}
    for point in points:
        index = (point.at - epoch) // step
        bins[index] = bins.get(index, 0) + point.count
    return max(bins.values())
