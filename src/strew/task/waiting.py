"""Waiting on one task key: for its result (`wait_for_result`), or for each change of its
state and progress (`follow`, behind `Execution.subscribe`).

Both poll the store's one atomic read of a key (`ResultStore.task_state`), a few
milliseconds apart at first and backing off while nothing changes. strew keeps no per-task
pub/sub channel: polling needs no subscription to keep alive or to re-establish after a
reconnect, cannot miss an event published before it started, and reads the same on every
store. Its cost is one small read per poll per waiter (see docs/results-and-progress.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any, Literal, TypedDict

from strew.stores.protocol import ResultStore
from strew.task.clock import utc_now
from strew.task.results import (
    ExecutionProgress,
    ExecutionState,
    Reading,
    Seen,
    outcome,
    reading_of,
)

POLL_FIRST = 0.005
POLL_CEILING = 0.1
FOLLOW_INTERVAL = timedelta(milliseconds=100)
"""How far apart `follow` reads a key at most while nothing changes (its default)."""


class StateEvent(TypedDict):
    """A change of where a task stands, as pydocket's ``Execution.subscribe`` gives it."""

    type: Literal["state"]
    key: str
    state: ExecutionState
    when: str
    """ISO 8601: when the task is (or was) due."""
    worker: str | None
    started_at: str | None
    completed_at: str | None
    error: str | None


class ProgressEvent(TypedDict):
    """What a task's `Progress` now says, as pydocket's ``Execution.subscribe`` gives it."""

    type: Literal["progress"]
    key: str
    current: int | None
    total: int | None
    message: str | None
    updated_at: str | None


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()


def state_event(key: str, reading: Reading, when: datetime) -> StateEvent:
    """``reading`` (of a known key) as a state event; ``when`` is the due time it was added
    with, used when the reading has none of its own (running or finished)."""
    assert reading.state is not None
    finished = reading.finished
    return {
        "type": "state",
        "key": key,
        "state": reading.state,
        "when": (reading.due or when).isoformat(),
        "worker": reading.worker,
        "started_at": _iso(reading.started_at),
        "completed_at": None if finished is None else finished.finished_at.isoformat(),
        "error": reading.error,
    }


def progress_event(key: str, progress: ExecutionProgress | None) -> ProgressEvent:
    if progress is None:
        return {
            "type": "progress",
            "key": key,
            "current": None,
            "total": None,
            "message": None,
            "updated_at": None,
        }
    return {
        "type": "progress",
        "key": key,
        "current": progress.current,
        "total": progress.total,
        "message": progress.message,
        "updated_at": progress.updated_at.isoformat(),
    }


def check_interval(interval: object) -> float:
    """``interval`` (a positive timedelta or number of seconds) in seconds."""
    if isinstance(interval, timedelta):
        seconds = interval.total_seconds()
    elif isinstance(interval, int | float) and not isinstance(interval, bool):
        seconds = float(interval)
    else:
        raise TypeError(f"interval must be a timedelta or seconds, got {interval!r}")
    if not seconds > 0:  # (also refuses NaN)
        raise ValueError(f"interval must be a positive duration, got {interval!r}")
    return seconds


async def follow(
    store: ResultStore,
    key: str,
    when: datetime,
    seen: Seen,
    interval: float,
    *,
    json_only: bool = False,
) -> AsyncIterator[StateEvent | ProgressEvent]:
    """The current state and progress of ``key`` as two events, then one event per change
    of either, until the task reaches a final state (its state event is the last).

    Ends at once, with no event, when nothing is known about the key; and ends, with no
    final event, when the key becomes unknown while followed (it finished on a docket that
    keeps no records, or a whole scatter was cancelled). Reads at most ``interval`` seconds
    apart while nothing changes, sooner right after a change.
    """
    reading = reading_of(await store.task_state(key), json_only=json_only)
    seen(reading)
    if reading.state is None:
        return
    last_state = state_event(key, reading, when)
    last_progress = progress_event(key, reading.progress)
    yield last_state
    yield last_progress
    pause = min(POLL_FIRST, interval)
    while not reading.state.final:
        await asyncio.sleep(pause)
        reading = reading_of(await store.task_state(key), json_only=json_only)
        seen(reading)
        if reading.state is None:
            return
        progress = progress_event(key, reading.progress)
        state = state_event(key, reading, when)
        changed = progress != last_progress or state != last_state
        # Progress first: a task's last progress comes before the state that ends the stream.
        if progress != last_progress:
            last_progress = progress
            yield progress
        if state != last_state:
            last_state = state
            yield state
        pause = min(POLL_FIRST if changed else pause * 2, interval)


def check_timeout(timeout: object) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, timedelta):
        seconds = timeout.total_seconds()
    elif isinstance(timeout, int | float) and not isinstance(timeout, bool):
        seconds = float(timeout)
    else:
        raise TypeError(f"timeout must be a timedelta, seconds or None, got {timeout!r}")
    if seconds < 0:
        raise ValueError(f"timeout must not be negative, got {timeout!r}")
    return seconds


def check_deadline(deadline: object) -> datetime | None:
    if deadline is None:
        return None
    if not isinstance(deadline, datetime):
        raise TypeError(f"deadline must be a datetime or None, got {deadline!r}")
    if deadline.tzinfo is None or deadline.utcoffset() is None:
        raise ValueError(
            f"deadline must be timezone-aware (e.g. datetime.now(UTC) + ...), got {deadline!r}"
        )
    return deadline


def time_limit(timeout: object, deadline: object) -> tuple[float | None, str]:
    """Seconds to wait at most (None: for ever) given `get_result`'s ``timeout`` or
    ``deadline``, and how a `TimeoutError` should say which one passed."""
    seconds = check_timeout(timeout)
    at = check_deadline(deadline)
    if at is None:
        return seconds, "" if seconds is None else f"after waiting {seconds:g}s"
    if seconds is not None:
        raise ValueError(
            f"get_result takes a timeout or a deadline, not both; got timeout={timeout!r} "
            f"and deadline={deadline!r}"
        )
    return max((at - utc_now()).total_seconds(), 0.0), f"at its deadline {at.isoformat()}"


async def wait_for_result(
    store: ResultStore,
    key: str,
    seconds: float | None,
    seen: Seen,
    *,
    json_only: bool = False,
    limit: str = "",
) -> Any:
    """Wait until ``key`` reaches a final state, at most ``seconds`` (None: for ever); return
    its value or raise (see `outcome`), or raise `TimeoutError` saying it is still waiting
    ``limit`` (e.g. "after waiting 5s"). ``seen`` is told what every read found.

    Polls the store, a few milliseconds apart at first and at most `POLL_CEILING` apart:
    one cheap atomic read per poll, and no subscription to keep alive.
    """
    loop = asyncio.get_running_loop()
    deadline = None if seconds is None else loop.time() + seconds
    interval = POLL_FIRST
    while True:
        reading = reading_of(await store.task_state(key), json_only=json_only)
        seen(reading)
        state = reading.state
        if state is None or state.final:
            return outcome(key, state, reading.finished)
        if deadline is not None and loop.time() >= deadline:
            raise TimeoutError(f"task {key!r} is still {state.value} {limit}".rstrip())
        pause = interval if deadline is None else min(interval, max(deadline - loop.time(), 0))
        await asyncio.sleep(pause)
        interval = min(interval * 2, POLL_CEILING)
