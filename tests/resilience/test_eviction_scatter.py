"""An atomic scatter on a Redis that evicts (``volatile-lru``, allowed with
``allow_eviction=True``) stays all or nothing: its stage is one key with a TTL, evicted whole,
and the commit then refuses a partial batch; once committed the stage has no TTL, so an
evicting server under the same pressure leaves it to be merged whole."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis.asyncio as aioredis

from strew import Docket, StoreError
from strew.stores.records import Entry
from strew.testing import RedisServer

from ..helpers import commit_only, redis_store
from .test_eviction import start_server

HOUR = 3_600_000_000
FILLER = b"f" * 100_000


@pytest.fixture
def volatile_server() -> Iterator[RedisServer]:
    server = start_server("--maxmemory-policy", "volatile-lru")
    try:
        yield server
    finally:
        server.cleanup()


def chunk(now: int, first: int) -> list[Entry]:
    return [Entry(f"k{i}", now + HOUR, b"p" * 500) for i in range(first, first + 2000)]


async def flood(client: aioredis.Redis, until_gone: str | None, evictions: int) -> int:
    """Write volatile filler until ``until_gone`` is evicted (or, without it, until Redis
    has evicted ``evictions`` keys); returns the evictions seen."""
    start = int((await client.info("stats"))["evicted_keys"])
    for n in range(3000):  # 300 MB of filler at most, against 64 MB of memory
        await client.set(f"filler:{n}", FILLER, px=600_000)
        evicted = int((await client.info("stats"))["evicted_keys"]) - start
        if until_gone is not None and not await client.exists(until_gone):
            return evicted
        if until_gone is None and evicted >= evictions:
            return evicted
    raise AssertionError("Redis never evicted what the test waited for")


async def test_a_stage_evicted_before_its_commit_commits_nothing(
    volatile_server: RedisServer,
) -> None:
    client = aioredis.Redis.from_url(volatile_server.url)
    try:
        async with Docket(name="evict", url=volatile_server.url, allow_eviction=True) as docket:
            store = redis_store(docket)
            now = await store.now()
            assert await store.stage_batch("b", chunk(now, 0), HOUR) == 2000
            await flood(client, store._stage_keys("b")[0], 0)
            # The whole stage went, its count with it: the next chunk starts a new one.
            assert await store.stage_batch("b", chunk(now, 2000), HOUR) == 2000
            with pytest.raises(StoreError, match="2000 of 4000"):
                await store.commit_batch("b", 4000, HOUR)
            assert (await store.snapshot(10)).scheduled_total == 0
    finally:
        await client.aclose()


async def test_a_committed_stage_is_never_evicted_and_merges_whole(
    volatile_server: RedisServer,
) -> None:
    client = aioredis.Redis.from_url(volatile_server.url)
    try:
        async with Docket(name="evict", url=volatile_server.url, allow_eviction=True) as docket:
            store = redis_store(docket)
            now = await store.now()
            await store.stage_batch("b", chunk(now, 0), HOUR)
            await store.stage_batch("b", chunk(now, 2000), HOUR)
            stage = store._stage_keys("b")[0]
            await commit_only(store, "b", 4000)
            # The producer is gone; memory runs out and Redis evicts what it may.
            assert await flood(client, None, 200) >= 200
            assert await client.exists(stage) == 1
            while await store._merge_step("b") > 0:
                pass
            assert (await store.snapshot(10)).scheduled_total == 4000
    finally:
        await client.aclose()
