"""`run_at_most` returns for perpetual chains whose next run lies far ahead, and for a
perpetual task that raises `asyncio.CancelledError` itself."""

# Dependency markers are calls in defaults by design (pydocket's spelling).

from __future__ import annotations

import asyncio
from datetime import timedelta

from strew import Docket, Perpetual, Retry, Worker

HOUR = timedelta(hours=1)
# A bound on the test, not a timing assertion: a hang fails loudly instead of stalling the run.
HANG = 10


async def test_run_at_most_one_returns_although_the_next_run_is_an_hour_away(
    docket: Docket,
) -> None:
    runs: list[int] = []

    async def hourly(perpetual: Perpetual = Perpetual(every=HOUR)) -> None:
        runs.append(1)

    await docket.add(hourly, key="hourly")()
    async with Worker(docket) as worker:
        await asyncio.wait_for(worker.run_at_most({"hourly": 1}), timeout=HANG)
    assert runs == [1]
    assert (await docket.snapshot()).total_tasks == 0


async def test_run_at_most_drops_a_retry_past_the_limit(docket: Docket) -> None:
    runs: list[int] = []

    async def flaky(retry: Retry = Retry(attempts=3, delay=HOUR)) -> None:
        runs.append(1)
        raise RuntimeError("again")

    await docket.add(flaky, key="flaky")()
    async with Worker(docket) as worker:
        await asyncio.wait_for(worker.run_at_most({"flaky": 1}), timeout=HANG)
    assert runs == [1]
    assert (await docket.snapshot()).total_tasks == 0


async def test_a_perpetual_task_that_raises_cancelled_error_itself_does_not_hang(
    docket: Docket,
) -> None:
    runs: list[int] = []

    async def quits(perpetual: Perpetual = Perpetual(every=timedelta(milliseconds=1))) -> None:
        runs.append(1)
        raise asyncio.CancelledError

    await docket.add(quits, key="quits")()
    async with Worker(docket) as worker:
        await asyncio.wait_for(worker.run_at_most({"quits": 2}), timeout=HANG)
        assert worker.stats.failed == 2
    assert runs == [1, 1]
    snapshot = await docket.snapshot()
    assert snapshot.total_tasks == 0 and not snapshot.running
