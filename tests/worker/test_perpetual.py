"""Perpetual tasks: one chain per key, rescheduled atomically with each acknowledgement, on
both stores."""

# Dependency markers are calls in defaults by design (pydocket's spelling).

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from strew import Cron, CurrentExecution, Docket, Execution, Perpetual, Retry, Worker
from strew.dependencies.perpetual import CHAIN_DUE
from strew.task.clock import to_micros
from strew.worker.perpetual import add_automatic

from ..helpers import wait_until

MS = timedelta(milliseconds=1)
HOUR = timedelta(hours=1)


def fast_worker(docket: Docket) -> Worker:
    return Worker(docket, poll_ceiling=timedelta(milliseconds=20))


async def scheduled(docket: Docket) -> dict[str, Execution]:
    return {e.key: e for e in (await docket.snapshot()).future}


async def test_a_perpetual_task_runs_as_often_as_run_at_most_allows(docket: Docket) -> None:
    runs: list[int] = []

    async def tick(perpetual: Perpetual = Perpetual(every=MS)) -> None:
        runs.append(len(runs) + 1)

    await docket.add(tick, key="tick")()
    async with Worker(docket) as worker:
        await worker.run_at_most({"tick": 5})
    assert runs == [1, 2, 3, 4, 5]
    assert (await docket.snapshot()).total_tasks == 0


async def test_perpetuate_gives_the_next_run_new_arguments_and_cancel_ends_the_chain(
    docket: Docket, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[tuple[int, str]] = []

    async def countdown(n: int, label: str = "-", perpetual: Perpetual = Perpetual(MS)) -> None:
        seen.append((n, label))
        if n == 0:
            perpetual.cancel()
        else:
            perpetual.perpetuate(n - 1, label=f"after {n}")

    await docket.add(countdown, key="countdown")(3)
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    assert seen == [(3, "-"), (2, "after 3"), (1, "after 2"), (0, "after 1")]
    assert (await docket.snapshot()).total_tasks == 0
    assert "countdown (key countdown) cancelled its perpetual chain" in caplog.text


async def test_without_perpetuate_each_run_gets_the_same_arguments(docket: Docket) -> None:
    seen: list[Any] = []

    async def echo(value: str, perpetual: Perpetual = Perpetual(MS)) -> None:
        seen.append(value)
        if len(seen) == 3:
            perpetual.cancel()

    await docket.add(echo, key="echo")("same")
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    assert seen == ["same", "same", "same"]


async def test_a_failing_run_is_retried_first_and_the_chain_goes_on_once_retries_run_out(
    docket: Docket,
) -> None:
    attempts: list[int] = []

    async def flaky(
        retry: Retry = Retry(attempts=2, delay=MS),
        perpetual: Perpetual = Perpetual(MS),
        execution: Execution = CurrentExecution(),
    ) -> None:
        attempts.append(execution.attempt)
        raise RuntimeError("always")

    await docket.add(flaky, key="flaky")()
    async with Worker(docket) as worker:
        await worker.run_at_most({"flaky": 6})
    # Each step: the run and its one retry; then the chain's next step starts afresh.
    assert attempts == [1, 2, 1, 2, 1, 2]
    assert worker.stats.retried == 3


async def test_a_perpetual_task_cancelled_while_running_ends_its_chain(docket: Docket) -> None:
    started = asyncio.Event()

    async def endless(perpetual: Perpetual = Perpetual(MS)) -> None:
        started.set()
        await asyncio.Event().wait()

    await docket.add(endless, key="endless")()
    async with Worker(docket) as worker:
        run = asyncio.create_task(worker.run_until_finished())
        await asyncio.wait_for(started.wait(), timeout=10)
        await docket.cancel("endless")
        await asyncio.wait_for(run, timeout=10)
    assert worker.stats.cancelled == 1
    assert (await docket.snapshot()).total_tasks == 0


@pytest.fixture
async def running_worker(docket: Docket) -> AsyncIterator[Worker]:
    worker = fast_worker(docket)
    run = asyncio.create_task(worker.run_forever())
    try:
        yield worker
    finally:
        worker.stop()
        await asyncio.wait_for(run, timeout=10)


async def test_after_and_at_choose_the_next_runs_time(
    docket: Docket, running_worker: Worker
) -> None:
    target = datetime(2031, 5, 17, 8, 30, tzinfo=UTC)
    ran: list[str] = []

    async def later(perpetual: Perpetual = Perpetual(HOUR)) -> None:
        ran.append("later")
        perpetual.after(timedelta(days=3))

    async def exact(perpetual: Perpetual = Perpetual(HOUR)) -> None:
        ran.append("exact")
        perpetual.at(target)

    before = datetime.now(UTC)
    await docket.add(later, key="later")()
    await docket.add(exact, key="exact")()
    await wait_until(lambda: sorted(ran) == ["exact", "later"], message="both to run")

    async def both_rescheduled() -> bool:
        return set(await scheduled(docket)) == {"later", "exact"}

    await wait_until(both_rescheduled, message="both to be rescheduled")
    future = await scheduled(docket)
    assert future["exact"].when == target
    assert timedelta(days=3) <= future["later"].when - before < timedelta(days=3, minutes=1)
    await docket.clear()


async def test_the_cadence_counts_from_the_due_time_not_from_the_end_of_the_run(
    docket: Docket, running_worker: Worker
) -> None:
    due = datetime.now(UTC) - timedelta(milliseconds=500)
    ran: list[datetime] = []

    async def report(perpetual: Perpetual = Perpetual(HOUR)) -> None:
        await asyncio.sleep(0.05)  # the run's own length must not shift the next one
        ran.append(datetime.now(UTC))

    await docket.add(report, key="report", when=due)()

    async def rescheduled() -> bool:
        return bool(ran) and "report" in await scheduled(docket)

    await wait_until(rescheduled, message="the next run to be scheduled")
    following = (await scheduled(docket))["report"]
    assert following.when == due + HOUR
    assert following.meta[CHAIN_DUE] == to_micros(due + HOUR)
    await docket.clear()


def test_an_overdue_chain_skips_whole_periods_instead_of_catching_up() -> None:
    perpetual = Perpetual(every=timedelta(seconds=10))
    second = 1_000_000
    assert perpetual.next_due(0, 3 * second) == 10 * second  # on time
    assert perpetual.next_due(0, 10 * second) == 10 * second  # exactly due: not skipped
    assert perpetual.next_due(0, 35 * second) == 40 * second  # an outage: phase kept
    assert perpetual.next_due(0, 40 * second + 1) == 50 * second
    assert Perpetual(timedelta(0), automatic=True).next_due(0, 7) == 7  # never in the past


# -- automatic tasks -----------------------------------------------------------------------


@pytest.fixture
async def fast_docket(store_url: str, docket_name: str) -> AsyncIterator[Docket]:
    """A docket whose workers look for lost automatic chains every 20 ms."""
    async with Docket(docket_name, store_url, heartbeat_interval=timedelta(milliseconds=20)) as d:
        yield d
        await d.store.destroy()


async def test_a_worker_starts_an_automatic_task_and_restores_its_lost_chain(
    fast_docket: Docket,
) -> None:
    runs: list[str] = []

    async def housekeeping(
        key: str = "unset",
        perpetual: Perpetual = Perpetual(every=HOUR, automatic=True),
        execution: Execution = CurrentExecution(),
    ) -> None:
        runs.append(execution.key)

    fast_docket.register(housekeeping)
    worker = fast_worker(fast_docket)
    run = asyncio.create_task(worker.run_forever())
    try:
        await wait_until(lambda: runs == ["housekeeping"], message="the first run")

        async def next_step_waiting() -> bool:
            return "housekeeping" in await scheduled(fast_docket)

        await wait_until(next_step_waiting, message="the next step to be scheduled")
        # The chain is there: the worker's periodic check leaves it alone.
        assert await add_automatic(worker.state) == 0
        assert runs == ["housekeeping"]

        await fast_docket.cancel("housekeeping")  # the chain is lost
        await wait_until(lambda: len(runs) == 2, message="the chain to be restored")
        await wait_until(next_step_waiting, message="the restored chain to go on")
        snapshot = await fast_docket.snapshot()
        assert [e.key for e in snapshot.future] == ["housekeeping"]
        assert snapshot.running == []
    finally:
        worker.stop()
        await asyncio.wait_for(run, timeout=10)


async def test_two_workers_keep_one_chain_of_an_automatic_task(fast_docket: Docket) -> None:
    in_flight = 0
    most = 0
    runs = 0

    async def pulse(perpetual: Perpetual = Perpetual(every=5 * MS, automatic=True)) -> None:
        nonlocal in_flight, most, runs
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.002)
        in_flight -= 1
        runs += 1

    fast_docket.register(pulse)
    workers = [fast_worker(fast_docket), fast_worker(fast_docket)]
    tasks = [asyncio.create_task(w.run_forever()) for w in workers]
    try:
        await wait_until(lambda: runs >= 20, message="twenty runs")
    finally:
        for worker in workers:
            worker.stop()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=10)
    assert most == 1  # never two runs at once
    snapshot = await fast_docket.snapshot()
    assert [e.key for e in snapshot.future] == ["pulse"] and snapshot.running == []


async def test_run_at_most_bounds_an_automatic_task_started_by_the_worker(
    docket: Docket,
) -> None:
    runs: list[int] = []

    async def heartbeat(perpetual: Perpetual = Perpetual(every=MS, automatic=True)) -> None:
        runs.append(1)

    docket.register(heartbeat)
    async with Worker(docket) as worker:
        await worker.run_at_most({"heartbeat": 3})
    assert len(runs) == 3


async def test_a_worker_without_automatic_tasks_adds_nothing(docket: Docket) -> None:
    async def manual(perpetual: Perpetual = Perpetual(every=HOUR)) -> None: ...

    docket.register(manual)
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    assert (await docket.snapshot()).total_tasks == 0


# -- bad input at register() ---------------------------------------------------------------


async def two_markers(
    a: Perpetual = Perpetual(every=HOUR), b: Cron = Cron("@daily")
) -> None: ...  # pragma: no cover


async def bad_cron(cron: Cron = Cron("*/5 25 * * *")) -> None: ...  # pragma: no cover


async def unknown_zone(cron: Cron = Cron("@daily", tz="Mars/Base")) -> None: ...  # pragma: no cover


async def negative_every(p: Perpetual = Perpetual(every=-HOUR)) -> None: ...  # pragma: no cover


async def needs_argument(
    customer: int, p: Perpetual = Perpetual(HOUR, automatic=True)
) -> None: ...  # pragma: no cover


async def cron_needs_argument(
    customer: int, cron: Cron = Cron("@hourly")
) -> None: ...  # pragma: no cover


async def automatic_not_bool(
    p: Perpetual = Perpetual(HOUR, automatic="yes"),  # type: ignore[arg-type]
) -> None: ...  # pragma: no cover


@pytest.mark.parametrize(
    ("function", "message"),
    [
        (two_markers, r"parameter 'b' is a second Perpetual \(Cron\('@daily'.*'a' already is one"),
        (bad_cron, r"parameter 'cron'.*hour must be within 0-23, got '25'"),
        (
            unknown_zone,
            r"parameter 'cron'.*tz must be a known IANA time zone name, got 'Mars/Base'",
        ),
        (negative_every, r"parameter 'p'.*every must be a duration of zero or more, got -1 day"),
        (needs_argument, r"is automatic, so workers start it without arguments.*'customer'"),
        (cron_needs_argument, r"Cron\('@hourly'.*requires 'customer'"),
        (automatic_not_bool, r"automatic must be True or False, got 'yes'"),
    ],
)
async def test_bad_perpetual_markers_fail_at_register_before_anything_is_written(
    docket: Docket, function: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        docket.register(function)
    with pytest.raises(ValueError, match=message):
        await docket.add(function)()
    assert docket.tasks == {}
    assert (await docket.snapshot()).total_tasks == 0


def test_zero_every_is_fine_for_an_automatic_task_and_optional_arguments_too() -> None:
    async def busy(
        limit: int = 3, p: Perpetual = Perpetual(timedelta(0), automatic=True)
    ) -> None: ...  # pragma: no cover

    Docket("unused", "memory://unused").register(busy)


def test_after_refuses_a_negative_delay_and_at_a_naive_time() -> None:
    perpetual = Perpetual(HOUR)
    with pytest.raises(ValueError, match=r"delay must be a duration of zero or more, got -1 day"):
        perpetual.after(-HOUR)
    with pytest.raises(ValueError, match="when must be timezone-aware"):
        perpetual.at(datetime(2030, 1, 1))
