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
from typing import Protocol, runtime_checkable

from strew.stores.batching import BatchStore
from strew.stores.records import (
    Admission,
    ClaimResult,
    Entry,
    FailedTask,
    Finish,
    FunctionCounts,
    Gate,
    LimitUsage,
    Notice,
    ProgressState,
    Quarantine,
    QuarantinedTask,
    Record,
    Release,
    RetryOutcome,
    ScheduledTask,
    StoreSnapshot,
    TaskState,
)
from strew.stores.views import ReadModelStore


@runtime_checkable
class ScheduleStore(Protocol):
    """The schedule and its leases: what producers write and workers claim, run and
    acknowledge, and how workers are woken and seen."""

    async def schedule(self, entries: Sequence[Entry], *, replace: bool) -> list[bool]:
        """Put ``entries`` on the schedule, atomically as one step.

        Without ``replace``, an entry whose key is already scheduled or running is skipped
        (its earlier schedule kept) and reported False. With ``replace`` every entry is
        written, superseding an earlier schedule of its key; a run already in progress under
        that key is left to finish. Returns one bool per entry: True when it was written.
        Wakes sleeping workers when an entry is due before everything already scheduled.
        """
        ...

    async def cancel(self, keys: Sequence[str], record: Record | None = None) -> int:
        """Remove ``keys`` from the schedule (and from the held tasks) atomically; ask workers
        running any of them to cancel it (best effort, not atomic with the removal). Returns
        how many scheduled or held tasks were removed. With ``record``, each key removed gets
        it as its record in the same step (a key that was not scheduled or held does not)."""
        ...

    async def claim(
        self, worker: str, limit: int, lease: int, horizon: int, *, watch: int = 0
    ) -> ClaimResult:
        """Atomically take up to ``limit`` tasks under a lease of ``lease`` microseconds.

        Tasks whose lease has expired are taken first (marked redelivered), then scheduled
        tasks due up to ``horizon`` microseconds after now, earliest first. A scheduled key
        that is still running under another lease is left waiting until that run ends, so
        one key never runs twice at once. Each claim gets a fresh token.

        With ``watch`` > 0 the same step also keeps the docket's *watch* (docs/workers.md,
        "How a fleet wakes"): one worker at a time holds it, for ``watch`` microseconds.
        A worker left with room after this claim takes or renews the watch when nobody else
        holds it (``standby`` 0), and otherwise joins the line of standby workers for
        3 × ``watch`` (``standby`` its place in line, from 1). A worker left without room
        leaves the line, and when it held the watch (or nobody did) the watch goes to the
        first live standby worker, which is sent a ``Wake(now, handed=True)`` on its own
        ``notifications(worker)``. ``watch`` 0 touches none of this.
        """
        ...

    async def finish(self, finishes: Sequence[Finish]) -> list[bool]:
        """Acknowledge claims. Each finish is atomic on its own (lease removal together with
        its optional reschedule, record and chain end); the batch as a whole is applied in
        one step. A finish whose token no longer holds the lease (it expired and was claimed
        again) changes nothing and is reported False."""
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

    async def now(self) -> int:
        """The store's clock."""
        ...

    def notifications(self, worker: str = "") -> AsyncIterator[Notice]:
        """Wake-ups and cancellation requests, for as long as the consumer iterates.

        The first notice is a ``Wake(0)`` once the subscription is in place (nothing
        published before it is seen). Implementations reconnect on their own and yield
        another ``Wake(0)`` after any gap in which notices may have been missed. Given a
        ``worker``, the wake-ups handed to that worker alone (see `claim`) come too."""
        ...

    async def heartbeat(self, worker: str, ttl: int, report: bytes = b"") -> None:
        """Record that ``worker`` is alive; it is forgotten ``ttl`` microseconds later
        unless it beats again. ``report`` (opaque, small) replaces what its last heartbeat
        carried, and is forgotten with it (see `ReadModelStore.worker_reports`)."""
        ...

    async def forget_worker(self, worker: str) -> None:
        """Remove ``worker`` from the live workers at once (clean shutdown), and from the
        watch: out of the standby line, and a watch it held goes on as a full worker's
        does (see `claim`)."""
        ...


@runtime_checkable
class ResultStore(Protocol):
    """What is known about one task key: its state, its record, its progress."""

    async def task_state(self, key: str) -> TaskState:
        """In one atomic step: where ``key`` is scheduled, who runs it, whether a strike holds
        it, its record (see `Finish.record`) and its progress, each None when there is
        none."""
        ...

    async def update_progress(
        self, key: str, *, total: int | None, advance: int, message: str | None, ttl: int
    ) -> ProgressState:
        """Atomically change the progress of ``key``: set ``total`` and ``message`` where they
        are not None, add ``advance`` to the current count (0 when there was no progress), and
        keep it ``ttl`` microseconds from now. Returns the progress after the change."""
        ...


@runtime_checkable
class SnapshotStore(Protocol):
    """Read-only views of the whole docket, for operators."""

    async def snapshot(self, limit: int) -> StoreSnapshot:
        """The earliest ``limit`` scheduled tasks, every running task and every worker seen
        recently. A consistent picture up to one page of scheduled tasks; past it a store
        may read the rest in further bounded steps (Redis does, 2,000 a step), where a task
        claimed meanwhile may be missed but none is returned twice."""
        ...

    async def histogram(self, start: int, end: int, buckets: int) -> list[int]:
        """How many scheduled tasks fall due in each of ``buckets`` equal slices of
        ``[start, end)``."""
        ...

    async def count_functions(self, cap: int, sample: int) -> FunctionCounts:
        """For the scheduled, the running and the held tasks: how many call each task
        function (read in bounded steps on Redis, so counts of a busy docket are as of
        slightly different moments).

        The one place a store reads a payload, and only its first bytes: the function name
        an envelope begins with (see `function_in`). A state of at most ``cap`` tasks is
        counted exactly; a larger one from ``sample`` tasks drawn at random (without
        repeats), scaled to its total by `scaled`. Costs a read of every payload counted.
        """
        ...


@runtime_checkable
class QuarantineStore(Protocol):
    """Claimed tasks whose payload cannot be run, kept for a human."""

    async def quarantine(self, items: Sequence[Quarantine]) -> list[bool]:
        """Move each claim from its lease into the quarantine, with its payload, ``reason``
        and the store's time, atomically per item (the batch in one step). A quarantined
        task never expires and is never claimed; a key quarantined again overwrites its
        earlier record. A newer schedule of the key that waited for this run is left to run.
        False where the token no longer holds the lease (nothing changes)."""
        ...

    async def quarantined(self) -> list[QuarantinedTask]:
        """Every quarantined task, oldest first (ties by key)."""
        ...

    async def drop_quarantined(self, keys: Sequence[str] | None) -> int:
        """Delete the quarantined tasks ``keys`` (None: all of them), atomically. Returns how
        many were deleted."""
        ...


@runtime_checkable
class FailureStore(Protocol):
    """A bounded, time-ordered record of recent failures: one entry per task key (its latest
    failure), written by `ScheduleStore.finish` with a `Finish.failure` in the same atomic
    step as the acknowledgement. Each write trims the record to its note's ``keep`` and
    ``max_age``, dropping at most a bounded number of entries per write (O(log n) each);
    a finish without a failure drops the key's entry (its latest run did not fail). No two
    entries share a time: a failure at or before the latest one is recorded a microsecond
    after it, so paging back with ``before`` never skips one.
    Old dockets (no record at all) read as an empty record."""

    async def failures(self, limit: int, before: int | None = None) -> list[FailedTask]:
        """The ``limit`` latest failures that happened before ``before`` (store time,
        exclusive; None: all), newest first (ties by key, descending), each with when its key
        is scheduled again and whether it runs now. Costs O(log n + limit), whatever the
        size of the schedule."""
        ...

    async def failure(self, key: str) -> FailedTask | None:
        """The recorded failure of ``key`` (as `failures` lists it), or None when it has none.
        O(1) beside the record's size."""
        ...

    async def drop_failures(self, keys: Sequence[str] | None) -> int:
        """Forget the failures of ``keys`` (None: every one), atomically. Returns how many
        there were."""
        ...

    async def retry_failures(self, entries: Sequence[Entry]) -> list[RetryOutcome]:
        """For each entry, atomically (the batch in one step): a key with a recorded failure
        that is neither scheduled, running nor held goes back on the schedule with the
        entry's due time and payload, and its failure is forgotten (``retried``); one that
        is scheduled again already is moved to the entry's due time if that is earlier, and
        keeps its payload and its failure until that run ends (``hastened``); one that runs
        or is held is left alone (``busy``); a key with no failure changes nothing
        (``missing``). Wakes sleeping workers as `schedule` does."""
        ...


@runtime_checkable
class StrikeStore(Protocol):
    """Rules that pause tasks, and the tasks they hold.

    A rule is opaque bytes (the store never reads it). The set of rules carries a version
    that every change bumps, so a reader can tell whether its copy is current."""

    async def add_strike(self, rule: bytes) -> int:
        """Add ``rule`` to the rules (a rule already there stays once) and bump the version,
        atomically. Returns the new version."""
        ...

    async def remove_strike(self, rule: bytes) -> tuple[int, int]:
        """Atomically remove ``rule`` (harmless when absent), bump the version, and put every
        held task back on the schedule at the due time it had (a key scheduled again
        meanwhile keeps its newer schedule, and its held copy is dropped). Wakes sleeping
        workers. Returns ``(new version, how many held tasks went back)``."""
        ...

    async def strikes(self) -> tuple[int, list[bytes]]:
        """The current version and every rule, read in one atomic step (version 0 and no
        rules for a docket never struck)."""
        ...

    async def hold(self, holds: Sequence[tuple[str, str]], version: int) -> list[bool]:
        """Move each ``(key, token)`` claim from its lease to the held tasks, keeping its
        payload and due time, atomically as one step; a held task is seen by no claim
        until `remove_strike` puts it back. Nothing is held (all False) when the rules'
        version is no longer ``version``: the caller decided on rules that have changed
        and must look again. Otherwise False where the token no longer holds the lease.
        A key held twice keeps its later payload."""
        ...

    async def held_tasks(self, limit: int) -> tuple[int, list[ScheduledTask]]:
        """How many tasks are held, and the ``limit`` earliest of them (by due time)."""
        ...


@runtime_checkable
class ChainStore(Protocol):
    """Automatic chains: perpetual tasks that workers start and keep alive themselves."""

    async def restore_chains(self, entries: Sequence[Entry], since: int) -> list[bool]:
        """Put back the automatic chains that are gone, atomically as one step.

        An entry is written unless its key is *alive* (scheduled, running or held by a
        strike) or its chain *ended* (a `Finish` with ``ends_chain``) at or after ``since``
        (store time). A key found alive, or written, forgets when its chain ended: the chain
        is an ordinary one again. Returns one bool per entry: True when written. Wakes
        sleeping workers as `schedule` does. Ends are kept until `destroy` (one per
        automatic task, so they do not pile up)."""
        ...


@runtime_checkable
class AdmissionStore(Protocol):
    """Admission controls: concurrency slots, rate logs, cooldowns and debounce windows.

    A concurrency slot is held by a *holder* (a docket and task key) and lives exactly as long
    as that key's lease in its docket: a holder whose lease has ended or expired (its worker
    died) no longer counts, so a slot can never leak. Tasks that find every slot taken wait
    in the order they were due (ties by docket and key) and keep their place; a task not yet
    waiting never goes ahead of one that is."""

    async def admit(self, key: str, token: str, gates: Sequence[Gate], lease: int) -> Admission:
        """Decide, in one atomic step, whether the claim ``(key, token)`` may run now.

        Gates are weighed in this order, and the first that blocks decides:

        * a **debounce** gate lets the run through only once its window has passed with no
          other task of the gate claimed: the first claim becomes the gate's *winner* and is
          deferred by the window; each later claim pushes the quiet back and is dropped; the
          winner, when its time comes with the gate quiet, runs. A winner that is gone
          (cancelled, or held by a strike) is replaced by the next claim.
        * a **cooldown** gate drops the claim while another run began under it within its
          window (a run is a key and the due time it was claimed at, so a redelivery of the
          run that began it passes, and a later run of the same key does not).
        * a **rate** gate lets at most ``limit`` runs start in any ``window``: over it, the
          claim is deferred to when the earliest of those starts leaves the window (or,
          with ``drop``, dropped). Several rate gates defer to the latest of their times.
        * a **concurrency** gate needs one of its ``limit`` slots, and no waiting task ahead
          that a free slot belongs to. Otherwise the claim is parked: it keeps its place (or
          takes the last one), returns to the schedule at the earliest moment a holder's lease
          could lapse (``lease`` microseconds more per ``limit`` tasks ahead), and is brought
          forward as soon as `release_slots` frees a slot for it. A parked task that is
          cancelled loses its place.

        When every gate passes, the run is recorded in each (its slot taken, its start logged,
        its cooldown begun, its debounce state cleared) and ``run`` is returned. A holder that
        already holds a slot (a redelivered claim of the same key) keeps it, and a rate gate
        counts one start per ``(key, due time)``, so a redelivery is not counted twice.
        ``defer`` and ``wait`` move the task from its lease back onto the schedule in the same
        step; ``drop`` leaves the lease for the caller to acknowledge."""
        ...

    async def release_slots(self, key: str, gates: Sequence[Gate]) -> int:
        """Give up the concurrency slots ``key`` holds under ``gates`` (other kinds are
        ignored) and bring forward, to now, the waiting tasks the freed slots belong to,
        waking sleeping workers. Atomic. Returns how many waiting tasks were brought
        forward."""
        ...

    async def limits(self, limit: int) -> list[LimitUsage]:
        """The concurrency limits of this docket (its own and the scopes it used) that have a
        slot held or a task waiting, busiest first, at most ``limit`` of them."""
        ...


@runtime_checkable
class Lifecycle(Protocol):
    """Emptying, deleting and closing a docket's store."""

    async def clear(self) -> int:
        """Drop every scheduled task, and the record of failures, atomically; running tasks
        are left alone. Returns how many scheduled tasks were dropped."""
        ...

    async def destroy(self) -> None:
        """Delete everything this docket stores (tests and tear-down only)."""
        ...

    async def close(self) -> None:
        """Release connections. The store may not be used afterwards."""
        ...


@runtime_checkable
class Store(  # BatchStore lives in batching.py, ReadModelStore in views.py
    ScheduleStore,
    AdmissionStore,
    ResultStore,
    SnapshotStore,
    BatchStore,
    ReadModelStore,
    QuarantineStore,
    FailureStore,
    StrikeStore,
    ChainStore,
    Lifecycle,
    Protocol,
):
    """Every operation one docket needs from its storage. A caller that needs only a few
    names the slice it uses (`ScheduleStore`, `BatchStore`...) as the type it takes."""
