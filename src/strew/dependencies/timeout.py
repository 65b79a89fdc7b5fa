"""Timeout: a limit on how long one run may take."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from strew.dependencies.base import Dependency, RunContext, check_duration


class Timeout(Dependency):
    """Cancel the run once it has taken ``limit``; a timed-out run is a failure (a `Retry`
    applies). Inside the task, ``timeout.remaining()`` tells what is left and
    ``timeout.extend(by)`` adds time (by default another ``limit``).

    A plain (non-async) function runs in a thread, which cannot be interrupted: its run is
    abandoned at the limit and counted as failed, but the thread finishes on its own."""

    single = True

    def __init__(self, limit: timedelta) -> None:
        self.limit = limit
        self._deadline: float | None = None
        self._scope: asyncio.Timeout | None = None

    def problem(self) -> str | None:
        return check_duration("limit", self.limit, zero_ok=False)

    async def resolve(self, context: RunContext, parameter: str) -> Timeout:
        return Timeout(self.limit)

    def start(self, scope: asyncio.Timeout) -> None:
        """Called by the worker as the task starts; the clock runs from here."""
        self._scope = scope
        self._deadline = asyncio.get_running_loop().time() + self.limit.total_seconds()
        scope.reschedule(self._deadline)

    def remaining(self) -> timedelta:
        if self._deadline is None:
            return self.limit
        left = self._deadline - asyncio.get_running_loop().time()
        return timedelta(seconds=max(left, 0.0))

    def extend(self, by: timedelta | None = None) -> None:
        by = self.limit if by is None else by
        problem = check_duration("by", by, zero_ok=True)
        if problem:
            raise ValueError(problem)
        if self._deadline is None or self._scope is None:
            self.limit += by
            return
        self._deadline += by.total_seconds()
        self._scope.reschedule(self._deadline)

    def __repr__(self) -> str:
        return f"Timeout({self.limit!r})"
