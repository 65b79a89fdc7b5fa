"""The Redis store's side of the record of failures (see `FailureStore`).

A mixin of `RedisStore`. Its keys share the docket's hash tag::

    strew:{emails}:failures            sorted set  task key -> when its latest failure was (us)
    strew:{emails}:failures:notes      hash        task key -> the failure's note (opaque)
    strew:{emails}:failures:payloads   hash        task key -> the payload of the run that failed

``finish.lua`` writes and trims them (through ``failure_record.lua``) in the acknowledgement's
own step; listing reads ``limit`` entries from the top of the sorted set (O(log n + limit))
and looks each key up in the schedule and the leases, never scanning either.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, cast

from strew.stores.records import Entry, FailedTask, RetryOutcome
from strew.stores.redis.common import _text

FAILURE_SCRIPTS = ("failures", "drop_failures", "retry_failures")

_OUTCOMES: dict[int, RetryOutcome] = {
    ord("r"): "retried",
    ord("h"): "hastened",
    ord("b"): "busy",
    ord("m"): "missing",
}


def failure_keys(docket: str) -> list[str]:
    """failures, notes, failure payloads."""
    prefix = f"strew:{{{docket}}}:failures"
    return [prefix, prefix + ":notes", prefix + ":payloads"]


class _Core(Protocol):
    """What these methods use of `RedisStore`."""

    docket: str
    schedule_key: str
    payloads_key: str
    leases_key: str
    wake_channel: str

    def _strike_keys(self) -> list[str]: ...
    async def _read_failures(self, args: list[Any]) -> list[FailedTask]: ...
    async def _script(self, name: str, what: str, keys: list[str], args: list[Any]) -> Any: ...


class RedisFailures:
    """`Store.failures`, `failure`, `drop_failures` and `retry_failures`, each one Lua script
    (typed on `RedisStore`)."""

    async def failures(self: _Core, limit: int, before: int | None = None) -> list[FailedTask]:
        if limit <= 0:
            return []
        return await self._read_failures([limit, "" if before is None else str(before)])

    async def failure(self: _Core, key: str) -> FailedTask | None:
        found = await self._read_failures([1, "", key])
        return found[0] if found else None

    async def _read_failures(self: _Core, args: list[Any]) -> list[FailedTask]:
        keys = [*failure_keys(self.docket), self.schedule_key, self.leases_key]
        reply = await self._script("failures", "list failures", keys, args)
        return [
            FailedTask(
                key=_text(reply[i]),
                payload=bytes(reply[i + 3]),
                failed_at=int(float(reply[i + 1])),
                note=bytes(reply[i + 2]),
                retry_at=None if reply[i + 4] in (b"", "") else int(float(reply[i + 4])),
                running=reply[i + 5] not in (b"", ""),
            )
            for i in range(0, len(reply), 6)
        ]

    async def drop_failures(self: _Core, keys: Sequence[str] | None) -> int:
        if keys is not None and not keys:
            return 0
        args: list[Any] = ["all"] if keys is None else ["", *keys]
        dropped = await self._script(
            "drop_failures", "drop failures", failure_keys(self.docket), args
        )
        return int(dropped)

    async def retry_failures(self: _Core, entries: Sequence[Entry]) -> list[RetryOutcome]:
        if not entries:
            return []
        held = self._strike_keys()[2]
        keys = [self.schedule_key, self.payloads_key, self.leases_key, held]
        keys += failure_keys(self.docket)
        args: list[Any] = [self.wake_channel]
        for entry in entries:
            args.extend((entry.key, str(entry.due), entry.payload))
        reply = cast(bytes, await self._script("retry_failures", "retry failures", keys, args))
        return [_OUTCOMES[flag] for flag in reply]
