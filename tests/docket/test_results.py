"""Results and readable state, end to end through a worker, against both stores."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from strew import (
    Docket,
    Execution,
    ExecutionCancelled,
    ExecutionState,
    ResultUnavailable,
    Retry,
    TaskCancelled,
    TaskFailed,
    Worker,
)
from strew.task.clock import utc_now

from ..conftest import leftover_keys
from ..helpers import wait_until


class NeedsTwoArguments(Exception):
    """Pickles fine, but cannot be rebuilt from its message alone: unpickling fails."""

    def __init__(self, first: str, second: str) -> None:
        super().__init__(f"{first} and {second}")


async def add_up(a: int, b: int) -> dict[str, int]:
    return {"sum": a + b}


async def explode(text: str) -> None:
    raise ValueError(text)


async def explode_oddly() -> None:
    raise NeedsTwoArguments("this", "that")


async def return_a_lock() -> threading.Lock:
    return threading.Lock()


def sync_square(n: int) -> int:
    return n * n


def state_of(execution: Execution) -> ExecutionState | None:
    return execution.state


def fast_worker(docket: Docket) -> Worker:
    return Worker(docket, poll_ceiling=timedelta(milliseconds=20))


async def run_all(docket: Docket) -> None:
    async with fast_worker(docket) as worker:
        await worker.run_until_finished()


@pytest.fixture
async def other(docket: Docket) -> AsyncIterator[Docket]:
    """A second Docket object on the same store and name: another process's view."""
    async with Docket(docket.name, docket.url) as second:
        yield second


async def test_a_completed_task_gives_back_its_return_value(docket: Docket) -> None:
    execution = await docket.add(add_up)(2, 3)
    await run_all(docket)
    assert await execution.get_result() == {"sum": 5}
    assert execution.state is ExecutionState.COMPLETED
    assert execution.finished_at is not None
    assert execution.finished_at <= utc_now() + timedelta(seconds=5)


async def test_a_plain_function_result_is_kept_too(docket: Docket) -> None:
    execution = await docket.add(sync_square)(7)
    await run_all(docket)
    assert await execution.get_result(timeout=timedelta(seconds=5)) == 49


async def test_get_result_waits_for_a_task_that_has_not_run_yet(docket: Docket) -> None:
    execution = await docket.add(add_up)(1, 1)
    waiting = asyncio.create_task(execution.get_result())
    await run_all(docket)
    assert await asyncio.wait_for(waiting, 10) == {"sum": 2}


async def test_an_exception_is_raised_again_as_its_own_type(docket: Docket) -> None:
    execution = await docket.add(explode)("boom at row 12")
    await run_all(docket)
    with pytest.raises(ValueError, match="boom at row 12") as raised:
        await execution.get_result()
    assert any("explode" in note for note in raised.value.__notes__)  # the worker's traceback
    assert execution.state is ExecutionState.FAILED


async def test_an_exception_that_cannot_be_rebuilt_becomes_task_failed(docket: Docket) -> None:
    execution = await docket.add(explode_oddly)()
    await run_all(docket)
    with pytest.raises(TaskFailed, match="NeedsTwoArguments: this and that") as raised:
        await execution.get_result()
    assert raised.value.type_name == "NeedsTwoArguments"
    assert "explode_oddly" in raised.value.traceback_text


async def test_an_unpicklable_return_value_is_recorded_as_an_error(docket: Docket) -> None:
    execution = await docket.add(return_a_lock)()
    worker = fast_worker(docket)
    await worker.run_until_finished()
    with pytest.raises(TaskFailed, match="return value of task 'return_a_lock' cannot be"):
        await execution.get_result()
    assert execution.state is ExecutionState.FAILED
    assert worker.stats.succeeded == 1  # the run itself went fine; only its value is lost


async def test_a_retried_task_is_scheduled_again_not_failed(docket: Docket) -> None:
    runs: list[int] = []

    async def flaky(retry: Retry = Retry(attempts=2)) -> str:
        runs.append(retry.attempt)
        if retry.attempt == 1:
            raise ConnectionError("busy")
        return "second time lucky"

    execution = await docket.add(flaky)()
    await run_all(docket)
    assert runs == [1, 2]
    assert await execution.get_result() == "second time lucky"


async def test_between_attempts_a_retried_task_reads_as_scheduled_not_failed(
    docket: Docket, other: Docket
) -> None:
    async def flaky(retry: Retry = Retry(attempts=2, delay=timedelta(hours=1))) -> None:
        raise ConnectionError("busy")

    execution = await docket.add(flaky, key="flaky")()
    worker = fast_worker(docket)
    running = asyncio.create_task(worker.run_forever())
    try:
        await wait_until(lambda: worker.stats.retried == 1, message="the first attempt to fail")
    finally:
        worker.stop()
        await asyncio.wait_for(running, timeout=10)
    # The second attempt waits an hour: in between, the task is scheduled, not failed.
    assert await execution.sync() is ExecutionState.SCHEDULED
    seen = await other.get_execution("flaky")
    assert seen is not None and seen.state is ExecutionState.SCHEDULED
    assert seen.attempt == 2
    assert seen.when - utc_now() > timedelta(minutes=59)
    with pytest.raises(TimeoutError, match="still scheduled"):
        await execution.get_result(timeout=timedelta(milliseconds=20))
    await docket.cancel("flaky")


async def test_a_cancelled_scheduled_task_says_so(docket: Docket, other: Docket) -> None:
    execution = await docket.add(add_up, when=utc_now() + timedelta(hours=1))(1, 2)
    await docket.cancel(execution.key)
    with pytest.raises(TaskCancelled, match="was cancelled"):
        await execution.get_result()
    seen = await other.get_execution(execution.key)
    assert seen is not None and seen.state is ExecutionState.CANCELLED


async def test_a_cancelled_running_task_says_so(docket: Docket) -> None:
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    execution = await docket.add(forever)()
    running = asyncio.create_task(fast_worker(docket).run_until_finished())
    await asyncio.wait_for(started.wait(), 10)
    await docket.cancel(execution.key)
    with pytest.raises(TaskCancelled):
        await execution.get_result(timeout=10)
    with pytest.raises(ExecutionCancelled):  # pydocket's name for it
        await execution.get_result(timeout=10)
    await asyncio.wait_for(running, 10)


async def test_a_record_expires_after_execution_ttl(store_url: str, docket_name: str) -> None:
    async with Docket(docket_name, store_url, execution_ttl=timedelta(milliseconds=50)) as docket:
        try:
            execution = await docket.add(add_up)(1, 2)
            await run_all(docket)

            async def forgotten() -> bool:
                return await execution.sync() is None

            await wait_until(forgotten, message="the record to expire")
            with pytest.raises(ResultUnavailable, match="execution_ttl"):
                await execution.get_result()
        finally:
            await docket.store.destroy()


async def test_an_execution_ttl_of_zero_keeps_no_record(store_url: str, docket_name: str) -> None:
    async with Docket(docket_name, store_url, execution_ttl=timedelta(0)) as docket:
        try:
            execution = await docket.add(add_up)(1, 2)
            await docket.cancel((await docket.add(add_up, when=utc_now())(0, 0)).key)
            await run_all(docket)
            assert await execution.sync() is None
            if store_url.startswith("redis"):
                assert await leftover_keys(store_url, docket_name) == []
        finally:
            await docket.store.destroy()


async def test_an_unknown_key_has_no_execution_and_no_result(docket: Docket) -> None:
    assert await docket.get_execution("never-scheduled") is None
    ghost = Execution(docket, add_up, "add_up", (), {}, "never-scheduled", utc_now())
    with pytest.raises(ResultUnavailable, match="never-scheduled"):
        await ghost.get_result()


async def test_state_moves_from_queued_to_running_to_completed_seen_elsewhere(
    docket: Docket, other: Docket
) -> None:
    started, release = asyncio.Event(), asyncio.Event()

    async def gated(n: int) -> int:
        started.set()
        await release.wait()
        return n + 1

    execution = await docket.add(gated, key="gated-1")(41)
    seen = await other.get_execution("gated-1")
    assert seen is not None and seen.state is ExecutionState.QUEUED  # due now: waits for a worker
    assert seen.function_name == "gated" and seen.args == (41,)

    worker = asyncio.create_task(fast_worker(docket).run_until_finished())
    await asyncio.wait_for(started.wait(), 10)
    assert await seen.sync() is ExecutionState.RUNNING
    release.set()
    assert await seen.get_result(timeout=10) == 42
    assert state_of(seen) is ExecutionState.COMPLETED  # (mypy keeps the earlier narrowing)
    finished = await other.get_execution("gated-1")
    assert finished is not None and finished.state is ExecutionState.COMPLETED
    assert finished.function_name == "gated" and finished.finished_at is not None
    await asyncio.wait_for(worker, 10)
    assert await execution.get_result() == 42


async def test_get_result_gives_up_after_its_timeout(docket: Docket) -> None:
    execution = await docket.add(add_up, when=utc_now() + timedelta(hours=1))(1, 2)
    with pytest.raises(TimeoutError, match="still scheduled"):
        await execution.get_result(timeout=timedelta(milliseconds=30))
    await docket.cancel(execution.key)


@pytest.mark.parametrize(
    ("timeout", "error", "text"),
    [
        (-1, ValueError, "timeout must not be negative, got -1"),
        ("soon", TypeError, "timeout must be a timedelta, seconds or None, got 'soon'"),
        (True, TypeError, "got True"),
    ],
)
async def test_a_bad_timeout_is_refused_naming_it(
    docket: Docket, timeout: object, error: type[Exception], text: str
) -> None:
    execution = await docket.add(add_up, when=utc_now() + timedelta(hours=1))(1, 2)
    with pytest.raises(error, match=text):
        await execution.get_result(timeout=timeout)  # type: ignore[arg-type]
    await docket.cancel(execution.key)


def test_a_negative_execution_ttl_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="execution_ttl must be a non-negative duration"):
        Docket("x", "memory://", execution_ttl=timedelta(seconds=-1))
    with pytest.raises(TypeError, match="execution_ttl must be a timedelta, got 900"):
        Docket("x", "memory://", execution_ttl=900)  # type: ignore[arg-type]


async def test_get_execution_refuses_a_bad_key(docket: Docket) -> None:
    with pytest.raises(ValueError, match="key must not be empty"):
        await docket.get_execution("")
