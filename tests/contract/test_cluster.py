"""Dockets, workers and scatters on a three-node Redis Cluster, end to end.

The store contracts already run against a cluster (the `cluster` mark, tests/conftest.py);
these check the pieces above it: dockets whose slots live on different nodes, wake-ups
through the cluster's pub/sub, an atomic scatter and its cancellation."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from redis.crc import key_slot

from strew import Agenda, Docket, Worker

from ..conftest import leftover_keys
from ..helpers import RedisClusterNodes, wait_until


def name_in_third(third: int) -> str:
    """A fresh docket name whose hash slot falls in the given third of the 16,384 slots:
    `redis-cli --cluster create` gives each of three nodes one third."""
    while True:
        name = f"test-cluster-{uuid.uuid4().hex[:8]}"
        if key_slot(f"{{{name}}}".encode()) * 3 // 16384 == third:
            return name


@pytest.fixture
async def dockets(cluster: RedisClusterNodes) -> AsyncIterator[list[Docket]]:
    """Three dockets, one per node of the cluster."""
    opened = [Docket(name=name_in_third(i), url=cluster.url) for i in range(3)]
    try:
        yield opened
    finally:
        for docket in opened:
            await docket.store.destroy()
            await docket.store.close()
            assert await leftover_keys(cluster.url, docket.name) == []


async def test_dockets_on_every_node_run_their_tasks(dockets: list[Docket]) -> None:
    ran: dict[str, list[int]] = {docket.name: [] for docket in dockets}

    for docket in dockets:

        async def record(n: int, name: str = docket.name) -> None:
            ran[name].append(n)

        docket.register(record, names=["record"])
        for n in range(20):
            await docket.add("record")(n)
        await docket.add("record", when=datetime.now(UTC) + timedelta(milliseconds=100))(99)
    for docket in dockets:
        async with Worker(docket, concurrency=5) as worker:
            await worker.run_until_finished()
    assert {name: sorted(values) for name, values in ran.items()} == {
        docket.name: [*range(20), 99] for docket in dockets
    }


async def test_a_sleeping_worker_is_woken_through_the_clusters_pub_sub(
    dockets: list[Docket],
) -> None:
    docket = dockets[1]
    ran: list[str] = []

    async def ping(word: str) -> None:
        ran.append(word)

    docket.register(ping)
    # A poll ceiling of a minute: once idle, only the wake-up published by an add (through
    # the cluster bus to whichever node the worker listens on) can start the next task in time.
    worker = Worker(docket, poll_ceiling=timedelta(minutes=1))
    running = asyncio.create_task(worker.run_forever())
    try:
        await docket.add(ping)("first")
        await wait_until(lambda: ran == ["first"], message="the first task")
        await docket.add(ping)("woken")
        await wait_until(lambda: ran == ["first", "woken"], message="the woken worker")
    finally:
        worker.stop()
        await running


async def test_an_atomic_scatter_lands_whole_and_can_be_cancelled(dockets: list[Docket]) -> None:
    docket = dockets[2]

    async def noop(n: int) -> None:
        pass

    agenda = Agenda()
    for n in range(2_000):
        agenda.add(noop)(n)
    start = datetime.now(UTC) + timedelta(hours=1)
    executions = await agenda.scatter(docket, over=timedelta(minutes=10), start=start)
    assert len(executions) == 2_000
    assert (await docket.snapshot(limit=1)).total_tasks == 2_000
    # Slices are half-open; one microsecond more takes in the task due at the window's end.
    end = start + timedelta(minutes=10, microseconds=1)
    counts = await docket.scheduled_histogram(start, end, 10)
    assert sum(counts) == 2_000 and max(counts) - min(counts) <= 1
    scatter_id = executions[0].scatter_id
    assert scatter_id is not None
    assert await Agenda.cancel(docket, scatter_id) == 2_000
    assert (await docket.snapshot(limit=1)).total_tasks == 0


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("redis+cluster://127.0.0.1:7000/3", "only database 0"),
        ("redis+cluster:///0", "no host"),
        ("redis+cluster://127.0.0.1:port", "malformed"),
    ],
)
def test_a_bad_cluster_url_is_refused_naming_it(url: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint) as raised:
        Docket(name="never-written", url=url)
    assert "redis+cluster://" in str(raised.value)
