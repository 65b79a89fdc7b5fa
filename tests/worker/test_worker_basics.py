"""A worker runs what a docket schedules, on time, on both stores."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from strew import Disposition, Docket, Worker

from ..helpers import wait_until


async def test_a_worker_runs_immediate_and_future_tasks_in_due_order(docket: Docket) -> None:
    ran: list[str] = []

    async def greet(name: str) -> None:
        ran.append(name)

    soon = datetime.now(UTC) + timedelta(milliseconds=200)
    await docket.add(greet, when=soon, key="later")("later")
    await docket.add(greet)("now")
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    assert ran == ["now", "later"]


async def test_plain_functions_run_in_a_thread(docket: Docket) -> None:
    import threading

    threads: list[str] = []

    def blocking(n: int) -> None:
        threads.append(threading.current_thread().name)

    await docket.add(blocking)(1)
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    assert len(threads) == 1 and threads[0] != threading.main_thread().name


async def test_keys_make_adds_idempotent_and_replace_supersedes(docket: Docket) -> None:
    ran: list[str] = []

    async def greet(name: str) -> None:
        ran.append(name)

    soon = datetime.now(UTC) + timedelta(milliseconds=50)
    first = await docket.add(greet, when=soon, key="john")("John")
    second = await docket.add(greet, when=soon, key="john")("Jack")
    replaced = await docket.replace(greet, when=soon, key="john")("Johnny")
    assert (first.disposition, second.disposition, replaced.disposition) == (
        Disposition.SCHEDULED,
        Disposition.ALREADY_SCHEDULED,
        Disposition.SCHEDULED,
    )
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    assert ran == ["Johnny"]


async def test_a_cancelled_task_never_runs(docket: Docket) -> None:
    ran: list[str] = []

    async def greet(name: str) -> None:
        ran.append(name)

    soon = datetime.now(UTC) + timedelta(milliseconds=50)
    await docket.add(greet, when=soon, key="gone")("gone")
    await docket.add(greet, when=soon)("stays")
    await docket.cancel("gone")
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    assert ran == ["stays"]


async def test_cancel_reaches_a_running_task(docket: Docket) -> None:
    started = asyncio.Event()
    outcome: list[str] = []

    async def slow() -> None:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise

    await docket.add(slow, key="slow")()
    async with Worker(docket) as worker:
        run = asyncio.create_task(worker.run_until_finished())
        await started.wait()
        await wait_until(lambda: len(worker.state.running) == 1)
        await docket.cancel("slow")
        await asyncio.wait_for(run, timeout=10)
    assert outcome == ["cancelled"]
    assert worker.stats.cancelled == 1


async def test_run_until_finished_waits_for_every_task_at_concurrency(docket: Docket) -> None:
    done: list[int] = []

    async def work(i: int) -> None:
        await asyncio.sleep(0.001)
        done.append(i)

    calls = [docket.call(work)(i) for i in range(500)]
    executions = await docket.add_many(calls)
    assert {e.disposition for e in executions} == {Disposition.SCHEDULED}
    async with Worker(docket, concurrency=25) as worker:
        await worker.run_until_finished()
    assert sorted(done) == list(range(500))


async def test_a_failing_task_is_logged_and_does_not_stop_the_worker(docket: Docket) -> None:
    ran: list[str] = []

    async def boom() -> None:
        raise RuntimeError("boom")

    async def fine() -> None:
        ran.append("fine")

    await docket.add(boom)()
    await docket.add(fine)()
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    assert ran == ["fine"]
    assert worker.stats.failed == 1


async def test_stop_hands_back_a_task_that_outlives_the_grace(docket: Docket) -> None:
    started = asyncio.Event()

    async def stubborn() -> None:
        started.set()
        await asyncio.sleep(30)

    await docket.add(stubborn, key="stubborn")()
    worker = Worker(docket, shutdown_grace=timedelta(milliseconds=50))
    run = asyncio.create_task(worker.run_forever())
    await started.wait()
    worker.stop()
    await asyncio.wait_for(run, timeout=10)
    snapshot = await docket.snapshot()
    assert [e.key for e in snapshot.future] == ["stubborn"]
    assert snapshot.running == []
    await docket.clear()


async def test_a_burst_of_concurrent_adds_waits_for_connections_instead_of_failing(
    docket: Docket,
) -> None:
    async def work(i: int) -> None:
        pass

    # More concurrent calls than the connection pool holds (50): they queue for a connection.
    executions = await asyncio.gather(*[docket.add(work)(i) for i in range(300)])
    assert {e.disposition for e in executions} == {Disposition.SCHEDULED}
    assert (await docket.snapshot(0)).total_tasks == 300


async def test_every_worker_knows_the_built_in_tasks_as_pydockets_do(docket: Docket) -> None:
    from strew.tasks import trace

    async def sleep(seconds: float) -> None: ...  # the docket's own "sleep" keeps its name

    docket.register(sleep)
    async with Worker(docket) as worker:
        assert docket.tasks["trace"] is trace and docket.tasks["sleep"] is sleep
        assert {"trace", "fail", "sleep"} <= set(docket.tasks)
        await docket.add("trace")("from a worker's own registry")
        await worker.run_until_finished()
    assert worker.stats.succeeded == 1
