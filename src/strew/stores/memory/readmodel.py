"""The memory store's read model: the scatter listing, batch progress, worker reports and the
lateness series (see `ReadModelStore`).

A mixin of `MemoryStore`; like the rest of it, no method awaits between reading and writing
its state, so each call is atomic on its event loop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from strew.stores.memory.batches import Expiring
from strew.stores.views import (
    LATENESS_CAP,
    BatchInfo,
    BatchProgress,
    LatenessSummary,
    WorkerReport,
)


@dataclass(slots=True)
class About:
    """A listed batch: its descriptor, and the due times its writes gave, in write order."""

    descriptor: bytes
    created: int
    expires: int
    planned: list[int] = field(default_factory=list)
    cancelled: int | None = None


@dataclass(slots=True)
class ReadModel:
    """The read model's state, one per `MemoryStore`."""

    about: dict[str, About] = field(default_factory=dict)
    reports: dict[str, bytes] = field(default_factory=dict)
    lateness: dict[tuple[int, str], LatenessSummary] = field(default_factory=dict)
    """By where the Redis store's sorted set puts each (see `_member`)."""


class _Core(Protocol):
    _clock: Callable[[], int]
    _payloads: dict[str, tuple[int, bytes]]
    _members: dict[str, Expiring[int]]
    _workers: dict[str, tuple[int, int]]
    _read_model: ReadModel

    def _live(self, table: dict[str, Any], batch: str) -> Any: ...
    def _listed(self, batch: str) -> About | None: ...


def _info(batch: str, about: About) -> BatchInfo:
    return BatchInfo(batch, about.descriptor, about.created, len(about.planned), about.cancelled)


class MemoryReadModel:
    """The read-model operations (methods typed on `MemoryStore`)."""

    def _describe(
        self: _Core, batch: str, descriptor: bytes, written: Sequence[int], ttl: int
    ) -> None:
        """List ``batch`` (its first write) and count what this write planned."""
        if not descriptor:
            return
        now = self._clock()
        about = self._listed(batch)
        if about is None:
            about = self._read_model.about[batch] = About(descriptor, now, now + ttl)
        about.planned.extend(written)
        about.expires = now + ttl

    def _mark_cancelled(self: _Core, batch: str) -> None:
        about = self._listed(batch)
        if about is not None:
            about.cancelled = self._clock()

    def _listed(self: _Core, batch: str) -> About | None:
        """The batch's listing while it or its members are kept (a re-spread keeps the
        members longer, and the listing with them)."""
        about = self._read_model.about.get(batch)
        if about is None:
            return None
        members = self._live(self._members, batch)
        if members is not None:
            about.expires = max(about.expires, members.expires)
        if about.expires <= self._clock():
            del self._read_model.about[batch]
            return None
        return about

    async def batches(self: _Core, limit: int) -> list[BatchInfo]:
        listed = [
            (batch, about)
            for batch in list(self._read_model.about)
            if (about := self._listed(batch)) is not None
        ]
        listed.sort(key=lambda item: (item[1].created, item[0]), reverse=True)
        return [_info(batch, about) for batch, about in listed[:limit]]

    async def batch(self: _Core, batch: str) -> BatchInfo | None:
        about = self._listed(batch)
        return None if about is None else _info(batch, about)

    async def batch_progress(
        self: _Core, batch: str, start: int, end: int, slices: int, sample: int = 0
    ) -> BatchProgress | None:
        # Always exact: a sample only saves Redis time, and any memory docket is small.
        about = self._listed(batch)
        if about is None:
            return None
        width = (end - start) / slices

        def slice_of(due: int) -> int:
            return min(max(int((due - start) // width), 0), slices - 1)

        planned, waiting = [0] * slices, [0] * slices
        for due in about.planned:
            planned[slice_of(due)] += 1
        members = self._live(self._members, batch)
        for key, due in (members.items if members else {}).items():
            current = self._payloads.get(key)
            if current is not None and current[0] == due:
                waiting[slice_of(due)] += 1
        return BatchProgress(planned, waiting)

    async def worker_reports(self: _Core) -> list[WorkerReport]:
        now = self._clock()
        return [
            WorkerReport(name, seen, self._read_model.reports.get(name, b""))
            for name, (seen, expires) in sorted(self._workers.items())
            if expires > now
        ]

    async def record_lateness(self: _Core, summaries: Sequence[LatenessSummary], keep: int) -> None:
        series = self._read_model.lateness
        for summary in summaries:
            if " " in summary.worker:  # as the Redis store keeps it
                summary = replace(summary, worker=summary.worker.replace(" ", "_"))
            series[_member(summary)] = summary  # the same summary twice is kept once
        oldest = self._clock() - keep
        kept = sorted(member for member in series if member[0] >= oldest)[-LATENESS_CAP:]
        self._read_model.lateness = {member: series[member] for member in kept}

    async def lateness(self: _Core, since: int, limit: int) -> list[LatenessSummary]:
        series = self._read_model.lateness
        return [series[m] for m in sorted(series) if m[0] >= since][:limit]


def _member(summary: LatenessSummary) -> tuple[int, str]:
    """Where the Redis store's sorted set puts ``summary``: by interval start, then by its
    text."""
    text = " ".join(
        str(part)
        for part in (
            summary.at,
            summary.worker,
            summary.count,
            summary.p50,
            summary.p99,
            summary.max,
        )
    )
    return summary.at, text
