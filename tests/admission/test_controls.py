"""Admission controls on a worker: ConcurrencyLimit, RateLimit, Cooldown and Debounce, on both
stores, as pydocket programs declare them."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Annotated

import pytest

from strew import (
    ConcurrencyLimit,
    Cooldown,
    Debounce,
    Docket,
    RateLimit,
    Retry,
    Worker,
)

from ..helpers import wait_until


class Overlap:
    """Records how many runs of each group are going at once, and the most ever seen."""

    def __init__(self) -> None:
        self.now: Counter[object] = Counter()
        self.most: Counter[object] = Counter()
        self.order: list[object] = []

    async def run(self, group: object, item: object = None, pause: float = 0.01) -> None:
        self.now[group] += 1
        self.most[group] = max(self.most[group], self.now[group])
        self.order.append(item)
        await asyncio.sleep(pause)
        self.now[group] -= 1


async def test_a_per_value_limit_caps_each_value_and_lets_values_run_side_by_side(
    docket: Docket,
) -> None:
    seen = Overlap()

    async def sync(customer_id: Annotated[int, ConcurrencyLimit(2)], n: int) -> None:
        await seen.run(customer_id)

    for n in range(8):
        for customer in (1, 2, 3):
            await docket.add(sync)(customer, n)
    async with Worker(docket, concurrency=12) as worker:
        await worker.run_until_finished()
    assert sum(seen.most.values()) > 0
    assert seen.most == Counter({1: 2, 2: 2, 3: 2})
    assert len(seen.order) == 24
    assert worker.stats.waited > 0


async def test_a_default_limit_caps_the_task_across_all_its_arguments(docket: Docket) -> None:
    seen = Overlap()

    async def crunch(n: int, limit: ConcurrencyLimit = ConcurrencyLimit(max_concurrent=3)) -> None:
        assert isinstance(limit, ConcurrencyLimit)
        await seen.run("all")

    for n in range(12):
        await docket.add(crunch)(n)
    async with Worker(docket, concurrency=10) as worker:
        await worker.run_until_finished()
    assert seen.most["all"] == 3 and len(seen.order) == 12


async def test_the_older_spelling_naming_the_argument_works_too(docket: Docket) -> None:
    seen = Overlap()

    async def backup(
        db: str, table: str, limit: ConcurrencyLimit = ConcurrencyLimit("db", max_concurrent=1)
    ) -> None:
        await seen.run(db)

    for table in ("users", "orders", "logs"):
        await docket.add(backup)("prod", table)
        await docket.add(backup)(db="staging", table=table)
    async with Worker(docket, concurrency=6) as worker:
        await worker.run_until_finished()
    assert seen.most == Counter({"prod": 1, "staging": 1})


async def test_waiting_tasks_start_in_the_order_they_were_due(docket: Docket) -> None:
    seen = Overlap()

    async def one_at_a_time(n: int, limit: ConcurrencyLimit = ConcurrencyLimit(1)) -> None:
        await seen.run("all", n, pause=0.005)

    start = datetime.now(UTC)
    for n in range(10):
        await docket.add(one_at_a_time, when=start + timedelta(microseconds=n))(n)
    async with Worker(docket, concurrency=10) as worker:
        await worker.run_until_finished()
    assert seen.order == list(range(10))


async def test_a_retried_task_keeps_its_limit(docket: Docket) -> None:
    seen = Overlap()
    failed: set[int] = set()

    async def flaky(
        n: int,
        limit: ConcurrencyLimit = ConcurrencyLimit(1),
        retry: Retry = Retry(attempts=2),
    ) -> None:
        await seen.run("all", n)
        if n not in failed:
            failed.add(n)
            raise RuntimeError("first try fails")

    for n in range(4):
        await docket.add(flaky)(n)
    async with Worker(docket, concurrency=4) as worker:
        await worker.run_until_finished()
    assert seen.most["all"] == 1 and len(seen.order) == 8


async def test_a_cancelled_waiting_task_never_runs_and_frees_its_place(docket: Docket) -> None:
    ran: list[str] = []
    release = asyncio.Event()

    async def exclusive(name: str, limit: ConcurrencyLimit = ConcurrencyLimit(1)) -> None:
        ran.append(name)
        if name == "first":
            await release.wait()

    await docket.add(exclusive, key="first")("first")
    async with Worker(docket, concurrency=4) as worker:
        running = asyncio.create_task(worker.run_until_finished())
        await wait_until(lambda: ran == ["first"])
        await docket.add(exclusive, key="second")("second")
        await docket.add(exclusive, key="third")("third")
        await wait_until(lambda: worker.stats.waited >= 2)
        await docket.cancel("second")
        release.set()
        await running
    assert ran == ["first", "third"]


async def test_a_rate_limit_puts_the_excess_back_to_when_a_start_leaves_the_window(
    docket: Docket,
) -> None:
    starts: list[int] = []

    async def call_api(n: int, rate: RateLimit = RateLimit(2, per=timedelta(minutes=1))) -> None:
        starts.append(n)

    for n in range(5):
        await docket.add(call_api, key=f"call-{n}")(n)
    async with Worker(docket, concurrency=5) as worker:
        running = asyncio.create_task(worker.run_forever())
        await wait_until(lambda: worker.stats.deferred == 3)
        worker.stop()
        await running
    assert len(starts) == 2
    later = []
    for n in range(2, 5):
        scheduled = (await docket.store.task_state(f"call-{n}")).scheduled
        assert scheduled is not None
        later.append(scheduled.due)
    # Each is put back to a minute after a start: no sooner than the window allows.
    assert min(later) >= await docket.store.now() + 50_000_000


async def test_a_rate_limit_that_drops_runs_the_first_and_drops_the_rest(
    docket: Docket, caplog: pytest.LogCaptureFixture
) -> None:
    sent: list[str] = []

    async def webhook(
        endpoint: Annotated[str, RateLimit(2, per=timedelta(minutes=1), drop=True)],
    ) -> None:
        sent.append(endpoint)

    for _ in range(4):
        await docket.add(webhook)("https://a.example")
    await docket.add(webhook)("https://b.example")
    async with Worker(docket, concurrency=1) as worker:
        await worker.run_until_finished()
    assert sorted(sent) == ["https://a.example"] * 2 + ["https://b.example"]
    assert worker.stats.dropped == 2
    assert "dropped" in caplog.text and "rate limit endpoint:https://a.example" in caplog.text


async def test_a_cooldown_runs_the_first_and_drops_others_within_its_window(
    docket: Docket, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[tuple[int, str]] = []

    async def sync(
        customer_id: Annotated[int, Cooldown(timedelta(minutes=1))],
        region: Annotated[str, Cooldown(timedelta(minutes=1))],
    ) -> None:
        ran.append((customer_id, region))

    calls = [(1, "us"), (1, "eu"), (2, "us"), (2, "eu")]
    async with Worker(docket, concurrency=1) as worker:
        for customer, region in calls:
            await docket.add(sync)(customer_id=customer, region=region)
            await worker.run_until_finished()
    assert ran == [(1, "us"), (2, "eu")]
    assert worker.stats.dropped == 2
    caplog.set_level(logging.INFO)
    assert "cooldown" in caplog.text


async def test_debounce_turns_a_burst_into_one_run_after_the_quiet(docket: Docket) -> None:
    ran: list[int] = []

    async def rebuild(n: int, debounce: Debounce = Debounce(timedelta(milliseconds=300))) -> None:
        ran.append(n)

    async with Worker(docket, concurrency=4) as worker:
        for n in range(5):
            await docket.add(rebuild)(n)
            await asyncio.sleep(0.02)
        await worker.run_until_finished()
    assert ran == [0]
    assert worker.stats.dropped == 4


async def test_impossible_declarations_are_refused_at_register(docket: Docket) -> None:
    async def two_debounces(
        a: Annotated[int, Debounce(timedelta(seconds=1))],
        b: Annotated[int, Debounce(timedelta(seconds=2))],
    ) -> None: ...

    with pytest.raises(ValueError, match=r"two_debounces.*only one Debounce"):
        docket.register(two_debounces)

    async def names_nothing(
        customer: int, limit: ConcurrencyLimit = ConcurrencyLimit("customer_id")
    ) -> None: ...

    with pytest.raises(ValueError, match=r"names_nothing.*'customer_id'.*not a parameter"):
        docket.register(names_nothing)

    async def zero_rate(n: Annotated[int, RateLimit(0, per=timedelta(seconds=1))]) -> None: ...

    with pytest.raises(ValueError, match=r"zero_rate: parameter 'n'.*limit must be .* got 0"):
        docket.register(zero_rate)

    async def negative_window(cooldown: Cooldown = Cooldown(timedelta(seconds=-1))) -> None: ...

    with pytest.raises(ValueError, match=r"negative_window.*'cooldown'.*window must be a positive"):
        docket.register(negative_window)

    async def on_star_args(*ids: Annotated[int, ConcurrencyLimit(1)]) -> None: ...

    with pytest.raises(ValueError, match=r"on_star_args.*'ids'.*needs one argument"):
        docket.register(on_star_args)

    async def bad_scope(limit: ConcurrencyLimit = ConcurrencyLimit(2, scope="{x}")) -> None: ...

    with pytest.raises(ValueError, match=r"bad_scope.*scope must not contain braces"):
        docket.register(bad_scope)
    assert "two_debounces" not in docket.tasks


async def test_run_at_most_counts_runs_not_admission_checks(docket: Docket) -> None:
    ran: list[int] = []

    async def rebuild(n: int, debounce: Debounce = Debounce(timedelta(milliseconds=100))) -> None:
        ran.append(n)

    execution = await docket.add(rebuild, key="rebuild")(1)
    async with Worker(docket) as worker:
        # Put back once by its debounce, then run: one run, which run_at_most allows.
        await worker.run_at_most({execution.key: 1})
    assert ran == [1]


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no str for you")

    def __repr__(self) -> str:
        raise RuntimeError("no repr either")

    def __reduce__(self) -> tuple[type[Unprintable], tuple[()]]:
        return (Unprintable, ())


async def test_an_argument_whose_str_raises_still_names_its_limit(docket: Docket) -> None:
    seen: list[str] = []

    async def guarded(thing: Annotated[Unprintable, ConcurrencyLimit(1)], n: int) -> None:
        seen.append(type(thing).__name__)

    for n in range(3):
        await docket.add(guarded)(Unprintable(), n)
    async with Worker(docket, concurrency=3) as worker:
        await worker.run_until_finished()
    assert seen == ["Unprintable"] * 3
