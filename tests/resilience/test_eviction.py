"""A Redis that may evict keys loses tasks without a word (``allkeys-lru`` dropped payloads
of 10,000 scheduled tasks; ``volatile-lru`` a scatter's stage). Dockets and workers read
``maxmemory-policy`` once per store and refuse any policy but ``noeviction`` unless told
otherwise (``allow_eviction=True`` or ``STREW_ALLOW_EVICTION=1``); a server that refuses
``CONFIG GET`` is let through with one INFO line.

Each test starts a redis-server of its own with ``--maxmemory`` and the policy under test.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis.asyncio as aioredis

from strew import Docket, StoreError, Worker
from strew.testing import RedisServer

EVICTING = [
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
]


def start_server(*extra: str) -> RedisServer:
    server = RedisServer(appendonly=False, extra=["--maxmemory", "64mb", *extra])
    server.start()
    return server


@pytest.fixture
def policy_server(request: pytest.FixtureRequest) -> Iterator[RedisServer]:
    server = start_server("--maxmemory-policy", request.param)
    try:
        yield server
    finally:
        server.cleanup()


async def ran_noop() -> None:
    pass


async def keys_in(server: RedisServer) -> list[bytes]:
    client = aioredis.Redis.from_url(server.url)
    try:
        return [key async for key in client.scan_iter()]
    finally:
        await client.aclose()


async def config_gets(server: RedisServer) -> int:
    client = aioredis.Redis.from_url(server.url)
    try:
        stats = await client.info("commandstats")
    finally:
        await client.aclose()
    return int(stats.get("cmdstat_config|get", {}).get("calls", 0))


@pytest.mark.parametrize("policy_server", EVICTING, indirect=True)
async def test_a_docket_refuses_an_evicting_redis_naming_the_setting_and_the_fix(
    policy_server: RedisServer, docket_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STREW_ALLOW_EVICTION", raising=False)
    policy = policy_server.extra[-1]
    async with Docket(docket_name, policy_server.url) as docket:
        with pytest.raises(StoreError) as raised:
            await docket.add(ran_noop)()
    message = str(raised.value)
    assert "maxmemory-policy" in message
    assert repr(policy) in message
    assert "CONFIG SET maxmemory-policy noeviction" in message
    assert "allow_eviction=True" in message and "STREW_ALLOW_EVICTION=1" in message
    assert await keys_in(policy_server) == []


@pytest.mark.parametrize("policy_server", ["allkeys-lru"], indirect=True)
async def test_a_worker_refuses_an_evicting_redis(
    policy_server: RedisServer, docket_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STREW_ALLOW_EVICTION", raising=False)
    async with Docket(docket_name, policy_server.url) as docket:
        worker = Worker(docket, reconnection_delay=timedelta(milliseconds=10))
        with pytest.raises(StoreError, match="maxmemory-policy"):
            await worker.run_until_finished()


@pytest.mark.parametrize("policy_server", ["volatile-lru"], indirect=True)
async def test_allow_eviction_lets_a_docket_and_its_worker_use_an_evicting_redis(
    policy_server: RedisServer, docket_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STREW_ALLOW_EVICTION", raising=False)
    async with Docket(docket_name, policy_server.url, allow_eviction=True) as docket:
        await docket.add(ran_noop)()
        await Worker(docket).run_until_finished()
        assert (await docket.snapshot()).total_tasks == 0


@pytest.mark.parametrize("policy_server", ["allkeys-lru"], indirect=True)
async def test_the_environment_variable_opts_out_too(
    policy_server: RedisServer, docket_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STREW_ALLOW_EVICTION", "1")
    async with Docket(docket_name, policy_server.url) as docket:
        await docket.add(ran_noop)()
        await Worker(docket).run_until_finished()


@pytest.mark.parametrize("policy_server", ["noeviction"], indirect=True)
async def test_noeviction_is_accepted_and_read_once_per_store(
    policy_server: RedisServer, docket_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STREW_ALLOW_EVICTION", raising=False)
    async with Docket(docket_name, policy_server.url) as docket:
        for _ in range(3):
            await docket.add(ran_noop)()
        await Worker(docket).run_until_finished()
    assert await config_gets(policy_server) == 1


async def test_a_server_that_refuses_config_get_is_used_with_one_info_line(
    docket_name: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STREW_ALLOW_EVICTION", raising=False)
    # As managed Redis services do: CONFIG is not there at all.
    server = start_server("--maxmemory-policy", "allkeys-lru", "--rename-command", "CONFIG", "")
    try:
        with caplog.at_level(logging.INFO, logger="strew"):
            async with Docket(docket_name, server.url) as docket:
                for _ in range(3):
                    await docket.add(ran_noop)()
        lines = [r for r in caplog.records if "maxmemory-policy" in r.getMessage()]
        assert len(lines) == 1
        assert lines[0].levelno == logging.INFO
        assert "could not read" in lines[0].getMessage()
    finally:
        server.cleanup()
