"""What an operator reads of a docket and steers by hand: snapshots and load, failed and
quarantined tasks, scatters, workers and punctuality (the CLI's and the dashboard's reads).

`Docket` takes these from `OperatorViews` so that docket.py keeps to producing and
cancelling work; each body here is a call into the module that does the work.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from strew.docket import failures as failed
from strew.docket.quarantine import QuarantinedTask, clear_quarantine, drop_quarantined, quarantined
from strew.docket.scatters import ScatterInfo, ScatterProgress, list_scatters, progress_of
from strew.docket.settings import COUNT_CAP, COUNT_SAMPLE
from strew.docket.snapshots import (
    DocketSnapshot,
    TaskSource,
    count_by_function,
    scheduled_histogram,
    take_snapshot,
)
from strew.docket.workers import PunctualityPoint, WorkerInfo, punctuality, workers
from strew.stores.records import FunctionCounts


class OperatorViews:
    """The operator's reads and repairs of a `Docket` (a base of it; see the module)."""

    async def snapshot(self: TaskSource, limit: int | None = None) -> DocketSnapshot:
        """What is scheduled, what runs where, who is alive: every scheduled (and held) task
        by default, as pydocket's ``snapshot()``; ``limit=N`` reads only the earliest ``N``
        of each (``total_tasks`` and ``held_total`` still count them all), which keeps a
        snapshot of a huge docket cheap."""
        return await take_snapshot(self, limit)

    async def scheduled_histogram(
        self: TaskSource, start: datetime, end: datetime, buckets: int
    ) -> list[int]:
        """How many tasks fall due in each of ``buckets`` equal slices of [start, end)."""
        return await scheduled_histogram(self.store, start, end, buckets)

    async def count_by_function(
        self: TaskSource, cap: int = COUNT_CAP, sample: int = COUNT_SAMPLE
    ) -> FunctionCounts:
        """How many scheduled, running and held tasks call each task function: exact for a
        state of at most ``cap`` tasks, estimated from ``sample`` drawn at random above it
        (``exact`` says which). Reads the start of every payload it counts."""
        return await count_by_function(self.store, cap, sample)

    # -- failures and quarantine (logic in failures.py and quarantine.py) ---------------------
    failures, failure = failed.failures, failed.failure
    retry_failed, drop_failed = failed.retry_failed, failed.drop_failed

    async def quarantined(self: TaskSource) -> list[QuarantinedTask]:
        """Tasks a worker moved aside because their payload could not be read, oldest first."""
        return await quarantined(self.store)

    async def drop_quarantined(self: TaskSource, keys: Iterable[str]) -> int:
        """Delete these quarantined tasks for good. Returns how many there were."""
        return await drop_quarantined(self.store, keys)

    async def clear_quarantine(self: TaskSource) -> int:
        """Delete every quarantined task for good. Returns how many there were."""
        return await clear_quarantine(self.store)

    # -- scatters, workers, punctuality (logic in scatters.py and workers.py) -----------------

    async def scatters(self: TaskSource, limit: int = 20) -> list[ScatterInfo]:
        """The scatters still kept (written with this listing), newest first, at most
        ``limit``. Cost: one read of ``limit`` descriptors (see docs/agenda.md)."""
        return await list_scatters(self.store, limit)

    async def scatter_progress(
        self: TaskSource, scatter_id: str | ScatterInfo, slices: int = 60, *, exact: bool = False
    ) -> ScatterProgress | None:
        """The scatter ``scatter_id`` (or one `scatters` listed) over its window in
        ``slices`` slices: planned against started, what waits, and when it should end. None
        for a scatter not listed (unknown, expired, or written by a strew before the
        listing). A scatter of more than 10,000 tasks is estimated from 10,000 of them
        (``exact`` False on the answer) unless ``exact=True``, which reads every one: O(tasks)
        in steps of 2,500 (see docs/agenda.md)."""
        return await progress_of(self.store, scatter_id, slices, exact)

    async def workers(self: TaskSource) -> list[WorkerInfo]:
        """The live workers with what their last heartbeat reported (see docs/workers.md)."""
        return await workers(self.store)

    async def punctuality(
        self: TaskSource, since: datetime | None = None, limit: int = 10_000
    ) -> list[PunctualityPoint]:
        """Start lateness per interval since ``since`` (default: the last hour), merged
        across workers, oldest first (see docs/workers.md)."""
        return await punctuality(self.store, since, limit)
