"""Admission controls combine with the rest of a task's behaviour: perpetual chains, strikes,
keys, scatters and other controls."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from typing import Annotated

from strew import (
    Agenda,
    ConcurrencyLimit,
    Cooldown,
    Docket,
    Perpetual,
    RateLimit,
    Timeout,
    Worker,
)

from ..helpers import wait_until
from .test_controls import Overlap

MS = timedelta(milliseconds=1)


async def test_a_perpetual_task_keeps_its_limit_on_every_run(docket: Docket) -> None:
    seen = Overlap()

    async def poll(
        feed: Annotated[str, ConcurrencyLimit(1)],
        perpetual: Perpetual = Perpetual(every=MS),
    ) -> None:
        await seen.run(feed, pause=0.005)

    for n in range(3):
        await docket.add(poll, key=f"poll-{n}")("shared-feed")
    async with Worker(docket, concurrency=6) as worker:
        await worker.run_at_most({f"poll-{n}": 4 for n in range(3)})
    assert seen.most == Counter({"shared-feed": 1})
    assert len(seen.order) == 12


async def test_a_scatter_of_limited_tasks_runs_whole_and_within_its_limits(
    docket: Docket,
) -> None:
    seen = Overlap()

    async def sync(customer: Annotated[int, ConcurrencyLimit(2)], n: int) -> None:
        await seen.run(customer, pause=0.003)

    agenda = Agenda()
    for n in range(40):
        agenda.add(sync, key=f"sync-{n}")(n % 4, n)
    await agenda.scatter(docket, over=timedelta(milliseconds=100))
    async with Worker(docket, concurrency=16) as worker:
        await worker.run_until_finished()
    assert len(seen.order) == 40
    assert max(seen.most.values()) <= 2


async def test_a_key_added_again_while_it_waits_is_not_added_twice(docket: Docket) -> None:
    ran: list[str] = []
    release = asyncio.Event()

    async def exclusive(name: str, limit: ConcurrencyLimit = ConcurrencyLimit(1)) -> None:
        ran.append(name)
        if name == "holder":
            await release.wait()

    await docket.add(exclusive, key="holder")("holder")
    async with Worker(docket, concurrency=4) as worker:
        running = asyncio.create_task(worker.run_until_finished())
        await wait_until(lambda: ran == ["holder"])
        await docket.add(exclusive, key="waiter")("waiter")
        await wait_until(lambda: worker.stats.waited >= 1)
        again = await docket.add(exclusive, key="waiter")("waiter")
        assert again.disposition.name == "ALREADY_SCHEDULED"
        release.set()
        await running
    assert ran == ["holder", "waiter"]


async def test_a_struck_task_is_held_before_its_limits_are_asked(docket: Docket) -> None:
    ran: list[int] = []

    async def limited(n: int, cool: Cooldown = Cooldown(timedelta(minutes=1))) -> None:
        ran.append(n)

    await docket.add(limited, key="first")(1)
    await docket.strike(limited)
    async with Worker(docket) as worker:
        run = asyncio.create_task(worker.run_forever())
        await wait_until(lambda: worker.stats.held == 1)
        # Held, it never reached its cooldown: restored, it runs.
        await docket.restore(limited)
        await wait_until(lambda: ran == [1])
        worker.stop()
        await run
    assert worker.stats.dropped == 0


async def test_every_control_on_one_task_must_pass(docket: Docket) -> None:
    ran: list[int] = []

    async def guarded(
        account: Annotated[str, ConcurrencyLimit(1)],
        n: int,
        quota: RateLimit = RateLimit(3, per=timedelta(minutes=1), drop=True),
    ) -> None:
        ran.append(n)

    for n in range(6):
        await docket.add(guarded)("acme", n)
    async with Worker(docket, concurrency=6) as worker:
        await worker.run_until_finished()
    assert len(ran) == 3 and worker.stats.dropped == 3


async def test_a_run_cut_off_by_its_timeout_gives_its_slot_to_the_next(docket: Docket) -> None:
    ran: list[str] = []

    async def slow(
        name: str,
        limit: ConcurrencyLimit = ConcurrencyLimit(1),
        timeout: Timeout = Timeout(timedelta(milliseconds=50)),
    ) -> None:
        ran.append(name)
        if name == "stuck":
            await asyncio.Event().wait()

    await docket.add(slow, key="stuck")("stuck")
    await docket.add(slow, key="next")("next")
    async with Worker(docket, concurrency=2) as worker:
        await worker.run_until_finished()
    assert ran == ["stuck", "next"]
    assert worker.stats.failed == 1 and worker.stats.succeeded == 1
