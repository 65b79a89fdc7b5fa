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

from dataclasses import dataclass


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
PROGRESS_PAGE = 5_000
"""The most members one step of `ReadModelStore.batch_progress` reads."""
