"""The Redis store's read-only views of the schedule: `Store.snapshot`, `histogram` and
`count_functions` (methods typed on `RedisStore`), one script each."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from strew.stores.records import (
    FunctionCounts,
    FunctionTally,
    RunningTask,
    ScheduledTask,
    StoreSnapshot,
    WorkerSeen,
    scaled,
)
from strew.stores.redis.common import _optional_int, _text

T = TypeVar("T")

SNAPSHOT_SCRIPTS = ("snapshot", "histogram", "count_functions")


class _Core(Protocol):
    """What these methods use of `RedisStore`."""

    schedule_key: str
    workers_key: str
    seen_key: str
    quarantine_key: str
    dues_key: str
    _task_keys: list[str]

    def _strike_keys(self) -> list[str]: ...
    async def _call(self, what: str, operation: Callable[[], Awaitable[T]]) -> T: ...
    async def _script(self, name: str, what: str, keys: list[str], args: list[Any]) -> Any: ...


def _tally(reply: list[Any]) -> FunctionTally:
    """One state's part of count_functions.lua's answer: total, seen, then name/count pairs."""
    counts = {_text(reply[i]): int(reply[i + 1]) for i in range(2, len(reply), 2)}
    return scaled(int(reply[0]), int(reply[1]), counts)


class RedisSnapshots:
    """`Store.snapshot`, `histogram` and `count_functions` (methods typed on `RedisStore`)."""

    async def snapshot(self: _Core, limit: int) -> StoreSnapshot:
        keys = [
            *self._task_keys[:5],
            self.workers_key,
            self.seen_key,
            self.quarantine_key,
            self.dues_key,
        ]
        now, total, scheduled, held, live, quarantined = await self._script(
            "snapshot", "take a snapshot", keys, [limit]
        )
        return StoreSnapshot(
            now=int(now),
            scheduled_total=int(total),
            scheduled=[
                ScheduledTask(_text(scheduled[i]), int(float(scheduled[i + 1])), scheduled[i + 2])
                for i in range(0, len(scheduled), 3)
            ],
            running=[
                RunningTask(
                    _text(held[i]),
                    _text(held[i + 1]),
                    int(float(held[i + 2])),
                    held[i + 3],
                    _optional_int(held[i + 4]),
                )
                for i in range(0, len(held), 5)
            ],
            workers=[WorkerSeen(_text(live[i]), int(live[i + 1])) for i in range(0, len(live), 2)],
            quarantined=int(quarantined),
        )

    async def histogram(self: _Core, start: int, end: int, buckets: int) -> list[int]:
        edges = [start + (end - start) * i // buckets for i in range(buckets + 1)]
        counts = await self._script(
            "histogram", "count scheduled tasks", [self.schedule_key], edges
        )
        return [int(n) for n in counts]

    async def count_functions(self: _Core, cap: int, sample: int) -> FunctionCounts:
        keys = [*self._task_keys[:4], *self._strike_keys()[2:]]
        scheduled, running, held = await self._script(
            "count_functions", "count tasks by function", keys, [cap, sample]
        )
        return FunctionCounts(_tally(scheduled), _tally(running), _tally(held))
