"""A scatter whose Redis dies part-way: atomic ones leave nothing, streamed ones say what stayed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis

from strew import Agenda, Docket, ScatterError, StoreError
from strew.testing import RedisServer

from ..conftest import leftover_keys

pytestmark = pytest.mark.slow


async def task(n: int) -> None:
    pass


@pytest.fixture
async def own_docket(redis_server: RedisServer, docket_name: str) -> AsyncIterator[Docket]:
    async with Docket(name=docket_name, url=redis_server.url) as docket:
        yield docket
        await docket.store.destroy()
    assert await leftover_keys(redis_server.url, docket_name) == []


async def scheduled(docket: Docket) -> list[tuple[str, int, bytes]]:
    snapshot = await docket.store.snapshot(1_000_000)
    return sorted((t.key, t.due, t.payload) for t in snapshot.scheduled)


async def batch_keys(server: RedisServer, name: str) -> dict[str, int]:
    """The scatter keys left in Redis, with their remaining TTL in ms."""
    client = aioredis.Redis.from_url(server.url)
    try:
        found = {}
        async for key in client.scan_iter(match=f"strew:{{{name}}}:*"):
            text = key.decode()
            if ":stage:" in text or ":batch:" in text:
                found[text] = int(await client.pttl(key))
        return found
    finally:
        await client.aclose()


async def prepare(docket: Docket) -> tuple[Agenda, list[tuple[str, int, bytes]]]:
    """Some tasks already scheduled, and an agenda of 30 that reuses one of their keys."""
    later = datetime.now(UTC) + timedelta(minutes=5)
    await docket.add(task, when=later, key="kept")(0)
    await docket.add(task, when=later + timedelta(seconds=1))(1)
    agenda = Agenda()
    agenda.add(task, key="kept")(99)
    for i in range(29):
        agenda.add(task)(i)
    return agenda, await scheduled(docket)


@pytest.mark.parametrize("stop_after", [10, 30], ids=["while-staging", "before-commit"])
async def test_redis_dying_mid_scatter_leaves_the_schedule_exactly_as_it_was(
    own_docket: Docket, redis_server: RedisServer, stop_after: int
) -> None:
    agenda, before = await prepare(own_docket)

    def stop_redis(done: int, total: int) -> None:
        if done == stop_after:
            redis_server.stop()

    with pytest.raises(StoreError):
        await agenda.scatter(
            own_docket, over=timedelta(minutes=1), chunk_size=10, on_progress=stop_redis
        )
    redis_server.start()  # the same data directory: the AOF brings back what was written

    assert await scheduled(own_docket) == before
    # The discard could not reach Redis; what it staged is invisible and expires on its own.
    leftovers = await batch_keys(redis_server, own_docket.name)
    assert all(":stage:" in key for key in leftovers)
    assert all(0 < ttl <= Agenda.stage_ttl.total_seconds() * 1000 for ttl in leftovers.values())


async def test_a_streamed_scatter_whose_redis_dies_reports_what_was_scheduled(
    own_docket: Docket, redis_server: RedisServer
) -> None:
    agenda, before = await prepare(own_docket)

    def stop_redis(done: int, total: int) -> None:
        if done == 20:
            redis_server.stop()

    with pytest.raises(ScatterError) as caught:
        await agenda.scatter(
            own_docket,
            over=timedelta(minutes=1),
            chunk_size=10,
            on_progress=stop_redis,
            atomic=False,
        )
    redis_server.start()

    error = caught.value
    assert len(error.scheduled) == 19  # "kept" was already scheduled, so 19 of the first 20
    written = {(e.key) for e in error.scheduled}
    after = await scheduled(own_docket)
    assert [t for t in after if t[0] not in written] == before
    assert {t[0] for t in after} - {t[0] for t in before} == written
    # What was written can still be cancelled as one scatter.
    assert await Agenda.cancel(own_docket, error.scatter_id) == 19
    assert await scheduled(own_docket) == before


async def test_a_commit_whose_reply_was_lost_is_read_back_as_committed(
    own_docket: Docket, redis_server: RedisServer
) -> None:
    """The client retries a commit that timed out; the retry finds the stage already moved.
    That must be reported as the success it was, not as a failure of scheduled tasks."""
    from strew.docket.loops import LoopLocalStore
    from strew.stores.records import Entry
    from strew.stores.redis.common import _load_lua
    from strew.stores.redis.store import RedisStore

    store = own_docket.store
    # A Docket keeps one store per event loop (docket/loops.py): this loop's is the Redis one.
    assert isinstance(store, LoopLocalStore)
    store = store.here()
    assert isinstance(store, RedisStore)
    now = await store.now()
    await own_docket.add(task, key="taken")(0)
    entries = [Entry(k, now + 60_000_000, b"p") for k in ("a", "taken", "b")]
    await store.stage_batch("lost", entries, 60_000_000)

    # The first attempt, run as the server would have run it before the reply went missing.
    prefix = f"strew:{{{own_docket.name}}}:"
    client = aioredis.Redis.from_url(redis_server.url)
    try:
        commit = client.register_script(_load_lua("commit_batch"))
        keys = [
            prefix + "stage:lost",
            prefix + "stage:lost:merge",
            prefix + "merging",
            prefix + "stage:lost:outcome",
            prefix + "about:lost",
            prefix + "listed",
        ]
        assert await commit(keys=keys, args=[3, 60_000, "", "lost", 60_000]) == 1  # one blob
    finally:
        await client.aclose()

    # The retry: the batch is committed already; it is merged and reported as it was.
    assert await store.commit_batch("lost", 3, 60_000_000) == ["taken"]
    assert {k for k, _, _ in await scheduled(own_docket)} == {"a", "b", "taken"}
    with pytest.raises(StoreError, match="STAGE_INCOMPLETE"):
        await store.commit_batch("never-staged", 3, 60_000_000)
