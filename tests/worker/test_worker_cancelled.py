"""A worker whose run is cancelled from outside (``asyncio.wait_for``, an application's task
group) hands back what it holds at once: nothing is left leased for minutes under a worker
that is gone (pydocket's local_development example ends this way)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from strew import Docket, Worker

from ..helpers import wait_until


async def test_a_cancelled_worker_hands_back_running_and_early_claimed_tasks(
    docket: Docket,
) -> None:
    started = asyncio.Event()

    async def long_job() -> None:
        started.set()
        await asyncio.Event().wait()

    async def later_job() -> None: ...

    await docket.add(long_job, key="long")()
    soon = datetime.now(UTC) + timedelta(seconds=30)
    await docket.add(later_job, when=soon, key="later")()
    worker = Worker(
        docket,
        prefetch=timedelta(minutes=1),  # claims "later" now, to start it on time
        redelivery_timeout=timedelta(minutes=5),
    )
    async with worker:
        run = asyncio.create_task(worker.run_forever())
        await asyncio.wait_for(started.wait(), timeout=10)
        await wait_until(lambda: len(worker.state.running) == 2)
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
    taken = await docket.snapshot()
    assert taken.running == []
    assert sorted(execution.key for execution in taken.future) == ["later", "long"]
    assert worker.stats.released == 2


async def test_a_worker_under_wait_for_ends_with_nothing_held(docket: Docket) -> None:
    async def tick() -> None:
        await asyncio.sleep(0.01)

    for n in range(20):
        await docket.add(tick, key=f"t{n}")()
    worker = Worker(docket, concurrency=4)
    async with worker:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(worker.run_forever(), timeout=0.05)
    taken = await docket.snapshot()
    assert taken.running == []
    assert taken.total_tasks + worker.stats.succeeded == 20
