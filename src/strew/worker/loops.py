"""The background loops of a running worker, and the state they share with it.

`Worker` (worker.py) claims tasks and runs them (runs.py); the loops here keep that
work safe: the acker sends acknowledgements in batches, the renewer keeps leases alive, the
heartbeat keeps the worker on the list of live ones, the listener turns store notifications
into wake-ups and cancellations, and the drain hands tasks back on shutdown.
They are a mixin so that each stays a method of the one worker object they serve.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import timedelta

from strew.docket.docket import Docket
from strew.signals import metrics as instrumentation
from strew.signals.metrics import TaskRun
from strew.stores.protocol import Store
from strew.stores.records import (
    CancelRequested,
    Claim,
    Entry,
    Finish,
    Record,
    Release,
    StoreError,
    Wake,
)
from strew.task.clock import micros as _micros
from strew.task.results import cancelled_record

logger = logging.getLogger("strew.worker")


def cancelling() -> bool:
    """True once someone asked the current task to stop.

    The helper loops check this as well as relying on CancelledError: a client library that
    swallows a cancellation (turning it into an error the loop logs and survives) must not
    leave a worker unable to stop.
    """
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


@dataclass(eq=False)
class Running:
    claim: Claim
    task: asyncio.Task[None] | None = None
    entered: bool = False
    """The runner took its first step (see `WorkerLoops._interrupt`)."""
    started: bool = False
    hand_back: bool = False
    """Set when shutdown interrupts the task: release it instead of acknowledging."""
    cancel_requested: bool = False
    then: Entry | None = None
    """What follows this run when it is acknowledged without a reschedule of its own (a
    perpetual task's next step; see `Perpetual`). A pending retry comes first."""
    run: TaskRun | None = None
    """Metrics and span of the run, once it started; ended when the task's coroutine ends."""
    ends_chain: bool = False
    """The run ended its automatic chain on purpose (``perpetual.cancel()``): acknowledged
    without a reschedule, the store remembers it, so workers do not put the chain back."""


@dataclass
class Stats:
    claimed: int = 0
    succeeded: int = 0
    failed: int = 0
    retried: int = 0
    """Runs that failed (or asked for another run) and were put back by their `Retry`."""
    cancelled: int = 0
    redelivered: int = 0
    released: int = 0
    lost_leases: int = 0
    quarantined: int = 0
    """Claims moved into the quarantine because their payload could not be read."""
    held: int = 0
    """Claimed tasks a strike paused, moved aside until `Docket.restore`."""
    skipped: int = 0
    """Tasks acknowledged without running because their scatter's `CatchUp.skip` limit
    had passed."""
    lateness: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))
    """Start lateness in milliseconds of the most recent (up to 10,000) first deliveries."""


class WorkerLoops:
    """The loops; `Worker` provides the attributes declared here."""

    name: str
    docket: Docket
    concurrency: int
    redelivery_timeout: timedelta
    reconnection_delay: timedelta
    shutdown_grace: timedelta
    stats: Stats
    _store: Store
    _offset: int
    _running: dict[str, Running]
    """The runs going on now, by claim token. One key can have two: after a Redis restart
    that lost the claim, the store hands out again a task this worker is still running."""
    _finished: list[Finish]
    _released: list[Release]
    _acks_waiting: asyncio.Event
    _wake: asyncio.Event
    _listening: asyncio.Event
    _slot_freed: asyncio.Event

    def _store_now(self) -> int:
        """The store's clock, as this worker estimates it (see `Worker._measure_offset`)."""
        return time.time_ns() // 1000 + self._offset

    def _done(
        self, claim: Claim, reschedule: Entry | None = None, record: Record | None = None
    ) -> None:
        running = self._running.get(claim.token)
        ends_chain = False
        if reschedule is None and running is not None:
            reschedule = running.then
            ends_chain = reschedule is None and running.ends_chain
        self._finished.append(Finish(claim.key, claim.token, reschedule, record, ends_chain))
        self._acks_waiting.set()

    def _chain_next(self, key: str, entry: Entry) -> None:
        """Set the entry that follows the run of ``key`` now going (see `Running.then`)."""
        for running in self._runs_of(key):
            running.then = entry

    def _chain_end(self, key: str) -> None:
        """The run of ``key`` now going ends its automatic chain (see `Running.ends_chain`)."""
        for running in self._runs_of(key):
            running.ends_chain = True

    def _runs_of(self, key: str) -> list[Running]:
        """This worker's runs of ``key``: one, or two when a lost claim was handed out again
        (only the newer one's token is still good, so whatever is set on both counts once)."""
        return [running for running in self._running.values() if running.claim.key == key]

    async def _ack(self, forever: bool) -> None:
        """Send acknowledgements in batches: whatever piled up while the last batch flew."""
        backoff = 0.05
        while not cancelling():
            await self._acks_waiting.wait()
            self._acks_waiting.clear()
            try:
                await self._flush()
            except StoreError as error:
                logger.warning("worker %s could not acknowledge tasks: %s", self.name, error)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.reconnection_delay.total_seconds())
                self._acks_waiting.set()
                continue
            backoff = 0.05
            if not forever:
                self._wake.set()

    async def _flush(self) -> None:
        # Entries leave the lists only once the store has them: a batch interrupted half-way
        # is sent again, which is harmless (a token finishes once; the second time is a no-op).
        finishes = self._finished[:]
        if finishes:
            results = await self._store.finish(finishes)
            del self._finished[: len(finishes)]
            lost = results.count(False)
            if lost:
                self.stats.lost_leases += lost
                logger.warning(
                    "worker %s finished %d task(s) whose lease had already passed to another "
                    "worker (they may have run twice)",
                    self.name,
                    lost,
                )
        releases = self._released[:]
        if releases:
            await self._store.release(releases)
            del self._released[: len(releases)]
            self.stats.released += len(releases)

    async def _flush_final(self) -> None:
        delay = 0.05
        deadline = time.monotonic() + max(self.reconnection_delay.total_seconds(), 1.0)
        while self._finished or self._released:
            try:
                await self._flush()
            except StoreError as error:
                if time.monotonic() > deadline:
                    logger.error(
                        "worker %s stopped with %d unacknowledged task(s): %s; they will be "
                        "redelivered after %s",
                        self.name,
                        len(self._finished) + len(self._released),
                        error,
                        self.redelivery_timeout,
                    )
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

    async def _renew(self) -> None:
        lease = _micros(self.redelivery_timeout)
        interval = max(min(self.redelivery_timeout.total_seconds() / 4, 30.0), 0.01)
        while not cancelling():
            await asyncio.sleep(interval)
            held = [(running.claim.key, token) for token, running in self._running.items()]
            if not held:
                continue
            try:
                extended = await self._store.extend(held, lease)
            except StoreError as error:
                logger.warning("worker %s could not renew leases: %s", self.name, error)
                continue
            for (key, token), ok in zip(held, extended, strict=True):
                if not ok and token in self._running:
                    logger.warning(
                        "worker %s lost the lease on task %s; another worker may run it too",
                        self.name,
                        key,
                    )

    async def _beat(self) -> None:
        interval = self.docket.heartbeat_interval
        ttl = _micros(interval) * self.docket.missed_heartbeats
        while not cancelling():
            try:
                await self._store.heartbeat(self.name, ttl)
                await self._refresh_depth()
            except StoreError as error:
                logger.warning("worker %s could not send a heartbeat: %s", self.name, error)
            await asyncio.sleep(interval.total_seconds())

    async def _refresh_depth(self) -> None:
        """A worker with every slot taken does not claim, so the queue depth it reports would
        go stale just as a backlog builds: look (a claim of nothing) once a heartbeat."""
        if len(self._running) >= self.concurrency:
            seen = await self._store.claim(self.name, 0, 1, 0)
            instrumentation.record_depth(self.docket.name, seen.due_now, seen.scheduled)

    async def _listen(self) -> None:
        while not cancelling():
            try:
                async for notice in self._store.notifications():
                    if isinstance(notice, Wake):
                        self._listening.set()
                        self._wake.set()
                    elif isinstance(notice, CancelRequested):
                        self._cancel(notice.key)
            except StoreError as error:  # pragma: no cover - stores reconnect on their own
                logger.warning("worker %s lost notifications: %s", self.name, error)
                await asyncio.sleep(self.reconnection_delay.total_seconds())

    def _cancel(self, key: str) -> None:
        for running in self._runs_of(key):
            if running.task is not None:
                running.cancel_requested = True
                self._interrupt(running)

    def _interrupt(self, running: Running) -> None:
        """Cancel the runner of ``running`` (its flags say why). A task cancelled before its
        first step never runs its body, so its claim would be neither acknowledged nor handed
        back; that happens when a claim's reply and a cancel notice (or a stop) arrive in
        the same turn of the loop. Such a runner is left to start: it reads the flags as it
        does (see `_interrupted_early`)."""
        if running.task is not None and running.entered:
            running.task.cancel()

    def _interrupted_early(self, running: Running, function_name: str, attempt: int) -> bool:
        """True when a stop or a cancel came before the runner's first step: its claim is
        then handed back, or acknowledged as cancelled, here, and it must not run."""
        claim = running.claim
        if running.hand_back:
            self._released.append(Release(claim.key, claim.token, claim.due))
            self._acks_waiting.set()
        elif running.cancel_requested:
            self._cancelled_before_start(claim, function_name, attempt)
        else:
            return False
        return True

    def _cancelled_before_start(self, claim: Claim, function_name: str, attempt: int) -> None:
        """Acknowledge a task cancelled before it ran (at its claim, while it waited for its
        due time, or for its scatter's catch-up decision), never running it: counted, logged
        and recorded as cancelled, whichever of those moments it was."""
        self.stats.cancelled += 1
        instrumentation.record_cancelled(self.docket.name, function_name)
        logger.info(
            "%s cancelled before it started (key %s)",
            function_name,
            claim.key,
            extra={
                "task": function_name,
                "key": claim.key,
                "attempt": attempt,
                "outcome": "cancelled",
            },
        )
        ended = self._store_now()
        self._done(claim, record=cancelled_record(self.docket.execution_ttl, function_name, ended))

    async def _drain(self) -> None:
        """Stop: hand back tasks not yet started, give running ones their grace."""
        for running in list(self._running.values()):
            if not running.started and running.task is not None:
                running.hand_back = True
                self._interrupt(running)
        deadline = time.monotonic() + self.shutdown_grace.total_seconds()
        while self._running:
            left = deadline - time.monotonic()
            if left <= 0 or self.shutdown_grace == timedelta(0):
                break
            self._slot_freed.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._slot_freed.wait(), timeout=left)
        tasks = []
        for running in list(self._running.values()):
            if running.task is not None:
                logger.warning(
                    "worker %s hands back task %s, still running after the shutdown grace",
                    self.name,
                    running.claim.key,
                )
                running.hand_back = True
                self._interrupt(running)
                tasks.append(running.task)
        if tasks:
            await asyncio.wait(tasks)
