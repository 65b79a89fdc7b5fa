"""Timeout: a run past its limit is cancelled and counts as a failure (so Retry applies)."""

# Dependency markers are calls in defaults by design (pydocket's spelling).

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

import pytest

from strew import Docket, Retry, Timeout, Worker

MS = timedelta(milliseconds=1)


async def test_a_run_past_its_limit_is_cancelled_and_retried(
    docket: Docket, caplog: pytest.LogCaptureFixture
) -> None:
    attempts: list[int] = []
    cancelled: list[int] = []

    async def slow(
        retry: Retry = Retry(attempts=2, delay=MS),
        timeout: Timeout = Timeout(timedelta(milliseconds=20)),
    ) -> None:
        attempts.append(retry.attempt)
        if retry.attempt == 1:
            try:
                await asyncio.Event().wait()  # never set: only the timeout ends this
            except asyncio.CancelledError:
                cancelled.append(retry.attempt)
                raise

    await docket.add(slow, key="slow")()
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    assert attempts == [1, 2] and cancelled == [1]
    assert worker.stats.failed == 1 and worker.stats.succeeded == 1
    [failure] = [r for r in caplog.records if r.exc_info and "slow failed" in r.getMessage()]
    assert failure.exc_info is not None
    assert str(failure.exc_info[1]) == "timed out after 0:00:00.020000"


async def test_a_timed_out_run_without_retry_fails_once(docket: Docket) -> None:
    async def stuck(timeout: Timeout = Timeout(timedelta(milliseconds=10))) -> None:
        await asyncio.Event().wait()

    await docket.add(stuck)()
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    assert worker.stats.failed == 1 and worker.stats.retried == 0


async def test_extend_gives_a_run_more_time(docket: Docket) -> None:
    finished: list[bool] = []

    async def patient(timeout: Timeout = Timeout(timedelta(milliseconds=20))) -> None:
        timeout.extend(timedelta(seconds=30))
        assert timeout.remaining() > timedelta(seconds=29)
        # Well past the original 20 ms: only the extension lets this run finish.
        await asyncio.sleep(0.1)
        finished.append(True)

    await docket.add(patient)()
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    assert finished == [True] and worker.stats.failed == 0


async def test_extend_without_an_argument_adds_another_limit(docket: Docket) -> None:
    added: list[timedelta] = []

    async def patient(timeout: Timeout = Timeout(timedelta(seconds=30))) -> None:
        before = timeout.remaining()
        timeout.extend()
        added.append(timeout.remaining() - before)

    await docket.add(patient)()
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    # Another 30 s, less the moment between the two readings.
    assert len(added) == 1 and timedelta(seconds=29) < added[0] <= timedelta(seconds=30)
    assert worker.stats.succeeded == 1


def test_extend_before_the_run_starts_grows_the_limit_and_refuses_a_negative_one() -> None:
    timeout = Timeout(timedelta(seconds=3))
    timeout.extend()
    assert timeout.limit == timeout.remaining() == timedelta(seconds=6)
    timeout.extend(timedelta(seconds=1))
    assert timeout.limit == timedelta(seconds=7)
    with pytest.raises(ValueError, match=r"by must be a duration of zero or more, got -1 day"):
        timeout.extend(timedelta(seconds=-1))
    assert timeout.limit == timedelta(seconds=7)


async def test_a_docket_cancel_during_a_timed_run_is_a_cancellation(docket: Docket) -> None:
    started = asyncio.Event()

    async def long(timeout: Timeout = Timeout(timedelta(seconds=30))) -> None:
        started.set()
        await asyncio.Event().wait()

    await docket.add(long, key="long")()
    async with Worker(docket) as worker:
        run = asyncio.create_task(worker.run_until_finished())
        await started.wait()
        await docket.cancel("long")
        await run
    assert worker.stats.cancelled == 1 and worker.stats.failed == 0


def test_remaining_before_the_run_starts_is_the_limit() -> None:
    assert Timeout(timedelta(seconds=3)).remaining() == timedelta(seconds=3)


async def test_a_plain_function_past_its_limit_is_abandoned_as_failed(docket: Docket) -> None:
    release = threading.Event()

    def blocking(timeout: Timeout = Timeout(timedelta(milliseconds=20))) -> None:
        release.wait(10)  # a thread cannot be interrupted; the run is abandoned instead

    await docket.add(blocking)()
    try:
        async with Worker(docket) as worker:
            await worker.run_until_finished()
    finally:
        release.set()
    assert worker.stats.failed == 1 and worker.stats.succeeded == 0
