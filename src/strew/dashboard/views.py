"""What each page shows, read through the `Docket` (one store read per view and refresh)."""

from __future__ import annotations

import asyncio
import json
import pickle
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from strew.dashboard.fleet import started_peak
from strew.docket.docket import Docket
from strew.docket.quarantine import QuarantinedTask
from strew.docket.snapshots import DocketSnapshot, readable
from strew.docket.strikes import Strike
from strew.task.annotations import safe_repr
from strew.task.execution import Execution
from strew.task.pickles import plain_loads
from strew.task.results import ExecutionProgress, ExecutionState, Finished, reading_of

SPANS = {"hour": (timedelta(hours=1), 60), "day": (timedelta(days=1), 96)}
"""The load-ahead windows: how far ahead, in how many bars (a minute, a quarter hour)."""

PROGRESS_SHOWN = 50
"""Running tasks whose progress is read (one read each); the rest show their key only."""

RESULT_SHOWN = 4000
"""Characters of a return value's repr shown."""

PROGRESS_AT_ONCE = 4
"""Progress reads in flight at once."""

HELD_SHOWN = 200
"""Held tasks listed (the earliest); the page says how many there are in all."""


@dataclass(frozen=True, slots=True)
class LoadAhead:
    snapshot: DocketSnapshot
    start: datetime
    step: timedelta
    counts: list[int]
    span: str
    started_peak: int | None = None
    """The most tasks the workers started in one bar's time over the last hour (from
    `Docket.punctuality`); None when none reported starting any."""
    concurrency: int = 0
    """The live workers' reported concurrency, summed: how many tasks they can run at once."""


async def load_ahead(docket: Docket, span: str) -> LoadAhead:
    length, buckets = SPANS[span]
    taken = await docket.snapshot(0)  # totals, workers and running; no scheduled payload
    counts = await docket.scheduled_histogram(taken.taken, taken.taken + length, buckets)
    step = length / buckets
    points, reports = await asyncio.gather(docket.punctuality(), docket.workers())
    return LoadAhead(
        taken,
        taken.taken,
        step,
        counts,
        span,
        started_peak(points, step),
        sum(seen.concurrency or 0 for seen in reports),
    )


@dataclass(frozen=True, slots=True)
class Running:
    snapshot: DocketSnapshot
    progress: dict[str, ExecutionProgress | None]


async def running(docket: Docket) -> Running:
    taken = await docket.snapshot(0)
    shown = sorted(taken.running, key=lambda r: r.started or r.lease_deadline)[:PROGRESS_SHOWN]

    # A few at a time: the reads are small, and a page must not open a connection each.
    gate = asyncio.Semaphore(PROGRESS_AT_ONCE)

    async def progress_of(key: str) -> ExecutionProgress | None:
        async with gate:
            return reading_of(await docket.store.task_state(key)).progress

    found = await asyncio.gather(*(progress_of(r.execution.key) for r in shown))
    return Running(taken, {r.execution.key: p for r, p in zip(shown, found, strict=True)})


@dataclass(frozen=True, slots=True)
class Strikes:
    rules: list[Strike]
    held_total: int


async def strikes(docket: Docket) -> Strikes:
    await docket.strike_book.refresh()
    held_total, _ = await docket.store.held_tasks(0)
    return Strikes(list(docket.strike_book.rules), held_total)


@dataclass(frozen=True, slots=True)
class Held:
    held_total: int
    held: list[Execution]
    quarantined: list[QuarantinedTask]


async def held(docket: Docket) -> Held:
    total, tasks = await docket.store.held_tasks(HELD_SHOWN)
    quarantined = await docket.quarantined()
    return Held(total, [readable(docket, task) for task in tasks], quarantined)


@dataclass(frozen=True, slots=True)
class TaskView:
    key: str
    execution: Execution | None
    """None: nothing is known about the key."""
    finished: Finished | None
    result: str | None
    """The return value's repr (completed), or why it is not shown."""


async def task(docket: Docket, key: str) -> TaskView:
    """The task's state, call, progress and outcome, from one read of its key."""
    raw = await docket.store.task_state(key)
    reading = reading_of(raw, json_only=docket.codec.json)
    if reading.state is None:
        return TaskView(key, None, None, None)
    found = raw.running or raw.scheduled or raw.held
    finished = reading.finished
    if found is not None:
        execution = readable(docket, found)
    else:
        assert finished is not None
        name = finished.function_name or "<unknown>"
        execution = Execution(docket, _unknown, name, (), {}, key, finished.finished_at)
    execution.saw(reading)
    return TaskView(key, execution, finished, result_text(docket, finished))


def _unknown(*args: object, **kwargs: object) -> None:
    """The function of a finished task: its record keeps the name, not the call."""


def result_text(docket: Docket, finished: Finished | None) -> str | None:
    if finished is None or finished.state is not ExecutionState.COMPLETED:
        return None
    if finished.blob is None:
        return "<not kept>"
    try:
        value: Any
        if finished.json:
            value = json.loads(finished.blob)
        elif docket.loads_arguments:
            value = pickle.loads(finished.blob)
        else:
            value = plain_loads(finished.blob)
    except Exception:
        return f"<{len(finished.blob):,} bytes, not loaded: not a plain value and not verified>"
    text = safe_repr(value)
    return text if len(text) <= RESULT_SHOWN else text[: RESULT_SHOWN - 3] + "..."
