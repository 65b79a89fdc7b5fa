"""A stage that lost part of what was staged (evicted by a Redis under memory pressure,
expired, or deleted by hand) is refused whole by its commit, on both stores: the commit
trusts only the entries it finds in the stage, never a count kept beside them.

On Redis a stage is one hash holding its blobs and its count, so eviction or expiry takes it
whole (``volatile-lru`` once evicted a 6,000-task scatter's chunk list and kept its count,
when they were two keys): the loss is made by deleting it, and later chunks start a new one.
On the memory store it is made by dropping entries from the stage itself.
"""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from strew.stores import Store
from strew.stores.memory.store import MemoryStore
from strew.stores.records import Entry, StoreError
from strew.stores.redis.store import RedisStore

HOUR = 3_600_000_000


async def lose_what_is_staged(store: Store, batch: str) -> None:
    """Lose every entry staged so far, keeping whatever count the store keeps beside them."""
    if isinstance(store, MemoryStore):
        stage = store._stages[batch]
        stage.items.clear()
        stage.repeats.clear()
        return
    assert isinstance(store, RedisStore)
    stage_key = store._stage_keys(batch)[0]
    client = aioredis.Redis.from_url(store.url)
    try:
        assert await client.delete(stage_key) == 1
    finally:
        await client.aclose()


async def scheduled_keys(store: Store) -> list[str]:
    return sorted(task.key for task in (await store.snapshot(10_000)).scheduled)


async def test_a_stage_that_lost_its_first_chunks_commits_nothing(store: Store) -> None:
    now = await store.now()
    first = [Entry(f"a{i}", now + HOUR, b"p") for i in range(4)]
    last = [Entry(f"b{i}", now + HOUR, b"p") for i in range(2)]
    assert await store.stage_batch("b", first, HOUR) == 4
    await lose_what_is_staged(store, "b")
    # Later chunks still land: a new stage on Redis, whose count (lost with the rest) tells
    # the producer at once; the memory store's count, kept beside, goes on counting.
    held = await store.stage_batch("b", last, HOUR)
    assert held == (2 if isinstance(store, RedisStore) else 6)
    with pytest.raises(StoreError, match="2 of 6"):
        await store.commit_batch("b", 6, HOUR)
    assert await scheduled_keys(store) == []


async def test_a_stage_that_lost_everything_commits_nothing(store: Store) -> None:
    now = await store.now()
    assert await store.stage_batch("b", [Entry(f"a{i}", now, b"p") for i in range(3)], HOUR) == 3
    await lose_what_is_staged(store, "b")
    with pytest.raises(StoreError, match="0 of 3"):
        await store.commit_batch("b", 3, HOUR)
    assert await scheduled_keys(store) == []


async def test_a_whole_stage_with_repeated_keys_still_commits(store: Store) -> None:
    # Counting what is found must count a repeated key too, as the producer did.
    now = await store.now()
    await store.stage_batch("b", [Entry("a", now, b"1"), Entry("a", now, b"2")], HOUR)
    await store.stage_batch("b", [Entry("b", now, b"3")], HOUR)
    assert await store.commit_batch("b", 3, HOUR) == ["a"]
    assert await scheduled_keys(store) == ["a", "b"]
