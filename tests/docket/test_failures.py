"""`Docket.failures`, `retry_failed` and `drop_failed`, fed by real workers, on both stores."""

# Dependency markers are calls in defaults by design (pydocket's spelling).

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from strew import CurrentExecution, Docket, Execution, Retry, Worker
from strew.docket.failures import (
    MAX_LIMIT,
    MAX_TEXT,
    MAX_TRACEBACK,
    PAGE,
    FailureRetention,
    failure_note,
)
from strew.stores.records import Finish

from ..helpers import wait_until

MS = timedelta(milliseconds=1)
HOUR = timedelta(hours=1)


async def broken(n: int) -> None:
    raise ValueError(f"bad input {n}")


async def fine(n: int) -> None:
    return None


async def run(docket: Docket) -> Worker:
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    return worker


async def run_until_it_failed(docket: Docket) -> None:
    """Run a worker until a failure is recorded (its retry, an hour away, stays waiting)."""
    async with Worker(docket) as worker:
        running = asyncio.create_task(worker.run_forever())

        async def failed() -> bool:
            return bool(await docket.failures())

        await wait_until(failed)
        worker.stop()
        await running


async def test_a_task_that_fails_is_listed_with_its_error_and_call(docket: Docket) -> None:
    before = datetime.now(UTC)
    await docket.add(broken, key="b1")(7)
    await run(docket)
    [failure] = await docket.failures()
    assert (failure.key, failure.function_name, failure.attempt) == ("b1", "broken", 1)
    assert (failure.error_type, failure.message) == ("ValueError", "bad input 7")
    assert "raise ValueError" in failure.traceback
    assert before <= failure.failed_at <= datetime.now(UTC)
    assert failure.retry_at is None and not failure.running
    assert failure.execution is not None and failure.execution.args == (7,)


async def test_failures_are_listed_newest_first_up_to_the_limit(docket: Docket) -> None:
    for n in range(3):
        await docket.add(broken, key=f"b{n}")(n)
        await run(docket)
    assert [f.key for f in await docket.failures()] == ["b2", "b1", "b0"]
    assert [f.key for f in await docket.failures(limit=1)] == ["b2"]
    newest = (await docket.failures(limit=1))[0].failed_at
    assert "b2" not in [f.key for f in await docket.failures(before=newest)]


async def test_a_failed_attempt_that_will_be_retried_says_when(docket: Docket) -> None:
    async def flaky(retry: Retry = Retry(attempts=2, delay=HOUR)) -> None:
        raise RuntimeError("not yet")

    await docket.add(flaky, key="flaky")()
    await run_until_it_failed(docket)
    [failure] = await docket.failures()
    assert failure.attempt == 1 and failure.retry_at is not None
    assert failure.retry_at > datetime.now(UTC) + HOUR - timedelta(minutes=5)


async def test_retrying_now_brings_a_waiting_retry_forward(docket: Docket) -> None:
    attempts: list[int] = []

    async def flaky(
        retry: Retry = Retry(attempts=3, delay=HOUR),
        execution: Execution = CurrentExecution(),
    ) -> None:
        attempts.append(execution.attempt)
        if execution.attempt == 1:
            raise RuntimeError("not yet")

    await docket.add(flaky, key="flaky")()
    await run_until_it_failed(docket)
    assert await docket.retry_failed(["flaky"]) == {"flaky": "hastened"}
    await run(docket)
    assert attempts == [1, 2]  # its attempt count went on
    assert await docket.failures() == []  # it succeeded: no longer a failure


async def test_retrying_runs_a_failed_task_again_as_a_first_attempt(docket: Docket) -> None:
    attempts: list[int] = []

    async def once_broken(execution: Execution = CurrentExecution()) -> None:
        attempts.append(execution.attempt)
        if len(attempts) == 1:
            raise RuntimeError("first time")

    await docket.add(once_broken, key="once")()
    await run(docket)
    assert [f.key for f in await docket.failures()] == ["once"]
    assert await docket.retry_failed(["once", "unknown"]) == {
        "once": "retried",
        "unknown": "missing",
    }
    assert await docket.failures() == []
    await run(docket)
    assert attempts == [1, 1]


async def test_retrying_all_and_dropping_all(docket: Docket) -> None:
    for n in range(3):
        await docket.add(broken, key=f"b{n}")(n)
    await run(docket)
    outcomes = await docket.retry_failed()
    assert outcomes == {"b0": "retried", "b1": "retried", "b2": "retried"}
    await run(docket)
    assert await docket.drop_failed(["b0"]) == 1
    assert await docket.drop_failed() == 2
    assert await docket.failures() == []


async def test_the_retention_bounds_how_many_are_kept(docket_name: str, store_url: str) -> None:
    retention = FailureRetention(keep=2)
    async with Docket(docket_name, store_url, failure_retention=retention) as docket:
        for n in range(4):
            await docket.add(broken, key=f"b{n}")(n)
            await run(docket)
        assert [f.key for f in await docket.failures()] == ["b3", "b2"]
        await docket.store.destroy()


class Unspeakable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


class ReprOnly(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no str")


async def speechless() -> None:
    raise Unspeakable()


async def repr_only() -> None:
    raise ReprOnly("kept")


async def huge() -> None:
    raise ValueError("x" * 10_000_000)


async def not_utf8() -> None:
    raise ValueError(b"\xff\xfe".decode("utf-8", "surrogateescape"))


async def test_errors_that_cannot_be_said_still_leave_a_note(docket: Docket) -> None:
    for task in (speechless, repr_only, huge, not_utf8):
        await docket.add(task, key=task.__name__)()
    worker = await run(docket)
    assert worker.stats.failed == 4
    found = {f.key: f for f in await docket.failures()}
    assert found["speechless"].message == "<Unspeakable whose str() and repr() raised>"
    assert found["repr_only"].message == "ReprOnly('kept')"
    assert len(found["huge"].message) == MAX_TEXT and found["huge"].message.endswith("...")
    assert len(found["huge"].traceback) <= MAX_TRACEBACK
    assert found["not_utf8"].message == "\udcff\udcfe"


async def test_bad_arguments_are_refused_before_anything_is_read(docket: Docket) -> None:
    with pytest.raises(ValueError, match="limit must be a whole number from 1 to 10,000, got 0"):
        await docket.failures(limit=0)
    with pytest.raises(TypeError, match="keys must be a list of task keys or None, got 'ab'"):
        await docket.retry_failed("ab")
    with pytest.raises(TypeError, match="before must be a timezone-aware datetime"):
        await docket.failures(before="yesterday")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="keep must be a positive whole number, got 0"):
        FailureRetention(keep=0)
    with pytest.raises(ValueError, match="max_age must be a positive timedelta"):
        FailureRetention(max_age=timedelta(0))
    with pytest.raises(TypeError, match="failure_retention must be a FailureRetention"):
        Docket("x", "memory://", failure_retention=5)  # type: ignore[arg-type]


KEY = "a-signing-key-of-32-bytes-length"


async def test_a_signed_docket_retries_a_payload_that_still_verifies(
    docket_name: str, store_url: str
) -> None:
    attempts: list[int] = []

    async def once_broken(execution: Execution = CurrentExecution()) -> None:
        attempts.append(execution.attempt)
        if len(attempts) == 1:
            raise RuntimeError("first time")

    async with Docket(docket_name, store_url, signing_key=KEY) as docket:
        await docket.add(once_broken, key="once")()
        await run(docket)
        [failure] = await docket.failures()
        assert failure.execution is not None and failure.execution.function_name == "once_broken"
        assert await docket.retry_failed() == {"once": "retried"}
        worker = await run(docket)
        assert attempts == [1, 1] and worker.stats.succeeded == 1
        assert (await docket.snapshot()).quarantined == 0
        await docket.store.destroy()


async def test_retrying_all_reads_the_whole_record_page_by_page(docket: Docket) -> None:
    count = PAGE + 500
    await docket.add_many([docket.call(broken, key=f"k{n}")(n) for n in range(count)])
    claimed = await docket.store.claim("w", count, 3_600_000_000, 0)
    note = failure_note(docket.failure_retention, "broken", ValueError("x"), 1)
    await docket.store.finish([Finish(c.key, c.token, failure=note) for c in claimed.claims])
    assert len(await docket.failures(limit=MAX_LIMIT)) == count
    outcomes = await docket.retry_failed()
    assert len(outcomes) == count and set(outcomes.values()) == {"retried"}
    assert (await docket.snapshot(0)).total_tasks == count
    await docket.clear()


async def test_one_tasks_failure_is_read_by_its_key(docket: Docket) -> None:
    await docket.add(broken, key="b1")(7)
    await docket.add(fine, key="f1")(1)
    await run(docket)
    failure = await docket.failure("b1")
    [listed] = await docket.failures()
    assert failure is not None and failure.execution is not None
    assert (failure.key, failure.failed_at, failure.message) == (
        listed.key,
        listed.failed_at,
        listed.message,
    )
    assert failure.execution.args == (7,)
    assert await docket.failure("f1") is None
    assert await docket.failure("unknown") is None


async def test_reading_one_failure_refuses_a_bad_key_naming_it(docket: Docket) -> None:
    with pytest.raises((TypeError, ValueError), match="key"):
        await docket.failure("")
