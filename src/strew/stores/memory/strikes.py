"""The memory store's side of strikes: the rules, their version, and the held tasks.

A mixin of `MemoryStore`, so the strike operations live beside, not inside, the core store.
Like the rest of the memory store, no method awaits between reading and writing its state,
so each call is atomic on its event loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from strew.stores.records import Notice, ScheduledTask, Wake


@dataclass(slots=True)
class StrikeState:
    rules: set[bytes] = field(default_factory=set)
    version: int = 0
    held: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    """Held task key -> (due time, payload)."""


class _Core(Protocol):
    """What these methods use of `MemoryStore`."""

    _strikes: StrikeState
    _payloads: dict[str, tuple[int, bytes]]
    _leases: dict[str, Any]

    def _owns(self, key: str, token: str) -> bool: ...
    def _put(self, key: str, due: int, payload: bytes) -> None: ...
    def _publish(self, notice: Notice) -> None: ...
    def _earliest(self) -> int | None: ...


class MemoryStrikes:
    """Strike operations over the memory store's state (methods typed on `MemoryStore`,
    whose schedule and leases they move tasks between)."""

    _strikes: StrikeState

    async def add_strike(self: _Core, rule: bytes) -> int:
        self._strikes.rules.add(bytes(rule))
        self._strikes.version += 1
        return self._strikes.version

    async def remove_strike(self: _Core, rule: bytes) -> tuple[int, int]:
        state = self._strikes
        state.rules.discard(bytes(rule))
        state.version += 1
        earliest = self._earliest()
        restored = 0
        first: int | None = None
        for key, (due, payload) in sorted(state.held.items(), key=lambda item: item[1][0]):
            if key in self._payloads:
                continue  # scheduled again while held: the newer schedule stands
            self._put(key, due, payload)
            restored += 1
            first = due if first is None else min(first, due)
        state.held.clear()
        if first is not None and (earliest is None or first < earliest):
            self._publish(Wake(first))
        return state.version, restored

    async def strikes(self: _Core) -> tuple[int, list[bytes]]:
        return self._strikes.version, sorted(self._strikes.rules)

    async def hold(self: _Core, holds: Sequence[tuple[str, str]], version: int) -> list[bool]:
        if version != self._strikes.version:
            return [False] * len(holds)
        held: list[bool] = []
        for key, token in holds:
            if not self._owns(key, token):
                held.append(False)
                continue
            lease = self._leases.pop(key)
            self._strikes.held[key] = (lease.due, lease.payload)
            held.append(True)
            if key in self._payloads:
                # A newer schedule of this key was waiting for this lease to end.
                self._publish(Wake(self._payloads[key][0]))
        return held

    async def held_tasks(self: _Core, limit: int) -> tuple[int, list[ScheduledTask]]:
        held = self._strikes.held
        earliest = sorted(held.items(), key=lambda item: (item[1][0], item[0]))[: max(limit, 0)]
        return len(held), [ScheduledTask(key, due, payload) for key, (due, payload) in earliest]

    def _destroy_strikes(self) -> None:
        self._strikes = StrikeState()
