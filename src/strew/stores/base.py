"""The storage seam: the few domain operations a docket needs, over opaque bytes.

A store keeps three things for one docket:

* the **schedule**: task keys ordered by due time, each with an opaque payload;
* the **leases**: keys a worker has claimed and is running, each with the claim's token,
  the payload and a lease deadline;
* the **workers**: names with the time each was last seen.

Times are integers, microseconds since the Unix epoch, on the *store's* clock (the Redis
server's ``TIME`` for Redis), so that producers and workers on machines whose clocks disagree
still agree on what is due.

Every method below states what it does atomically. Serialisation, dispositions, retries and
metrics live above this seam, once; a store never looks inside a payload.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


class StoreError(Exception):
    """A store operation failed."""


class StoreUnavailable(StoreError):
    """The store could not be reached (connection refused, timed out, or dropped)."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One task to put on the schedule."""

    key: str
    due: int
    """Due time, microseconds since the epoch."""
    payload: bytes


@dataclass(frozen=True, slots=True)
class Claim:
    """A task a worker now holds under a lease."""

    key: str
    token: str
    """Proof of this particular claim; finishing, extending or releasing needs it."""
    payload: bytes
    due: int
    """The due time it was scheduled for (a redelivery keeps its original due time)."""
    redelivered: bool
    """True when an earlier lease on this task expired without being finished."""


@dataclass(frozen=True, slots=True)
class ClaimResult:
    claims: list[Claim]
    now: int
    """The store's clock when the claim was made."""
    next_due: int | None
    """The earliest time something else becomes claimable: the first scheduled task still
    waiting, or the first lease deadline. None when there is nothing at all."""
    scheduled: int
    """How many tasks remain on the schedule after this claim."""
    running: int
    """How many tasks are under a lease (by any worker) after this claim."""


@dataclass(frozen=True, slots=True)
class Finish:
    """Acknowledge one claim, optionally putting the task back on the schedule."""

    key: str
    token: str
    reschedule: Entry | None = None
    """Scheduled under the same ``key`` (the entry's own key is not used) in the same atomic
    step as the acknowledgement (retries, perpetual tasks). Ignored if the key was scheduled
    again meanwhile (a ``replace`` wins)."""


@dataclass(frozen=True, slots=True)
class Release:
    """Hand a claim back without running it, to be claimed again at ``due``."""

    key: str
    token: str
    due: int


@dataclass(frozen=True, slots=True)
class ScheduledTask:
    key: str
    due: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class RunningTask:
    key: str
    token: str
    lease_deadline: int
    payload: bytes

    @property
    def worker(self) -> str:
        return worker_of(self.token)


@dataclass(frozen=True, slots=True)
class WorkerSeen:
    name: str
    last_seen: int


@dataclass(frozen=True, slots=True)
class StoreSnapshot:
    now: int
    scheduled_total: int
    scheduled: list[ScheduledTask]
    """The earliest scheduled tasks, at most the limit asked for."""
    running: list[RunningTask]
    workers: list[WorkerSeen] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Wake:
    """Something became due at ``due`` (or earlier than a sleeping worker expected)."""

    due: int


@dataclass(frozen=True, slots=True)
class CancelRequested:
    """Someone asked for the running task ``key`` to be cancelled."""

    key: str


Notice = Wake | CancelRequested


def token_for(worker: str, sequence: int) -> str:
    return f"{worker}/{sequence}"


def worker_of(token: str) -> str:
    return token.rsplit("/", 1)[0]


@runtime_checkable
class Store(Protocol):
    """The operations one docket needs from its storage."""

    async def schedule(self, entries: Sequence[Entry], *, replace: bool) -> list[bool]:
        """Put ``entries`` on the schedule, atomically as one step.

        Without ``replace``, an entry whose key is already scheduled or running is skipped
        (its earlier schedule kept) and reported False. With ``replace`` every entry is
        written, superseding an earlier schedule of its key; a run already in progress under
        that key is left to finish. Returns one bool per entry: True when it was written.
        Wakes sleeping workers when an entry is due before everything already scheduled.
        """
        ...

    async def cancel(self, keys: Sequence[str]) -> int:
        """Remove ``keys`` from the schedule atomically; ask workers running any of them to
        cancel it (best effort, not atomic with the removal). Returns how many scheduled
        tasks were removed."""
        ...

    async def claim(self, worker: str, limit: int, lease: int, horizon: int) -> ClaimResult:
        """Atomically take up to ``limit`` tasks under a lease of ``lease`` microseconds.

        Tasks whose lease has expired are taken first (marked redelivered), then scheduled
        tasks due up to ``horizon`` microseconds after now, earliest first. A scheduled key
        that is still running under another lease is left waiting until that run ends, so
        one key never runs twice at once. Each claim gets a fresh token.
        """
        ...

    async def finish(self, finishes: Sequence[Finish]) -> list[bool]:
        """Acknowledge claims. Each finish is atomic on its own (lease removal together with
        its optional reschedule); the batch as a whole is applied in one step. A finish whose
        token no longer holds the lease (it expired and was claimed again) changes nothing
        and is reported False."""
        ...

    async def extend(self, leases: Sequence[tuple[str, str]], lease: int) -> list[bool]:
        """Push the deadline of each ``(key, token)`` lease to now + ``lease``. False where
        the token no longer holds the lease."""
        ...

    async def release(self, releases: Sequence[Release]) -> list[bool]:
        """Give claims back: each task returns to the schedule at its ``due`` time, unless
        its key was scheduled again meanwhile, in which case the newer schedule stands.
        False where the token no longer holds the lease."""
        ...

    async def clear(self) -> int:
        """Drop every scheduled task atomically; running tasks are left alone. Returns how
        many were dropped."""
        ...

    async def snapshot(self, limit: int) -> StoreSnapshot:
        """A consistent picture: the earliest ``limit`` scheduled tasks, every running task
        and every worker seen recently."""
        ...

    async def histogram(self, start: int, end: int, buckets: int) -> list[int]:
        """How many scheduled tasks fall due in each of ``buckets`` equal slices of
        ``[start, end)``."""
        ...

    async def heartbeat(self, worker: str, ttl: int) -> None:
        """Record that ``worker`` is alive; it is forgotten ``ttl`` microseconds later
        unless it beats again."""
        ...

    async def forget_worker(self, worker: str) -> None:
        """Remove ``worker`` from the live workers at once (clean shutdown)."""
        ...

    async def now(self) -> int:
        """The store's clock."""
        ...

    def notifications(self) -> AsyncIterator[Notice]:
        """Wake-ups and cancellation requests, for as long as the consumer iterates.

        The first notice is a ``Wake(0)`` once the subscription is in place (nothing
        published before it is seen). Implementations reconnect on their own and yield
        another ``Wake(0)`` after any gap in which notices may have been missed."""
        ...

    async def destroy(self) -> None:
        """Delete everything this docket stores (tests and tear-down only)."""
        ...

    async def close(self) -> None:
        """Release connections. The store may not be used afterwards."""
        ...

    # -- batches: the storage side of `Agenda.scatter` --------------------------------------
    #
    # A batch has an id chosen by the caller. Its entries are either *staged* (invisible to
    # workers) and then *committed* in one atomic step, or written straight to the schedule
    # chunk by chunk. Either way the keys it wrote are remembered as its *members*, so that one
    # call can cancel what is left of it.

    async def stage_batch(self, batch: str, entries: Sequence[Entry], ttl: int) -> int:
        """Add ``entries`` to the stage of ``batch``, atomically per call.

        Nothing staged is seen by `claim`, `snapshot`, `histogram` or `clear`. The whole stage
        is forgotten ``ttl`` microseconds after its last write unless it is committed first:
        the backstop for a producer that died (or lost the store) half-way through. A key
        staged twice keeps its later entry. Returns how many entries the stage now holds.
        """
        ...

    async def commit_batch(self, batch: str, expected: int, members_ttl: int) -> list[str]:
        """Move the whole stage of ``batch`` onto the schedule in one atomic step.

        Each staged entry is written as `schedule` without ``replace`` would: a key already
        scheduled or running keeps its earlier schedule, and is returned in the list of
        skipped keys. The written keys become the batch's members (see `cancel_batch`) for
        ``members_ttl`` microseconds. The stage is gone afterwards. If the stage does not
        hold exactly ``expected`` entries (part of it expired, or it was discarded or
        cancelled meanwhile) nothing is written, the stage is dropped and `StoreError` is
        raised.
        """
        ...

    async def discard_batch(self, batch: str) -> None:
        """Drop the stage of ``batch`` without writing anything (failed or abandoned
        scatters). Harmless when there is no such stage."""
        ...

    async def schedule_batch(
        self, batch: str, entries: Sequence[Entry], members_ttl: int
    ) -> list[bool]:
        """`schedule` without ``replace``, and, in the same atomic step, add the keys it
        wrote to the members of ``batch`` (kept ``members_ttl`` microseconds from now).
        Used by streamed scatters, one chunk per call."""
        ...

    async def cancel_batch(self, batch: str) -> int:
        """Atomically remove from the schedule every member of ``batch`` that is still
        scheduled at the due time the batch gave it (a key scheduled again since, at another
        time, is left alone); running tasks finish. Drops the batch's members and any stage
        it still has, so a commit still to come fails instead of writing. Returns how many
        scheduled tasks were removed."""
        ...

    async def respread_batch(self, batch: str, start: int, spacing: int, overdue: int) -> int:
        """Re-time what is left of ``batch`` after an outage, atomically, if it fell behind.

        The batch's *live* members are those still scheduled at the due time the batch gave
        them. Unless the earliest of them is due before ``start - overdue``, nothing changes
        and 0 is returned. Otherwise, in due order (ties by key), each gets ``new_due =
        max(old_due, previous new_due + spacing)``, starting from ``start``: the overdue part
        is spread ``spacing`` apart from ``start`` on, and later tasks move back only as far
        as that needs, so the batch never starts faster than one per ``spacing``. Tasks only
        ever move later (no wake-up is needed). The members' recorded due times follow, so
        `cancel_batch` still cancels them, and the members are kept longer by as much as the
        furthest task moved. Returns how many tasks were moved.

        Cost: one lookup when nothing in the docket is overdue enough; otherwise a read of
        the batch's members plus a write per task moved. A ``spacing`` shorter than the
        batch's own lets the re-spread catch up with the plan, so only the backlog and the
        stretch it overlaps move; at the batch's own spacing everything after the backlog
        moves back.
        """
        ...
