"""The Redis store's side of strikes: the rules, their version, and the held tasks.

A mixin of `RedisStore`. Its keys share the docket's hash tag, so every script stays legal on
a Redis Cluster::

    strew:{emails}:strikes           set     opaque strike rules
    strew:{emails}:strikes:version   string  bumped by every change of the rules
    strew:{emails}:held              zset    held task key -> due time (us)
    strew:{emails}:held:payloads     hash    held task key -> payload
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from strew.stores.records import ScheduledTask
from strew.stores.redis.common import _flags

T = TypeVar("T")

STRIKE_SCRIPTS = ("add_strike", "remove_strike", "strikes", "hold", "held_tasks")


class _Core(Protocol):
    """What these methods use of `RedisStore`."""

    docket: str
    schedule_key: str
    payloads_key: str
    wake_channel: str
    _task_keys: list[str]
    _client: aioredis.Redis | RedisCluster

    async def _call(self, what: str, operation: Callable[[], Awaitable[T]]) -> T: ...
    def _strike_keys(self) -> list[str]: ...
    async def _script(self, name: str, what: str, keys: list[str], args: list[Any]) -> Any: ...


class RedisStrikes:
    """Strike operations, each one Lua script (methods typed on `RedisStore`)."""

    def _strike_keys(self: _Core) -> list[str]:
        """rules, version, held, held payloads."""
        prefix = f"strew:{{{self.docket}}}:"
        names = ("strikes", "strikes:version", "held", "held:payloads")
        return [prefix + name for name in names]

    async def add_strike(self: _Core, rule: bytes) -> int:
        rules, version, _, _ = self._strike_keys()
        version = await self._script("add_strike", "add a strike", [rules, version], [rule])
        return int(version)

    async def remove_strike(self: _Core, rule: bytes) -> tuple[int, int]:
        keys = [*self._strike_keys(), self.schedule_key, self.payloads_key]
        version, restored = await self._script(
            "remove_strike", "remove a strike", keys, [rule, self.wake_channel]
        )
        return int(version), int(restored)

    async def strikes(self: _Core) -> tuple[int, list[bytes]]:
        rules, version, _, _ = self._strike_keys()
        current, found = await self._script("strikes", "read the strikes", [rules, version], [])
        return int(current), sorted(bytes(rule) for rule in found)

    async def hold(self: _Core, holds: Sequence[tuple[str, str]], version: int) -> list[bool]:
        if not holds:
            return []
        _, version_key, held, held_payloads = self._strike_keys()
        args: list[Any] = [self.wake_channel, str(version)]
        for key, token in holds:
            args.extend((key, token))
        keys = [*self._task_keys, version_key, held, held_payloads]
        return _flags(await self._script("hold", "hold stricken tasks", keys, args))

    async def held_tasks(self: _Core, limit: int) -> tuple[int, list[ScheduledTask]]:
        _, _, held, held_payloads = self._strike_keys()
        total, listed = await self._script(
            "held_tasks", "list held tasks", [held, held_payloads], [max(limit, 0)]
        )
        tasks = [
            ScheduledTask(
                listed[i].decode() if isinstance(listed[i], bytes) else str(listed[i]),
                int(float(listed[i + 1])),
                bytes(listed[i + 2]),
            )
            for i in range(0, len(listed), 3)
        ]
        return int(total), tasks
