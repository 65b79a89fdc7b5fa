"""The loops that keep a running worker's work safe while its tasks run: the renewer keeps
leases alive, the heartbeat keeps the worker on the list of live ones (and its queue-depth
gauge fresh), the listener turns store notifications into wake-ups and cancellations.
Each loop is a `while` around a one-round step, which a test can take alone."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from importlib.metadata import PackageNotFoundError, version

from strew.dependencies import controls_of
from strew.docket.workers import encode_report
from strew.signals import metrics as instrumentation
from strew.signals.declared import LIMITS_SHOWN
from strew.stores.records import FATAL_STORE_ERRORS, CancelRequested, Notice, StoreError, Wake
from strew.stores.views import LatenessSummary
from strew.task.clock import micros
from strew.worker.state import WorkerState, cancelling, local_micros

logger = logging.getLogger("strew.worker")

PUNCTUALITY_INTERVAL = 10_000_000
"""The span (us) of one lateness summary a worker adds to the docket's series."""
PUNCTUALITY_KEPT = 86_400_000_000
"""How long the docket keeps lateness summaries (a day)."""


def _strew_version() -> str:
    try:
        return version("strew")
    except PackageNotFoundError:  # pragma: no cover - run from a checkout never installed
        return "unknown"


def summarise(at: int, worker: str, late_ms: list[float]) -> LatenessSummary:
    """Count, median, 99th percentile (nearest rank) and max of ``late_ms``, in us."""
    ordered = sorted(late_ms)
    last = len(ordered) - 1

    def us(ms: float) -> int:
        return round(ms * 1000)

    return LatenessSummary(
        at,
        worker,
        len(ordered),
        us(ordered[last // 2]),
        us(ordered[round(last * 0.99)]),
        us(ordered[last]),
    )


class Upkeep:
    def __init__(self, state: WorkerState) -> None:
        self.state = state
        self.started: int | None = None
        """The store's time of this worker's first heartbeat."""
        self.host = socket.gethostname()
        self.version = _strew_version()
        self.lateness_seen = 0
        self.interval: int | None = None
        self.pending: list[float] = []
        """Start latenesses (ms) of the interval ``interval``, not sent yet."""

    # -- leases -----------------------------------------------------------------------------

    async def renew_loop(self) -> None:
        interval = max(min(self.state.redelivery_timeout.total_seconds() / 4, 30.0), 0.01)
        while not cancelling():
            await asyncio.sleep(interval)
            await self.renew()

    async def renew(self) -> None:
        """Push the lease deadline of every running task forward by a whole lease."""
        state = self.state
        held = [(running.claim.key, token) for token, running in state.running.items()]
        if not held:
            return
        try:
            extended = await state.store.extend(held, micros(state.redelivery_timeout))
        except StoreError as error:
            logger.warning("worker %s could not renew leases: %s", state.name, error)
            return
        for (key, token), ok in zip(held, extended, strict=True):
            if not ok and token in state.running:
                logger.warning(
                    "worker %s lost the lease on task %s; another worker may run it too",
                    state.name,
                    key,
                )

    # -- presence ---------------------------------------------------------------------------

    async def beat_loop(self) -> None:
        interval = self.state.docket.heartbeat_interval.total_seconds()
        while not cancelling():
            await self.beat()
            await asyncio.sleep(interval)

    async def beat(self) -> None:
        """Say this worker is alive (for as many heartbeat intervals as the docket allows to
        be missed), and refresh the depth gauge of a worker too busy to claim."""
        state = self.state
        docket = state.docket
        try:
            await state.store.heartbeat(
                state.name,
                micros(docket.heartbeat_interval) * docket.missed_heartbeats,
                self.report(),
            )
            due = self.punctuality(local_micros() + state.offset)
            if due:
                await state.store.record_lateness(due, PUNCTUALITY_KEPT)
            # A worker with every slot taken does not claim, so the queue depth it reports
            # would go stale just as a backlog builds: look (a claim of nothing) instead.
            if len(state.running) >= state.concurrency:
                seen = await state.store.claim(state.name, 0, 1, 0)
                instrumentation.record_depth(docket.name, seen.due_now, seen.scheduled)
            if any(controls_of(function) for function in docket.tasks.values()):
                usages = await state.store.limits(LIMITS_SHOWN)
                instrumentation.record_limits(
                    docket.name,
                    [
                        (u.name if u.scope is None else f"{u.scope}/{u.name}", u.in_use, u.waiting)
                        for u in usages
                    ],
                )
        except StoreError as error:
            logger.warning("worker %s could not send a heartbeat: %s", state.name, error)

    def report(self) -> bytes:
        """What this heartbeat tells the docket of the worker (see `Docket.workers`)."""
        state = self.state
        if self.started is None:
            self.started = local_micros() + state.offset
        stats = state.stats
        return encode_report(
            host=self.host,
            pid=os.getpid(),
            concurrency=state.concurrency,
            running=len(state.running),
            done=stats.succeeded + stats.failed,
            failed=stats.failed,
            started=self.started,
            version=self.version,
        )

    def punctuality(self, now: int) -> list[LatenessSummary]:
        """Gather the start latenesses since the last look into the interval of ``now``
        (store clock); return the summary of the interval before, once it is over. Costs
        nothing per task: the runners already keep the latenesses."""
        log = self.state.stats.lateness
        new = min(log.added - self.lateness_seen, len(log))
        self.lateness_seen = log.added
        interval = now - now % PUNCTUALITY_INTERVAL
        # What started since the last look counts in the interval that look was in (off by
        # at most one heartbeat interval at an interval's edge).
        if new > 0:
            self.pending.extend(list(log)[-new:])
        ready: list[LatenessSummary] = []
        if self.interval is not None and self.interval != interval and self.pending:
            ready.append(summarise(self.interval, self.state.name, self.pending))
            self.pending = []
        self.interval = interval
        return ready

    # -- notifications ----------------------------------------------------------------------

    async def listen_loop(self) -> None:
        state = self.state
        while not cancelling():
            try:
                async for notice in state.store.notifications(state.name):
                    self.heard(notice)
            except FATAL_STORE_ERRORS:
                raise  # a user that may not subscribe: stop, as the claimer does
            except StoreError as error:  # pragma: no cover - stores reconnect on their own
                logger.warning("worker %s lost notifications: %s", state.name, error)
                await asyncio.sleep(state.reconnection_delay.total_seconds())

    def heard(self, notice: Notice) -> None:
        """Act on one notification: wake the claimer, or cancel the runs of a key. A worker
        on standby (another watches the docket) heeds only a wake-up handed to it, or a
        (re)subscription's ``Wake(0)`` after which anything may have been missed."""
        if isinstance(notice, Wake):
            self.state.listening.set()
            if notice.handed or notice.due == 0 or not self.state.standby:
                self.state.wake.set()
            else:
                self.state.passed_over = True
        elif isinstance(notice, CancelRequested):
            self.state.cancel(notice.key)
