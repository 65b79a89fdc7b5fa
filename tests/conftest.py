"""Fixtures: every test that touches a store runs against Redis and the memory store, and the
store contracts (marked ``cluster``) against a three-node Redis Cluster too, and (marked
``sentinel``) against a master found through Redis Sentinel."""

from __future__ import annotations

import logging
import re
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from strew import Docket
from strew.stores import Store, open_store
from strew.stores.memory.store import _registry
from strew.stores.redis.sentinel import sentinel_client
from strew.testing import RedisServer

from .helpers import RedisClusterNodes, test_redis_url
from .sentinels import RedisSentinelSet

STORES = ["memory", "redis"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``store_kind`` takes each store; a test (or module) marked ``cluster`` runs on a
    Redis Cluster as well, one marked ``sentinel`` through Redis Sentinel as well (its URL
    is the only difference)."""
    if "store_kind" in metafunc.fixturenames and not any(
        "store_kind" in marker.args[:1]
        for marker in metafunc.definition.iter_markers("parametrize")
    ):
        marked = [
            kind
            for kind in ("cluster", "sentinel")
            if metafunc.definition.get_closest_marker(kind) is not None
        ]
        metafunc.parametrize("store_kind", [*STORES, *marked])


@pytest.fixture
def docket_name(request: pytest.FixtureRequest) -> str:
    """A docket name no other test (or earlier run) uses."""
    readable = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)[:60]
    return f"test-{readable}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def store_url(store_kind: str, docket_name: str, request: pytest.FixtureRequest) -> str:
    if store_kind == "memory":
        return f"memory://{docket_name}"
    if store_kind == "cluster":
        nodes: RedisClusterNodes = request.getfixturevalue("cluster")
        return nodes.url
    if store_kind == "sentinel":
        watched: RedisSentinelSet = request.getfixturevalue("sentinel_set")
        return watched.url()
    return test_redis_url()


def raw_client(url: str) -> aioredis.Redis | RedisCluster:
    """A plain redis-py client for a test store URL (cluster, sentinel or plain)."""
    if url.startswith("redis+cluster://"):
        return RedisCluster.from_url(url.replace("+cluster://", "://", 1))
    if url.startswith("redis+sentinel://"):
        return sentinel_client(url, 2.0, 4.0, 5)
    return aioredis.Redis.from_url(url)


async def leftover_keys(url: str, name: str) -> list[bytes]:
    client = raw_client(url)
    try:
        return [key async for key in client.scan_iter(match=f"strew:{{{name}}}:*")]
    finally:
        await client.aclose()


@pytest.fixture
async def store(store_url: str, docket_name: str) -> AsyncIterator[Store]:
    """A store of the test's own (contract tests); deleted afterwards, with a check that
    nothing it does not know about was left behind."""
    store = open_store(store_url, docket_name)
    yield store
    await store.destroy()
    await store.close()
    if store_url.startswith("redis"):
        assert await leftover_keys(store_url, docket_name) == []
    _registry.pop((store_url, docket_name), None)


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Worker processes a test starts; any still alive at the end are killed."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def cluster() -> Iterator[RedisClusterNodes]:
    """One three-node Redis Cluster for every cluster test of the run (own loopback ports)."""
    nodes = RedisClusterNodes()
    try:
        nodes.start()
        yield nodes
    finally:
        nodes.cleanup()


@pytest.fixture(scope="session")
def sentinel_set() -> Iterator[RedisSentinelSet]:
    """One master, replica and sentinel for every sentinel-marked test of the run (own
    loopback ports); tests that fail the master over start their own."""
    watched = RedisSentinelSet()
    try:
        watched.start()
        yield watched
    finally:
        watched.cleanup()


@pytest.fixture
async def docket(store_url: str, docket_name: str) -> AsyncIterator[Docket]:
    """A docket of the test's own; everything it stored is deleted afterwards, and the test
    fails if deleting the known keys left any unknown ones behind."""
    async with Docket(name=docket_name, url=store_url) as docket:
        yield docket
        await docket.store.destroy()
    if store_url.startswith("redis"):
        assert await leftover_keys(store_url, docket_name) == []
    _registry.pop((store_url, docket_name), None)


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A redis-server of the test's own (AOF on), for restarts and failures."""
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture(autouse=True)
def _quiet_strew_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="strew")


@pytest.fixture
def redis_url() -> str:
    return test_redis_url()


@pytest.fixture
async def redis_docket(docket_name: str, redis_url: str) -> AsyncIterator[Docket]:
    """A docket of the test's own on Redis only (for tests that cross processes, which the
    in-process memory store cannot), with the same no-leftovers check as `docket`."""
    async with Docket(docket_name, redis_url) as docket:
        yield docket
        await docket.store.destroy()
    assert await leftover_keys(redis_url, docket_name) == []
