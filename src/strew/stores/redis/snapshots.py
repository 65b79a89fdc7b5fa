"""The Redis store's read-only views of the schedule: `Store.snapshot`, `histogram` and
`count_functions` (methods typed on `RedisStore`).

Redis runs one step (a command or a script) at a time, and every other client waits while it
runs, so a read that walks many entries walks them in pages of at most `SNAPSHOT_PAGE`,
`COUNT_PAGE` or `SAMPLE_PAGE`, one script each, whatever the docket's size (issue 18: no step
over about 50 ms). A page goes on after the last entry the previous one read (its score and
key: see lua/after_cursor.lua), not after a rank, so an entry that stays put while the
others come and go is read exactly once.
"""

from __future__ import annotations

import random
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

SNAPSHOT_SCRIPTS = (
    "snapshot",
    "snapshot_page",
    "histogram",
    "count_functions",
    "sample_functions",
)

SNAPSHOT_PAGE = 2_000
"""Scheduled tasks (with their payloads) a snapshot reads per step: about 7 ms of Redis at
small payloads, so a snapshot of a million is 500 short steps rather than one of seconds."""
COUNT_PAGE = 10_000
"""Payloads `count_functions` reads per step when it counts a state exactly (about 10 ms)."""
SAMPLE_PAGE = 5_000
"""Payloads `count_functions` reads per step when it samples a state (the default sample,
`COUNT_SAMPLE`, in one step)."""


class _Core(Protocol):
    """What these methods use of `RedisStore`."""

    schedule_key: str
    payloads_key: str
    workers_key: str
    seen_key: str
    quarantine_key: str
    dues_key: str
    _task_keys: list[str]

    def _strike_keys(self) -> list[str]: ...
    async def _call(self, what: str, operation: Callable[[], Awaitable[T]]) -> T: ...
    async def _script(self, name: str, what: str, keys: list[str], args: list[Any]) -> Any: ...


def _scheduled(reply: list[Any]) -> list[ScheduledTask]:
    """{key, due, payload, ...} as snapshot.lua and snapshot_page.lua return it."""
    return [
        ScheduledTask(_text(reply[i]), int(float(reply[i + 1])), reply[i + 2])
        for i in range(0, len(reply), 3)
    ]


class RedisSnapshots:
    """`Store.snapshot`, `histogram` and `count_functions` (methods typed on `RedisStore`)."""

    async def snapshot(self: _Core, limit: int) -> StoreSnapshot:
        """See `Store.snapshot`. The first `SNAPSHOT_PAGE` scheduled tasks come in the one
        step that reads everything else; further ones in later steps of a page each, so a
        snapshot of more than a page is read in pages, not as one picture: a task claimed or
        cancelled between two pages may be missing, one added may be there, and one moved
        past the pages already read (a release, a reschedule) is returned once, where it was
        first read."""
        keys = [
            *self._task_keys[:5],
            self.workers_key,
            self.seen_key,
            self.quarantine_key,
            self.dues_key,
        ]
        first = min(max(limit, 0), SNAPSHOT_PAGE)
        now, total, head, held, live, quarantined = await self._script(
            "snapshot", "take a snapshot", keys, [first]
        )
        scheduled = _scheduled(head)
        page = head
        if len(scheduled) == first and limit > first:
            known = {task.key for task in scheduled}
            while len(scheduled) < limit:
                wanted = min(SNAPSHOT_PAGE, limit - len(scheduled))
                page = await self._script(
                    "snapshot_page",
                    "read the schedule",
                    [self.schedule_key, self.payloads_key],
                    [page[-2], page[-3], wanted],  # the cursor: the last task read
                )
                for task in _scheduled(page):
                    if task.key not in known:
                        known.add(task.key)
                        scheduled.append(task)
                if len(page) < 3 * wanted:
                    break
        return StoreSnapshot(
            now=int(now),
            scheduled_total=int(total),
            scheduled=scheduled,
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
        """See `Store.count_functions`. Each state is read in steps of a page: exactly in
        pages of `COUNT_PAGE` payloads (so not as one picture: a task added or removed
        meanwhile may or may not be counted, and ``total`` is how many were), or, above
        ``cap``, a sample drawn as random ranks of its index, read `SAMPLE_PAGE` at a time."""
        keys = [*self._task_keys[:4], *self._strike_keys()[2:]]
        return FunctionCounts(
            await _tally(self, keys[0], keys[1], cap, sample),
            await _tally(self, keys[2], keys[3], cap, sample),
            await _tally(self, keys[4], keys[5], cap, sample),
        )


async def _tally(store: _Core, index: str, hash: str, cap: int, sample: int) -> FunctionTally:
    """One state's count: exact while it holds at most ``cap`` tasks, else sampled."""
    counts: dict[str, int] = {}
    seen = 0
    cursor: list[Any] = ["", ""]
    while True:
        reply = await store._script(
            "count_functions", "count tasks by function", [index, hash], [cap, *cursor, COUNT_PAGE]
        )
        total, read = int(reply[0]), int(reply[1])
        if total > cap or seen + read > cap:
            # Too many to count (or grown past the cap while counted): a sample instead.
            return await _sampled(store, index, hash, total, sample)
        for i in range(4, len(reply), 2):
            name = _text(reply[i])
            counts[name] = counts.get(name, 0) + int(reply[i + 1])
        seen += read
        if read < COUNT_PAGE:
            return scaled(seen, seen, counts)
        cursor = [reply[2], reply[3]]


async def _sampled(store: _Core, index: str, hash: str, total: int, sample: int) -> FunctionTally:
    """``sample`` of a state's ``total`` tasks at random ranks, without repeats, scaled."""
    ranks = sorted(random.sample(range(total), min(max(sample, 0), total)))
    counts: dict[str, int] = {}
    drawn: set[str] = set()
    for start in range(0, len(ranks), SAMPLE_PAGE):
        reply = await store._script(
            "sample_functions",
            "sample tasks by function",
            [index, hash],
            ranks[start : start + SAMPLE_PAGE],
        )
        for i in range(0, len(reply), 2):
            key, name = _text(reply[i]), _text(reply[i + 1])
            if key not in drawn:
                drawn.add(key)
                counts[name] = counts.get(name, 0) + 1
    return scaled(total, len(drawn), counts)
