"""An all-or-nothing scatter on Redis is committed in one short step and then merged onto the
schedule in bounded steps, earliest due first (stores/redis/batches.py). What that must keep:
nothing of a batch before its commit, all of it after, whoever finishes the merge (the
producer, or a worker whose claim finds it unmerged), a Redis killed between any two steps,
and cancel, discard and clear in the middle of it.

Step sizes are lowered by monkeypatching the module's constants (a merge budget of 0: one
blob a step), so that a few thousand tasks take many steps."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis

from strew import Agenda, Docket, Worker
from strew.stores.records import Entry
from strew.stores.redis import batches
from strew.stores.redis.store import RedisStore
from strew.testing import RedisServer

from ..conftest import leftover_keys
from ..helpers import commit_only, redis_store, wait_until

SECOND = 1_000_000
STEP = 400
RAN: Counter[int] = Counter()


async def work(n: int) -> None:
    RAN[n] += 1


@pytest.fixture(autouse=True)
def small_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batches, "MERGE_STEP_MICROS", 0)
    monkeypatch.setattr(batches, "CANCEL_STEP_MEMBERS", STEP)
    RAN.clear()


@pytest.fixture
async def own_docket(redis_server: RedisServer, docket_name: str) -> AsyncIterator[Docket]:
    async with Docket(name=docket_name, url=redis_server.url) as docket:
        docket.register(work)
        yield docket
        await docket.store.destroy()
    assert await leftover_keys(redis_server.url, docket_name) == []


def entries(now: int, count: int) -> list[Entry]:
    # 1 KiB payloads: about twenty entries a blob, so a step is a few blobs. Written in
    # reverse due order: merging must still go earliest first.
    return [Entry(f"k{i}", now + SECOND + i * 1000, b"p" * 1024) for i in reversed(range(count))]


async def schedule_of(store: RedisStore) -> dict[str, int]:
    snapshot = await store.snapshot(1_000_000)
    return {task.key: task.due for task in snapshot.scheduled}


async def merging(store: RedisStore) -> dict[str, float]:
    client = aioredis.Redis.from_url(store.url)
    try:
        found: list[Any] = await client.zrange(store._merging_key(), 0, -1, withscores=True)
        return {key.decode(): float(score) for key, score in found}
    finally:
        await client.aclose()


async def test_a_committed_batch_merges_earliest_first_in_bounded_steps(own_docket: Docket) -> None:
    store = redis_store(own_docket)
    now = await store.now()
    staged = entries(now, 3000)
    assert await store.stage_batch("b", staged, 60 * SECOND) == 3000
    assert await schedule_of(store) == {}
    await commit_only(store, "b", 3000)
    # Committed, nothing merged: the claims see its earliest due time.
    assert await schedule_of(store) == {}
    assert await merging(store) == {"b": now + SECOND}
    steps, left, merged = 0, 1, 0
    while left > 0:
        left = await store._merge_step("b")
        steps += 1
        on = await schedule_of(store)
        # One blob a step (a budget of 0), earliest first: whatever is left is due no
        # earlier than anything merged, and the merging set says from when.
        assert 0 < len(on) - merged <= 24  # 1 KiB payloads: at most 23 to a 24 KiB blob
        merged = len(on)
        if left:
            assert max(on.values()) <= (await merging(store))["b"]
    assert steps >= 3000 // 24
    assert await schedule_of(store) == {e.key: e.due for e in staged}
    assert await merging(store) == {}
    client = aioredis.Redis.from_url(store.url)
    try:
        assert await client.llen(store._members_key("b")) == 3000
        assert await client.exists(*store._stage_keys("b")) == 0
    finally:
        await client.aclose()


async def test_a_redis_killed_at_any_step_keeps_the_batch_whole_or_absent(
    redis_server: RedisServer, docket_name: str
) -> None:
    count = 2000
    for kill_after in range(-1, 7):  # -1: before the commit; then after k merge steps
        name = f"{docket_name}-{kill_after + 1}"
        async with Docket(name=name, url=redis_server.url) as docket:
            store = redis_store(docket)
            now = await store.now()
            staged = entries(now, count)
            await store.stage_batch("b", staged, 60 * SECOND)
            if kill_after >= 0:
                await commit_only(store, "b", count)
                for _ in range(kill_after):
                    await store._merge_step("b")
        redis_server.stop(kill=True)  # SIGKILL: only what the AOF holds survives
        redis_server.start()
        async with Docket(name=name, url=redis_server.url) as docket:
            store = redis_store(docket)
            while await store._merge_step("b") > 0:
                pass
            found = await schedule_of(store)
            if kill_after < 0:
                assert found == {}  # never committed: its stage only waits to expire
                await store.discard_batch("b")
            else:
                assert found == {e.key: e.due for e in staged}, kill_after
            assert await merging(store) == {}
            await store.destroy()


async def test_a_batch_whose_producer_stopped_after_the_commit_is_finished_by_the_workers(
    redis_server: RedisServer, docket_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with (
        Docket(name=docket_name, url=redis_server.url) as producer,
        Docket(name=docket_name, url=redis_server.url) as consumer,
    ):
        producer.register(work)
        consumer.register(work)
        store = redis_store(producer)

        async def lost(batch: str) -> int:
            raise ConnectionError("the producer's connection went away after the commit")

        monkeypatch.setattr(store, "_merge_step", lost)
        agenda = Agenda()
        for n in range(1500):
            agenda.add(work)(n)
        # Due over the next second: the workers must merge to start them on time.
        await agenda.scatter(producer, over=timedelta(seconds=1))
        assert len(await schedule_of(store)) == 0
        await Worker(consumer, concurrency=50).run_until_finished()
        assert Counter(range(1500)) == RAN
        assert await merging(redis_store(consumer)) == {}
        await consumer.store.destroy()


async def test_discard_leaves_a_committed_batch_alone(own_docket: Docket) -> None:
    store = redis_store(own_docket)
    now = await store.now()
    await store.stage_batch("b", entries(now, 1000), 60 * SECOND)
    await commit_only(store, "b", 1000)
    await store._merge_step("b")
    await store.discard_batch("b")  # what a producer cancelled mid-merge does on its way out
    while await store._merge_step("b") > 0:
        pass
    assert len(await schedule_of(store)) == 1000


@pytest.mark.parametrize("how", ["cancel", "clear"])
async def test_cancel_and_clear_in_the_middle_of_a_merge_leave_nothing(
    own_docket: Docket, how: str
) -> None:
    store = redis_store(own_docket)
    now = await store.now()
    await store.stage_batch("b", entries(now, 3000), 60 * SECOND)
    await commit_only(store, "b", 3000)
    await store._merge_step("b")
    await store._merge_step("b")
    merged = len(await schedule_of(store))
    assert 0 < merged < 3000
    if how == "cancel":
        assert await store.cancel_batch("b") == merged
    else:
        assert await store.clear() == merged
    assert await store._merge_step("b") == 0
    assert await schedule_of(store) == {}
    assert await merging(store) == {}


async def test_cancel_of_a_large_batch_goes_in_bounded_steps(own_docket: Docket) -> None:
    agenda = Agenda()
    for n in range(2500):
        agenda.add(work)(n)
    scattered = await agenda.scatter(own_docket, over=timedelta(hours=1))
    store = redis_store(own_docket)
    calls: list[Any] = []
    script = store._script

    async def counted(name: str, what: str, keys: list[str], args: list[Any]) -> Any:
        calls.append(name)
        return await script(name, what, keys, args)

    store._script = counted  # type: ignore[method-assign]
    assert scattered.scatter_id is not None
    assert await Agenda.cancel(own_docket, scattered.scatter_id) == 2500
    assert calls.count("cancel_batch") == -(-2500 // STEP)
    assert await schedule_of(store) == {}


def merge_beside(store: RedisStore) -> asyncio.Task[None] | None:
    """The merge step a claim started beside itself, if any."""
    return store._merging_behind


async def test_a_claim_hands_over_its_tasks_whatever_the_merge_step_beside_it_does(
    own_docket: Docket, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A claim that finds a batch merging merges a step beside itself, not before it returns:
    # the tasks it took start at once, and a merge step that fails (Redis gone for that
    # connection) does not turn into a failed claim whose tasks wait out their leases.
    store = redis_store(own_docket)
    now = await store.now()
    await store.schedule([Entry(f"due{i}", now - i, b"p") for i in range(5)], replace=False)
    await store.stage_batch("b", entries(now, 500), 60 * SECOND)
    await commit_only(store, "b", 500)

    async def lost(batch: str) -> int:
        raise ConnectionError("the connection of this merge step went away")

    monkeypatch.setattr(store, "_merge_step", lost)
    # A horizon of 2 s: the batch's first task (due in 1 s) is due for this claim.
    result = await store.claim("w", 10, 60 * SECOND, 2 * SECOND)
    assert sorted(claim.key for claim in result.claims) == [f"due{i}" for i in range(5)]
    assert result.next_due == now + SECOND  # the merge's frontier still counts
    step = merge_beside(store)
    assert step is not None
    await wait_until(step.done)
    assert "a merge step of scatter b failed" in caplog.text
    monkeypatch.undo()
    # The next claims finish the merge, one step beside each.
    while await merging(store):
        await store.claim("w", 0, 60 * SECOND, 0)
        await wait_until(lambda: (step := merge_beside(store)) is None or step.done())
    assert len(await schedule_of(store)) == 500


async def test_a_claim_that_takes_tasks_leaves_a_merge_not_due_yet_to_its_producer(
    own_docket: Docket,
) -> None:
    # Merging is for tasks due: a worker busy claiming does not also merge a batch whose
    # earliest unmerged task is an hour away (its producer is at it, and Redis time spent
    # merging is time every claim waits), but an idle claim does (a producer may have died).
    store = redis_store(own_docket)
    now = await store.now()
    await store.schedule([Entry("due", now, b"p")], replace=False)
    later = [Entry(f"k{i}", now + 3600 * SECOND + i, b"p" * 1024) for i in range(100)]
    await store.stage_batch("b", later, 60 * SECOND)
    await commit_only(store, "b", 100)
    result = await store.claim("w", 10, 2 * 3600 * SECOND, 0)
    assert [claim.key for claim in result.claims] == ["due"]
    assert result.next_due == now + 3600 * SECOND
    assert merge_beside(store) is None
    idle = await store.claim("w", 10, 60 * SECOND, 0)
    assert idle.claims == []
    step = merge_beside(store)
    assert step is not None
    await wait_until(step.done)
    assert len(await schedule_of(store)) > 0  # a step (one blob: the budget is 0 here)
