"""The Redis store's side of scatters: staged batches, their commit and merge, and their
members.

A mixin of `RedisStore`. Its keys share the docket's hash tag, so every script stays legal on
a Redis Cluster::

    strew:{emails}:stage:ID           hash        packed blobs of a scatter (expires until
                                                  committed; see stage_batch.lua)
    strew:{emails}:stage:ID:merge     list        a committed batch's blobs not merged yet
    strew:{emails}:merging            sorted set  batch id -> earliest due not merged yet
    strew:{emails}:batch:ID   list        'due key' of each task scatter ID wrote (expires)

An all-or-nothing scatter is staged, committed in one short step that reads only the names of
its blobs and merges for `MERGE_STEP_MICROS` (all of a small batch), then merged onto the
schedule in further steps of that budget, earliest due first: no step holds Redis long, at
any size. Until the last step a claim sees the batch in the merging set, counts its earliest
due time not merged yet as a due time, and merges a step beside itself (`_merge_behind`), so
the batch is as good as on the schedule from its commit, and a producer that dies mid-merge
leaves the rest to the workers.
(the listing of batches and their descriptors: see readmodel.py)
"""

from __future__ import annotations

import asyncio
import logging
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
from strew.stores.redis.errors import is_busy
from strew.stores.redis.packing import pack_described, pack_entries
from strew.stores.redis.respread import (
    RESPREAD_SCRIPTS,
    RESPREAD_STEP,
    RespreadCore,
    RespreadRun,
    drive,
)

T = TypeVar("T")

logger = logging.getLogger("strew.store")

BATCH_SCRIPTS = (
    "stage_batch",
    "commit_batch",
    "merge_batch",
    "discard_batch",
    "schedule_batch",
    "cancel_batch",
    *RESPREAD_SCRIPTS,
)

MERGE_STEP_MICROS = 10_000
"""How long one merge step goes on taking blobs, by the server's clock: a step ends at most
one blob (1,000 tasks, a few milliseconds) past it. A budget of time, not of entries, keeps
the bound on a slow or busy server and takes fewer steps on a fast one. Short, because a
producer merges step after step and every claim and acknowledgement meanwhile waits for the
step running: with 20 ms steps a worker at concurrency 10 following 200 tasks a second fell
behind during a large merge; with 10 ms it kept p99 within a few milliseconds
(`bench/busy.py`). Shorter still costs the scatter more round trips for no better
lateness."""
CANCEL_STEP_MEMBERS = 3_000
"""Members one step of a batch's cancel reads."""

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
    _merging_behind: asyncio.Task[None] | None

    async def _call(self, what: str, operation: Callable[[], Awaitable[T]]) -> T: ...
    async def _script(self, name: str, what: str, keys: list[str], args: list[Any]) -> Any: ...
    def _stage_keys(self, batch: str) -> list[str]: ...
    def _members_key(self, batch: str) -> str: ...
    async def _commit_outcome(self, outcome: str, delete: bool) -> list[str] | None: ...
    async def _merge_step(self, batch: str) -> int: ...
    def _merging_key(self) -> str: ...
    def _about_key(self, batch: str) -> str: ...
    def _listed_key(self) -> str: ...


async def _merge_quietly(store: _Core, batch: str) -> None:
    try:
        await store._merge_step(batch)
    except Exception as error:  # a background step must not end unobserved
        logger.warning(
            "a merge step of scatter %s failed (%s): the next claim that finds it merging "
            "tries again",
            batch,
            error,
        )


class RedisBatches:
    """Batch operations, one Lua script each (methods typed on `RedisStore`)."""

    def _stage_keys(self: _Core, batch: str) -> list[str]:
        """The stage of ``batch`` and its merge queue."""
        stage = f"strew:{{{self.docket}}}:stage:{batch}"
        return [stage, stage + ":merge"]

    def _merging_key(self: _Core) -> str:
        return f"strew:{{{self.docket}}}:merging"

    def _members_key(self: _Core, batch: str) -> str:
        return f"strew:{{{self.docket}}}:batch:{batch}"

    async def stage_batch(self: _Core, batch: str, entries: Sequence[Entry], ttl: int) -> int:
        stage = self._stage_keys(batch)[0]
        if not entries:
            held = await self._call("stage tasks", lambda: self._client.hget(stage, "#entries"))
            return int(held or 0)
        args: list[Any] = [_millis(ttl), len(entries)]
        for blob, count, earliest in pack_described(entries):
            args += (f"{max(earliest, 0):020d}", count, blob)
        return int(await self._script("stage_batch", "stage tasks", [stage], args))

    async def commit_batch(
        self: _Core, batch: str, expected: int, members_ttl: int, descriptor: bytes = b""
    ) -> list[str]:
        outcome = f"strew:{{{self.docket}}}:stage:{batch}:outcome"
        keys = [
            *self._stage_keys(batch),
            self._merging_key(),
            outcome,
            self._about_key(batch),
            self._listed_key(),
            self.schedule_key,
            self.payloads_key,
            self.leases_key,
            self._members_key(batch),
        ]
        args: list[Any] = [
            expected,
            COMMIT_OUTCOME_TTL_MS,
            descriptor,
            batch,
            _millis(members_ttl),
            MERGE_STEP_MICROS,
            self.wake_channel,
        ]
        left = 1
        try:
            left = await self._waits.run(self, "commit_batch", "commit tasks", keys, args)
        except (RedisError, OSError) as error:
            # The reply may be what was lost: ask before reporting a failure for tasks that
            # are in fact committed.
            failure: BaseException = error
            if await self._commit_outcome(outcome, delete=False) is None:
                return await self._call("commit staged tasks", lambda: _raise(failure))
        # Committed: from here the batch is written whole whatever happens to this call.
        # Merge the rest now (the workers would too, but only as they claim).
        try:
            while int(left) > 0:
                left = await self._merge_step(batch)
        except (RedisError, OSError) as error:
            logger.warning(
                "scatter %s is committed but this producer could not finish merging it (%s): "
                "the workers will; keys found already scheduled may be reported as written",
                batch,
                error,
            )
        found = await self._commit_outcome(outcome, delete=True)
        return found or []

    _merging_behind: asyncio.Task[None] | None = None

    def _merge_behind(self: _Core, batch: str) -> None:
        """Merge a step of ``batch`` beside the claim that found it merging, one such step
        at a time: the tasks that claim took start at once instead of after the step, and a
        step that fails costs the claim nothing (the next claim that finds the batch merging
        starts another). A claim sent while the step runs waits for it in Redis anyway,
        which paces the claims of a watcher whose next due time is the merge's."""
        if self._merging_behind is None or self._merging_behind.done():
            self._merging_behind = asyncio.get_running_loop().create_task(
                _merge_quietly(self, batch)
            )

    async def _stop_merging_behind(self: _Core) -> None:
        """Cancel a merge step still in flight (closing the store): it is a step like any
        other, and what it did not merge the next claim will."""
        step, self._merging_behind = self._merging_behind, None
        if step is not None and not step.done():
            step.cancel()
            with suppress(asyncio.CancelledError):
                await step

    async def _merge_step(self: _Core, batch: str) -> int:
        """One bounded step of merging a committed ``batch``; returns the blobs still to
        merge (0: done, or no such batch)."""
        stage, queue = self._stage_keys(batch)
        keys = [
            self.schedule_key,
            self.payloads_key,
            self.leases_key,
            stage,
            queue,
            self._merging_key(),
            self._members_key(batch),
            f"{stage}:outcome",
            self._about_key(batch),
        ]
        args = [self.wake_channel, batch, MERGE_STEP_MICROS]
        left, _ = await self._waits.run(self, "merge_batch", "merge tasks", keys, args)
        return int(left)

    async def _commit_outcome(self: _Core, outcome: str, delete: bool) -> list[str] | None:
        """The skipped keys of a commit that happened, None if it did not (or if Redis cannot
        be reached to say). Waits out a script still running (BUSY replies)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + COMMIT_SETTLE_SECONDS
        while True:
            try:
                found = await self._client.lrange(outcome, 0, -1)
            except ResponseError as error:
                if not is_busy(error) or loop.time() > deadline:
                    return None
                await asyncio.sleep(0.1)
                continue
            except (RedisError, OSError):
                return None
            if not found:
                return None
            if delete:
                with suppress(RedisError, OSError):
                    await self._client.delete(outcome)
            return [_text(key) for key in found[1:]]

    async def discard_batch(self: _Core, batch: str) -> None:
        await self._script("discard_batch", "discard staged tasks", self._stage_keys(batch), [])

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
            self._merging_key(),
            self._about_key(batch),
        ]
        removed, offset = 0, 0
        while offset >= 0:
            args = [offset, CANCEL_STEP_MEMBERS, batch]
            step, offset = await self._script("cancel_batch", "cancel a batch", keys, args)
            removed += int(step)
            offset = int(offset)
        return removed

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
