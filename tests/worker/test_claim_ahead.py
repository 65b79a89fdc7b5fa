"""In a burst, a worker sends its next claim before the runners of the last one start, so the
store answers it while they run (claimer.py, `Claimer.step`), on both stores. The claim sent
ahead asks only for slots no runner holds, and a stop that finds one on its way hands back
what it took."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from strew import Docket, Worker
from strew.stores.records import Claim, ClaimResult

RAN: Counter[int] = Counter()


async def job(n: int) -> None:
    RAN[n] += 1


@pytest.fixture(autouse=True)
def _fresh() -> None:
    RAN.clear()


class Watched:
    """The worker's store, with each claim noted as it is sent: how many tasks had run by
    then, how many the worker held, how many it asked for and how many it got."""

    def __init__(self, worker: Worker) -> None:
        self.store = store = worker.state.store
        self.worker = worker
        self.sent: list[tuple[int, int, int]] = []  # ran, held, limit
        self.claimed: list[int] = []  # tasks claimed before each claim was sent
        self.total = 0
        watched = self

        class Store:
            def __getattr__(self, name: str) -> Any:
                return watched.claim if name == "claim" else getattr(store, name)

        worker.state.store = Store()

    async def claim(self, *args: Any, **options: Any) -> ClaimResult:
        if args[1] > 0:  # the claimer's, not a heartbeat's look (limit 0)
            self.sent.append((sum(RAN.values()), len(self.worker.state.running), args[1]))
            self.claimed.append(self.total)
        result = await self.store.claim(*args, **options)
        self.total += len(result.claims)
        return result


async def test_a_burst_is_claimed_ahead_of_its_runners_within_the_concurrency(
    docket: Docket,
) -> None:
    await docket.add_many([docket.call(job)(n) for n in range(200)])
    worker = Worker(docket, concurrency=40)
    watched = Watched(worker)
    await asyncio.wait_for(worker.run_until_finished(), timeout=30)
    assert Counter(range(200)) == RAN
    # Never more leases asked for than free slots...
    assert all(held + limit <= 40 for _, held, limit in watched.sent)
    # ...and some claim went out while tasks claimed before it had not run yet: the store
    # answered it while they ran.
    assert any(
        ran < claimed for (ran, _, _), claimed in zip(watched.sent, watched.claimed, strict=True)
    )


async def test_a_stop_with_a_claim_sent_ahead_hands_back_what_it_took(
    docket: Docket, monkeypatch: pytest.MonkeyPatch
) -> None:
    await docket.add_many([docket.call(job)(n) for n in range(150)])
    worker = Worker(docket, concurrency=40)
    start = worker.claimer.start

    def start_then_stop(group: asyncio.TaskGroup, claim: Claim) -> None:
        start(group, claim)
        if worker.claimer._ahead is not None:
            worker.stop()  # with a claim on its way, sent before these runners started

    monkeypatch.setattr(worker.claimer, "start", start_then_stop)
    await asyncio.wait_for(worker.run_forever(), timeout=30)
    assert worker.stats.released > 0
    snapshot = await docket.snapshot()
    assert snapshot.running == []  # nothing left to a lease
    assert len(snapshot.future) + sum(RAN.values()) == 150

    async with Worker(docket) as again:
        await again.run_until_finished()
    assert Counter(range(150)) == RAN  # each exactly once


async def test_a_small_worker_claims_every_free_slot_at_once(docket: Docket) -> None:
    """Half of a few slots would not pay for the second claim: no claim goes ahead."""
    await docket.add_many([docket.call(job)(n) for n in range(50)])
    worker = Worker(docket, concurrency=10)
    watched = Watched(worker)
    await asyncio.wait_for(worker.run_until_finished(), timeout=30)
    assert Counter(range(50)) == RAN
    assert all(held + limit == 10 for _, held, limit in watched.sent)
