"""``Perpetual()`` with the default ``every`` of zero, steered by ``after`` / ``at``, as in
pydocket: with neither, the next run follows right away; ``cancel`` wins over both."""

# Dependency markers are calls in defaults by design (pydocket's spelling).

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from strew import Docket, Execution, Perpetual, Worker

from ..helpers import wait_until

DAYS = timedelta(days=3)


async def scheduled(docket: Docket) -> dict[str, Execution]:
    return {e.key: e for e in (await docket.snapshot()).future}


@pytest.fixture
async def running_worker(docket: Docket) -> AsyncIterator[Worker]:
    worker = Worker(docket, poll_ceiling=timedelta(milliseconds=20))
    run = asyncio.create_task(worker.run_forever())
    try:
        yield worker
    finally:
        worker.stop()
        await asyncio.wait_for(run, timeout=10)


async def test_a_perpetual_with_no_every_runs_again_as_soon_as_it_ends(docket: Docket) -> None:
    runs: list[int] = []

    async def busy(perpetual: Perpetual = Perpetual()) -> None:
        runs.append(len(runs) + 1)

    await docket.add(busy, key="busy")()
    async with Worker(docket) as worker:
        await worker.run_at_most({"busy": 4})
    assert runs == [1, 2, 3, 4]
    assert (await docket.snapshot()).total_tasks == 0


async def test_perpetuate_feeds_the_next_back_to_back_run_and_cancel_ends_it(
    docket: Docket,
) -> None:
    seen: list[int] = []

    async def countdown(n: int, perpetual: Perpetual = Perpetual()) -> None:
        seen.append(n)
        if n == 0:
            perpetual.after(DAYS)  # cancel wins over a next time asked for
            perpetual.cancel()
        else:
            perpetual.perpetuate(n - 1)

    await docket.add(countdown, key="countdown")(3)
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    assert seen == [3, 2, 1, 0]
    assert (await docket.snapshot()).total_tasks == 0


async def test_after_and_at_choose_the_next_time_of_a_perpetual_with_no_every(
    docket: Docket, running_worker: Worker
) -> None:
    target = datetime(2031, 5, 17, 8, 30, tzinfo=UTC)
    ran: list[str] = []

    async def later(perpetual: Perpetual = Perpetual()) -> None:
        ran.append("later")
        perpetual.at(target)  # the last of the two calls wins
        perpetual.after(DAYS)

    async def exact(perpetual: Perpetual = Perpetual()) -> None:
        ran.append("exact")
        perpetual.after(DAYS)
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
    assert DAYS <= future["later"].when - before < DAYS + timedelta(minutes=1)
    await docket.clear()


async def test_a_failing_run_that_asked_for_a_later_time_gets_it(
    docket: Docket, running_worker: Worker
) -> None:
    ran: list[str] = []

    async def flaky(perpetual: Perpetual = Perpetual()) -> None:
        ran.append("flaky")
        perpetual.after(DAYS)
        raise ValueError("intentional failure")

    await docket.add(flaky, key="flaky")()
    await wait_until(lambda: ran == ["flaky"], message="the run")

    async def rescheduled() -> bool:
        return "flaky" in await scheduled(docket)

    await wait_until(rescheduled, message="the failed run to be rescheduled")
    assert ran == ["flaky"]
    await docket.clear()


def test_after_counts_the_delay_from_its_call() -> None:
    perpetual = Perpetual()
    perpetual._clock = lambda: 5_000_000  # what resolve() gives a run: the store's clock
    perpetual.after(timedelta(seconds=2))
    assert perpetual._next_due == 7_000_000


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda p: p.after(5), TypeError, r"delay must be a timedelta, got 5"),
        (lambda p: p.after("5s"), TypeError, r"delay must be a timedelta, got '5s'"),
        (
            lambda p: p.after(-timedelta(seconds=1)),
            ValueError,
            r"delay must be a duration of zero or more, got -1 day, 23:59:59",
        ),
        (lambda p: p.at("tomorrow"), TypeError, r"when must be a timezone-aware datetime"),
        (lambda p: p.at(datetime(2030, 1, 1)), ValueError, r"when must be timezone-aware"),
    ],
)
def test_after_and_at_name_a_bad_argument_and_its_value(
    call: object, error: type[Exception], message: str
) -> None:
    perpetual = Perpetual()
    with pytest.raises(error, match=message):
        call(perpetual)  # type: ignore[operator]
