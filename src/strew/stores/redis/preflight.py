"""What the Redis store checks once, on its first command: that the server will not evict
keys. Under ``maxmemory`` with any policy but ``noeviction`` Redis drops keys to make room,
and a dropped payload or stage is a task lost without a word (``allkeys-lru`` dropped the
payloads of 10,000 tasks reported scheduled). So a store refuses such a server, naming the
setting and the fix, unless its owner opted out (``allow_eviction=True`` or
``STREW_ALLOW_EVICTION=1``). A server that refuses ``CONFIG GET`` (managed Redis often does)
is used all the same, with one INFO line saying the policy could not be read.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import AuthenticationError, ResponseError

from strew.stores.records import EvictionPolicyError

logger = logging.getLogger("strew.store")

ALLOW_EVICTION_ENV = "STREW_ALLOW_EVICTION"
"""Set to ``1`` to let every store use a Redis that may evict keys."""
SAFE_POLICY = "noeviction"


def eviction_allowed(allow: bool | None) -> bool:
    """``allow`` if given, else whether ``$STREW_ALLOW_EVICTION`` is ``1``."""
    if allow is not None:
        return allow
    return os.environ.get(ALLOW_EVICTION_ENV, "").strip() == "1"


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _policies(reply: Any) -> list[str]:
    """The policies in a CONFIG GET reply: a dict (one server), or a dict per node."""
    found: list[str] = []
    if isinstance(reply, dict):
        for name, value in reply.items():
            if isinstance(value, dict):
                found += _policies(value)
            elif _text(name) == "maxmemory-policy":
                found.append(_text(value))
    return found


class EvictionCheck:
    """Reads ``maxmemory-policy`` once per store and keeps the verdict."""

    def __init__(self, docket: str, allow: bool | None) -> None:
        self.docket = docket
        self.allow = allow
        self.done = False
        self.refusal: EvictionPolicyError | None = None

    async def __call__(self, client: aioredis.Redis | RedisCluster) -> None:
        """Raise `EvictionPolicyError` if the server may evict keys and that was not allowed;
        connection errors propagate for the caller to report."""
        if self.refusal is not None:
            raise self.refusal
        if self.done:
            return
        if eviction_allowed(self.allow):
            self.done = True
            return
        try:
            reply = await client.config_get("maxmemory-policy")
        except AuthenticationError:
            raise
        except ResponseError as error:
            # Unknown command (renamed away), or an ACL without CONFIG GET: nothing to read.
            self.done = True
            logger.info(
                "could not read maxmemory-policy of the Redis of docket %s (%s); make sure it "
                "is 'noeviction', or tasks may be evicted and lost",
                self.docket,
                error,
            )
            return
        evicting = sorted({policy for policy in _policies(reply) if policy != SAFE_POLICY})
        self.done = True
        if evicting:
            self.refusal = EvictionPolicyError(
                f"Redis for docket {self.docket} has maxmemory-policy {evicting[0]!r}: it may "
                "evict keys under memory pressure, and an evicted key is a task lost without "
                "a word. Fix it with CONFIG SET maxmemory-policy noeviction (and in "
                "redis.conf), or, knowing that tasks can be lost, opt out with "
                f"Docket(..., allow_eviction=True) or {ALLOW_EVICTION_ENV}=1"
            )
            raise self.refusal
