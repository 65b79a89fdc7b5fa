"""`Worker`: claim due tasks, run them on time, acknowledge them, never lose one.

One `asyncio.TaskGroup` holds everything a running worker does, each piece a named task:

* the **claimer** (this coroutine) takes due tasks under a lease, as many as there are free
  slots, and otherwise sleeps until the earliest due time, woken early by the store when an
  earlier task arrives;
* one **runner** per claimed task (runs.py): it waits for the exact due time (tasks
  due within ``prefetch`` are claimed a little early), runs the function, and queues its
  acknowledgement;
* the **acker** sends queued acknowledgements in batches, one round trip for many tasks;
* the **renewer** pushes the lease deadline of every running task forward;
* the **listener** turns store notifications into wake-ups and cancellations;
* the **heartbeat** keeps this worker on the list of live ones.

A worker that dies (even by SIGKILL) simply stops renewing: once ``redelivery_timeout`` passes,
another worker claims its tasks again. At least once, never lost.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import threading
from collections.abc import Mapping
from contextlib import suppress
from datetime import timedelta
from types import TracebackType
from typing import Any, Self

from strew.agenda.catch_up import CatchUpKeeper
from strew.dependencies import SharedScope, WorkerHooks
from strew.docket.docket import Docket
from strew.signals import metrics as instrumentation
from strew.stores.records import Claim, Finish, Release, StoreError
from strew.task.clock import at_most_a_century, check_positive
from strew.task.clock import micros as _micros
from strew.task.results import progress_ttl
from strew.worker.loops import Running, Stats
from strew.worker.perpetual import start_automatic
from strew.worker.runs import MICROS, WorkerRuns, local_micros

logger = logging.getLogger("strew.worker")


def _zero_or_more(value: object, name: str) -> timedelta:
    # A plain number is the wrong type (TypeError), as for the positive durations, not a
    # wrong value: the caller meant seconds and must say timedelta(seconds=...).
    if not isinstance(value, timedelta):
        raise TypeError(f"{name} must be a timedelta, got {value!r}")
    if value < timedelta(0):
        raise ValueError(f"{name} must be a duration of zero or more, got {value!r}")
    return at_most_a_century(value, name)


class Worker(WorkerRuns):
    """Runs the tasks of one docket.

    Args:
        docket: the docket whose tasks this worker runs (its registered functions).
        name: unique among live workers; defaults to ``host#pid#random``.
        concurrency: how many tasks run at once.
        redelivery_timeout: the lease length. A task whose worker stops renewing its lease
            (a crash, a kill -9, a lost network) is claimed again this long after the last
            renewal.
        reconnection_delay: the longest back-off between attempts while the store is down.
        shutdown_grace: on stop, how long running tasks may take to finish before they are
            cancelled and handed back for another worker to run.
        poll_ceiling: the longest the worker sleeps without asking the store, in case a
            wake-up was lost.
        prefetch: tasks due this soon are claimed early and started locally at their exact
            due time.
        unknown_task_delay: a task whose function this worker does not know is put back this
            far in the future (another worker, or a later deploy, may know it).
    """

    def __init__(
        self,
        docket: Docket,
        name: str | None = None,
        concurrency: int = 10,
        redelivery_timeout: timedelta = timedelta(minutes=5),
        reconnection_delay: timedelta = timedelta(seconds=5),
        shutdown_grace: timedelta = timedelta(seconds=30),
        poll_ceiling: timedelta = timedelta(seconds=1),
        prefetch: timedelta = timedelta(milliseconds=50),
        unknown_task_delay: timedelta = timedelta(seconds=30),
    ) -> None:
        if not isinstance(docket, Docket):
            raise TypeError(f"docket must be a Docket, got {docket!r}")
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f"concurrency must be a positive integer, got {concurrency!r}")
        if name is not None and (
            not isinstance(name, str)
            or not name
            or len(name) > 200
            or any(c in name for c in "/\n\r\0")
        ):
            raise ValueError(
                f"name must be 1 to 200 characters without '/' or line breaks, got {name!r}"
            )
        self.docket = docket
        self.name = name or f"{socket.gethostname()}#{os.getpid()}#{os.urandom(3).hex()}"
        self.concurrency = concurrency
        self.redelivery_timeout = check_positive(redelivery_timeout, "redelivery_timeout")
        self.reconnection_delay = check_positive(reconnection_delay, "reconnection_delay")
        self.shutdown_grace = _zero_or_more(shutdown_grace, "shutdown_grace")
        self.poll_ceiling = check_positive(poll_ceiling, "poll_ceiling")
        self.prefetch = _zero_or_more(prefetch, "prefetch")
        self.unknown_task_delay = check_positive(unknown_task_delay, "unknown_task_delay")
        self.stats = Stats()
        self._store = docket.store
        self._running: dict[str, Running] = {}
        self._finished: list[Finish] = []
        self._released: list[Release] = []
        self._limits: dict[str, int] = {}
        self._runs: dict[str, int] = {}
        self._offset = 0  # store clock minus local clock, in microseconds
        self._offset_rtt = 1 << 62  # the round trip the offset was measured over
        self._offset_age = 0
        self._active = False
        self._stopping = asyncio.Event()
        self._shared = SharedScope()
        self.catch_up = CatchUpKeeper(self._store, self.name, self._store_now)
        self._hooks = WorkerHooks(
            docket=docket,
            worker=self,
            docket_name=docket.name,
            worker_name=self.name,
            store=self._store,
            progress_ttl=progress_ttl(docket.execution_ttl),
            store_now=self._store_now,
            chain_next=self._chain_next,
            chain_end=self._chain_end,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"Worker(name={self.name!r}, docket={self.docket.name!r})"

    # -- public entry points ----------------------------------------------------------------

    async def run_until_finished(self) -> None:
        """Run until nothing is scheduled or running in the docket (future tasks included:
        the worker waits for them)."""
        await self._run(forever=False)

    async def run_forever(self) -> None:
        """Run until `stop` is called or the process receives SIGTERM or SIGINT."""
        await self._run(forever=True, signals=True)

    async def run_at_most(self, iterations_by_key: Mapping[str, int]) -> None:
        """Like `run_until_finished`, but each listed key runs at most the given number of
        times; further runs of it are dropped. For bounding self-rescheduling tasks in tests."""
        for key, limit in iterations_by_key.items():
            if not isinstance(limit, int) or limit < 0:
                raise ValueError(f"iterations for key {key!r} must be >= 0, got {limit!r}")
        self._limits = dict(iterations_by_key)
        try:
            await self._run(forever=False)
        finally:
            self._limits = {}

    def stop(self) -> None:
        """Ask the worker to stop: no more claims; running tasks get ``shutdown_grace``."""
        self._stopping.set()

    # -- the loop ---------------------------------------------------------------------------

    async def _run(self, *, forever: bool, signals: bool = False) -> None:
        if self._active:
            raise RuntimeError(f"{self!r} is already running")
        self._active = True
        # A stop() that came before this run began (say, right after create_task) must
        # still end it: carry the request over to this run's event instead of dropping it.
        stop_requested = self._stopping.is_set()
        self._stopping = asyncio.Event()
        if stop_requested:
            self._stopping.set()
        self._wake = asyncio.Event()
        self._slot_freed = asyncio.Event()
        self._acks_waiting = asyncio.Event()
        self._listening = asyncio.Event()
        self._shared = SharedScope()
        uninstall = self._install_signal_handlers() if signals else None
        logger.info(
            "worker %s started on docket %s (concurrency %d)",
            self.name,
            self.docket.name,
            self.concurrency,
        )
        try:
            async with asyncio.TaskGroup() as group:
                helpers = [
                    group.create_task(self._listen(), name=f"strew {self.name} listener"),
                    group.create_task(self._beat(), name=f"strew {self.name} heartbeat"),
                    group.create_task(self._renew(), name=f"strew {self.name} renewer"),
                    group.create_task(self._ack(forever), name=f"strew {self.name} acker"),
                ]
                helpers += await start_automatic(self, group, forever)
                try:
                    await self._claim_loop(group, forever)
                    await self._drain()
                finally:
                    for helper in helpers:
                        helper.cancel()
            await self._flush_final()
        finally:
            await self.catch_up.settle()
            try:
                await self._shared.close()
            except Exception:
                logger.exception("worker %s: cleaning up a Shared dependency failed", self.name)
            if uninstall:
                uninstall()
            self._active = False
            self._stopping.clear()  # a later run starts afresh
            with suppress(StoreError):
                await self._store.forget_worker(self.name)
            logger.info("worker %s stopped", self.name)

    def _install_signal_handlers(self) -> Any:
        if threading.current_thread() is not threading.main_thread():
            return None
        loop = asyncio.get_running_loop()
        caught: list[int] = []

        def on_signal(signum: int) -> None:
            caught.append(signum)
            if len(caught) == 1:
                logger.info(
                    "worker %s got %s: finishing running tasks (up to %.1fs), then stopping",
                    self.name,
                    signal.Signals(signum).name,
                    self.shutdown_grace.total_seconds(),
                )
                self.stop()
            else:
                logger.warning(
                    "worker %s: second signal, handing running tasks back now", self.name
                )
                self.shutdown_grace = timedelta(0)
                self._slot_freed.set()

        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, on_signal, signum)

        def uninstall() -> None:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)

        return uninstall

    async def _claim_loop(self, group: asyncio.TaskGroup, forever: bool) -> None:
        backoff = 0.05
        lease = _micros(self.redelivery_timeout)
        horizon = _micros(self.prefetch)
        ceiling = self.poll_ceiling.total_seconds()
        # Claim only once cancellations can reach us (a store that is down does not hold us
        # here for long: the claim below then fails and backs off).
        await self._wait_for(self._listening, timeout=self.reconnection_delay.total_seconds())
        while not self._stopping.is_set():
            free = self.concurrency - len(self._running)
            if free <= 0:
                self._slot_freed.clear()
                await self._wait_for(self._slot_freed, timeout=ceiling)
                continue
            self._wake.clear()
            before = local_micros()
            try:
                result = await self._store.claim(self.name, free, lease, horizon)
            except StoreError as error:
                logger.warning(
                    "worker %s could not claim tasks: %s; retrying in %.2fs",
                    self.name,
                    error,
                    backoff,
                )
                await self._wait_for(self._wake, timeout=backoff)
                backoff = min(backoff * 2, self.reconnection_delay.total_seconds())
                continue
            backoff = 0.05
            self._measure_offset(result.now, before, local_micros())
            instrumentation.record_depth(self.docket.name, result.due_now, result.scheduled)
            for claim in result.claims:
                self._start(group, claim)
            if len(result.claims) >= free:
                continue
            if (
                not forever
                and not self._running
                and not self._finished
                and result.scheduled == 0
                and result.running == 0
            ):
                return
            if result.next_due is None:
                delay = ceiling
            else:
                delay = (result.next_due - horizon - result.now) / MICROS
                delay = min(max(delay, 0.001), ceiling)
            await self._wait_for(self._wake, timeout=delay)

    def _measure_offset(self, store_now: int, sent: int, received: int) -> None:
        """Estimate the store's clock minus ours from a claim's round trip.

        The store read its clock somewhere within the round trip; the midpoint is off by at
        most half of it. A round trip stretched by a busy event loop would skew the estimate
        (and start tasks early), so only the fastest recent round trip sets it; a fresh
        measurement is taken every 200 claims anyway, so clock drift is followed."""
        rtt = received - sent
        self._offset_age += 1
        if rtt <= self._offset_rtt or self._offset_age > 200:
            self._offset = store_now - (sent + received) // 2
            self._offset_rtt = rtt
            self._offset_age = 0

    async def _wait_for(self, event: asyncio.Event, timeout: float) -> None:
        """Wait until ``event`` or a stop request, at most ``timeout`` seconds."""
        waiters = [
            asyncio.ensure_future(event.wait()),
            asyncio.ensure_future(self._stopping.wait()),
        ]
        try:
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    def _start(self, group: asyncio.TaskGroup, claim: Claim) -> None:
        self.stats.claimed += 1
        running = Running(claim)
        self._running[claim.token] = running
        running.task = group.create_task(self._execute(running), name=f"strew task {claim.key}")
