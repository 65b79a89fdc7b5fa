"""What the workers' periodic check does *not* put back, on both stores: an automatic chain
that ended itself, one a strike holds, and one whose run the worker is executing after the
store lost its lease.

Each test has a second automatic task, ``canary``, that it cancels by hand: a check that puts
the canary back is a check that also looked at the chain under test (both are in the same
atomic `restore_chains` call), so the tests wait for checks instead of sleeping.
"""

# Dependency markers are calls in defaults by design (pydocket's spelling).

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest

from strew import Docket, Perpetual, Worker
from strew.stores.records import StoreError

from ..helpers import wait_until

HOUR = timedelta(hours=1)


@pytest.fixture
async def fast_docket(store_url: str, docket_name: str) -> AsyncIterator[Docket]:
    """A docket whose workers look for lost automatic chains every 20 ms."""
    async with Docket(docket_name, store_url, heartbeat_interval=timedelta(milliseconds=20)) as d:
        yield d
        await d.store.destroy()


def with_canary(docket: Docket) -> Callable[[], Awaitable[None]]:
    """Register the canary; returns a coroutine function that waits for one more periodic
    check (of some worker) to have looked at every automatic chain."""
    runs: list[int] = []

    async def canary(perpetual: Perpetual = Perpetual(every=HOUR, automatic=True)) -> None:
        runs.append(1)

    docket.register(canary)

    async def one_more_check() -> None:
        await wait_until(lambda: bool(runs), message="the canary's first run")

        # A store call may fail once right after a Redis restart (tests/test_perpetual_faults):
        # that is a "not yet", not a failure of the test.
        async def waiting() -> bool:
            try:
                return (await docket.store.task_state("canary")).scheduled is not None
            except StoreError:
                return False

        await wait_until(waiting, message="the canary's next step")
        before = len(runs)

        async def cancelled() -> bool:
            try:
                await docket.cancel("canary")
            except StoreError:
                return False
            return True

        await wait_until(cancelled, message="the canary to be cancelled")
        await wait_until(lambda: len(runs) > before, message="a check to restore the canary")

    return one_more_check


@asynccontextmanager
async def running(*workers: Worker) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(worker.run_forever()) for worker in workers]
    try:
        yield
    finally:
        for worker in workers:
            worker.stop()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=10)


def fast_worker(docket: Docket) -> Worker:
    return Worker(docket, poll_ceiling=timedelta(milliseconds=20))


async def test_an_automatic_task_that_cancels_itself_stays_stopped_until_a_worker_starts(
    fast_docket: Docket, caplog: pytest.LogCaptureFixture
) -> None:
    runs: list[int] = []

    async def once(perpetual: Perpetual = Perpetual(every=timedelta(0), automatic=True)) -> None:
        runs.append(1)
        perpetual.cancel()

    fast_docket.register(once)
    one_more_check = with_canary(fast_docket)
    async with running(fast_worker(fast_docket), fast_worker(fast_docket)):
        await wait_until(lambda: runs == [1], message="the one run")
        for _ in range(5):
            await one_more_check()
        assert runs == [1]
        state = await fast_docket.store.task_state("once")
        assert (state.scheduled, state.running, state.held) == (None, None, None)
    assert caplog.text.count("started the automatic task once") == 1

    # A worker that starts afterwards starts it again, as pydocket's workers do.
    async with running(fast_worker(fast_docket)):
        await wait_until(lambda: runs == [1, 1], message="the run after a worker start")
        await one_more_check()
    assert runs == [1, 1]


async def test_an_automatic_chain_started_again_is_restored_when_lost_once_more(
    fast_docket: Docket,
) -> None:
    runs: list[str] = []

    async def sometimes(
        stop: bool = True, perpetual: Perpetual = Perpetual(every=HOUR, automatic=True)
    ) -> None:
        runs.append("stop" if stop else "go")
        if stop:
            perpetual.cancel()

    fast_docket.register(sometimes)
    one_more_check = with_canary(fast_docket)
    async with running(fast_worker(fast_docket)):
        await wait_until(lambda: runs == ["stop"], message="the run that ends the chain")
        await one_more_check()
        # Someone starts the chain again by hand; lost later, it is an ordinary lost chain.
        await fast_docket.add(sometimes, key="sometimes")(stop=False)
        await wait_until(lambda: runs == ["stop", "go"], message="the hand-started run")

        async def next_step_waiting() -> bool:
            return (await fast_docket.store.task_state("sometimes")).scheduled is not None

        await wait_until(next_step_waiting, message="its next step, an hour away")
        await one_more_check()  # a check saw the chain alive: its end is forgotten
        await fast_docket.cancel("sometimes")
        await wait_until(lambda: len(runs) == 3, message="the lost chain to be restored")
    assert runs == ["stop", "go", "stop"]


async def test_a_stricken_automatic_task_is_held_once_not_re_added_every_interval(
    fast_docket: Docket, caplog: pytest.LogCaptureFixture
) -> None:
    runs: list[int] = []

    async def paused(perpetual: Perpetual = Perpetual(every=HOUR, automatic=True)) -> None:
        runs.append(1)

    fast_docket.register(paused)
    one_more_check = with_canary(fast_docket)
    await fast_docket.strike(paused)
    worker = fast_worker(fast_docket)
    async with running(worker):
        await wait_until(lambda: worker.stats.held == 1, message="the chain to be held")
        for _ in range(5):
            await one_more_check()
        assert worker.stats.held == 1
        assert caplog.text.count("started the automatic task paused") == 1
        assert (await fast_docket.snapshot()).held_total == 1

        await fast_docket.restore(paused)
        await wait_until(lambda: runs == [1], message="the held chain to run after restore")

        async def next_step_waiting() -> bool:
            return (await fast_docket.store.task_state("paused")).scheduled is not None

        await wait_until(next_step_waiting, message="the chain to go on")
    assert caplog.text.count("started the automatic task paused") == 1


async def test_a_worker_does_not_restore_a_chain_whose_run_it_is_executing(
    fast_docket: Docket,
) -> None:
    """The store loses everything (as a Redis restart without its data would) while a run of
    the chain is going: putting the chain back then would run a second copy beside it."""
    release = asyncio.Event()
    started = 0
    in_flight = 0
    most = 0

    async def long(perpetual: Perpetual = Perpetual(every=HOUR, automatic=True)) -> None:
        nonlocal started, in_flight, most
        started += 1
        in_flight += 1
        most = max(most, in_flight)
        try:
            await release.wait()
        finally:
            in_flight -= 1

    fast_docket.register(long)
    one_more_check = with_canary(fast_docket)
    async with running(fast_worker(fast_docket)):
        await wait_until(lambda: started == 1, message="the run to be under way")
        await one_more_check()  # the canary's chain exists before the loss
        await fast_docket.store.destroy()  # every key lost, the run's lease too
        await one_more_check()
        await one_more_check()
        state = await fast_docket.store.task_state("long")
        assert (state.scheduled, state.running) == (None, None)
        assert started == 1

        release.set()
        await wait_until(lambda: started == 2, message="the chain back once the run ended")
    assert most == 1
