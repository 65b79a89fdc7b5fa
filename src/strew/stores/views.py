"""The records of the store's read model: what a dashboard reads without walking the schedule.

* `BatchInfo`: a scatter's descriptor (opaque bytes its writer chose) and what the store knows
  of it, listed newest first by `ReadModelStore.batches`;
* `BatchProgress`: per slice of a window, how many tasks a batch planned and how many still
  wait (`ReadModelStore.batch_progress`);
* `WorkerReport`: a live worker's last heartbeat and the report it carried;
* `LatenessSummary`: one worker's start lateness over one interval, kept as a bounded series.

Times are microseconds on the store's clock, as everywhere at the seam.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class BatchInfo:
    batch: str
    descriptor: bytes
    """What the writer said of the batch (the store never reads it)."""
    created: int
    """The store's time of the batch's first write."""
    written: int
    """How many tasks the batch's writes put on the schedule (its planned members)."""
    cancelled: int | None = None
    """The store's time `cancel_batch` cancelled it, None while it stands."""


@dataclass(frozen=True, slots=True)
class BatchProgress:
    planned: list[int]
    """Per slice, the tasks the batch's writes planned in it."""
    waiting: list[int]
    """Per slice, the members still scheduled at the due time the batch gave them."""
    exact: bool = True
    """False when both were estimated from a sample of the members."""


@dataclass(frozen=True, slots=True)
class WorkerReport:
    worker: str
    last_seen: int
    report: bytes
    """What the worker's last heartbeat carried (empty from a worker that sends none)."""


@dataclass(frozen=True, slots=True)
class LatenessSummary:
    """Start lateness of the tasks one worker started in one interval, in microseconds."""

    at: int
    """The start of the interval."""
    worker: str
    count: int
    p50: int
    p99: int
    max: int


LATENESS_CAP = 100_000
"""The most summaries a docket's lateness series keeps (a day of 10-second intervals from
ten workers), whatever its ``keep``."""
PROGRESS_PAGE = 2_500
"""The most members one step of `ReadModelStore.batch_progress` reads."""


@runtime_checkable
class ReadModelStore(Protocol):
    """What an operator's page reads without walking the schedule: the scatters and their
    progress, the workers' reports, and the start lateness over time."""

    async def batches(self, limit: int) -> list[BatchInfo]:
        """The listed batches (written with a descriptor, see `commit_batch`), newest first,
        at most ``limit``. A batch is listed for as long as its members are kept (cancelled
        ones too, marked); one written without a descriptor (as every batch of a strew
        before this listing) is not listed, and cancels as before.

        Cost: one step reading ``limit`` listed batches (plus the expired ones it meets,
        dropped on the way: at most a few per batch ever written)."""
        ...

    async def batch(self, batch: str) -> BatchInfo | None:
        """The listed batch ``batch`` as `batches` lists it, or None (never listed, or
        expired). Cost: one read, whatever the number of batches."""
        ...

    async def batch_progress(
        self, batch: str, start: int, end: int, slices: int, sample: int = 0
    ) -> BatchProgress | None:
        """Per slice of ``slices`` equal slices of ``[start, end)``: how many tasks the
        batch's writes planned there (each written member at the due time its write gave
        it) and how many members are still scheduled at the due time the batch gave them
        (a re-spread member counts at its new time). Members before ``start`` count in the
        first slice, those at or after ``end`` in the last. None for a batch not listed.

        Exact (``sample`` 0, or a batch of at most ``sample`` members): not one atomic step,
        the members are read in pages of `PROGRESS_PAGE` (2,500), each page in one step
        (about 6 ms of Redis time on an idle machine), O(members) in all: about 2.5 us of
        Redis time per member, seconds at 1,000,000. A change between pages shows in the
        pages read after it. Sampled (a batch of more than ``sample`` members): about
        ``sample`` members read at evenly spaced spots of the batch (in plan order, so every
        stretch of the window is seen), in steps of at most 2,500; planned is scaled to add
        up to what the batch wrote, waiting by members over members read
        (`BatchProgress.exact` is False). A store may answer a sampled read exactly."""
        ...

    async def worker_reports(self) -> list[WorkerReport]:
        """Every live worker (see `ScheduleStore.heartbeat`) with its last heartbeat's time
        and report, by name, in one step. Cost: O(workers)."""
        ...

    async def record_lateness(self, summaries: Sequence[LatenessSummary], keep: int) -> None:
        """Append ``summaries`` to the docket's lateness series, and forget what is older
        than ``keep`` microseconds (by the store's clock) in the same step; the series also
        never holds more than `LATENESS_CAP` summaries (the oldest go)."""
        ...

    async def lateness(self, since: int, limit: int) -> list[LatenessSummary]:
        """The summaries whose interval starts at or after ``since``, oldest first, at most
        ``limit`` (the oldest of them). Cost: O(summaries returned)."""
        ...
