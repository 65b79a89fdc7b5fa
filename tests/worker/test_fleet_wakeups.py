"""A fleet wakes one worker at a time (docs/workers.md, "How a fleet wakes"): several idle
workers on one docket, in one process, each with its own store connection where the store
has connections. Counts are bounded generously; times only through `wait_until`."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest

from strew import CurrentWorker, Docket, Worker
from strew.stores.records import ClaimResult, Notice

from ..helpers import wait_until

RAN: Counter[str] = Counter()
BY: dict[str, str] = {}
HOLD = asyncio.Event()  # remade per test (see the fixture)


async def note(name: str, worker: Worker = CurrentWorker()) -> None:
    RAN[name] += 1
    BY[name] = worker.name


async def held(name: str, worker: Worker = CurrentWorker()) -> None:
    RAN[name] += 1
    BY[name] = worker.name
    await HOLD.wait()


def ran_once(name: str) -> bool:
    return RAN[name] == 1


class Fleet:
    """Idle workers on one docket, each through its own `Docket` (and so its own store
    connection on Redis), all counting the claims they make."""

    def __init__(self, stack: AsyncExitStack, name: str, url: str) -> None:
        self.stack, self.name, self.url = stack, name, url
        self.workers: list[Worker] = []
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.claims = 0
        self.first: Docket | None = None

    async def start(self, count: int, poll_ceiling: timedelta, concurrency: int = 2) -> None:
        for _ in range(count):
            docket = await self.stack.enter_async_context(Docket(name=self.name, url=self.url))
            self.first = self.first or docket
            docket.register(note)
            docket.register(held)
            worker = Worker(docket, concurrency=concurrency, poll_ceiling=poll_ceiling)
            self.count_claims(worker)
            self.workers.append(worker)
            self.tasks[worker.name] = asyncio.create_task(worker.run_forever())
            # One at a time: the first watches, each later one queues up behind it.
            await wait_until(partial(self.asleep, worker), message="the worker to settle")

    def count_claims(self, worker: Worker) -> None:
        store = worker.state.store
        claim = store.claim

        async def counted(*args: Any, **options: Any) -> ClaimResult:
            if args[1] > 0:  # the claimer's claims, not a heartbeat's look (limit 0)
                self.claims += 1
            return await claim(*args, **options)

        worker.state.store = counted_store(store, counted)

    def asleep(self, worker: Worker) -> bool:
        return (
            worker.state.listening.is_set()
            and worker.stats.claimed == 0
            and (worker is self.workers[0] or worker.state.standby)
        )

    @property
    def docket(self) -> Docket:
        assert self.first is not None
        return self.first


def counted_store(store: Any, claim: Callable[..., Awaitable[ClaimResult]]) -> Any:
    """The worker's own store, with its claims counted on the way (every other call goes
    straight to the store)."""

    class Counted:
        def __getattr__(self, name: str) -> Any:
            return claim if name == "claim" else getattr(store, name)

    return Counted()


@pytest.fixture
async def fleet(docket: Docket) -> AsyncIterator[Fleet]:
    global HOLD
    RAN.clear()
    BY.clear()
    HOLD = asyncio.Event()
    async with AsyncExitStack() as stack:
        fleet = Fleet(stack, docket.name, docket.url)
        try:
            yield fleet
        finally:
            HOLD.set()
            for worker in fleet.workers:
                worker.stop()
            await asyncio.gather(*fleet.tasks.values(), return_exceptions=True)


async def test_each_of_many_tasks_due_at_once_runs_once_spread_over_the_fleet(
    fleet: Fleet,
) -> None:
    await fleet.start(5, poll_ceiling=timedelta(minutes=1), concurrency=2)
    when = datetime.now(UTC) + timedelta(milliseconds=300)
    for n in range(7):
        await fleet.docket.add(held, when=when)(f"t{n}")
    await wait_until(lambda: sum(RAN.values()) == 7, message="all seven to start")
    # Held until all seven started: two slots each, so four workers or more took them, each
    # handed the watch by the one before it that filled up (a minute-long ceiling: no poll).
    assert len(set(BY.values())) >= 4
    HOLD.set()
    await wait_until(lambda: all(not w.state.running for w in fleet.workers), message="ends")
    assert Counter({f"t{n}": 1 for n in range(7)}) == RAN
    assert fleet.claims < 7 * 3  # every worker claiming on every wake-up: 7 x 5 and more


async def test_a_stream_of_tasks_costs_about_one_claim_each_however_many_workers_idle(
    fleet: Fleet,
) -> None:
    await fleet.start(6, poll_ceiling=timedelta(minutes=1))
    before = fleet.claims
    for n in range(10):
        await fleet.docket.add(note)(f"n{n}")
        await wait_until(partial(ran_once, f"n{n}"), message=f"n{n} to run")
    # One wake-up per task reaches the watcher alone; six workers each claiming would be 60.
    assert fleet.claims - before <= 10 * 2
    assert set(BY.values()) == {fleet.workers[0].name}


async def test_a_watcher_that_stops_hands_the_watch_on_at_once(fleet: Fleet) -> None:
    await fleet.start(3, poll_ceiling=timedelta(minutes=1))
    watcher = fleet.workers[0]
    watcher.stop()
    await fleet.tasks[watcher.name]
    await fleet.docket.add(note)("after")
    await wait_until(lambda: RAN["after"] == 1, message="the task to run")
    assert BY["after"] != watcher.name


async def test_a_wake_up_heard_while_the_claim_that_makes_a_worker_watcher_is_on_its_way(
    fleet: Fleet,
) -> None:
    """The standby worker handed the watch claims; a task is added after that claim looked
    and its broadcast wake-up arrives before the claim's answer, while the worker still
    thinks itself on standby. It must look again, not sleep a poll ceiling (a minute)."""
    await fleet.start(2, poll_ceiling=timedelta(minutes=1))
    watcher, heir = fleet.workers
    heard: list[Notice] = []
    upkeep_heard = heir.upkeep.heard

    def counting(notice: Notice) -> None:
        heard.append(notice)
        upkeep_heard(notice)

    heir.upkeep.heard = counting  # type: ignore[method-assign]
    store = heir.state.store
    claim = store.claim
    added = asyncio.Event()

    async def late(*args: Any, **options: Any) -> ClaimResult:
        result = await claim(*args, **options)
        if args[1] > 0 and result.standby == 0 and not added.is_set():
            added.set()
            before = len(heard)
            await fleet.docket.add(note)("late")
            await wait_until(lambda: len(heard) > before, message="the wake-up to be heard")
        return result

    heir.state.store = counted_store(store, late)
    watcher.stop()
    await fleet.tasks[watcher.name]
    await wait_until(added.is_set, message="the heir's claim")
    await wait_until(lambda: RAN["late"] == 1, message="the late task to run")
    assert BY["late"] == heir.name


async def test_a_watcher_that_dies_without_a_word_is_replaced_within_the_bound(
    fleet: Fleet,
) -> None:
    await fleet.start(3, poll_ceiling=timedelta(milliseconds=100))
    watcher = fleet.workers[0]

    async def no_goodbye(worker: str) -> None:
        """A worker that dies says nothing: the watch stays its own until it lapses."""

    setattr(watcher.state.store, "forget_worker", no_goodbye)  # noqa: B010
    fleet.tasks[watcher.name].cancel()
    with pytest.raises(asyncio.CancelledError):
        await fleet.tasks[watcher.name]
    await fleet.docket.add(note)("orphan")
    # Within WATCH_LEASE + STANDBY_CHECK poll ceilings (0.6 s here); ten seconds to spare.
    await wait_until(lambda: RAN["orphan"] == 1, message="a standby worker to take over")
    assert BY["orphan"] != watcher.name
