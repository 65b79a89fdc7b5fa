"""One read of the store per refresh interval, however many pages are open.

Every page and fragment asks `SharedReads.read` for what it shows, under a name that says
what was read (``"running"``, ``"task:KEY"``...). A read younger than the interval is
answered from memory; viewers asking while a read is under way wait for that same read. So
the cost of the dashboard to Redis is set by the interval and the number of distinct views
open, not by the number of viewers (docs/dashboard.md measures it).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")

MAX_VIEWS = 256
"""How many distinct reads (a task page each) are kept; the least recent go first."""


class SharedReads:
    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        if not interval > 0:
            raise ValueError(f"interval must be a positive number of seconds, got {interval!r}")
        self.interval = interval
        self._clock = clock
        self._reads: OrderedDict[str, tuple[float, asyncio.Future[Any]]] = OrderedDict()

    async def read(self, name: str, reader: Callable[[], Awaitable[T]]) -> T:
        """What ``reader`` returns, read at most once per interval under ``name``."""
        now = self._clock()
        kept = self._reads.get(name)
        if kept is None or now - kept[0] >= self.interval or _failed(kept[1]):
            future: asyncio.Future[Any] = asyncio.ensure_future(reader())
            self._reads[name] = (now, future)
            while len(self._reads) > MAX_VIEWS:
                self._reads.popitem(last=False)
            kept = (now, future)
        self._reads.move_to_end(name)
        # A viewer that goes away must not cancel the read the others wait for.
        result: T = await asyncio.shield(kept[1])
        return result

    def forget(self) -> None:
        """Drop every kept read: after an action, the next page shows its effect."""
        self._reads.clear()


def _failed(future: asyncio.Future[Any]) -> bool:
    """A read that failed is not kept: the next viewer tries again."""
    return future.done() and (future.cancelled() or future.exception() is not None)
