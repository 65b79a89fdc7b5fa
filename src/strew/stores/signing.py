"""Signed payloads: whoever can write a docket's keys cannot make its workers run their code.

A payload, a run's record and a strike rule are pickles, and unpickling runs code. With a
signing key, a docket appends to every one of them it writes a trailer::

    b"SG" + key id (4 bytes) + HMAC-SHA256 of what precedes the trailer (32 bytes)

and reads back only what verifies against one of its keys (the first key signs; the others
are accepted, so a key can be rotated: add the new one first, wait until nothing signed with
the old one is left, then drop it). The trailer sits at the end: `pickle.loads` ignores bytes
after a pickle, so a strew without the key still reads a signed payload, and the function name
at the start of a payload (`records.function_in`, ``count_functions.lua``) stays where it was.

`SignedStore` does this at the seam, around any store: it signs on the way in, and on the way
out strips the trailer of what verifies and marks what does not (`Claim.problem`: the worker
quarantines such a claim without unpickling it; in views the payload is replaced by nothing).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace

from strew.stores.protocol import Store
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
    Respread,
    RetryOutcome,
    RunningTask,
    ScheduledTask,
    StoreSnapshot,
    TaskState,
)
from strew.stores.views import BatchInfo, BatchProgress, LatenessSummary, WorkerReport

MARK = b"SG"
KEY_ID = 4
MAC = 32
TRAILER = len(MARK) + KEY_ID + MAC
ENVIRONMENT = "STREW_SIGNING_KEY"
"""The variable a docket reads its keys from when it is given none: comma-separated, the
first signs."""
UNVERIFIED = "its signature does not verify with this docket's signing keys"


def signing_keys(value: object) -> list[bytes]:
    """The keys ``value`` names: a str or bytes, or a sequence of them (first signs); None
    reads ``STREW_SIGNING_KEY``. Raises naming ``signing_key`` and what is wrong (never the
    key itself)."""
    if value is None:
        text = os.environ.get(ENVIRONMENT, "")
        value = [part.strip() for part in text.split(",") if part.strip()]
    if isinstance(value, str | bytes):
        value = [value]
    if not isinstance(value, Sequence):
        raise TypeError(
            f"signing_key must be a str, bytes or a sequence of them, got {type(value).__name__}"
        )
    keys: list[bytes] = []
    for index, key in enumerate(value):
        if isinstance(key, str):
            key = key.encode("utf-8", "surrogatepass")
        if not isinstance(key, bytes):
            raise TypeError(
                f"signing_key[{index}] must be a str or bytes, got {type(key).__name__}"
            )
        if len(key) < 16:
            raise ValueError(
                f"signing_key[{index}] must be at least 16 bytes (32 random bytes is right), "
                f"got {len(key)}"
            )
        keys.append(key)
    return keys


class Signer:
    """Signs with the first of ``keys``, verifies against any of them."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("a Signer needs at least one key")
        self._macs = {
            hashlib.sha256(b"strew key id" + key).digest()[:KEY_ID]: hmac.new(
                key, digestmod=hashlib.sha256
            )
            for key in keys
        }
        self._signing_id = next(iter(self._macs))

    def sign(self, data: bytes) -> bytes:
        return self._sign(data, self._signing_id)

    def signed_by_each(self, data: bytes) -> list[bytes]:
        """``data`` as each key would sign it (to find what an older key signed)."""
        return [self._sign(data, key_id) for key_id in self._macs]

    def _sign(self, data: bytes, key_id: bytes) -> bytes:
        mac = self._macs[key_id].copy()
        mac.update(data)
        return data + MARK + key_id + mac.digest()

    def verify(self, data: bytes) -> bytes | None:
        """What ``data`` signed, without its trailer; None when it is unsigned, signed with a
        key this signer does not have, or altered."""
        if len(data) < TRAILER or data[-TRAILER : -TRAILER + len(MARK)] != MARK:
            return None
        body, key_id, given = data[:-TRAILER], data[-MAC - KEY_ID : -MAC], data[-MAC:]
        base = self._macs.get(key_id)
        if base is None:
            return None
        mac = base.copy()
        mac.update(body)
        return body if hmac.compare_digest(mac.digest(), given) else None


class SignedStore:
    """A `Store` whose payloads, records and strike rules are signed by ``signer`` on the way
    in and verified on the way out. Everything else passes through to ``inner``."""

    def __init__(self, inner: Store, signer: Signer) -> None:
        self.inner = inner
        self.signer = signer

    # -- signing on the way in --------------------------------------------------------------

    def _entry(self, entry: Entry) -> Entry:
        return Entry(entry.key, entry.due, self.signer.sign(entry.payload))

    def _entries(self, entries: Sequence[Entry]) -> list[Entry]:
        sign = self.signer.sign
        return [Entry(e.key, e.due, sign(e.payload)) for e in entries]

    def _record(self, record: Record | None) -> Record | None:
        return None if record is None else Record(self.signer.sign(record.data), record.ttl)

    def _finish(self, finish: Finish) -> Finish:
        if finish.reschedule is None and finish.record is None:
            return finish
        return replace(
            finish,
            reschedule=None if finish.reschedule is None else self._entry(finish.reschedule),
            record=self._record(finish.record),
        )

    # -- verifying on the way out -----------------------------------------------------------

    def _scheduled(self, task: ScheduledTask) -> ScheduledTask:
        return replace(task, payload=self.signer.verify(task.payload) or b"")

    def _running(self, task: RunningTask) -> RunningTask:
        return replace(task, payload=self.signer.verify(task.payload) or b"")

    # -- ScheduleStore ----------------------------------------------------------------------

    async def schedule(self, entries: Sequence[Entry], *, replace: bool) -> list[bool]:
        return await self.inner.schedule(self._entries(entries), replace=replace)

    async def cancel(self, keys: Sequence[str], record: Record | None = None) -> int:
        return await self.inner.cancel(keys, self._record(record))

    async def claim(
        self, worker: str, limit: int, lease: int, horizon: int, *, watch: int = 0
    ) -> ClaimResult:
        result = await self.inner.claim(worker, limit, lease, horizon, watch=watch)
        if not result.claims:
            return result
        verify = self.signer.verify
        claims = []
        for claim in result.claims:
            body = verify(claim.payload)
            claims.append(
                replace(claim, payload=body)
                if body is not None
                else replace(claim, problem=UNVERIFIED)
            )
        return replace(result, claims=claims)

    async def finish(self, finishes: Sequence[Finish]) -> list[bool]:
        return await self.inner.finish([self._finish(finish) for finish in finishes])

    async def extend(self, leases: Sequence[tuple[str, str]], lease: int) -> list[bool]:
        return await self.inner.extend(leases, lease)

    async def release(self, releases: Sequence[Release]) -> list[bool]:
        return await self.inner.release(releases)

    async def now(self) -> int:
        return await self.inner.now()

    def notifications(self, worker: str = "") -> AsyncIterator[Notice]:
        return self.inner.notifications(worker)

    # -- AdmissionStore (no payloads: passed through) ---------------------------------------

    async def admit(self, key: str, token: str, gates: Sequence[Gate], lease: int) -> Admission:
        return await self.inner.admit(key, token, gates, lease)

    async def release_slots(self, key: str, gates: Sequence[Gate]) -> int:
        return await self.inner.release_slots(key, gates)

    async def limits(self, limit: int) -> list[LimitUsage]:
        return await self.inner.limits(limit)

    async def heartbeat(self, worker: str, ttl: int, report: bytes = b"") -> None:
        await self.inner.heartbeat(worker, ttl, report)

    async def forget_worker(self, worker: str) -> None:
        await self.inner.forget_worker(worker)

    # -- ResultStore ------------------------------------------------------------------------

    async def task_state(self, key: str) -> TaskState:
        state = await self.inner.task_state(key)
        verify = self.signer.verify
        return replace(
            state,
            scheduled=None if state.scheduled is None else self._scheduled(state.scheduled),
            running=None if state.running is None else self._running(state.running),
            held=None if state.held is None else self._scheduled(state.held),
            record=None if state.record is None else verify(state.record),
        )

    async def update_progress(
        self, key: str, *, total: int | None, advance: int, message: str | None, ttl: int
    ) -> ProgressState:
        return await self.inner.update_progress(
            key, total=total, advance=advance, message=message, ttl=ttl
        )

    # -- SnapshotStore ----------------------------------------------------------------------

    async def snapshot(self, limit: int) -> StoreSnapshot:
        raw = await self.inner.snapshot(limit)
        return replace(
            raw,
            scheduled=[self._scheduled(task) for task in raw.scheduled],
            running=[self._running(task) for task in raw.running],
        )

    async def histogram(self, start: int, end: int, buckets: int) -> list[int]:
        return await self.inner.histogram(start, end, buckets)

    async def count_functions(self, cap: int, sample: int) -> FunctionCounts:
        return await self.inner.count_functions(cap, sample)

    # -- BatchStore -------------------------------------------------------------------------

    async def stage_batch(self, batch: str, entries: Sequence[Entry], ttl: int) -> int:
        return await self.inner.stage_batch(batch, self._entries(entries), ttl)

    async def commit_batch(
        self, batch: str, expected: int, members_ttl: int, descriptor: bytes = b""
    ) -> list[str]:
        return await self.inner.commit_batch(batch, expected, members_ttl, descriptor)

    async def discard_batch(self, batch: str) -> None:
        await self.inner.discard_batch(batch)

    async def schedule_batch(
        self, batch: str, entries: Sequence[Entry], members_ttl: int, descriptor: bytes = b""
    ) -> list[bool]:
        return await self.inner.schedule_batch(
            batch, self._entries(entries), members_ttl, descriptor
        )

    async def cancel_batch(self, batch: str) -> int:
        return await self.inner.cancel_batch(batch)

    async def respread_batch(
        self,
        batch: str,
        start: int,
        spacing: int,
        overdue: int,
        claims: Sequence[tuple[str, str]] = (),
    ) -> Respread:
        return await self.inner.respread_batch(batch, start, spacing, overdue, claims)

    # -- ReadModelStore ---------------------------------------------------------------------
    # Descriptors, reports and lateness are plain data (JSON and numbers), never unpickled:
    # they pass unsigned.

    async def batches(self, limit: int) -> list[BatchInfo]:
        return await self.inner.batches(limit)

    async def batch(self, batch: str) -> BatchInfo | None:
        return await self.inner.batch(batch)

    async def batch_progress(
        self, batch: str, start: int, end: int, slices: int, sample: int = 0
    ) -> BatchProgress | None:
        return await self.inner.batch_progress(batch, start, end, slices, sample)

    async def worker_reports(self) -> list[WorkerReport]:
        return await self.inner.worker_reports()

    async def record_lateness(self, summaries: Sequence[LatenessSummary], keep: int) -> None:
        await self.inner.record_lateness(summaries, keep)

    async def lateness(self, since: int, limit: int) -> list[LatenessSummary]:
        return await self.inner.lateness(since, limit)

    # -- QuarantineStore --------------------------------------------------------------------

    async def quarantine(self, items: Sequence[Quarantine]) -> list[bool]:
        return await self.inner.quarantine(items)

    async def quarantined(self) -> list[QuarantinedTask]:
        # Kept as stored (trailer and all): the quarantine is evidence, never unpickled here.
        return await self.inner.quarantined()

    async def drop_quarantined(self, keys: Sequence[str] | None) -> int:
        return await self.inner.drop_quarantined(keys)

    # -- FailureStore (notes are JSON the docket reads without unpickling: not signed) -----

    async def failures(self, limit: int, before: int | None = None) -> list[FailedTask]:
        found = await self.inner.failures(limit, before)
        return [replace(task, payload=self.signer.verify(task.payload) or b"") for task in found]

    async def failure(self, key: str) -> FailedTask | None:
        found = await self.inner.failure(key)
        if found is None:
            return None
        return replace(found, payload=self.signer.verify(found.payload) or b"")

    async def drop_failures(self, keys: Sequence[str] | None) -> int:
        return await self.inner.drop_failures(keys)

    async def retry_failures(self, entries: Sequence[Entry]) -> list[RetryOutcome]:
        return await self.inner.retry_failures(self._entries(entries))

    # -- StrikeStore ------------------------------------------------------------------------

    async def add_strike(self, rule: bytes) -> int:
        return await self.inner.add_strike(self.signer.sign(rule))

    async def remove_strike(self, rule: bytes) -> tuple[int, int]:
        # HMAC is deterministic: the rule signs to the very bytes stored when it was added,
        # by whichever key (a rotation may have happened since) signed it.
        version, restored = 0, 0
        for signed in self.signer.signed_by_each(rule):
            version, count = await self.inner.remove_strike(signed)
            restored += count
        return version, restored

    async def strikes(self) -> tuple[int, list[bytes]]:
        version, rules = await self.inner.strikes()
        verified = (self.signer.verify(rule) for rule in rules)
        return version, [rule for rule in verified if rule is not None]

    async def hold(self, holds: Sequence[tuple[str, str]], version: int) -> list[bool]:
        return await self.inner.hold(holds, version)

    async def held_tasks(self, limit: int) -> tuple[int, list[ScheduledTask]]:
        total, tasks = await self.inner.held_tasks(limit)
        return total, [self._scheduled(task) for task in tasks]

    # -- ChainStore and Lifecycle -----------------------------------------------------------

    async def restore_chains(self, entries: Sequence[Entry], since: int) -> list[bool]:
        return await self.inner.restore_chains(self._entries(entries), since)

    async def clear(self) -> int:
        return await self.inner.clear()

    async def destroy(self) -> None:
        await self.inner.destroy()

    async def close(self) -> None:
        await self.inner.close()
