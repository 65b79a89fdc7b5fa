"""What a docket holds, as its users read it: `Docket.snapshot`, the types it returns, and
the other read-only views (`scheduled_histogram`, `count_by_function`, `load_execution`).

The store answers with keys and payloads (`stores.base.Snapshot`); this turns them into
`Execution`s of the docket's registered functions. A payload that cannot be read still shows
up, as a task of the function ``<corrupt>``: a snapshot never fails because of one bad task.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from strew.docket.settings import MAX_BUCKETS, whole_number
from strew.stores.protocol import Store
from strew.stores.records import (
    FunctionCounts,
    LimitUsage,
    RunningTask,
    ScheduledTask,
    StoreSnapshot,
    function_in,
)
from strew.task.checks import check_when
from strew.task.clock import from_micros, to_micros
from strew.task.envelope import CorruptPayload
from strew.task.execution import Execution, TaskFunction, TaskHome
from strew.task.results import reading_of

LIMITS_SHOWN = 20
"""The busiest concurrency limits a snapshot lists."""


class TaskSource(TaskHome, Protocol):
    """What the readers here need of a `Docket`: its store, its registry, and how it turns
    a stored payload back into an `Execution`."""

    @property
    def store(self) -> Store: ...

    @property
    def tasks(self) -> Mapping[str, TaskFunction]: ...

    def execution_from(self, key: str, payload: bytes) -> Execution: ...

    @property
    def loads_arguments(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class RunningExecution:
    execution: Execution
    worker: str
    lease_deadline: datetime
    started: datetime | None = None
    """When the worker claimed it (None if a strew that did not record it did)."""


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    name: str
    last_seen: datetime
    tasks: frozenset[str]
    """Keys of the tasks this worker holds right now (empty from `Docket.workers`)."""
    host: str | None = None
    """The rest is what the worker's last heartbeat reported (`Docket.workers`); None from
    a snapshot, or from a worker that reports nothing (a strew before reports)."""
    pid: int | None = None
    concurrency: int | None = None
    """How many tasks it runs at once, at most."""
    running: int | None = None
    """How many it runs now."""
    done: int | None = None
    """Tasks it finished since it started (succeeded or failed)."""
    failed: int | None = None
    started: datetime | None = None
    version: str | None = None
    """The strew version it runs."""


@dataclass(frozen=True, slots=True)
class DocketSnapshot:
    taken: datetime
    total_tasks: int
    """Scheduled plus running."""
    future: list[Execution]
    """The scheduled tasks in due order: all of them, or the earliest ``limit`` asked for."""
    running: list[RunningExecution]
    workers: list[WorkerInfo]
    quarantined: int = 0
    """Tasks moved aside because their payload could not be read (see `Docket.quarantined`)."""
    held_total: int = 0
    """Tasks a strike holds (see `Docket.strike`); not counted in ``total_tasks``."""
    held: list[Execution] = field(default_factory=list)
    """The held tasks, earliest first: all of them, or the earliest ``limit`` asked for."""
    limits: list[LimitUsage] = field(default_factory=list)
    """The concurrency limits with a slot held or a task waiting, busiest first (at most
    `LIMITS_SHOWN`); see docs/admission.md."""


def not_registered(name: str) -> TaskFunction:
    """A stand-in for a task function this process does not know (only its name is)."""

    def stand_in(*args: object, **kwargs: object) -> None:
        raise KeyError(f"task {name!r} is not registered on this docket")

    stand_in.__name__ = name
    return stand_in


def readable(docket: TaskSource, task: ScheduledTask | RunningTask) -> Execution:
    """The task as an `Execution`; a payload that cannot be read as one of ``<corrupt>``.

    A docket that may not unpickle what it shows (`Docket.loads_arguments` is False: an
    unsigned docket read by the CLI) reads the payload as plain values only; when its
    arguments are anything else, the execution has only what the envelope's header says,
    the function name, with the payload's size in ``unloaded`` and no arguments."""
    due = task.due if isinstance(task, ScheduledTask) else task.lease_deadline
    if not docket.loads_arguments:
        try:
            envelope = docket.codec.load(task.payload, plain=True)
        except CorruptPayload:
            name = function_in(task.payload)
            if not name:  # not even an envelope's header: as unreadable as in the full read
                return corrupt(docket, task.key, due)
            function = docket.tasks.get(name) or not_registered(name)
            execution = Execution(docket, function, name, (), {}, task.key, from_micros(due))
            execution.unloaded = len(task.payload)
            return execution
        function = docket.tasks.get(envelope.function_name) or not_registered(
            envelope.function_name
        )
        return Execution(
            docket,
            function,
            envelope.function_name,
            envelope.args,
            envelope.kwargs,
            task.key,
            from_micros(envelope.when),
            envelope.attempt,
            meta=envelope.meta,
        )
    try:
        return docket.execution_from(task.key, task.payload)
    except CorruptPayload:
        return corrupt(docket, task.key, due)


def corrupt(docket: TaskSource, key: str, due: int) -> Execution:
    """What a view shows for a payload that cannot be read as a task."""
    return Execution(
        docket, not_registered("<corrupt>"), "<corrupt>", (), {}, key, from_micros(due)
    )


SNAPSHOT_PAGE = 1000
"""How many scheduled tasks a snapshot of all of them asks for first; most dockets hold
fewer, so one round trip reads everything."""


async def take_snapshot(docket: TaskSource, limit: int | None) -> DocketSnapshot:
    """See `Docket.snapshot`."""
    if limit is not None and (not whole_number(limit) or limit < 0):
        raise ValueError(f"limit must be a non-negative integer or None (all), got {limit!r}")
    raw = await _scheduled(docket.store, limit)
    running = [
        RunningExecution(
            readable(docket, task),
            task.worker,
            from_micros(task.lease_deadline),
            None if task.started is None else from_micros(task.started),
        )
        for task in raw.running
    ]
    holding: dict[str, set[str]] = {}
    for task in raw.running:
        holding.setdefault(task.worker, set()).add(task.key)
    workers = [
        WorkerInfo(seen.name, from_micros(seen.last_seen), frozenset(holding.get(seen.name, ())))
        for seen in raw.workers
    ]
    held_total, held_tasks = await _held(docket.store, limit)
    limits = await docket.store.limits(LIMITS_SHOWN)
    return DocketSnapshot(
        from_micros(raw.now),
        raw.scheduled_total + len(raw.running),
        [readable(docket, task) for task in raw.scheduled],
        running,
        workers,
        raw.quarantined,
        held_total,
        [readable(docket, task) for task in held_tasks],
        limits,
    )


async def _scheduled(store: Store, limit: int | None) -> StoreSnapshot:
    """The store's snapshot with ``limit`` scheduled tasks, or all of them for None.

    "All" is the first read that came back with room to spare: while producers add faster
    than we read, the page doubles (or grows to the reported total), so this ends after a
    few reads however busy the docket is. (A store reads a large snapshot in bounded steps:
    see `Store.snapshot`.)"""
    if limit is not None:
        return await store.snapshot(limit)
    page = SNAPSHOT_PAGE
    while True:
        raw = await store.snapshot(page)
        if len(raw.scheduled) < page:
            return raw
        page = max(page * 2, raw.scheduled_total + 1)


async def _held(store: Store, limit: int | None) -> tuple[int, list[ScheduledTask]]:
    """Like `_scheduled`, for the tasks a strike holds."""
    if limit is not None:
        return await store.held_tasks(limit)
    page = SNAPSHOT_PAGE
    while True:
        total, tasks = await store.held_tasks(page)
        if len(tasks) < page:
            return total, tasks
        page = max(page * 2, total + 1)


async def scheduled_histogram(
    store: Store, start: datetime, end: datetime, buckets: int
) -> list[int]:
    """See `Docket.scheduled_histogram`."""
    check_when(start, "start")
    check_when(end, "end")
    if end <= start:
        raise ValueError(f"end must be after start, got start={start} end={end}")
    if not whole_number(buckets) or not 1 <= buckets <= MAX_BUCKETS:
        raise ValueError(f"buckets must be an integer from 1 to {MAX_BUCKETS:,}, got {buckets!r}")
    return await store.histogram(to_micros(start), to_micros(end), buckets)


async def count_by_function(store: Store, cap: int, sample: int) -> FunctionCounts:
    """See `Docket.count_by_function`."""
    if not whole_number(cap) or cap < 0:
        raise ValueError(f"cap must be a non-negative integer, got {cap!r}")
    if not whole_number(sample) or not 1 <= sample <= max(cap, 1):
        raise ValueError(f"sample must be an integer from 1 to cap ({cap!r}), got {sample!r}")
    return await store.count_functions(cap, sample)


async def load_execution(docket: TaskSource, key: str) -> Execution | None:
    """The `Execution` of ``key`` with its state filled in, None when nothing is known.

    A scheduled or running task (or one a strike holds) comes back with its arguments; a
    finished one only with its function name and finish time (records keep the outcome, not
    the call)."""
    raw = await docket.store.task_state(key)
    reading = reading_of(raw, json_only=docket.codec.json)
    state, finished = reading.state, reading.finished
    if state is None:
        return None
    found = raw.running or raw.scheduled or raw.held
    if found is not None:
        execution = readable(docket, found)
    else:
        assert finished is not None
        name = finished.function_name or "<unknown>"
        function = docket.tasks.get(name) or not_registered(name)
        execution = Execution(docket, function, name, (), {}, key, finished.finished_at)
    execution.saw(reading)
    return execution
