"""`BatchStore`: the slice of the storage seam a scatter uses (see protocol.py for the
whole seam, and the conventions every method keeps: times in microseconds on the store's
clock, payloads opaque)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from strew.stores.records import Entry, Respread


@runtime_checkable
class BatchStore(Protocol):
    """The storage side of `Agenda.scatter`.

    A batch has an id chosen by the caller. Its entries are either *staged* (invisible to
    workers) and then *committed* in one atomic step, or written straight to the schedule
    chunk by chunk. Either way the keys it wrote are remembered as its *members*, so that one
    call can cancel what is left of it. `respread_batch` moves what an outage left overdue."""

    async def stage_batch(self, batch: str, entries: Sequence[Entry], ttl: int) -> int:
        """Add ``entries`` to the stage of ``batch``, atomically per call.

        Nothing staged is seen by `claim`, `snapshot`, `histogram` or `clear`. The whole stage
        is forgotten ``ttl`` microseconds after its last write unless it is committed first:
        the backstop for a producer that died (or lost the store) half-way through. A key
        staged twice is committed with its first entry (the later ones are reported
        skipped, as repeated adds would be). Returns how many entries have been staged in
        all (every entry of every call counts, a repeated key too): a stage that expired
        part-way restarts the count, which is how the caller notices.
        """
        ...

    async def commit_batch(
        self, batch: str, expected: int, members_ttl: int, descriptor: bytes = b""
    ) -> list[str]:
        """Commit the whole stage of ``batch`` to the schedule, all or nothing.

        The commit is one atomic step; the store may then move the entries onto the
        schedule in bounded steps (Redis does, so that no step of a million-task scatter
        holds the server long), provided that from the commit on no entry due starts later
        for it (a claim merges what is due first) and that a committed batch always ends
        up whole, even if the caller dies before its last step. Each staged entry is
        written as `schedule` without ``replace`` would: a key already scheduled or running
        keeps its earlier schedule, and is returned in the list of skipped keys. The
        written keys become the batch's members (see `cancel_batch`) for ``members_ttl``
        microseconds. The stage is gone afterwards. If the stage's count (see
        `stage_batch`) is not exactly ``expected`` (part of it expired, or it was discarded
        or cancelled meanwhile) nothing is written, the stage is dropped and `StoreError`
        is raised. A non-empty ``descriptor`` lists the batch in the same step (see
        `ReadModelStore.batches`).
        """
        ...

    async def discard_batch(self, batch: str) -> None:
        """Drop the stage of ``batch`` without writing anything (failed or abandoned
        scatters). Harmless when there is no such stage, and when the batch was committed
        (it is then written whole)."""
        ...

    async def schedule_batch(
        self, batch: str, entries: Sequence[Entry], members_ttl: int, descriptor: bytes = b""
    ) -> list[bool]:
        """`schedule` without ``replace``, and, in the same atomic step, add the keys it
        wrote to the members of ``batch`` (kept ``members_ttl`` microseconds from now).
        Used by streamed scatters, one chunk per call; a non-empty ``descriptor`` lists the
        batch (see `ReadModelStore.batches`), the first chunk's time being its creation."""
        ...

    async def cancel_batch(self, batch: str) -> int:
        """Remove from the schedule every member of ``batch`` that is still scheduled at
        the due time the batch gave it (a key scheduled again since, at another time, is
        left alone); running tasks finish. On Redis this goes in bounded steps: a member
        that starts between two steps runs, as it would have before the call. Drops the
        batch's members and any stage (or merge) it still has, so a commit still to come
        fails instead of writing. Returns how many scheduled tasks were removed. A listed
        batch stays listed, marked cancelled (see `BatchInfo.cancelled`), for as long as
        its members would have been kept."""
        ...

    async def respread_batch(
        self,
        batch: str,
        start: int,
        spacing: int,
        overdue: int,
        claims: Sequence[tuple[str, str]] = (),
    ) -> Respread:
        """Re-time what is left of ``batch`` after an outage, if it fell behind; ``claims``
        are a worker's late claims of the batch, handed back into the re-spread.

        Atomic on the memory store; on Redis, bounded steps (see redis/respread.py), one run
        per batch at a time: a member claimed, cancelled or scheduled again before the step
        that moves it is passed over and takes no slot, a claim goes back only if its token
        still holds it then, and a run that took longer than ``overdue`` to read the batch
        times its plan from ``start`` plus that time.

        The batch's *live* members are those still scheduled at the due time the batch gave
        them. A ``(key, token)`` of ``claims`` is handed back (taken off its lease and made a
        live member again) when the token still holds the lease, the key is not scheduled
        again meanwhile, the claim's due time is a due time the batch gave the key, and that
        due time is before ``start - overdue``; any other claim is left untouched with its
        worker (its flag is False: a stale token never touches a task another worker holds).

        Unless the earliest live member (handed-back claims included) is due before ``start
        - overdue``, nothing changes and ``Respread(0, flags)`` is returned. Otherwise, in due
        order (ties by key), each gets ``new_due = max(old_due, previous new_due +
        spacing)``, the first ``previous`` being the later of:

        * ``start + reserved * spacing``, where ``reserved`` counts the members whose latest
          batch time is in ``[start - overdue, start]`` and that are neither live nor handed
          back: they ran, or run now, without the re-spread, and used up those slots;
        * the latest due time of a member claimed at a time the batch gave it: the re-spread
          queues behind what workers already hold (claimed early, on the times of a
          re-spread a moment before), so two re-spreads do not overlap.

        The overdue part is thus spread ``spacing`` apart, and later tasks move back only as
        far as that needs, so the batch never starts faster than one per ``spacing``.
        Scheduled tasks only ever move later; when claims were handed back, sleeping workers
        are woken for the first new due time. The members' recorded due times follow, so
        `cancel_batch` still cancels them, and the members are kept longer by as much as the
        furthest task moved. Returns how many tasks were given a new due time (handed-back
        ones included) and one flag per claim.

        Cost: one lookup when no claim is handed back and nothing in the docket is overdue
        enough; otherwise a read of the batch's members plus a write per task moved. A
        ``spacing`` shorter than the batch's own lets the re-spread catch up with the plan,
        so only the backlog and the stretch it overlaps move; at the batch's own spacing
        everything after the backlog moves back.
        """
        ...
