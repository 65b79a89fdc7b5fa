"""The memory store's side of automatic chains: putting back the ones that are gone.

A mixin of `MemoryStore`, beside the strike operations. Like the rest of the memory store, no
method awaits between reading and writing its state, so each call is atomic on its event loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from strew.stores.memory.strikes import StrikeState
from strew.stores.records import Entry


class _Core(Protocol):
    """What these methods use of `MemoryStore`."""

    _strikes: StrikeState
    _payloads: dict[str, tuple[int, bytes]]
    _leases: dict[str, Any]
    _ended: dict[str, int]

    def _put(self, key: str, due: int, payload: bytes) -> None: ...
    def _earliest(self) -> int | None: ...
    def _wake_if_earlier(self, due: int, earliest: int | None) -> None: ...


class MemoryChains:
    """`Store.restore_chains` over the memory store's state."""

    async def restore_chains(self: _Core, entries: Sequence[Entry], since: int) -> list[bool]:
        earliest = self._earliest()
        first: int | None = None
        written: list[bool] = []
        for entry in entries:
            key = entry.key
            alive = key in self._payloads or key in self._leases or key in self._strikes.held
            ended = self._ended.get(key)
            if not alive and ended is not None and ended >= since:
                written.append(False)
                continue
            self._ended.pop(key, None)  # alive, or about to be: an ordinary chain again
            if alive:
                written.append(False)
                continue
            self._put(key, entry.due, entry.payload)
            written.append(True)
            first = entry.due if first is None else min(first, entry.due)
        if first is not None:
            self._wake_if_earlier(first, earliest)
        return written
