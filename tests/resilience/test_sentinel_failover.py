"""A failover under a running worker: the master is killed (SIGKILL) mid-run, the sentinel
promotes the replica, and the worker carries on against it — its commands and its pub/sub
(wake-ups) both follow the new master.

What the test can guarantee: replication is asynchronous, so writes acknowledged just
before the kill may be missing on the replica. The test makes the state at the kill known
(the worker is held inside one task and ``WAIT 1`` confirms the replica has every write
before the master dies), so every task is accounted for; only the held task, whose
acknowledgement races the failover, may run twice (at-least-once delivery).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis.asyncio as aioredis

from strew import Docket, Worker
from strew.stores import open_store
from strew.stores.records import Entry, Release, Wake

from ..conftest import leftover_keys
from ..helpers import wait_until
from ..sentinels import SERVICE, RedisSentinelSet

LEASE = 60_000_000  # a minute, in microseconds

pytestmark = pytest.mark.slow


@pytest.fixture
def failing_set() -> Iterator[RedisSentinelSet]:
    """A master, replica and sentinel of this test's own: it kills the master."""
    watched = RedisSentinelSet()
    try:
        watched.start()
        yield watched
    finally:
        watched.cleanup()


async def test_a_worker_carries_on_against_the_promoted_replica_after_the_master_is_killed(
    failing_set: RedisSentinelSet, docket_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    done: list[int] = []
    held = asyncio.Event()
    release = asyncio.Event()

    async def work(i: int) -> None:
        if i == 10:
            held.set()
            await release.wait()  # runs straight through the failover
        done.append(i)

    url = failing_set.url()
    assert failing_set.master is not None and failing_set.replica is not None
    async with Docket(docket_name, url=url) as docket:
        await docket.add_many([docket.call(work, key=f"before{i}")(i) for i in range(20)])
        worker = Worker(
            docket,
            concurrency=1,
            # Longer than a failover: the held task's lease must not lapse on the new master
            # while its acknowledgement waits for it.
            redelivery_timeout=timedelta(seconds=15),
            reconnection_delay=timedelta(milliseconds=200),
            # Long: tasks added after the failover must be woken through the new master's
            # pub/sub, not found by a poll.
            poll_ceiling=timedelta(seconds=30),
        )
        run = asyncio.create_task(worker.run_forever())
        await asyncio.wait_for(held.wait(), timeout=10)

        master = aioredis.Redis(port=failing_set.master.port)
        try:
            assert await master.wait(1, 5000) == 1  # the replica has every write so far
        finally:
            await master.aclose()
        killed = time.monotonic()
        failing_set.kill_master()
        release.set()
        await wait_until(failing_set.promoted, timeout=30, message="the replica to be promoted")
        promoted_after = time.monotonic() - killed

        await wait_until(lambda: len(set(done)) == 20, timeout=20, message="the first 20 tasks")
        await docket.add_many([docket.call(work, key=f"after{i}")(i) for i in range(20, 30)])
        await wait_until(lambda: len(set(done)) == 30, timeout=10, message="the later 10 tasks")
        await wait_until(lambda: not worker.state.finished, message="every acknowledgement")
        worker.stop()
        await asyncio.wait_for(run, timeout=10)
        assert run.exception() is None

        counts = Counter(done)
        assert sorted(counts) == list(range(30))
        assert all(counts[i] == 1 for i in range(30) if i != 10)
        assert counts[10] <= 2  # its acknowledgement raced the failover
        assert (await docket.snapshot()).total_tasks == 0
        await docket.store.destroy()
    assert await leftover_keys(url, docket_name) == []
    logging.getLogger(__name__).info("replica promoted %.1fs after the kill", promoted_after)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("redis+sentinel://" in message for message in warnings)
    assert len(warnings) < 200  # backing off while there was no master, not a busy loop


async def test_a_store_follows_a_coordinated_failover_to_the_new_master(
    failing_set: RedisSentinelSet, docket_name: str
) -> None:
    """SENTINEL FAILOVER promotes the replica without killing the master, which keeps serving
    as a master until the sentinel converts it (about ten seconds). The notification loop
    asks the sentinels every second, notices the move, drops the connections to the old
    master and subscribes on the new one, well before that."""
    assert failing_set.master is not None
    url = failing_set.url()
    store = open_store(url, docket_name)
    try:
        now = await store.now()
        assert await store.schedule([Entry("first", now, b"one")], replace=False) == [True]
        notices = store.notifications()
        assert await anext(notices) == Wake(0)  # subscribed to the old master
        old = aioredis.Redis(port=failing_set.master.port)
        sentinel = aioredis.Redis(port=failing_set.sentinel_ports[0])
        try:
            assert await old.wait(1, 5000) == 1  # "first" is on the replica
            assert await sentinel.sentinel_failover(SERVICE)
        finally:
            await sentinel.aclose()
        await wait_until(failing_set.promoted, timeout=30, message="the replica to be promoted")
        try:
            assert (await old.info("replication"))["role"] == "master"  # not converted yet
        finally:
            await old.aclose()

        # The loop notices the move, and says so with a Wake(0) from the new master...
        assert await asyncio.wait_for(anext(notices), timeout=5) == Wake(0)
        # ...where writes now go, and what is published there reaches it.
        second = Entry("second", await store.now(), b"two")
        assert await store.schedule([second], replace=False) == [True]
        claimed = await store.claim("w", 10, LEASE, 0)
        tokens = {claim.key: claim.token for claim in claimed.claims}
        assert sorted(tokens) == ["first", "second"]
        await store.release([Release("first", tokens["first"], now)])
        assert await asyncio.wait_for(anext(notices), timeout=5) == Wake(now)
        await notices.aclose()  # type: ignore[attr-defined]
        await store.destroy()
    finally:
        await store.close()
