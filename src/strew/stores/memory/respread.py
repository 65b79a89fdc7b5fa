"""The memory store's side of catch-up: re-spreading a batch that fell behind.

A mixin of `MemoryStore`, beside the batch operations whose members it re-times. Like the rest
of the memory store, no method awaits between reading and writing its state, so each call is
atomic on its event loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from strew.stores.records import Notice, Respread, Wake


class _Core(Protocol):
    """What this uses of `MemoryStore`."""

    _payloads: dict[str, tuple[int, bytes]]
    _leases: dict[str, Any]
    _members: dict[str, Any]

    def _live(self, table: Any, batch: str) -> Any: ...
    def _put(self, key: str, due: int, payload: bytes) -> None: ...
    def _publish(self, notice: Notice) -> None: ...
    def _earliest(self) -> int | None: ...


class MemoryRespread:
    """`Store.respread_batch` over the memory store's state (typed on `MemoryStore`)."""

    async def respread_batch(
        self: _Core,
        batch: str,
        start: int,
        spacing: int,
        overdue: int,
        claims: Sequence[tuple[str, str]] = (),
    ) -> Respread:
        threshold = start - overdue
        members = self._live(self._members, batch)
        flags = [False] * len(claims)
        offered: dict[str, int] = {}  # key -> position in claims, of claims that may come back
        for position, (key, token) in enumerate(claims):
            held = self._leases.get(key)
            if (
                key not in offered
                and held is not None
                and held.token == token
                and key not in self._payloads  # not scheduled again meanwhile
                and held.due < threshold
                and members is not None
                and members.items.get(key) == held.due  # a time the batch gave it
            ):
                offered[key] = position
        earliest = self._earliest()
        if members is None or (not offered and (earliest is None or earliest >= threshold)):
            return Respread(0, flags)  # nothing overdue enough: no need to look closer
        live = sorted(
            (due, key)
            for key, due in members.items.items()
            if key in offered or (key in self._payloads and self._payloads[key][0] == due)
        )
        if not live or live[0][0] >= threshold:
            return Respread(0, flags)
        # The re-spread queues behind members already claimed at a time the batch gave them
        # and later than ``start`` (claimed early, on an earlier re-spread's times), and
        # behind the members due in [threshold, start] that ran, or run now, without it.
        frontier = max(
            [start]
            + [
                held.due
                for key, held in self._leases.items()
                if key not in offered and members.items.get(key) == held.due
            ]
        )
        coming = {key for _, key in live}
        reserved = sum(
            1
            for key, due in members.items.items()
            if threshold <= due <= start and key not in coming
        )
        previous = max(start + reserved * spacing, frontier)
        moved, push = 0, 0
        first: int | None = None
        for old, key in live:
            due = max(old, previous + spacing)
            if key in offered:
                held = self._leases.pop(key)
                self._put(key, due, held.payload)
                flags[offered[key]] = True
                first = due if first is None else first
            elif due != old:
                self._put(key, due, self._payloads[key][1])
            if due != old or key in offered:
                members.items[key] = due
                moved += 1
                push = max(push, due - old)
            previous = due
        members.expires += push
        if first is not None:
            self._publish(Wake(first))
        return Respread(moved, flags)
