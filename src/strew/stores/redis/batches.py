"""The Redis store's side of scatters: staged batches, their commit, and their members.

A mixin of `RedisStore`. Its keys share the docket's hash tag, so every script stays legal on
a Redis Cluster::

    strew:{emails}:stage:ID:chunks    list        packed chunks of a scatter not committed
    strew:{emails}:stage:ID:count     string      entries staged so far (both expire)
    strew:{emails}:batch:ID   list        'due key' of each task scatter ID wrote (expires)

(the listing of batches and their descriptors: see readmodel.py)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from typing import Any, Protocol, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError, ResponseError

from strew.stores.records import Entry, Respread
from strew.stores.redis.common import _flags, _millis, _raise, _text
from strew.stores.redis.durability import ReplicaWait
from strew.stores.redis.packing import pack_entries
from strew.stores.redis.respread import (
    RESPREAD_SCRIPTS,
    RESPREAD_STEP,
    RespreadCore,
    RespreadRun,
    drive,
)

T = TypeVar("T")

BATCH_SCRIPTS = ("stage_batch", "commit_batch", "schedule_batch", "cancel_batch", *RESPREAD_SCRIPTS)

COMMIT_OUTCOME_TTL_MS = 600_000
"""How long a commit's outcome stays readable for a client whose reply was lost."""
COMMIT_SETTLE_SECONDS = 60.0
"""How long a client whose commit reply was lost waits for a still-running commit to end."""


class _Core(Protocol):
    """What these methods use of `RedisStore`."""

    docket: str
    schedule_key: str
    payloads_key: str
    leases_key: str
    running_key: str
    tokens_key: str
    dues_key: str
    wake_channel: str
    _client: aioredis.Redis | RedisCluster
    _scripts: dict[str, AsyncScript]
    _waits: ReplicaWait

    async def _call(self, what: str, operation: Callable[[], Awaitable[T]]) -> T: ...
    async def _script(self, name: str, what: str, keys: list[str], args: list[Any]) -> Any: ...
    def _stage_keys(self, batch: str) -> list[str]: ...
    def _members_key(self, batch: str) -> str: ...
    async def _commit_outcome(self, outcome: str) -> list[str] | None: ...
    def _about_key(self, batch: str) -> str: ...
    def _listed_key(self) -> str: ...


class RedisBatches:
    """Batch operations, one Lua script each (methods typed on `RedisStore`)."""

    def _stage_keys(self: _Core, batch: str) -> list[str]:
        prefix = f"strew:{{{self.docket}}}:stage:{batch}:"
        return [prefix + "chunks", prefix + "count"]

    def _members_key(self: _Core, batch: str) -> str:
        return f"strew:{{{self.docket}}}:batch:{batch}"

    async def stage_batch(self: _Core, batch: str, entries: Sequence[Entry], ttl: int) -> int:
        if not entries:
            held = await self._call(
                "stage tasks", lambda: self._client.get(self._stage_keys(batch)[1])
            )
            return int(held or 0)
        args = [_millis(ttl), len(entries), *pack_entries(entries)]
        staged = await self._script("stage_batch", "stage tasks", self._stage_keys(batch), args)
        return int(staged)

    async def commit_batch(
        self: _Core, batch: str, expected: int, members_ttl: int, descriptor: bytes = b""
    ) -> list[str]:
        outcome = f"strew:{{{self.docket}}}:stage:{batch}:outcome"
        keys = [
            self.schedule_key,
            self.payloads_key,
            self.leases_key,
            *self._stage_keys(batch),
            self._members_key(batch),
            outcome,
            self._about_key(batch),
            self._listed_key(),
        ]
        args: list[Any] = [
            self.wake_channel,
            expected,
            _millis(members_ttl),
            COMMIT_OUTCOME_TTL_MS,
            descriptor,
            batch,
        ]
        try:
            skipped = await self._waits.run(self, "commit_batch", "commit tasks", keys, args)
        except (RedisError, OSError) as error:
            failure: BaseException = error
        else:
            with suppress(RedisError, OSError):
                await self._client.delete(outcome)
            return [_text(key) for key in skipped]
        # A commit of a very large batch can outlast the socket timeout, and the client's retry
        # then meets BUSY or an emptied stage: the first attempt may have committed everything,
        # so ask before reporting a failure for tasks that are in fact scheduled.
        found = await self._commit_outcome(outcome)
        if found is None:
            return await self._call("commit staged tasks", lambda: _raise(failure))
        return found

    async def _commit_outcome(self: _Core, outcome: str) -> list[str] | None:
        """The skipped keys of a commit that happened, None if it did not (or if Redis cannot
        be reached to say). Waits out a script still running (BUSY replies)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + COMMIT_SETTLE_SECONDS
        while True:
            try:
                found = await self._client.lrange(outcome, 0, -1)
            except ResponseError as error:
                if "BUSY" not in str(error) or loop.time() > deadline:
                    return None
                await asyncio.sleep(0.1)
                continue
            except (RedisError, OSError):
                return None
            if not found:
                return None
            with suppress(RedisError, OSError):
                await self._client.delete(outcome)
            return [_text(key) for key in found[1:]]

    async def discard_batch(self: _Core, batch: str) -> None:
        keys = self._stage_keys(batch)
        await self._call("discard staged tasks", lambda: self._client.delete(*keys))

    async def schedule_batch(
        self: _Core, batch: str, entries: Sequence[Entry], members_ttl: int, descriptor: bytes = b""
    ) -> list[bool]:
        if not entries:
            return []
        args = [self.wake_channel, _millis(members_ttl), descriptor, batch, *pack_entries(entries)]
        keys = [
            self.schedule_key,
            self.payloads_key,
            self.leases_key,
            self._members_key(batch),
            self._about_key(batch),
            self._listed_key(),
        ]
        written = await self._script("schedule_batch", "schedule tasks", keys, args)
        return _flags(written)

    async def cancel_batch(self: _Core, batch: str) -> int:
        keys = [
            self.schedule_key,
            self.payloads_key,
            self._members_key(batch),
            *self._stage_keys(batch),
            self._about_key(batch),
        ]
        removed = await self._script("cancel_batch", "cancel a batch", keys, [])
        return int(removed)

    respread_step: int = RESPREAD_STEP
    """Members one step of a re-spread reads or moves at most (see respread.py)."""

    async def respread_batch(
        self: RespreadCore,
        batch: str,
        start: int,
        spacing: int,
        overdue: int,
        claims: Sequence[tuple[str, str]] = (),
    ) -> Respread:
        # Bounded steps, not one script: see respread.py.
        run = RespreadRun(self, batch, start, spacing, overdue, claims, step=self.respread_step)
        return await drive(run)

    async def _destroy_batches(self: _Core) -> None:
        # Batch keys carry an id in their name, so they are found by pattern; the docket name
        # is escaped because glob characters are legal in it.
        name = "".join("\\" + c if c in "\\*?[]^" else c for c in self.docket)
        # One scan for every kind: each SCAN walks the whole database, however few keys match.
        kinds = tuple(
            f"strew:{{{self.docket}}}:{kind}:".encode()
            for kind in ("stage", "batch", "record", "progress", "scatter")
        )
        pattern = f"strew:{{{name}}}:*"
        found = [
            key
            async for key in self._client.scan_iter(match=pattern, count=1000)
            if key.startswith(kinds)
        ]
        for low in range(0, len(found), 1000):
            await self._client.delete(*found[low : low + 1000])
