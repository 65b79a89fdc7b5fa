"""The one explicit state a running worker's parts share, and the steps on it they all take.

A `Worker` is a few composed parts — the claimer, the runner of each claimed task, the acker,
the upkeep loops (renewer, heartbeat, listener) — over one `WorkerState`. Whatever two parts
both touch is declared here, with who writes it; each part owns nothing else of another's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from strew.dependencies import SharedScope
from strew.docket.docket import Docket
from strew.signals import metrics as instrumentation
from strew.signals.metrics import TaskRun
from strew.stores.protocol import Store
from strew.stores.records import Claim, Entry, FailureNote, Finish, Record, Release
from strew.task.execution import TaskFunction
from strew.task.results import cancelled_record, completed_record, failed_record

logger = logging.getLogger("strew.worker")

MICROS = 1_000_000


def local_micros() -> int:
    """This machine's clock in microseconds (the store's is this plus the worker's offset)."""
    return time.time_ns() // 1000


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
    """One claimed task this worker holds, from its claim until its runner ends."""

    claim: Claim
    task: asyncio.Task[None] | None = None
    entered: bool = False
    """The runner took its first step (see `WorkerState.interrupt`)."""
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


class LatenessLog(deque[float]):
    """The most recent start latenesses (ms), counting every one ever added, so that a
    reader can tell which are new since it last looked (the heartbeat's punctuality)."""

    added: int = 0

    def append(self, value: float) -> None:
        super().append(value)
        self.added += 1


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
    waited: int = 0
    """Due tasks a ConcurrencyLimit parked until a slot frees."""
    deferred: int = 0
    """Due tasks a RateLimit or Debounce put back for later."""
    dropped: int = 0
    """Due tasks a Cooldown, Debounce or RateLimit(drop=True) dropped."""
    lateness: LatenessLog = field(default_factory=lambda: LatenessLog(maxlen=10_000))
    """Start lateness in milliseconds of the most recent (up to 10,000) first deliveries."""


@dataclass(eq=False)
class WorkerState:
    """What the parts of one worker share. Settings are checked by `Worker` before they get
    here; the events are made anew for each run (`begin_run`)."""

    docket: Docket
    name: str
    concurrency: int
    redelivery_timeout: timedelta
    reconnection_delay: timedelta
    shutdown_grace: timedelta
    """The second SIGTERM sets it to zero: running tasks are handed back at once."""
    poll_ceiling: timedelta
    prefetch: timedelta
    unknown_task_delay: timedelta
    payload_read_timeout: timedelta
    """How long a payload that is not plain values may take to read (see `read_payload`)."""
    fallback_task: TaskFunction | None = None
    """Runs a claimed task whose name this worker does not know (None: put it back)."""
    store: Store = field(init=False)
    stats: Stats = field(default_factory=Stats)
    running: dict[str, Running] = field(default_factory=dict)
    """The runs going on now, by claim token (the claimer adds, each runner removes its own).
    One key can have two: after a Redis restart that lost the claim, the store hands out
    again a task this worker is still running."""
    finished: list[Finish] = field(default_factory=list)
    """Acknowledgements the runners queued and the acker has not sent yet."""
    released: list[Release] = field(default_factory=list)
    """Claims handed back (a stop, a strike that could not hold), for the acker to send."""
    limits: dict[str, int] = field(default_factory=dict)
    """`run_at_most`'s limit of runs per key, for the run it was given to."""
    runs: dict[str, int] = field(default_factory=dict)
    """Runs started per limited key."""
    offset: int = 0
    """The store's clock minus ours, in microseconds (the claimer measures it)."""
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the claimer should look again now (an earlier task arrived, a batch acked)."""
    slot_freed: asyncio.Event = field(default_factory=asyncio.Event)
    acks_waiting: asyncio.Event = field(default_factory=asyncio.Event)
    listening: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once notifications flow, so cancellations can reach the tasks claimed."""
    standby: bool = False
    """Another worker holds the docket's watch: this one heeds only wake-ups handed to it
    (see the claimer, and docs/workers.md "How a fleet wakes")."""
    passed_over: bool = False
    """A wake-up was ignored on standby since the last claim was sent. Should that claim
    make this worker the watcher, the wake-up may name a task the claim did not see (it
    arrived while the claim was on its way): the claimer then looks again at once."""
    shared: SharedScope = field(default_factory=SharedScope)
    """The values of `Shared` dependencies, for one run of the worker (closed as it ends)."""

    def __post_init__(self) -> None:
        self.store = self.docket.store
        self._json = self.docket.codec.json

    def begin_run(self) -> None:
        """Fresh events for a run of the worker. A stop() that came before the run began
        (say, right after create_task) must still end it: the request is carried over."""
        stop_requested = self.stopping.is_set()
        self.stopping = asyncio.Event()
        if stop_requested:
            self.stopping.set()
        self.wake = asyncio.Event()
        self.slot_freed = asyncio.Event()
        self.acks_waiting = asyncio.Event()
        self.listening = asyncio.Event()
        self.standby = False
        self.passed_over = False
        self.shared = SharedScope()

    def store_now(self) -> int:
        """The store's clock, as this worker estimates it (see `Claimer.measure_offset`)."""
        return time.time_ns() // 1000 + self.offset

    # -- acknowledgements, queued for the acker ---------------------------------------------

    def done(
        self,
        claim: Claim,
        reschedule: Entry | None = None,
        record: Record | None = None,
        failure: FailureNote | None = None,
    ) -> None:
        """Queue the acknowledgement of ``claim`` (with the next run, or the record of how it
        ended, and the note of its failure); a perpetual run's own follow-up applies when no
        reschedule is given."""
        running = self.running.get(claim.token)
        ends_chain = False
        if reschedule is None and running is not None:
            reschedule = running.then
            ends_chain = reschedule is None and running.ends_chain
        if (
            reschedule is not None
            and running is not None
            and running.started  # a run put back before it began (admission) is not one
            and self.at_run_limit(claim.key)
        ):
            # A run past `run_at_most`'s limit would only be dropped when it falls due; a
            # perpetual's next step an hour away would keep the drain waiting that hour.
            logger.info("task %s reached its run limit; its next run is dropped", claim.key)
            reschedule = None
        self.finished.append(
            Finish(claim.key, claim.token, reschedule, record, ends_chain, failure)
        )
        self.acks_waiting.set()

    def at_run_limit(self, key: str) -> bool:
        """True when ``key`` has run as often as `run_at_most` allows (never outside it)."""
        limit = self.limits.get(key)
        return limit is not None and self.runs.get(key, 0) >= limit

    def hand_back(self, claim: Claim) -> None:
        """Queue ``claim`` to go back on the schedule at its due time, for any worker."""
        self.released.append(Release(claim.key, claim.token, claim.due))
        self.acks_waiting.set()

    # -- the records of how runs ended, kept for the docket's execution_ttl ----------------

    def completed(self, function_name: str, value: Any) -> Record | None:
        """Raises `ResultTooLarge` for a value over the docket's max_result_size."""
        return completed_record(
            self.docket.execution_ttl,
            function_name,
            value,
            self.store_now(),
            self.docket.max_result_size,
            json=self._json,
        )

    def failed(self, function_name: str, error: BaseException) -> Record | None:
        return failed_record(
            self.docket.execution_ttl, function_name, error, self.store_now(), json=self._json
        )

    def cancelled(self, function_name: str | None) -> Record | None:
        return cancelled_record(
            self.docket.execution_ttl, function_name, self.store_now(), json=self._json
        )

    # -- the runs of one key ----------------------------------------------------------------

    def runs_of(self, key: str) -> list[Running]:
        """This worker's runs of ``key``: one, or two when a lost claim was handed out again
        (only the newer one's token is still good, so whatever is set on both counts once)."""
        return [running for running in self.running.values() if running.claim.key == key]

    def chain_next(self, key: str, entry: Entry) -> None:
        """Set the entry that follows the run of ``key`` now going (see `Running.then`)."""
        for running in self.runs_of(key):
            running.then = entry

    def chain_end(self, key: str) -> None:
        """The run of ``key`` now going ends its automatic chain (see `Running.ends_chain`)."""
        for running in self.runs_of(key):
            running.ends_chain = True

    def cancel(self, key: str) -> None:
        """Cancel this worker's runs of ``key`` (a `Docket.cancel` reached it)."""
        for running in self.runs_of(key):
            if running.task is not None:
                running.cancel_requested = True
                self.interrupt(running)

    def interrupt(self, running: Running) -> None:
        """Cancel the runner of ``running`` (its flags say why). A task cancelled before its
        first step never runs its body, so its claim would be neither acknowledged nor handed
        back; that happens when a claim's reply and a cancel notice (or a stop) arrive in
        the same turn of the loop. Such a runner is left to start: it reads the flags as it
        does (see `interrupted_early`)."""
        if running.task is not None and running.entered:
            running.task.cancel()

    def interrupted_early(self, running: Running, function_name: str, attempt: int) -> bool:
        """True when a stop or a cancel came before the runner's first step: its claim is
        then handed back, or acknowledged as cancelled, here, and it must not run."""
        if running.hand_back:
            self.hand_back(running.claim)
        elif running.cancel_requested:
            self.cancelled_before_start(running.claim, function_name, attempt)
        else:
            return False
        return True

    def cancelled_before_start(self, claim: Claim, function_name: str, attempt: int) -> None:
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
        self.done(claim, record=self.cancelled(function_name))
