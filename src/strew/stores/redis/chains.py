"""The Redis store's side of automatic chains: putting back the ones that are gone.

A mixin of `RedisStore`. Its one key shares the docket's hash tag, so the script stays legal
on a Redis Cluster::

    strew:{emails}:chains:ended   hash   automatic chain key -> when it ended itself (us)

The hash is written by ``finish.lua`` (a `Finish` with ``ends_chain``) and read and cleared
by ``restore_chains.lua``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from strew.stores.records import Entry
from strew.stores.redis.common import _flags

CHAIN_SCRIPTS = ("restore_chains",)


class _Core(Protocol):
    """What these methods use of `RedisStore`."""

    schedule_key: str
    payloads_key: str
    leases_key: str
    ended_key: str
    wake_channel: str

    def _strike_keys(self) -> list[str]: ...
    async def _script(self, name: str, what: str, keys: list[str], args: list[Any]) -> Any: ...


class RedisChains:
    """`Store.restore_chains`, one Lua script (typed on `RedisStore`)."""

    async def restore_chains(self: _Core, entries: Sequence[Entry], since: int) -> list[bool]:
        if not entries:
            return []
        held = self._strike_keys()[2]
        keys = [self.schedule_key, self.payloads_key, self.leases_key, held, self.ended_key]
        args: list[Any] = [self.wake_channel, str(since)]
        for entry in entries:
            args.extend((entry.key, str(entry.due), entry.payload))
        written = await self._script("restore_chains", "restore automatic chains", keys, args)
        return _flags(written)
