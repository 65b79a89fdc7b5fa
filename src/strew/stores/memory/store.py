"""The in-process store: the embedded default for demos, tests and one-process apps.

A second real implementation of the `Store` contract, in plain Python. No method awaits
between reading and writing its state, so on one event loop each call is atomic, exactly as
the contract asks. Dockets in one process that open the same ``memory://`` URL share a store,
so a producer and a worker built from separate `Docket` objects see the same tasks.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from sortedcontainers import SortedList

from strew.stores.memory.admission import LimitBook, MemoryAdmission, register_peer
from strew.stores.memory.batches import Expiring, MemoryBatches
from strew.stores.memory.chains import MemoryChains
from strew.stores.memory.failures import FailureRecord, MemoryFailures
from strew.stores.memory.readmodel import MemoryReadModel, ReadModel
from strew.stores.memory.respread import MemoryRespread
from strew.stores.memory.strikes import MemoryStrikes, StrikeState
from strew.stores.records import (
    CancelRequested,
    Claim,
    ClaimResult,
    Entry,
    Finish,
    FunctionCounts,
    FunctionTally,
    Notice,
    ProgressState,
    Quarantine,
    QuarantinedTask,
    Record,
    Release,
    RunningTask,
    ScheduledTask,
    StoreSnapshot,
    TaskState,
    Wake,
    WorkerSeen,
    function_in,
    scaled,
    token_for,
)

Clock = Callable[[], int]
T = TypeVar("T")


def system_clock() -> int:
    return time.time_ns() // 1000


@dataclass(slots=True)
class _Lease:
    token: str
    deadline: int
    payload: bytes
    due: int
    started: int
    """When this claim was made (a redelivery is a new claim)."""


class MemoryStore(
    MemoryAdmission,
    MemoryStrikes,
    MemoryRespread,
    MemoryChains,
    MemoryBatches,
    MemoryFailures,
    MemoryReadModel,
):
    """All state of one docket: a dict of payloads beside a sorted list of (due, key).

    Ties in due time are broken by key, the same order a Redis sorted set gives.
    """

    def __init__(self, clock: Clock = system_clock) -> None:
        self._clock = clock
        self._payloads: dict[str, tuple[int, bytes]] = {}
        self._order: SortedList = SortedList()
        self._leases: dict[str, _Lease] = {}
        self._workers: dict[str, tuple[int, int]] = {}  # name -> (last seen, expires)
        self._claims = itertools.count(1)
        self._subscribers: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue[Notice]]] = []
        self._stages: dict[str, Expiring[Entry]] = {}  # batch -> staged entries by key
        self._members: dict[str, Expiring[int]] = {}  # batch -> due time by member key
        self._quarantine: dict[str, QuarantinedTask] = {}
        self._strikes = StrikeState()
        self._records: dict[str, tuple[bytes, int]] = {}  # key -> (record, expires)
        self._progress: dict[str, tuple[ProgressState, int]] = {}  # key -> (progress, expires)
        self._ended: dict[str, int] = {}  # automatic chain key -> when it ended on purpose
        self._limits = LimitBook()
        self._failures = FailureRecord()
        self._read_model = ReadModel()

    # -- helpers ---------------------------------------------------------------------------

    def _put(self, key: str, due: int, payload: bytes) -> None:
        self._drop(key)
        self._payloads[key] = (due, payload)
        self._order.add((due, key))

    def _drop(self, key: str) -> bool:
        current = self._payloads.pop(key, None)
        if current is None:
            return False
        self._order.remove((current[0], key))
        return True

    def _in_order(self) -> Iterator[tuple[int, str]]:
        return iter(self._order)

    def _earliest(self) -> int | None:
        return int(self._order[0][0]) if self._order else None

    def _publish(self, notice: Notice) -> None:
        for loop, queue in list(self._subscribers):
            if not loop.is_closed():
                loop.call_soon_threadsafe(queue.put_nowait, notice)

    def _wake_if_earlier(self, due: int, earliest: int | None) -> None:
        if earliest is None or due < earliest:
            self._publish(Wake(due))

    def _owns(self, key: str, token: str) -> bool:
        held = self._leases.get(key)
        return held is not None and held.token == token

    def _lease_deadline(self, key: str) -> int | None:
        held = self._leases.get(key)
        return None if held is None else held.deadline

    def _lease_of(self, key: str) -> tuple[int, bytes] | None:
        """The due time and payload of the run of ``key`` going on now."""
        held = self._leases.get(key)
        return None if held is None else (held.due, held.payload)

    def _unlease(self, key: str) -> None:
        self._leases.pop(key, None)

    def _next_due(self) -> int | None:
        candidates = [held.deadline for held in self._leases.values()]
        for due, key in self._in_order():
            if key not in self._leases:  # held back until the earlier run of its key ends
                candidates.append(due)
                break
        return min(candidates) if candidates else None

    # -- the contract ----------------------------------------------------------------------

    async def schedule(self, entries: Sequence[Entry], *, replace: bool) -> list[bool]:
        earliest = self._earliest()
        first_new: int | None = None
        written: list[bool] = []
        for entry in entries:
            if not replace and (entry.key in self._payloads or entry.key in self._leases):
                written.append(False)
                continue
            self._put(entry.key, entry.due, entry.payload)
            written.append(True)
            if first_new is None or entry.due < first_new:
                first_new = entry.due
        if first_new is not None:
            self._wake_if_earlier(first_new, earliest)
        return written

    async def cancel(self, keys: Sequence[str], record: Record | None = None) -> int:
        removed = 0
        for key in keys:
            dropped = self._drop(key) + (self._strikes.held.pop(key, None) is not None)
            removed += dropped
            if dropped and record is not None:
                self._keep_record(key, record)
            if key in self._leases:
                self._publish(CancelRequested(key))
        return removed

    async def claim(self, worker: str, limit: int, lease: int, horizon: int) -> ClaimResult:
        now = self._clock()
        claims: list[Claim] = []
        # Oldest expiry first, ties by key: the order a Redis sorted set of deadlines gives.
        expired = sorted(
            (held.deadline, key) for key, held in self._leases.items() if held.deadline <= now
        )
        for _, key in expired[:limit]:
            held = self._leases[key]
            held.token = token_for(worker, next(self._claims))
            held.deadline = now + lease
            held.started = now
            claims.append(Claim(key, held.token, held.payload, held.due, True))

        taken: list[tuple[int, str]] = []
        for due, key in self._in_order():
            if len(claims) + len(taken) >= limit or due > now + horizon:
                break
            if key not in self._leases:
                taken.append((due, key))
        for due, key in taken:
            _, payload = self._payloads[key]
            self._drop(key)
            self._progress.pop(key, None)  # a new run starts with no progress
            token = token_for(worker, next(self._claims))
            self._leases[key] = _Lease(token, now + lease, payload, due, now)
            claims.append(Claim(key, token, payload, due, False))

        due_now = self._order.bisect_left((now + 1,))  # entries are (due, key): due <= now
        return ClaimResult(
            claims, now, self._next_due(), len(self._payloads), len(self._leases), due_now
        )

    async def finish(self, finishes: Sequence[Finish]) -> list[bool]:
        done: list[bool] = []
        for item in finishes:
            if not self._owns(item.key, item.token):
                done.append(False)
                continue
            held = self._leases.pop(item.key)
            done.append(True)
            if item.failure is None:
                self._failures.forget(item.key)
            else:
                self._failures.add(item.key, self._clock(), held.payload, item.failure)
            self._after_run(item.key, item.record)
            if item.key in self._payloads:
                # A newer schedule of this key was waiting for this run to end.
                self._publish(Wake(self._payloads[item.key][0]))
            elif item.reschedule is not None:
                entry = item.reschedule
                earliest = self._earliest()
                self._put(item.key, entry.due, entry.payload)
                self._wake_if_earlier(entry.due, earliest)
            elif item.ends_chain:
                self._ended[item.key] = self._clock()
        return done

    async def extend(self, leases: Sequence[tuple[str, str]], lease: int) -> list[bool]:
        now = self._clock()
        extended: list[bool] = []
        for key, token in leases:
            owned = self._owns(key, token)
            if owned:
                self._leases[key].deadline = now + lease
            extended.append(owned)
        return extended

    async def release(self, releases: Sequence[Release]) -> list[bool]:
        released: list[bool] = []
        for item in releases:
            if not self._owns(item.key, item.token):
                released.append(False)
                continue
            held = self._leases.pop(item.key)
            released.append(True)
            earliest = self._earliest()
            if item.key not in self._payloads:
                self._put(item.key, item.due, held.payload)
            self._wake_if_earlier(self._payloads[item.key][0], earliest)
        return released

    async def clear(self) -> int:
        dropped = len(self._payloads)
        self._payloads.clear()
        self._order.clear()
        self._failures.clear()
        return dropped

    async def snapshot(self, limit: int) -> StoreSnapshot:
        now = self._clock()
        scheduled = [
            ScheduledTask(key, due, self._payloads[key][1])
            for due, key in itertools.islice(self._in_order(), limit)
        ]
        running = [
            RunningTask(key, held.token, held.deadline, held.payload, held.started)
            for key, held in self._leases.items()
        ]
        workers = [
            WorkerSeen(name, seen)
            for name, (seen, expires) in sorted(self._workers.items())
            if expires > now
        ]
        return StoreSnapshot(
            now, len(self._payloads), scheduled, running, workers, len(self._quarantine)
        )

    async def histogram(self, start: int, end: int, buckets: int) -> list[int]:
        edges = [start + (end - start) * i // buckets for i in range(buckets + 1)]
        positions = [self._order.bisect_left((edge, "")) for edge in edges]
        return [positions[i + 1] - positions[i] for i in range(buckets)]

    async def count_functions(self, cap: int, sample: int) -> FunctionCounts:
        return FunctionCounts(
            _tally([payload for _, payload in self._payloads.values()], cap, sample),
            _tally([held.payload for held in self._leases.values()], cap, sample),
            _tally([payload for _, payload in self._strikes.held.values()], cap, sample),
        )

    async def heartbeat(self, worker: str, ttl: int, report: bytes = b"") -> None:
        now = self._clock()
        self._workers[worker] = (now, now + ttl)
        reports = self._read_model.reports
        if report:
            reports[worker] = report
        else:
            reports.pop(worker, None)
        for name, (_, expires) in list(self._workers.items()):
            if expires <= now:
                del self._workers[name]
                reports.pop(name, None)

    async def forget_worker(self, worker: str) -> None:
        self._workers.pop(worker, None)
        self._read_model.reports.pop(worker, None)

    async def now(self) -> int:
        return self._clock()

    async def notifications(self) -> AsyncIterator[Notice]:
        subscriber = (asyncio.get_running_loop(), asyncio.Queue[Notice]())
        self._subscribers.append(subscriber)
        try:
            yield Wake(0)
            while True:
                yield await subscriber[1].get()
        finally:
            self._subscribers.remove(subscriber)

    async def destroy(self) -> None:
        await self.clear()
        self._leases.clear()
        self._workers.clear()
        self._stages.clear()
        self._members.clear()
        self._quarantine.clear()
        self._destroy_strikes()
        self._records.clear()
        self._progress.clear()
        self._ended.clear()
        self._limits = LimitBook()
        self._read_model = ReadModel()

    async def close(self) -> None:
        return None

    # -- records and progress --------------------------------------------------------------

    def _keep_record(self, key: str, record: Record) -> None:
        now = self._clock()
        _forget_expired(self._records, now)
        self._records.pop(key, None)  # re-inserted at the end: the dicts stay in expiry order
        self._records[key] = (record.data, now + record.ttl)

    def _after_run(self, key: str, record: Record | None) -> None:
        if record is None:
            self._progress.pop(key, None)
            return
        self._keep_record(key, record)
        now = self._clock()
        progress = self._progress.pop(key, None)
        if progress is not None and progress[1] > now:
            self._progress[key] = (progress[0], now + record.ttl)

    async def task_state(self, key: str) -> TaskState:
        now = self._clock()
        waiting = self._payloads.get(key)
        held = self._leases.get(key)
        record = self._records.get(key)
        progress = self._progress.get(key)
        stricken = self._strikes.held.get(key)
        return TaskState(
            now,
            None if waiting is None else ScheduledTask(key, waiting[0], waiting[1]),
            None
            if held is None
            else RunningTask(key, held.token, held.deadline, held.payload, held.started),
            record[0] if record is not None and record[1] > now else None,
            progress[0] if progress is not None and progress[1] > now else None,
            None if stricken is None else ScheduledTask(key, stricken[0], stricken[1]),
        )

    async def update_progress(
        self, key: str, *, total: int | None, advance: int, message: str | None, ttl: int
    ) -> ProgressState:
        now = self._clock()
        _forget_expired(self._progress, now)
        found = self._progress.pop(key, None)
        live = found is not None and found[1] > now
        before = found[0] if found is not None and live else ProgressState(0, None, None, now)
        after = ProgressState(
            before.current + advance,
            before.total if total is None else total,
            before.message if message is None else message,
            now,
        )
        self._progress[key] = (after, now + ttl)
        return after

    # -- quarantine ------------------------------------------------------------------------

    async def quarantine(self, items: Sequence[Quarantine]) -> list[bool]:
        moved: list[bool] = []
        for item in items:
            if not self._owns(item.key, item.token):
                moved.append(False)
                continue
            held = self._leases.pop(item.key)
            self._quarantine[item.key] = QuarantinedTask(
                item.key, held.payload, item.reason, self._clock()
            )
            moved.append(True)
            if item.key in self._payloads:
                self._publish(Wake(self._payloads[item.key][0]))
        return moved

    async def quarantined(self) -> list[QuarantinedTask]:
        return sorted(self._quarantine.values(), key=lambda task: (task.at, task.key))

    async def drop_quarantined(self, keys: Sequence[str] | None) -> int:
        if keys is None:
            dropped = len(self._quarantine)
            self._quarantine.clear()
            return dropped
        return sum(self._quarantine.pop(key, None) is not None for key in set(keys))


def _tally(payloads: Collection[bytes], cap: int, sample: int) -> FunctionTally:
    """Every payload's function when there are at most ``cap``, else a random sample's."""
    counted = (
        payloads
        if len(payloads) <= cap
        else random.sample(list(payloads), min(sample, len(payloads)))
    )
    counts = Counter(function_in(payload) for payload in counted)
    return scaled(len(payloads), len(counted), dict(counts))


def _forget_expired(table: dict[str, tuple[T, int]], now: int) -> None:
    """Drop expired entries from the front of ``table`` (kept roughly in expiry order), so a
    store nobody reads from does not grow without bound."""
    while table:
        key, (_, expires) = next(iter(table.items()))
        if expires > now:
            return
        del table[key]


_registry: dict[tuple[str, str], MemoryStore] = {}
_registry_lock = threading.Lock()


def memory_store(url: str, docket: str, clock: Clock | None = None) -> MemoryStore:
    """The process-wide store for ``(url, docket)``, created on first use.

    ``clock`` only applies when this call creates the store.
    """
    with _registry_lock:
        store = _registry.get((url, docket))
        if store is None:
            store = _registry[(url, docket)] = MemoryStore(clock or system_clock)
            store._memory_url, store._memory_name = url, docket
            register_peer(url, docket, store)
        return store
