"""pydocket's reading of one execution, on both stores: `QUEUED` apart from `SCHEDULED`,
``execution.error``, ``get_result(deadline=...)`` and ``Execution.subscribe()``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from strew import Docket, Execution, ExecutionState, Progress, Worker
from strew.task.clock import utc_now
from strew.task.waiting import ProgressEvent, StateEvent

from ..helpers import wait_until


async def add_up(a: int, b: int) -> int:
    return a + b


async def fail_plainly() -> None:
    raise RuntimeError("Something went wrong!")


def fast_worker(docket: Docket) -> Worker:
    return Worker(docket, poll_ceiling=timedelta(milliseconds=20))


async def run_all(docket: Docket) -> None:
    async with fast_worker(docket) as worker:
        await worker.run_until_finished()


async def collect(execution: Execution) -> list[StateEvent | ProgressEvent]:
    """Every event of a subscription that must end by itself (bounded so a hang fails)."""

    async def drain() -> list[StateEvent | ProgressEvent]:
        return [event async for event in execution.subscribe()]

    return await asyncio.wait_for(drain(), 10)


def who_runs(execution: Execution) -> tuple[ExecutionState | None, str | None, Any]:
    """(Read through a function: mypy would keep the narrowing of an earlier assert.)"""
    return execution.state, execution.worker, execution.started_at


def states(events: list[StateEvent | ProgressEvent]) -> list[ExecutionState]:
    return [event["state"] for event in events if event["type"] == "state"]


@pytest.fixture
async def other(docket: Docket) -> AsyncIterator[Docket]:
    """A second Docket object on the same store and name: another process's view."""
    async with Docket(docket.name, docket.url) as second:
        yield second


# -- QUEUED and SCHEDULED ---------------------------------------------------------------------


async def test_a_task_due_now_is_queued_and_one_due_later_is_scheduled(
    docket: Docket, other: Docket
) -> None:
    now = await docket.add(add_up, key="now")(1, 2)
    later = await docket.add(add_up, key="later", when=utc_now() + timedelta(hours=1))(3, 4)
    assert await now.sync() is ExecutionState.QUEUED
    assert await later.sync() is ExecutionState.SCHEDULED
    seen = await other.get_execution("now")
    assert seen is not None and seen.state is ExecutionState.QUEUED
    await docket.cancel("later")  # (a worker run until finished would wait an hour for it)
    await run_all(docket)
    assert await now.sync() is ExecutionState.COMPLETED


async def test_a_running_task_shows_its_worker_and_when_it_started(docket: Docket) -> None:
    started, release = asyncio.Event(), asyncio.Event()

    async def gated() -> None:
        started.set()
        await release.wait()

    execution = await docket.add(gated)()
    worker = fast_worker(docket)
    running = asyncio.create_task(worker.run_until_finished())
    await asyncio.wait_for(started.wait(), 10)
    assert await execution.sync() is ExecutionState.RUNNING
    assert execution.worker is not None and execution.worker.startswith(worker.name)
    assert execution.started_at is not None and execution.started_at <= utc_now()
    release.set()
    await asyncio.wait_for(running, 10)
    await execution.sync()
    assert who_runs(execution) == (ExecutionState.COMPLETED, None, None)


# -- execution.error --------------------------------------------------------------------------


async def test_a_failed_task_has_its_error_as_type_and_message(
    docket: Docket, other: Docket
) -> None:
    execution = await docket.add(fail_plainly, key="fails")()
    await run_all(docket)
    assert await execution.sync() is ExecutionState.FAILED
    assert execution.error == "RuntimeError: Something went wrong!"
    assert execution.completed_at is not None and execution.completed_at == execution.finished_at
    seen = await other.get_execution("fails")
    assert seen is not None and seen.error == "RuntimeError: Something went wrong!"


async def test_the_error_of_a_locally_defined_exception_names_the_class_alone(
    docket: Docket,
) -> None:
    class Oops(Exception):
        pass

    async def oops() -> None:
        raise Oops("nested")

    execution = await docket.add(oops)()
    await run_all(docket)
    await execution.sync()
    assert execution.error == "Oops: nested"


async def test_a_completed_or_waiting_task_has_no_error(docket: Docket) -> None:
    execution = await docket.add(add_up)(1, 1)
    await execution.sync()
    assert execution.error is None
    await run_all(docket)
    assert await execution.get_result() == 2
    assert execution.error is None


# -- get_result(deadline=...) ----------------------------------------------------------------


async def test_get_result_returns_before_its_deadline(docket: Docket) -> None:
    execution = await docket.add(add_up)(2, 3)
    await run_all(docket)
    assert await execution.get_result(deadline=utc_now() + timedelta(minutes=1)) == 5
    # A deadline already past still gives a finished task's result: one read, no wait.
    assert await execution.get_result(deadline=utc_now() - timedelta(minutes=1)) == 5


async def test_get_result_raises_timeout_error_at_its_deadline(docket: Docket) -> None:
    execution = await docket.add(add_up, when=utc_now() + timedelta(hours=1))(2, 3)
    deadline = utc_now() + timedelta(milliseconds=20)
    with pytest.raises(TimeoutError, match="is still scheduled at its deadline"):
        await execution.get_result(deadline=deadline)
    with pytest.raises(TimeoutError, match="is still scheduled after waiting"):
        await execution.get_result(timeout=timedelta(milliseconds=20))
    await docket.cancel(execution.key)


@pytest.mark.parametrize(
    ("arguments", "error", "text"),
    [
        ({"timeout": 1, "deadline": datetime(2030, 1, 1).astimezone()}, ValueError, "not both"),
        ({"deadline": datetime(2030, 1, 1)}, ValueError, "deadline must be timezone-aware"),
        ({"deadline": "2030-01-01"}, TypeError, "deadline must be a datetime or None, got '"),
        ({"deadline": 5}, TypeError, "deadline must be a datetime or None, got 5"),
        ({"timeout": -1}, ValueError, "timeout must not be negative, got -1"),
    ],
)
async def test_get_result_refuses_a_bad_time_limit_naming_it(
    docket: Docket, arguments: dict[str, Any], error: type[Exception], text: str
) -> None:
    execution = await docket.add(add_up)(1, 1)
    with pytest.raises(error, match=text):
        await execution.get_result(**arguments)
    await docket.cancel(execution.key)


# -- subscribe() ------------------------------------------------------------------------------


async def test_subscribe_follows_a_task_from_queued_to_completed_with_its_progress(
    docket: Docket,
) -> None:
    release = asyncio.Event()

    async def reporting(progress: Progress = Progress()) -> str:
        await progress.set_total(2)
        await progress.increment()
        await progress.set_message("halfway")
        await release.wait()
        return "done"

    execution = await docket.add(reporting, key="reporting")()
    events: list[StateEvent | ProgressEvent] = []
    worker = asyncio.create_task(fast_worker(docket).run_until_finished())

    async def follow() -> None:
        async for event in execution.subscribe(interval=timedelta(milliseconds=10)):
            events.append(event)
            if event["type"] == "progress" and event["message"] == "halfway":
                release.set()

    await asyncio.wait_for(follow(), 10)
    await asyncio.wait_for(worker, 10)

    first, second = events[0], events[1]
    assert first["type"] == "state" and first["state"] is ExecutionState.QUEUED
    assert first["key"] == "reporting" and first["when"] == execution.when.isoformat()
    assert second == {
        "type": "progress",
        "key": "reporting",
        "current": None,
        "total": None,
        "message": None,
        "updated_at": None,
    }
    assert states(events) == [
        ExecutionState.QUEUED,
        ExecutionState.RUNNING,
        ExecutionState.COMPLETED,
    ]
    running = next(e for e in events if e["type"] == "state" and e["worker"] is not None)
    assert running["started_at"] is not None
    halfway = [e for e in events if e["type"] == "progress" and e["message"] == "halfway"]
    assert halfway and halfway[0]["current"] == 1 and halfway[0]["total"] == 2
    assert halfway[0]["updated_at"] is not None
    last = events[-1]
    assert last["type"] == "state" and last["state"] is ExecutionState.COMPLETED
    assert last["completed_at"] is not None and last["error"] is None
    assert execution.state is ExecutionState.COMPLETED  # the reads filled the execution in
    assert await execution.get_result() == "done"


async def test_subscribe_to_a_finished_task_gives_its_state_and_progress_and_ends(
    docket: Docket,
) -> None:
    done = await docket.add(add_up)(1, 2)
    failed = await docket.add(fail_plainly)()
    await run_all(docket)

    events = await collect(done)
    assert [e["type"] for e in events] == ["state", "progress"]
    assert states(events) == [ExecutionState.COMPLETED]

    events = await collect(failed)
    assert states(events) == [ExecutionState.FAILED]
    assert events[0]["type"] == "state"
    assert events[0]["error"] == "RuntimeError: Something went wrong!"


async def test_subscribe_ends_with_the_cancelled_state_when_a_task_is_cancelled(
    docket: Docket,
) -> None:
    execution = await docket.add(add_up, when=utc_now() + timedelta(hours=1))(1, 2)
    events: list[StateEvent | ProgressEvent] = []

    async def follow() -> None:
        async for event in execution.subscribe(interval=0.01):
            events.append(event)

    following = asyncio.create_task(follow())
    await wait_until(lambda: len(events) == 2, message="the first two events")
    assert states(events) == [ExecutionState.SCHEDULED]
    await docket.cancel(execution.key)
    await asyncio.wait_for(following, 10)
    assert states(events) == [ExecutionState.SCHEDULED, ExecutionState.CANCELLED]


async def test_subscribe_to_an_unknown_key_ends_at_once_without_events(
    docket: Docket,
) -> None:
    async with Docket(docket.name, docket.url, execution_ttl=timedelta(0)) as no_records:
        execution = await no_records.add(add_up)(1, 2)
        await run_all(no_records)
        assert await collect(execution) == []
        assert execution.state is None


@pytest.mark.parametrize(
    ("interval", "error", "text"),
    [
        (0, ValueError, "interval must be a positive duration, got 0"),
        (timedelta(seconds=-1), ValueError, "interval must be a positive duration"),
        (float("nan"), ValueError, "interval must be a positive duration, got nan"),
        ("1s", TypeError, "interval must be a timedelta or seconds, got '1s'"),
        (True, TypeError, "interval must be a timedelta or seconds, got True"),
    ],
)
async def test_subscribe_refuses_a_bad_interval_at_the_call(
    docket: Docket, interval: Any, error: type[Exception], text: str
) -> None:
    execution = await docket.add(add_up)(1, 1)
    with pytest.raises(error, match=text):
        execution.subscribe(interval=interval)
    await docket.cancel(execution.key)
