"""ExponentialRetry(jitter=True): full jitter, each delay drawn between zero and the doubled
delay, so tasks that failed together do not all come back at once."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import pytest

from strew import Docket, ExponentialRetry, Worker

from ..helpers import wait_until

HOUR = timedelta(hours=1)


def test_each_delay_is_drawn_between_zero_and_the_doubled_delay() -> None:
    retry = ExponentialRetry(10, timedelta(seconds=1), timedelta(seconds=64), jitter=True)
    retry.rng = random.Random(7)
    plain = ExponentialRetry(10, timedelta(seconds=1), timedelta(seconds=64))
    for attempt in range(1, 10):
        drawn = [retry.delay_after(attempt) for _ in range(50)]
        ceiling = plain.delay_after(attempt)
        assert all(timedelta(0) <= d <= ceiling for d in drawn)
        assert len(set(drawn)) > 40  # spread out, not one value


def test_the_same_generator_draws_the_same_delays() -> None:
    def delays(seed: int) -> list[timedelta]:
        retry = ExponentialRetry.forever(
            delay=timedelta(seconds=2), jitter=True, rng=random.Random(seed)
        )
        return [retry.delay_after(attempt) for attempt in range(1, 8)]

    assert delays(3) == delays(3)
    assert delays(3) != delays(4)


async def test_a_failed_task_comes_back_within_its_jittered_delay(docket: Docket) -> None:
    async def flaky(
        retry: ExponentialRetry = ExponentialRetry(
            attempts=2, minimum_delay=HOUR, maximum_delay=HOUR, jitter=True, rng=random.Random(1)
        ),
    ) -> None:
        raise RuntimeError("down")

    await docket.add(flaky, key="flaky")()
    before = await docket.store.now()
    async with Worker(docket) as worker:
        running = asyncio.create_task(worker.run_forever())
        await wait_until(lambda: worker.stats.retried == 1)
        worker.stop()
        await running
    scheduled = (await docket.store.task_state("flaky")).scheduled
    assert scheduled is not None
    expected = random.Random(1).random() * HOUR.total_seconds() * 1_000_000
    assert before < scheduled.due <= before + HOUR.total_seconds() * 1_000_000
    assert abs((scheduled.due - before) - expected) < 5_000_000  # the drawn delay, give or take


async def test_a_jitter_that_is_not_a_bool_is_refused_at_register(docket: Docket) -> None:
    async def bad(retry: ExponentialRetry = ExponentialRetry(jitter=0.5)) -> None:  # type: ignore[arg-type]
        pass

    with pytest.raises(
        ValueError, match=r"bad: parameter 'retry'.*jitter must be True or False, got 0.5"
    ):
        docket.register(bad)
