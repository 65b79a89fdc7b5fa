"""The Redis store's side of the quarantine: claimed tasks whose payload cannot be run, kept
for a human.

A mixin of `RedisStore`. Its one key shares the docket's hash tag::

    strew:{emails}:quarantine   hash   key -> "<time> <reason length> <reason><payload>"
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from strew.stores.records import Quarantine, QuarantinedTask
from strew.stores.redis.common import _flags, _text

T = TypeVar("T")

QUARANTINE_SCRIPTS = ("quarantine", "drop_quarantine")


class _Core(Protocol):
    """What these methods use of `RedisStore`."""

    quarantine_key: str
    wake_channel: str
    _task_keys: list[str]
    _client: aioredis.Redis | RedisCluster

    async def _call(self, what: str, operation: Callable[[], Awaitable[T]]) -> T: ...
    async def _script(self, name: str, what: str, keys: list[str], args: list[Any]) -> Any: ...


def _quarantined(key: str, record: bytes | str) -> QuarantinedTask:
    """Read a record quarantine.lua wrote: "<time> <reason length> <reason><payload>"."""
    raw = record if isinstance(record, bytes) else record.encode()
    at, length, rest = raw.split(b" ", 2)
    size = int(length)
    return QuarantinedTask(key, rest[size:], rest[:size].decode("utf-8", "replace"), int(at))


class RedisQuarantine:
    """`Store.quarantine`, `quarantined` and `drop_quarantined` (methods typed on
    `RedisStore`)."""

    async def quarantine(self: _Core, items: Sequence[Quarantine]) -> list[bool]:
        if not items:
            return []
        args: list[Any] = [self.wake_channel]
        for item in items:
            args.extend((item.key, item.token, item.reason))
        keys = [*self._task_keys, self.quarantine_key]
        moved = await self._script("quarantine", "quarantine tasks", keys, args)
        return _flags(moved)

    async def quarantined(self: _Core) -> list[QuarantinedTask]:
        found = await self._call(
            "read the quarantine", lambda: self._client.hgetall(self.quarantine_key)
        )
        return sorted(
            (_quarantined(_text(key), record) for key, record in found.items()),
            key=lambda task: (task.at, task.key),
        )

    async def drop_quarantined(self: _Core, keys: Sequence[str] | None) -> int:
        if keys is not None:
            if not keys:
                return 0
            return int(
                await self._call(
                    "drop quarantined tasks",
                    lambda: self._client.hdel(self.quarantine_key, *keys),
                )
            )
        dropped = await self._script(
            "drop_quarantine", "drop quarantined tasks", [self.quarantine_key], []
        )
        return int(dropped)
