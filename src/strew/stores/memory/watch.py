"""The memory store's watch: which worker acts on wake-ups, and the line of those waiting.

The same rules as ``claim.lua`` and ``forget.lua`` in the Redis store (docs/workers.md, "How
a fleet wakes"): one worker with room at a time holds the watch for a short lease; the
others with room wait in line; a watcher that fills up or stops hands the watch to the first
in line that is still checking in.
"""

from __future__ import annotations

HANDOFF_LEASE = 2_000_000
"""The watch lease (us) a stopping worker hands on with (as the Redis store's)."""


class WatchBook:
    def __init__(self) -> None:
        self.holder: str | None = None
        self.until = 0
        self.line: dict[str, int] = {}  # worker -> until when it waits in line (us)

    def _current(self, now: int) -> str | None:
        if self.holder is not None and self.until <= now:
            self.holder = None
        for worker, until in list(self.line.items()):
            if until <= now:
                del self.line[worker]
        return self.holder

    def _hand_on(self, now: int, lease: int) -> str | None:
        """Give the watch to the first in line (the one waiting to leave it soonest, ties by
        name, as a Redis sorted set orders them); None when nobody waits."""
        self.holder = None
        if not self.line:
            return None
        first = min(self.line.items(), key=lambda item: (item[1], item[0]))[0]
        del self.line[first]
        self.holder, self.until = first, now + lease
        return first

    def after_claim(self, worker: str, room: bool, now: int, lease: int) -> tuple[int, str | None]:
        """A claim by ``worker`` (left with ``room`` or not) under a watch ``lease``: its place
        in line (0: none), and the worker the watch was handed to, if any."""
        holder = self._current(now)
        self.line.pop(worker, None)
        if room:
            if holder is None or holder == worker:
                self.holder, self.until = worker, now + lease
                return 0, None
            self.line[worker] = now + 3 * lease
            return len(self.line), None
        if holder is None or holder == worker:
            return 0, self._hand_on(now, lease)
        return 0, None

    def forget(self, worker: str, now: int) -> str | None:
        """``worker`` stops: out of the line, and a watch it held is handed on."""
        holder = self._current(now)
        self.line.pop(worker, None)
        if holder == worker:
            return self._hand_on(now, HANDOFF_LEASE)
        return None
