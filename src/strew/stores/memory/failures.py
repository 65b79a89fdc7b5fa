"""The memory store's side of the record of failures (see `FailureStore`).

A mixin of `MemoryStore`: a sorted list of ``(failed at, key)`` beside a dict of entries, so
trimming the oldest and listing the newest each cost O(log n) per entry touched. Like the
rest of the memory store, no method awaits between reading and writing its state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sortedcontainers import SortedList

from strew.stores.memory.strikes import StrikeState
from strew.stores.records import Entry, FailedTask, FailureNote, RetryOutcome

FAILURE_TRIM = 1000
"""At most this many entries go per write (as failure_record.lua does)."""


@dataclass(slots=True)
class FailureRecord:
    order: SortedList = field(default_factory=SortedList)
    """(failed at, key), oldest first."""
    entries: dict[str, tuple[int, bytes, bytes]] = field(default_factory=dict)
    """key -> (failed at, note, payload)."""

    def forget(self, key: str) -> bool:
        found = self.entries.pop(key, None)
        if found is None:
            return False
        self.order.remove((found[0], key))
        return True

    def add(self, key: str, at: int, payload: bytes, failure: FailureNote) -> None:
        if self.order:  # no two entries share a time (as failure_record.lua does)
            at = max(at, self.order[-1][0] + 1)
        self.forget(key)
        self.entries[key] = (at, failure.note, payload)
        self.order.add((at, key))
        over = min(len(self.order) - failure.keep, FAILURE_TRIM)
        for _, old in list(self.order.islice(0, max(over, 0))):
            self.forget(old)
        stale = self.order.bisect_left((at - failure.max_age,))
        for _, old in list(self.order.islice(0, min(stale, FAILURE_TRIM))):
            self.forget(old)

    def clear(self) -> None:
        self.order.clear()
        self.entries.clear()


class _Core(Protocol):
    """What these methods use of `MemoryStore`."""

    _failures: FailureRecord
    _strikes: StrikeState
    _payloads: dict[str, tuple[int, bytes]]
    _leases: dict[str, Any]

    def _put(self, key: str, due: int, payload: bytes) -> None: ...
    def _earliest(self) -> int | None: ...
    def _wake_if_earlier(self, due: int, earliest: int | None) -> None: ...
    def _failed(self, key: str) -> FailedTask: ...


class MemoryFailures:
    """`Store.failures`, `drop_failures` and `retry_failures` over the memory store's state
    (methods typed on `MemoryStore`)."""

    async def failures(self: _Core, limit: int, before: int | None = None) -> list[FailedTask]:
        if limit <= 0:
            return []
        record = self._failures
        top = len(record.order) if before is None else record.order.bisect_left((before,))
        return [
            self._failed(key)
            for _, key in record.order.islice(max(top - limit, 0), top, reverse=True)
        ]

    async def failure(self: _Core, key: str) -> FailedTask | None:
        return self._failed(key) if key in self._failures.entries else None

    def _failed(self: _Core, key: str) -> FailedTask:
        at, note, payload = self._failures.entries[key]
        waiting = self._payloads.get(key)
        return FailedTask(
            key, payload, at, note, None if waiting is None else waiting[0], key in self._leases
        )

    async def drop_failures(self: _Core, keys: Sequence[str] | None) -> int:
        if keys is None:
            dropped = len(self._failures.entries)
            self._failures.clear()
            return dropped
        return sum(self._failures.forget(key) for key in set(keys))

    async def retry_failures(self: _Core, entries: Sequence[Entry]) -> list[RetryOutcome]:
        earliest = self._earliest()
        first: int | None = None
        outcomes: list[RetryOutcome] = []
        for entry in entries:
            if entry.key not in self._failures.entries:
                outcomes.append("missing")
                continue
            if entry.key in self._leases or entry.key in self._strikes.held:
                outcomes.append("busy")
                continue
            waiting = self._payloads.get(entry.key)
            if waiting is not None:
                outcomes.append("hastened")
                if entry.due >= waiting[0]:
                    continue
                self._put(entry.key, entry.due, waiting[1])
            else:
                outcomes.append("retried")
                self._put(entry.key, entry.due, entry.payload)
                self._failures.forget(entry.key)
            first = entry.due if first is None else min(first, entry.due)
        if first is not None:
            self._wake_if_earlier(first, earliest)
        return outcomes
