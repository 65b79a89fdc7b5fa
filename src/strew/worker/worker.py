"""`Worker`: claim due tasks, run them on time, acknowledge them, never lose one.

One `asyncio.TaskGroup` holds everything a running worker does, each piece a named task:

* the **claimer** (claimer.py) takes due tasks under a lease, as many as there are free
  slots, and otherwise sleeps until the earliest due time, woken early by the store when an
  earlier task arrives;
* one **runner** per claimed task (runner.py): it waits for the exact due time (tasks
  due within ``prefetch`` are claimed a little early), runs the function, and queues its
  acknowledgement;
* the **acker** (acker.py) sends queued acknowledgements in batches, one round trip for
  many tasks;
* the **renewer**, **heartbeat** and **listener** (upkeep.py) keep leases alive, keep this
  worker on the list of live ones, and turn store notifications into wake-ups and
  cancellations.

Those parts are objects of their own over one `WorkerState` (state.py), which holds all that
more than one of them touches; `Worker` checks the settings, composes the parts, and owns the
lifecycle (start, drain, stop).

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
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from datetime import timedelta
from types import TracebackType
from typing import Any, Self

from strew.agenda.catch_up import CatchUpKeeper
from strew.dependencies import WorkerHooks
from strew.docket.docket import Docket
from strew.stores.records import FATAL_STORE_ERRORS, StoreError
from strew.task.clock import at_most_a_century, check_positive
from strew.task.envelope import PAYLOAD_READ_TIMEOUT
from strew.task.execution import TaskFunction
from strew.task.results import progress_ttl
from strew.task.standard import standard_tasks
from strew.worker.acker import Acker
from strew.worker.claimer import Claimer
from strew.worker.compat import check_pydocket_settings
from strew.worker.outcomes import Outcomes
from strew.worker.perpetual import start_automatic
from strew.worker.runner import Runner
from strew.worker.state import Stats, WorkerState
from strew.worker.strikes import StrikeGate
from strew.worker.upkeep import Upkeep

logger = logging.getLogger("strew.worker")


def _zero_or_more(value: object, name: str) -> timedelta:
    # A plain number is the wrong type (TypeError), as for the positive durations, not a
    # wrong value: the caller meant seconds and must say timedelta(seconds=...).
    if not isinstance(value, timedelta):
        raise TypeError(f"{name} must be a timedelta, got {value!r}")
    if value < timedelta(0):
        raise ValueError(f"{name} must be a duration of zero or more, got {value!r}")
    return at_most_a_century(value, name)


class Worker:
    """Runs the tasks of one docket.

    Args:
        docket: the docket whose tasks this worker runs (its registered functions).
        name: unique among live workers; defaults to ``host#pid#random``.
        concurrency: how many tasks run at once.
        redelivery_timeout: the lease length. A task whose worker stops renewing its lease
            (a crash, a kill -9, a lost network) is claimed again this long after the last
            renewal.
        reconnection_delay: the longest back-off between attempts while the store is down.
        minimum_check_interval, scheduling_resolution, message_batch: pydocket's polling
            settings, checked and kept, with no effect: strew's claimer is woken by the store
            (``poll_ceiling`` and ``prefetch`` are its knobs).
        schedule_automatic_tasks: False: this worker neither starts nor puts back the
            automatic perpetual chains (``Perpetual(automatic=True)``, `Cron`).
        enable_internal_instrumentation: checked and kept, with no effect: strew makes spans
            for task runs only, never for its own store calls.
        fallback_task: runs, instead of being put back (see ``unknown_task_delay``), a
            claimed task whose name this worker does not know: with that task's arguments
            and its own dependency markers; the task ends as the fallback's run does.
        dependencies: factories (a mapping of name to factory, or a list) made around every
            task this worker runs, as ``Depends`` factories are, their values given to no
            parameter: a failing one fails the run without its body running.

    Keyword-only, strew's own:
        shutdown_grace: on stop, how long running tasks may take to finish before they are
            cancelled and handed back for another worker to run.
        poll_ceiling: the longest the worker on watch sleeps without asking the store, in
            case a wake-up was lost (a worker on standby: four times it; see docs/workers.md,
            "How a fleet wakes").
        prefetch: tasks due this soon are claimed early and started locally at their exact
            due time.
        unknown_task_delay: a task whose function this worker does not know is put back this
            far in the future (another worker, or a later deploy, may know it).
        payload_read_timeout: how long reading a claimed payload that is not plain values
            (it names a class or a function, so reading it runs code) may take, in a thread
            of its own, before the read is abandoned and the task quarantined.
    """

    def __init__(
        self,
        docket: Docket,
        name: str | None = None,
        concurrency: int = 10,
        redelivery_timeout: timedelta = timedelta(minutes=5),
        reconnection_delay: timedelta = timedelta(seconds=5),
        # pydocket's arguments, in its order, so that a positional call keeps its meaning
        # (what each does in strew: compat.py).
        minimum_check_interval: timedelta = timedelta(milliseconds=250),
        scheduling_resolution: timedelta = timedelta(milliseconds=250),
        schedule_automatic_tasks: bool = True,
        enable_internal_instrumentation: bool = False,
        fallback_task: TaskFunction | None = None,
        dependencies: Mapping[str, Callable[..., Any]] | Sequence[Callable[..., Any]] | None = None,
        message_batch: int = 1000,
        *,
        shutdown_grace: timedelta = timedelta(seconds=30),
        poll_ceiling: timedelta = timedelta(seconds=1),
        prefetch: timedelta = timedelta(milliseconds=50),
        unknown_task_delay: timedelta = timedelta(seconds=30),
        payload_read_timeout: timedelta = PAYLOAD_READ_TIMEOUT,
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
        self.pydocket = pydocket = check_pydocket_settings(
            minimum_check_interval=minimum_check_interval,
            scheduling_resolution=scheduling_resolution,
            schedule_automatic_tasks=schedule_automatic_tasks,
            enable_internal_instrumentation=enable_internal_instrumentation,
            fallback_task=fallback_task,
            dependencies=dependencies,
            message_batch=message_batch,
        )
        """pydocket's arguments, checked (see compat.py for what each does here)."""
        # The built-in trace, fail and sleep, on every worker as on pydocket's (a task of the
        # docket's own under one of those names keeps it).
        for function in standard_tasks:
            docket.tasks.setdefault(function.__name__, function)
        self.state = state = WorkerState(
            docket,
            name or f"{socket.gethostname()}#{os.getpid()}#{os.urandom(3).hex()}",
            concurrency,
            redelivery_timeout=check_positive(redelivery_timeout, "redelivery_timeout"),
            reconnection_delay=check_positive(reconnection_delay, "reconnection_delay"),
            shutdown_grace=_zero_or_more(shutdown_grace, "shutdown_grace"),
            poll_ceiling=check_positive(poll_ceiling, "poll_ceiling"),
            prefetch=_zero_or_more(prefetch, "prefetch"),
            unknown_task_delay=check_positive(unknown_task_delay, "unknown_task_delay"),
            payload_read_timeout=check_positive(payload_read_timeout, "payload_read_timeout"),
            fallback_task=pydocket.fallback_task,
        )
        hooks = WorkerHooks(
            docket=docket,
            worker=self,
            docket_name=docket.name,
            worker_name=state.name,
            store=state.store,
            progress_ttl=progress_ttl(docket.execution_ttl),
            store_now=state.store_now,
            chain_next=state.chain_next,
            chain_end=state.chain_end,
            around_every_task=tuple(pydocket.dependencies.items()),
        )
        catch_up = CatchUpKeeper(state.store, state.name, state.store_now)
        self.runner = Runner(state, hooks, catch_up, Outcomes(state), StrikeGate(state))
        self.claimer = Claimer(state, self.runner)
        self.acker = Acker(state)
        self.upkeep = Upkeep(state)
        self._active = False

    # The settings, as pydocket's Worker has them (read-only but for shutdown_grace).

    @property
    def docket(self) -> Docket:
        return self.state.docket

    @property
    def name(self) -> str:
        return self.state.name

    @property
    def concurrency(self) -> int:
        return self.state.concurrency

    @property
    def redelivery_timeout(self) -> timedelta:
        return self.state.redelivery_timeout

    @property
    def reconnection_delay(self) -> timedelta:
        return self.state.reconnection_delay

    @property
    def shutdown_grace(self) -> timedelta:
        return self.state.shutdown_grace

    @shutdown_grace.setter
    def shutdown_grace(self, value: timedelta) -> None:
        self.state.shutdown_grace = _zero_or_more(value, "shutdown_grace")

    @property
    def poll_ceiling(self) -> timedelta:
        return self.state.poll_ceiling

    @property
    def prefetch(self) -> timedelta:
        return self.state.prefetch

    @property
    def unknown_task_delay(self) -> timedelta:
        return self.state.unknown_task_delay

    @property
    def minimum_check_interval(self) -> timedelta:
        return self.pydocket.minimum_check_interval

    @property
    def scheduling_resolution(self) -> timedelta:
        return self.pydocket.scheduling_resolution

    @property
    def schedule_automatic_tasks(self) -> bool:
        return self.pydocket.schedule_automatic_tasks

    @property
    def enable_internal_instrumentation(self) -> bool:
        return self.pydocket.enable_internal_instrumentation

    @property
    def fallback_task(self) -> TaskFunction | None:
        return self.pydocket.fallback_task

    @property
    def dependencies(self) -> dict[str, Callable[..., Any]]:
        return dict(self.pydocket.dependencies)

    @property
    def message_batch(self) -> int:
        return self.pydocket.message_batch

    @property
    def stats(self) -> Stats:
        return self.state.stats

    @property
    def catch_up(self) -> CatchUpKeeper:
        """This worker's side of its scatters' catch-up policies (see docs/catch-up.md)."""
        return self.runner.catch_up

    @catch_up.setter
    def catch_up(self, keeper: CatchUpKeeper) -> None:
        self.runner.catch_up = keeper

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
        self.state.limits = dict(iterations_by_key)
        try:
            await self._run(forever=False)
        finally:
            self.state.limits = {}

    def stop(self) -> None:
        """Ask the worker to stop: no more claims; running tasks get ``shutdown_grace``."""
        self.state.stopping.set()

    # -- the lifecycle ----------------------------------------------------------------------

    async def _run(self, *, forever: bool, signals: bool = False) -> None:
        if self._active:
            raise RuntimeError(f"{self!r} is already running")
        self._active = True
        state = self.state
        state.begin_run()
        uninstall = self._install_signal_handlers() if signals else None
        logger.info(
            "worker %s started on docket %s (concurrency %d)",
            self.name,
            self.docket.name,
            self.concurrency,
        )
        try:
            async with asyncio.TaskGroup() as group:
                upkeep = self.upkeep
                helpers = [
                    group.create_task(upkeep.listen_loop(), name=f"strew {self.name} listener"),
                    group.create_task(upkeep.beat_loop(), name=f"strew {self.name} heartbeat"),
                    group.create_task(upkeep.renew_loop(), name=f"strew {self.name} renewer"),
                    group.create_task(self.acker.loop(forever), name=f"strew {self.name} acker"),
                ]
                if self.schedule_automatic_tasks:
                    helpers += await start_automatic(state, group, forever)
                try:
                    await self.claimer.loop(group, forever)
                    await self._drain()
                except asyncio.CancelledError:
                    # Cancelled from outside (asyncio.wait_for, an app's task group): what
                    # this worker holds goes back on the schedule now, not when its leases
                    # lapse minutes later (see the handler below).
                    for running in state.running.values():
                        running.hand_back = True
                        if not running.entered:  # cancelled before its first step
                            state.hand_back(running.claim)
                    raise
                finally:
                    for helper in helpers:
                        helper.cancel()
            await self.acker.flush_final()
        except asyncio.CancelledError:
            # The runners have handed their claims back (and finished runs queued their
            # acknowledgements): send them before the cancellation goes on its way.
            await self.acker.flush_final()
            raise
        except BaseExceptionGroup as group:
            # A store error no retry mends (refused credentials, an evicting Redis) ends the
            # run as itself, not wrapped in the task group's ExceptionGroup.
            fatal: BaseException | None = group.subgroup(FATAL_STORE_ERRORS)
            while isinstance(fatal, BaseExceptionGroup):
                fatal = fatal.exceptions[0]
            if fatal is None:
                raise
            raise fatal from None
        finally:
            await self.catch_up.settle()
            try:
                await state.shared.close()
            except Exception:
                logger.exception("worker %s: cleaning up a Shared dependency failed", self.name)
            if uninstall:
                uninstall()
            self._active = False
            state.stopping.clear()  # a later run starts afresh
            with suppress(StoreError):
                await state.store.forget_worker(self.name)
            logger.info("worker %s stopped", self.name)

    async def _drain(self) -> None:
        """Stop: hand back tasks not yet started, give running ones their grace."""
        state = self.state
        for running in list(state.running.values()):
            if not running.started and running.task is not None:
                running.hand_back = True
                state.interrupt(running)
        deadline = time.monotonic() + state.shutdown_grace.total_seconds()
        while state.running:
            left = deadline - time.monotonic()
            if left <= 0 or state.shutdown_grace == timedelta(0):
                break
            state.slot_freed.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(state.slot_freed.wait(), timeout=left)
        tasks = []
        for running in list(state.running.values()):
            if running.task is not None:
                logger.warning(
                    "worker %s hands back task %s, still running after the shutdown grace",
                    self.name,
                    running.claim.key,
                )
                running.hand_back = True
                state.interrupt(running)
                tasks.append(running.task)
        if tasks:
            await asyncio.wait(tasks)

    def _install_signal_handlers(self) -> Any:
        if threading.current_thread() is not threading.main_thread():
            return None
        if not _signals_are_free():
            # An application (uvicorn under FastAPI, say) handles SIGINT and SIGTERM: they
            # stay its own, and its shutdown stops this worker (worker.stop(), or cancelling
            # its task). Taking them would leave the server running with its worker gone.
            logger.info(
                "worker %s leaves SIGINT and SIGTERM to the application that handles them",
                self.name,
            )
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
                self.state.shutdown_grace = timedelta(0)
                self.state.slot_freed.set()

        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, on_signal, signum)

        def uninstall() -> None:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)

        return uninstall


STARTUP_HANDLER = "strew_hands_over"
"""An attribute a signal handler carries when it only bridges the moments before a worker
starts (``strew worker`` sets one): `run_forever` takes over from it."""


def _signals_are_free() -> bool:
    """True when nobody but the defaults handles SIGINT and SIGTERM (Python's, asyncio.run's
    Ctrl-C handler, or strew's own start-up bridge), so `run_forever` may take them."""
    for signum, default in ((signal.SIGINT, signal.default_int_handler), (signal.SIGTERM, None)):
        handler = signal.getsignal(signum)
        if handler in (default, signal.SIG_DFL, None) or getattr(handler, STARTUP_HANDLER, False):
            continue
        # asyncio.run() (an asyncio.Runner) puts its own SIGINT handler in place of Python's.
        if isinstance(getattr(getattr(handler, "func", None), "__self__", None), asyncio.Runner):
            continue
        return False
    return True
