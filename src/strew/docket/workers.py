"""What workers tell a docket besides being alive: the report each heartbeat carries (host,
pid, concurrency, what runs, what was done) and start lateness over time.

A report is JSON (never a pickle): a docket reads it without trusting whoever wrote it, and
one it cannot read leaves the report's fields None. Lateness arrives as one summary per worker
per interval (count, p50, p99, max); `punctuality` merges the workers' summaries of each
interval: counts add up, the max and p99 are the largest (the p99 so an upper bound), the p50
is the count-weighted mean of the workers' p50s (an estimate).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from strew.docket.snapshots import WorkerInfo
from strew.stores.protocol import Store
from strew.stores.views import LatenessSummary, WorkerReport
from strew.task.checks import check_when
from strew.task.clock import from_micros, to_micros

__all__ = ["PunctualityPoint", "WorkerInfo", "encode_report", "punctuality", "workers"]

REPORT_FIELDS = ("host", "pid", "concurrency", "running", "done", "failed", "started", "version")
DEFAULT_SPAN = timedelta(hours=1)


def encode_report(
    *,
    host: str,
    pid: int,
    concurrency: int,
    running: int,
    done: int,
    failed: int,
    started: int,
    version: str,
) -> bytes:
    """A heartbeat's report (``started`` in microseconds on the store's clock)."""
    body = {
        "host": host,
        "pid": pid,
        "concurrency": concurrency,
        "running": running,
        "done": done,
        "failed": failed,
        "started": started,
        "version": version,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def _field(body: dict[str, Any], name: str, kind: type) -> Any:
    value = body.get(name)
    if kind is int:
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    return value if isinstance(value, kind) else None


def read_report(seen: WorkerReport) -> WorkerInfo:
    """The worker as a `WorkerInfo`; never raises (an unreadable report leaves its fields
    None)."""
    last_seen = from_micros(seen.last_seen)
    try:
        body = json.loads(seen.report) if seen.report else {}
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    started = _field(body, "started", int)
    try:
        began = None if started is None else from_micros(started)
    except (OverflowError, ValueError):
        began = None
    return WorkerInfo(
        seen.worker,
        last_seen,
        frozenset(),
        host=_field(body, "host", str),
        pid=_field(body, "pid", int),
        concurrency=_field(body, "concurrency", int),
        running=_field(body, "running", int),
        done=_field(body, "done", int),
        failed=_field(body, "failed", int),
        started=began,
        version=_field(body, "version", str),
    )


async def workers(store: Store) -> list[WorkerInfo]:
    return [read_report(seen) for seen in await store.worker_reports()]


@dataclass(frozen=True, slots=True)
class PunctualityPoint:
    """Start lateness of the tasks started in one interval, merged across workers."""

    at: datetime
    """The interval's start."""
    count: int
    p50: timedelta
    """Estimated: the count-weighted mean of the workers' medians."""
    p99: timedelta
    """An upper bound: the largest of the workers' 99th percentiles."""
    max: timedelta
    workers: int
    """How many workers started tasks in it."""


def merge(summaries: list[LatenessSummary]) -> list[PunctualityPoint]:
    """One point per interval start, oldest first."""
    by_start: dict[int, list[LatenessSummary]] = {}
    for summary in summaries:
        if summary.count > 0:
            by_start.setdefault(summary.at, []).append(summary)
    points = []
    for at in sorted(by_start):
        group = by_start[at]
        count = sum(s.count for s in group)
        p50 = sum(s.p50 * s.count for s in group) // count
        points.append(
            PunctualityPoint(
                from_micros(at),
                count,
                timedelta(microseconds=p50),
                timedelta(microseconds=max(s.p99 for s in group)),
                timedelta(microseconds=max(s.max for s in group)),
                len({s.worker for s in group}),
            )
        )
    return points


async def punctuality(
    store: Store, since: datetime | None, limit: int = 10_000
) -> list[PunctualityPoint]:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be a positive whole number, got {limit!r}")
    if since is None:
        begin = await store.now() - to_micros_span(DEFAULT_SPAN)
    else:
        begin = to_micros(check_when(since, "since"))
    return merge(await store.lateness(begin, limit))


def to_micros_span(span: timedelta) -> int:
    return span // timedelta(microseconds=1)
