"""The memory store's side of batches (`Agenda.scatter`): stages committed in one step, and
the members a batch wrote, so one call can cancel what is left of it.

A mixin of `MemoryStore`. Like the rest of the memory store, no method awaits between reading
and writing its state, so each call is atomic on its event loop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from strew.stores.records import Entry, StoreError

T = TypeVar("T")


@dataclass(slots=True)
class Expiring(Generic[T]):
    """A keyed collection forgotten at ``expires`` (store clock), like a Redis key's TTL."""

    items: dict[str, T]
    expires: int
    count: int = 0
    """Entries added in all, a repeated key too (what a stage reports, as Redis counts it)."""
    repeats: list[str] = field(default_factory=list)
    """Keys added again after their first entry (a stage commits the first, skips these)."""


class _Core(Protocol):
    """What these methods use of `MemoryStore`."""

    _clock: Callable[[], int]
    _payloads: dict[str, tuple[int, bytes]]
    _leases: dict[str, Any]
    _stages: dict[str, Expiring[Entry]]
    _members: dict[str, Expiring[int]]

    def _put(self, key: str, due: int, payload: bytes) -> None: ...
    def _drop(self, key: str) -> bool: ...
    def _earliest(self) -> int | None: ...
    def _wake_if_earlier(self, due: int, earliest: int | None) -> None: ...
    def _live(self, table: dict[str, Expiring[T]], batch: str) -> Expiring[T] | None: ...
    def _remember(self, batch: str, written: dict[str, int], ttl: int) -> None: ...
    async def schedule(self, entries: Sequence[Entry], *, replace: bool) -> list[bool]: ...
    def _describe(
        self, batch: str, descriptor: bytes, written: Sequence[int], ttl: int
    ) -> None: ...
    def _mark_cancelled(self, batch: str) -> None: ...


class MemoryBatches:
    """The batch operations of `Store` (methods typed on `MemoryStore`)."""

    def _live(self: _Core, table: dict[str, Expiring[T]], batch: str) -> Expiring[T] | None:
        found = table.get(batch)
        if found is not None and found.expires <= self._clock():
            del table[batch]
            return None
        return found

    def _remember(self: _Core, batch: str, written: dict[str, int], ttl: int) -> None:
        members = self._live(self._members, batch)
        if members is None:
            members = self._members[batch] = Expiring({}, 0)
        members.items.update(written)
        members.expires = self._clock() + ttl

    async def stage_batch(self: _Core, batch: str, entries: Sequence[Entry], ttl: int) -> int:
        stage = self._live(self._stages, batch)
        if stage is None:
            stage = self._stages[batch] = Expiring({}, 0)
        for entry in entries:
            if entry.key in stage.items:
                stage.repeats.append(entry.key)
            else:
                stage.items[entry.key] = entry
        stage.count += len(entries)
        stage.expires = self._clock() + ttl
        return stage.count

    async def commit_batch(
        self: _Core, batch: str, expected: int, members_ttl: int, descriptor: bytes = b""
    ) -> list[str]:
        stage = self._live(self._stages, batch)
        self._stages.pop(batch, None)
        # Count the entries the stage holds, never the running count beside them: the Redis
        # store can lose one without the other (eviction, expiry), and both stores keep the
        # same contract.
        staged = 0 if stage is None else len(stage.items) + len(stage.repeats)
        if stage is None or staged != expected:
            raise StoreError(
                f"the stage of batch {batch!r} holds {staged} of {expected} entries "
                "(evicted, expired, discarded or cancelled); nothing was written"
            )
        earliest = self._earliest()
        skipped: list[str] = []
        written: dict[str, int] = {}
        for key, entry in stage.items.items():
            if key in self._payloads or key in self._leases:
                skipped.append(key)
            else:
                self._put(key, entry.due, entry.payload)
                written[key] = entry.due
        skipped += stage.repeats
        self._describe(batch, descriptor, list(written.values()), members_ttl)
        if written:
            self._remember(batch, written, members_ttl)
            self._wake_if_earlier(min(written.values()), earliest)
        return skipped

    async def discard_batch(self: _Core, batch: str) -> None:
        self._stages.pop(batch, None)

    async def schedule_batch(
        self: _Core, batch: str, entries: Sequence[Entry], members_ttl: int, descriptor: bytes = b""
    ) -> list[bool]:
        if not entries:
            return []
        flags = await self.schedule(entries, replace=False)
        written = {entry.key: entry.due for entry, flag in zip(entries, flags, strict=True) if flag}
        self._describe(batch, descriptor, list(written.values()), members_ttl)
        if written:
            self._remember(batch, written, members_ttl)
        return flags

    async def cancel_batch(self: _Core, batch: str) -> int:
        self._mark_cancelled(batch)
        self._stages.pop(batch, None)
        members = self._live(self._members, batch)
        self._members.pop(batch, None)
        removed = 0
        for key, due in (members.items if members else {}).items():
            current = self._payloads.get(key)
            if current is not None and current[0] == due:
                removed += self._drop(key)
        return removed
