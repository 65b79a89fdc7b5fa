"""Small tools the tests share: waiting without sleeping, throwaway Redis servers (one of
`strew.testing`'s, or a Cluster of three), the commands a docket sends."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from strew import Docket
from strew.docket.loops import LoopLocalStore
from strew.stores.redis.store import RedisStore
from strew.testing import RedisServer, free_port


async def wait_until(
    predicate: Callable[[], bool | Awaitable[bool]],
    timeout: float = 10.0,
    interval: float = 0.005,
    message: str = "",
) -> None:
    """Poll ``predicate`` until it is true; fail loudly after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message or predicate}")
        await asyncio.sleep(interval)


def cluster_port() -> int:
    """A free port for a cluster node: its cluster bus listens 10,000 higher, which must
    still be a valid port (and, with luck, free)."""
    while True:
        port = free_port(below=65536 - 10_000)
        if port_is_free(port + 10_000):
            return port


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_redis_url() -> str:
    return os.environ.get("STREW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@dataclass
class RedisClusterNodes:
    """A three-node Redis Cluster (masters only, no persistence) on loopback ports."""

    nodes: list[RedisServer] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"redis+cluster://127.0.0.1:{self.nodes[0].port}"

    def start(self, size: int = 3) -> None:
        redis_cli = shutil.which("redis-cli")
        if redis_cli is None:
            raise RuntimeError("redis-cli is not installed (scripts/test installs redis-server)")
        for _ in range(size):
            node = RedisServer(
                port=cluster_port(),
                appendonly=False,
                extra=["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"],
            )
            node.start()
            self.nodes.append(node)
        subprocess.run(
            [
                redis_cli,
                "--cluster",
                "create",
                *(f"127.0.0.1:{node.port}" for node in self.nodes),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=30,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if all(self._state_ok(redis_cli, node.port) for node in self.nodes):
                return
            time.sleep(0.05)
        raise RuntimeError("the Redis Cluster did not reach cluster_state:ok")

    @staticmethod
    def _state_ok(redis_cli: str, port: int) -> bool:
        info = subprocess.run(
            [redis_cli, "-p", str(port), "cluster", "info"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout
        return "cluster_state:ok" in info and "cluster_slots_assigned:16384" in info

    def cleanup(self) -> None:
        for node in self.nodes:
            node.cleanup()


class CommandLog:
    """The commands clients send a Redis server that name a docket's keys (its round trips,
    not what its scripts run), read with MONITOR over a raw connection (redis-py's monitor
    cannot read lines as long as a staged chunk)."""

    def __init__(self, url: str, docket_name: str) -> None:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 6379
        self.tag = f"strew:{{{docket_name}}}:".encode()
        self.commands: list[str] = []
        self._reader: asyncio.Task[None] | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> CommandLog:
        reader, self._writer = await asyncio.open_connection(
            self.host, self.port, limit=64 * 1024 * 1024
        )
        self._writer.write(b"MONITOR\r\n")
        await self._writer.drain()
        assert await reader.readline() == b"+OK\r\n"
        self._reader = asyncio.create_task(self._read(reader))
        return self

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while line := await reader.readline():
            # +1700000000.123456 [0 127.0.0.1:5000] "EVALSHA" "sha" ...; what a script runs
            # shows as [0 lua], and is not a round trip.
            source = line.split(b"]", 1)[0]
            if self.tag in line and not source.endswith(b" lua"):
                self.commands.append(line.split(b'"', 2)[1].decode())

    async def settle(self, marker: str) -> None:
        """Wait until the server has echoed every command sent before ``marker`` (a PING
        from a connection of our own, which MONITOR shows after them)."""
        import redis.asyncio as aioredis

        client = aioredis.Redis(host=self.host, port=self.port)
        try:
            await client.get(self.tag + marker.encode())
        finally:
            await client.aclose()
        await wait_until(
            lambda: bool(self.commands) and self.commands[-1] == "GET",
            timeout=10,
            message="the monitor to catch up",
        )
        self.commands.pop()

    async def __aexit__(self, *exc: object) -> None:
        assert self._writer is not None and self._reader is not None
        self._writer.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await self._reader


def redis_store(docket: Docket) -> RedisStore:
    """The Redis store a docket on a Redis URL uses in this event loop (docket/loops.py)."""
    store = docket.store
    assert isinstance(store, LoopLocalStore)
    here = store.here()
    assert isinstance(here, RedisStore)
    return here


async def commit_only(store: RedisStore, batch: str, expected: int) -> int:
    """An atomic scatter's commit step alone, with no merge step (a producer that died right
    after it); returns the blobs queued for merging."""
    import redis.asyncio as aioredis

    from strew.stores.redis.common import _load_lua

    stage, queue = store._stage_keys(batch)
    client = aioredis.Redis.from_url(store.url)
    try:
        commit = client.register_script(_load_lua("commit_batch"))
        keys = [stage, queue, store._merging_key(), f"{stage}:outcome"]
        return int(await commit(keys=keys, args=[expected, 60_000, "", batch, 3_600_000]))
    finally:
        await client.aclose()
