"""A cancel (or a shutdown) that reaches a worker between claiming a task and the first step
of the task's runner must still cancel (or hand back) that task, on both stores.

An asyncio task cancelled before its first step never runs its body, so without care its
claim would be neither acknowledged nor handed back: held until the lease lapsed, and then
run after all. The window opens when a claim's reply and a cancel notice arrive in the same
turn of the event loop; the tests open it on purpose by interrupting right after the start.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from strew import Docket, ExecutionState, Worker
from strew.signals import metrics as instrumentation
from strew.stores.records import Claim

ran: list[int] = []


async def job(n: int) -> None:
    ran.append(n)


@pytest.fixture(autouse=True)
def _fresh() -> None:
    ran.clear()


async def test_a_cancel_right_after_the_claim_cancels_the_task(
    docket: Docket, monkeypatch: pytest.MonkeyPatch
) -> None:
    execution = await docket.add(job, key="job")(1)
    worker = Worker(docket, poll_ceiling=timedelta(milliseconds=20))
    start = worker.claimer.start

    def start_then_cancel(group: asyncio.TaskGroup, claim: Claim) -> None:
        start(group, claim)
        worker.state.cancel(claim.key)  # as the listener would, in the same turn of the loop

    monkeypatch.setattr(worker.claimer, "start", start_then_cancel)
    await asyncio.wait_for(worker.run_until_finished(), timeout=10)
    assert ran == []
    assert worker.stats.cancelled == 1 and worker.state.running == {}
    assert instrumentation.sample("strew_tasks_cancelled_total", docket.name, "job") == 1
    assert await execution.sync() is ExecutionState.CANCELLED
    assert (await docket.snapshot()).total_tasks == 0


async def test_a_stop_right_after_the_claim_hands_the_task_back(
    docket: Docket, monkeypatch: pytest.MonkeyPatch
) -> None:
    await docket.add(job, key="job")(2)
    # One slot: the claim fills it, so the claim loop goes straight round, sees the stop and
    # drains before the runner took its first step.
    worker = Worker(docket, concurrency=1, poll_ceiling=timedelta(milliseconds=20))
    start = worker.claimer.start

    def start_then_stop(group: asyncio.TaskGroup, claim: Claim) -> None:
        start(group, claim)
        worker.stop()

    monkeypatch.setattr(worker.claimer, "start", start_then_stop)
    await asyncio.wait_for(worker.run_forever(), timeout=10)
    assert ran == [] and worker.stats.released == 1
    snapshot = await docket.snapshot()
    assert [e.key for e in snapshot.future] == ["job"] and snapshot.running == []

    async with Worker(docket) as again:
        await again.run_until_finished()
    assert ran == [2]
