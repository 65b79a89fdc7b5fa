"""The Redis store's read model: the scatter listing, batch progress, worker reports and the
lateness series (see `ReadModelStore`).

A mixin of `RedisStore`. Its keys share the docket's hash tag::

    strew:{emails}:scatters          sorted set  listed batch id -> created (us)
    strew:{emails}:scatter:ID        hash        descriptor, created, written, cancelled
                                                 (expires with the batch's members)
    strew:{emails}:reports           hash        worker -> its last heartbeat's report
    strew:{emails}:lateness          sorted set  'at worker count p50 p99 max' by at (us)

The listing is pruned as it is read: the oldest listed batches whose descriptor expired are
dropped by every `batches` call, a bounded number at a time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any, Protocol, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript

from strew.stores.redis.common import _text
from strew.stores.views import (
    LATENESS_CAP,
    PROGRESS_PAGE,
    BatchInfo,
    BatchProgress,
    LatenessSummary,
    WorkerReport,
)

T = TypeVar("T")

READMODEL_SCRIPTS = ("batch_progress", "worker_reports", "record_lateness")
SAMPLE_SPOTS = 200
"""The spots of a batch's members a sampled progress reads (see `batch_progress`)."""
PRUNED_PER_READ = 100
"""The oldest listed batches each `batches` call checks for expiry."""


class _Core(Protocol):
    docket: str
    schedule_key: str
    workers_key: str
    seen_key: str
    _client: aioredis.Redis | RedisCluster
    _scripts: dict[str, AsyncScript]

    async def _call(self, what: str, operation: Callable[[], Awaitable[T]]) -> T: ...
    async def _script(self, name: str, what: str, keys: list[str], args: list[Any]) -> Any: ...
    def _members_key(self, batch: str) -> str: ...
    def _about_key(self, batch: str) -> str: ...
    def _listed_key(self) -> str: ...
    def _reports_key(self) -> str: ...
    def _lateness_key(self) -> str: ...
    async def _abouts(self, batches: list[str]) -> list[dict[bytes, bytes]]: ...


def _scaled(counts: list[int], total: int) -> list[int]:
    """``counts`` scaled to add up to ``total`` (largest remainders get the rest)."""
    seen = sum(counts)
    if seen == 0:
        return counts
    exact = [c * total / seen for c in counts]
    scaled = [int(x) for x in exact]
    by_remainder = sorted(range(len(counts)), key=lambda i: exact[i] - scaled[i], reverse=True)
    for i in by_remainder[: total - sum(scaled)]:
        scaled[i] += 1
    return scaled


def _info(batch: str, about: dict[bytes, bytes]) -> BatchInfo:
    cancelled = about.get(b"cancelled")
    return BatchInfo(
        batch,
        about.get(b"descriptor", b""),
        int(about.get(b"created", 0)),
        int(about.get(b"written", 0)),
        None if cancelled is None else int(cancelled),
    )


class RedisReadModel:
    """The read-model operations (methods typed on `RedisStore`)."""

    def _about_key(self: _Core, batch: str) -> str:
        return f"strew:{{{self.docket}}}:scatter:{batch}"

    def _listed_key(self: _Core) -> str:
        return f"strew:{{{self.docket}}}:scatters"

    def _reports_key(self: _Core) -> str:
        return f"strew:{{{self.docket}}}:reports"

    def _lateness_key(self: _Core) -> str:
        return f"strew:{{{self.docket}}}:lateness"

    async def _abouts(self: _Core, batches: list[str]) -> list[dict[bytes, bytes]]:
        async def read() -> list[dict[bytes, bytes]]:
            pipe = self._client.pipeline(transaction=False)
            for batch in batches:
                pipe.hgetall(self._about_key(batch))
            return list(await pipe.execute())

        return await self._call("read the listed scatters", read) if batches else []

    async def batch(self: _Core, batch: str) -> BatchInfo | None:
        [about] = await self._abouts([batch])
        return _info(batch, about) if about.get(b"descriptor") else None

    async def batches(self: _Core, limit: int) -> list[BatchInfo]:
        found: list[BatchInfo] = []
        gone: list[str] = []
        position = 0
        while len(found) < limit:
            page = max(limit - len(found), 10)
            low, high = position, position + page - 1
            listed = await self._call(
                "list scatters",
                lambda: self._client.zrevrange(self._listed_key(), low, high),  # noqa: B023
            )
            if not listed:
                break
            names = [_text(name) for name in listed]
            for name, about in zip(names, await self._abouts(names), strict=True):
                if about.get(b"descriptor"):
                    found.append(_info(name, about))
                else:
                    gone.append(name)
            position += page
        oldest = await self._call(
            "list scatters", lambda: self._client.zrange(self._listed_key(), 0, PRUNED_PER_READ - 1)
        )
        names = [_text(name) for name in oldest]
        gone += [n for n, a in zip(names, await self._abouts(names), strict=True) if not a]
        if gone:
            key = self._listed_key()
            await self._call("prune the scatters", lambda: self._client.zrem(key, *gone))
        return found[:limit]

    async def batch_progress(
        self: _Core, batch: str, start: int, end: int, slices: int, sample: int = 0
    ) -> BatchProgress | None:
        [about] = await self._abouts([batch])
        if not about.get(b"descriptor"):
            return None
        written = int(about.get(b"written", 0))
        members = self._members_key(batch)
        count = int(await self._call("read a scatter", lambda: self._client.llen(members)))
        planned, waiting = [0] * slices, [0] * slices
        calls: list[list[int]] = []  # per step: members per spot, then the spots
        if 0 < sample < count:
            # Evenly spaced spots of a few members each, so every stretch of the window (the
            # list is in plan order) is seen.
            spots = min(SAMPLE_SPOTS, sample)
            span = max(sample // spots, 1)
            positions = [i * count // spots for i in range(spots)]
            for low in range(0, spots, max(PROGRESS_PAGE // span, 1)):
                calls.append([span, *positions[low : low + max(PROGRESS_PAGE // span, 1)]])
        else:
            calls = [[PROGRESS_PAGE, first] for first in range(0, count, PROGRESS_PAGE)]
        read = 0
        for call in calls:
            args = [written, start, end, slices, *call]
            part = await self._script(
                "batch_progress", "read a scatter", [members, self.schedule_key], args
            )
            for s in range(slices):
                planned[s] += int(part[0][s])
                waiting[s] += int(part[1][s])
            read += int(part[2])
        if read < count and read > 0:
            planned = _scaled(planned, written)
            waiting = [round(w * count / read) for w in waiting]
        return BatchProgress(planned, waiting, exact=read >= count)

    async def worker_reports(self: _Core) -> list[WorkerReport]:
        keys = [self.workers_key, self.seen_key, self._reports_key()]
        flat = await self._script("worker_reports", "list workers", keys, [])
        return [
            WorkerReport(_text(flat[i]), int(flat[i + 1]), bytes(flat[i + 2]))
            for i in range(0, len(flat), 3)
        ]

    async def record_lateness(self: _Core, summaries: Sequence[LatenessSummary], keep: int) -> None:
        if any(" " in s.worker for s in summaries):
            # The series keeps each summary as one space-separated string.
            summaries = [replace(s, worker=s.worker.replace(" ", "_")) for s in summaries]
        args: list[Any] = [keep, LATENESS_CAP]
        for s in summaries:
            args += [s.at, s.worker, s.count, s.p50, s.p99, s.max]
        await self._script("record_lateness", "record lateness", [self._lateness_key()], args)

    async def lateness(self: _Core, since: int, limit: int) -> list[LatenessSummary]:
        key = self._lateness_key()
        found = await self._call(
            "read lateness",
            lambda: self._client.zrangebyscore(key, since, "+inf", start=0, num=limit),
        )
        summaries = []
        for member in found:
            at, worker, count, p50, p99, most = _text(member).split(" ")
            summaries.append(
                LatenessSummary(int(at), worker, int(count), int(p50), int(p99), int(most))
            )
        return summaries

    def _readmodel_keys(self: _Core) -> list[str]:
        """The docket-wide keys of the read model (the per-batch ones go with the batches)."""
        return [self._listed_key(), self._reports_key(), self._lateness_key()]
