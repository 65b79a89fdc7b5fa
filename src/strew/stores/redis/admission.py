"""The Redis store's side of admission controls: concurrency slots, rate logs, cooldowns and
debounce windows, each decided by one Lua script.

A mixin of `RedisStore`. A limit lives in its *home*: the docket (keys under its hash tag) or,
with a ``scope``, a name dockets on one server share::

    strew:{emails}:limit:KIND:NAME            the docket's own limit
    strew:scope:{SCOPE}:limit:KIND:NAME       a scope's (standalone Redis)
    strew:{emails}:scope:SCOPE:limit:KIND:NAME  a scope's on a Redis Cluster: a script may
                                              only touch one slot, so there a scope is shared
                                              by the tasks of one docket, not across dockets
    strew:{emails}:limits   set   base keys of the concurrency limits in use (for `limits`)

A concurrency limit has ``BASE:slots`` (zset holder -> when taken) and ``BASE:waiters``
(zset holder -> its due time when it began to wait: waiting tasks go in the order they were
due); a rate limit ``BASE`` (zset "key@due" -> start); a cooldown ``BASE`` (string: the
"key@due" of the run that began it, expiring with the window); a debounce ``BASE`` (hash:
winner, last). A holder is ``docket\\nkey``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar, cast

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from strew.stores.records import Admission, Gate, LimitUsage, Verdict
from strew.stores.redis.common import _text

T = TypeVar("T")

ADMISSION_SCRIPTS = ("admit", "release_slots", "limits")


class _Core(Protocol):
    docket: str
    cluster: bool
    wake_channel: str
    _task_keys: list[str]
    _client: aioredis.Redis | RedisCluster

    async def _call(self, what: str, operation: Callable[[], Awaitable[T]]) -> T: ...
    async def _script(self, name: str, what: str, keys: list[str], args: list[Any]) -> Any: ...
    def _limit_base(self, gate: Gate) -> str: ...
    def _limits_key(self) -> str: ...


class RedisAdmission:
    """Admission operations (methods typed on `RedisStore`)."""

    def _limits_key(self: _Core) -> str:
        return f"strew:{{{self.docket}}}:limits"

    def _limit_base(self: _Core, gate: Gate) -> str:
        if gate.scope is None:
            home = f"strew:{{{self.docket}}}:"
        elif self.cluster:
            home = f"strew:{{{self.docket}}}:scope:{gate.scope}:"
        else:
            home = f"strew:scope:{{{gate.scope}}}:"
        return f"{home}limit:{gate.kind}:{gate.name}"

    async def admit(
        self: _Core, key: str, token: str, gates: Sequence[Gate], lease: int
    ) -> Admission:
        keys = [*self._task_keys, self._limits_key()]
        args: list[Any] = [key, token, f"{self.docket}\n{key}", lease, self.wake_channel]
        for gate in gates:
            base = self._limit_base(gate)
            if gate.kind == "concurrency":
                keys += [f"{base}:slots", f"{base}:waiters"]
            else:
                keys += [base, base]
            args += [gate.kind, gate.limit, gate.window, "1" if gate.drop else "", base]
        reply = await self._script("admit", "decide whether a task may start", keys, args)
        return Admission(cast(Verdict, _text(reply[0])), int(reply[1]), int(reply[2]))

    async def release_slots(self: _Core, key: str, gates: Sequence[Gate]) -> int:
        keys = [self._limits_key()]
        args: list[Any] = [f"{self.docket}\n{key}"]
        for gate in gates:
            if gate.kind == "concurrency":
                base = self._limit_base(gate)
                keys += [f"{base}:slots", f"{base}:waiters"]
                args += [gate.limit, base]
        if len(keys) == 1:
            return 0
        woken = await self._script("release_slots", "free concurrency slots", keys, args)
        return int(woken)

    async def limits(self: _Core, limit: int) -> list[LimitUsage]:
        reply = await self._script(
            "limits", "read the concurrency limits", [self._limits_key()], []
        )
        usages: list[LimitUsage] = []
        for i in range(0, len(reply), 3):
            usages.append(
                _usage(self.docket, _text(reply[i]), int(reply[i + 1]), int(reply[i + 2]))
            )
        usages.sort(key=lambda u: (-(u.in_use + u.waiting), u.scope or "", u.name))
        return usages[:limit]

    async def _destroy_limits(self: _Core) -> None:
        name = "".join("\\" + c if c in "\\*?[]^" else c for c in self.docket)
        for pattern in (f"strew:{{{name}}}:limit:*", f"strew:{{{name}}}:scope:*"):
            found = [key async for key in self._client.scan_iter(match=pattern, count=1000)]
            if found:
                await self._client.delete(*found)
        await self._client.delete(self._limits_key())


def _usage(docket: str, base: str, in_use: int, waiting: int) -> LimitUsage:
    """A `LimitUsage` from a base key (see the module's docstring for the layouts)."""
    own = f"strew:{{{docket}}}:limit:concurrency:"
    clustered = f"strew:{{{docket}}}:scope:"
    if base.startswith(own):
        return LimitUsage(base[len(own) :], None, in_use, waiting)
    if base.startswith(clustered):
        scope, _, rest = base[len(clustered) :].partition(":limit:concurrency:")
        return LimitUsage(rest, scope, in_use, waiting)
    scope, _, rest = base.removeprefix("strew:scope:{").partition("}:limit:concurrency:")
    return LimitUsage(rest, scope, in_use, waiting)
