"""The client of a ``redis+sentinel://`` store: a master found through Redis Sentinel.

Every connection, pub/sub included, asks the sentinels for the master's address when it
connects, so after a failover the next connection reaches the new master. A connection
to the old one fails (a killed master) or is refused (a demoted one answers READONLY, which
redis-py turns into a connection error), the store reports `StoreUnavailable`, and the
worker's retry reconnects. No sentinel answering, or none knowing the service name, is a
``MasterNotFoundError`` — a connection error too, so the same `StoreUnavailable`.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import BlockingConnectionPool, Connection, parse_url
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from strew.stores.sentinel_url import parse_sentinel_url
from strew.stores.urls import masked


class _SentinelPool(SentinelConnectionPool, BlockingConnectionPool):
    """A Sentinel pool that waits for a free connection (as the standalone store's does)
    and owns its `Sentinel`: redis-py's pool leaves the clients of the sentinels open."""

    sentinel_manager: Sentinel

    async def aclose(self) -> None:
        try:
            await super().aclose()
        finally:
            await self.sentinel_manager.aclose()


def sentinel_client(
    url: str, connect_timeout: float, socket_timeout: float, max_connections: int
) -> aioredis.Redis:
    """A client of the master of ``url``'s service; connects lazily, on first use."""
    parsed = parse_sentinel_url(url, masked(url))
    # The same typed options a redis:// URL would give (redis-py's own parsing).
    options: dict[str, Any] = dict(parse_url(f"redis:///?{parsed.options}"))
    for spelled_elsewhere in ("host", "port", "path", "db", "username", "password"):
        options.pop(spelled_elsewhere, None)
    # A sentinel that does not answer must not hold up discovery: the next one is asked.
    sentinel_kwargs: dict[str, Any] = {
        "socket_connect_timeout": connect_timeout,
        "socket_timeout": socket_timeout,
        "username": parsed.sentinel_username,
        "password": parsed.sentinel_password,
    }
    if parsed.tls:
        sentinel_kwargs["ssl"] = True
        sentinel_kwargs.update({k: v for k, v in options.items() if k.startswith("ssl_")})
    sentinel = Sentinel(list(parsed.sentinels), sentinel_kwargs=sentinel_kwargs)
    master: dict[str, Any] = {
        "db": parsed.db,
        "username": parsed.username,
        "password": parsed.password,
        "max_connections": max_connections,
        "timeout": socket_timeout,
        "socket_keepalive": True,
        "decode_responses": False,
        "encoding_errors": "surrogateescape",
        "socket_connect_timeout": connect_timeout,
        "health_check_interval": 15,
        "retry": Retry(
            ExponentialBackoff(cap=0.2, base=0.05),
            retries=2,
            supported_errors=(RedisConnectionError,),
        ),
        "socket_timeout": socket_timeout,
    }
    if parsed.tls:
        master["ssl"] = True
    master.update(options)  # what the URL says wins over strew's defaults
    client: aioredis.Redis = sentinel.master_for(
        parsed.service_name, connection_pool_class=_SentinelPool, **master
    )
    return client


async def master_moved(client: aioredis.Redis | RedisCluster, pubsub: PubSub) -> bool:
    """Ask the sentinels where the master is now; True if ``pubsub`` listens elsewhere.

    redis-py asks only when a connection connects, and a master that the sentinels replaced
    without it dying (``SENTINEL FAILOVER``, a partition that heals) keeps serving the
    connections it has — as a master — until the sentinels convert it, about ten seconds
    later. Asking on a timer shortens that: when the master moved, redis-py's pool drops its
    idle connections to the old one, and the caller subscribes again on the new one.
    """
    pool = getattr(client, "connection_pool", None)  # a cluster client has none
    if not isinstance(pool, SentinelConnectionPool):
        return False
    address: tuple[str, int] = await pool.get_master_address()  # type: ignore[no-untyped-call]
    connection: Connection | None = getattr(pubsub, "connection", None)  # typed as None
    return connection is not None and (connection.host, connection.port) != tuple(address)
