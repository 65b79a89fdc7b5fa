"""What a worker does with one claimed task, from its claim to its acknowledgement.

Each claim gets a *runner* (`Runner.execute`, a task in the worker's TaskGroup) that

1. reads the payload and settles the claims that will not run: unreadable (quarantined),
   interrupted before they began, of a function this worker does not know (put back on the
   schedule, unless the worker has a ``fallback_task`` to run instead), held by a strike,
   past a `run_at_most` limit;
2. waits for the exact due time (a claim may come up to ``prefetch`` early) and asks the
   scatter's catch-up policy whether it runs now, later or not at all;
3. calls the function with its dependencies and queues the acknowledgement of the outcome
   (success, failure, retry, cancellation), which the acker sends in batches.

A stop cancels the runner with ``hand_back`` set: the task goes back on the schedule for
another worker instead of being acknowledged.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from typing import Any

from strew.agenda.catch_up import CatchUpKeeper
from strew.dependencies import Retry, RetryRequested, WorkerHooks, gates_for, markers_of
from strew.dependencies.hooks import RunReport
from strew.dependencies.running import call_task, call_with_dependencies
from strew.docket.quarantine import quarantine_claim
from strew.signals import metrics as instrumentation
from strew.stores.records import Claim, Entry, StoreError
from strew.task.clock import from_micros
from strew.task.clock import micros as _micros
from strew.task.envelope import CorruptPayload
from strew.task.execution import Execution, TaskFunction, set_current_execution
from strew.task.results import ResultTooLarge
from strew.worker.admission import AdmissionGate
from strew.worker.outcomes import Outcomes, run_fields
from strew.worker.state import MICROS, Running, WorkerState, local_micros
from strew.worker.strikes import StrikeGate

logger = logging.getLogger("strew.worker")


class Runner:
    """The runner of each claimed task: one `execute` per claim, a task in the worker's
    TaskGroup."""

    def __init__(
        self,
        state: WorkerState,
        hooks: WorkerHooks,
        catch_up: CatchUpKeeper,
        outcomes: Outcomes,
        strikes: StrikeGate,
    ) -> None:
        self.state = state
        self.hooks = hooks
        self.catch_up = catch_up
        self.outcomes = outcomes
        self.strikes = strikes
        self.admission = AdmissionGate(state)
        # Read once per function, not once per run: its markers and `Retry`, and whether
        # it is a coroutine function (the functions are the docket's, alive anyway).
        self._plans: dict[TaskFunction, tuple[list[tuple[str, Any]], Retry | None]] = {}
        self._is_async: dict[Any, bool] = {}

    async def execute(self, running: Running) -> None:
        claim = running.claim
        running.entered = True
        try:
            await self._execute_claim(running)
        except asyncio.CancelledError:
            if running.hand_back:
                self.state.hand_back(claim)
            else:
                raise
        finally:
            if running.run is not None:
                running.run.end()
            self.state.running.pop(claim.token, None)
            self.state.slot_freed.set()

    async def _execute_claim(self, running: Running) -> None:
        """One claimed task, in three steps: read it, wait for its moment, run it."""
        prepared = await self._prepare(running)
        if prepared is None:
            return
        function, execution = prepared
        set_current_execution(execution)
        if not await self._starts_now(running, execution):
            return
        gates = gates_for(function, execution.function_name, execution.args, execution.kwargs)
        if not gates:
            await self._run_task(running, function, execution)
            return
        if not await self.admission.admitted(running.claim, execution, gates):
            if running.claim.key in self.state.limits:
                self.state.runs[running.claim.key] -= 1  # it did not run: not one of its runs
            return
        try:
            await self._run_task(running, function, execution)
        finally:
            await self.admission.release(running.claim, gates)

    async def _prepare(self, running: Running) -> tuple[TaskFunction, Execution] | None:
        """The claim's function and Execution, or None when it is settled without running:
        an unreadable payload (quarantined), a task interrupted before it began, a function
        this worker does not know (put back on the schedule), a task held by a strike, or a
        key past its `run_at_most` limit."""
        claim = running.claim
        if claim.problem is not None:
            await self._quarantine(claim, claim.problem)  # its payload is never read
            return None
        try:
            envelope = await self.state.docket.codec.read(
                claim.payload, self.state.payload_read_timeout.total_seconds()
            )
        except CorruptPayload as error:
            await self._quarantine(claim, str(error))
            return None
        except asyncio.CancelledError:
            # Cancelled while a slow payload was read in its thread: as before it started.
            if running.cancel_requested and not running.hand_back:
                self.state.stats.cancelled += 1
                self.state.done(claim, record=self.state.cancelled(None))
                return None
            raise
        if self.state.interrupted_early(running, envelope.function_name, envelope.attempt):
            return None
        function = self.state.docket.tasks.get(envelope.function_name)
        if function is None:
            if self.state.fallback_task is None:
                self._put_back_unregistered(claim, envelope.function_name)
                return None
            # pydocket's fallback_task: called with the task's own arguments, its markers
            # filled in, and the run ends as the fallback's does (done, failed, retried);
            # `execution.function_name` still names the task that was asked for.
            function = self.state.fallback_task
        if await self.strikes.stricken(claim, envelope, function):
            return None  # held by a strike (strikes.py), not run
        limits, runs_so_far = self.state.limits, self.state.runs
        if claim.key in limits:
            runs = runs_so_far.get(claim.key, 0)
            if runs >= limits[claim.key]:
                logger.info("task %s reached its run limit of %d; dropped", claim.key, runs)
                self.state.done(claim)
                return None
            runs_so_far[claim.key] = runs + 1
        return function, Execution(
            self.state.docket,
            function,
            envelope.function_name,
            envelope.args,
            envelope.kwargs,
            claim.key,
            from_micros(envelope.when),
            envelope.attempt,
            redelivered=claim.redelivered,
            meta=envelope.meta,
        )

    def _put_back_unregistered(self, claim: Claim, function_name: str) -> None:
        delay = _micros(self.state.unknown_task_delay)
        retry_at = max(claim.due + delay, local_micros() + self.state.offset + delay)
        logger.error(
            "task %s (key %s) is not registered on worker %s; it goes back on the "
            "schedule for %s (registered: %s)",
            function_name,
            claim.key,
            self.state.name,
            self.state.unknown_task_delay,
            ", ".join(sorted(self.state.docket.tasks)) or "none",
        )
        self.state.done(claim, Entry(claim.key, retry_at, claim.payload))

    async def _starts_now(self, running: Running, execution: Execution) -> bool:
        """Wait for the task's due time (it may have been claimed early) and its scatter's
        catch-up decision; False if it is settled instead of run."""
        claim = running.claim
        wait = (claim.due - self.state.offset - local_micros()) / MICROS
        try:
            if wait > 0 and not claim.redelivered:
                await asyncio.sleep(wait)  # claimed early: start at the due time exactly
            decision = await self.catch_up.decide(claim, execution.meta, self.state.store_now())
        except asyncio.CancelledError:
            # Cancelled before it started (waiting for its due time, or for its scatter's
            # catch-up decision): acknowledge it, or its lease would lapse and another worker
            # would run it after all. A stop instead hands it back (see `_execute`).
            if running.cancel_requested and not running.hand_back:
                self.state.cancelled_before_start(claim, execution.function_name, execution.attempt)
                return False
            raise
        if decision == "handed back":
            return False  # back on the schedule at its re-spread time; no lease to acknowledge
        if decision == "skip":
            self.state.stats.skipped += 1
            self.state.done(claim)
            return False
        return True

    async def _run_task(
        self, running: Running, function: TaskFunction, execution: Execution
    ) -> None:
        """Call the function (with its dependencies) and queue the outcome's acknowledgement."""
        claim = running.claim
        running.started = True
        late = (local_micros() + self.state.offset - claim.due) / 1000
        if claim.redelivered:
            self.state.stats.redelivered += 1
        else:
            self.state.stats.lateness.append(late)
        # Checked first: the call's repr and the fields cost more than the rest of a no-op
        # task's start, and are thrown away when INFO is off.
        logging_runs = logger.isEnabledFor(logging.INFO)
        if logging_runs:
            logger.info(
                "started %s (key %s, %.1f ms late%s)",
                execution.call_repr(),
                claim.key,
                late,
                ", redelivered" if claim.redelivered else "",
                extra=run_fields(
                    execution, lateness_ms=round(late, 3), redelivered=claim.redelivered
                ),
            )
        run = running.run = instrumentation.TaskRun(self.state.docket.name, execution, late / 1000)
        started = time.perf_counter()
        markers, retry = self._plan(function)
        report = RunReport()
        try:
            if markers or self.hooks.around_every_task:
                value = await call_with_dependencies(
                    self._call, function, execution, markers, self.hooks, self.state.shared, report
                )
            else:
                value = await call_task(self._call, function, execution.args, execution.kwargs)
        except asyncio.CancelledError:
            if running.cancel_requested and not running.hand_back:
                self.state.stats.cancelled += 1
                run.cancelled()
                elapsed = round((time.perf_counter() - started) * 1000, 3)
                logger.info(
                    "%s cancelled (key %s) after %.1f ms",
                    execution.function_name,
                    claim.key,
                    elapsed,
                    extra=run_fields(execution, duration_ms=elapsed, outcome="cancelled"),
                )
                self.state.done(claim, record=self.state.cancelled(execution.function_name))
                return
            raise
        except Exception as error:
            if report.failure_handled:
                # A pydocket FailureHandler took it over: acknowledged, nothing recorded.
                logger.info(
                    "%s failed (key %s); its FailureHandler took it over: %r",
                    execution.function_name,
                    claim.key,
                    error,
                    extra=run_fields(execution, outcome="handled"),
                )
                self.state.done(claim)
                return
            if isinstance(error, RetryRequested):
                self.outcomes.retry(claim, execution, retry, error, started)
                return
            self.state.stats.failed += 1
            run.failed(error)
            self.outcomes.failed(
                claim, execution, retry, error, started, logged=report.completion_handled
            )
            return
        if report.completion_handled:
            value = None  # as pydocket's: a CompletionHandler that took over keeps no result
            logging_runs = False  # and did its own logging
        try:
            record = self.state.completed(execution.function_name, value)
        except ResultTooLarge as error:
            # Kept, it could never be acknowledged (the store refuses it): the run fails, once.
            self.state.stats.failed += 1
            run.failed(error)
            self.outcomes.failed(claim, execution, None, error, started)
            return
        self.state.stats.succeeded += 1
        run.succeeded()
        if logging_runs:
            elapsed = round((time.perf_counter() - started) * 1000, 3)
            logger.info(
                "%s finished (key %s) in %.1f ms",
                execution.function_name,
                claim.key,
                elapsed,
                extra=run_fields(execution, duration_ms=elapsed, outcome="succeeded"),
            )
        self.state.done(claim, record=record)

    async def _quarantine(self, claim: Claim, reason: str) -> None:
        """Move a task whose payload cannot be read (or must not be) aside, for a human to
        look at."""
        try:
            moved = await quarantine_claim(self.state.store, claim, reason)
        except StoreError as failure:
            # Its lease runs out and it is claimed (and quarantined) again: nothing is lost.
            logger.warning("task %s could not be quarantined: %s", claim.key, failure)
            return
        if not moved:
            self.state.stats.lost_leases += 1
            logger.warning("task %s: its lease passed to another worker first", claim.key)
            return
        self.state.stats.quarantined += 1
        logger.error("task %s was quarantined: %s", claim.key, reason)

    def _plan(self, function: TaskFunction) -> tuple[list[tuple[str, Any]], Retry | None]:
        try:
            return self._plans[function]
        except KeyError:
            pass
        except TypeError:  # an unhashable callable: read each time
            return self._read_plan(function)
        plan = self._plans[function] = self._read_plan(function)
        return plan

    @staticmethod
    def _read_plan(function: TaskFunction) -> tuple[list[tuple[str, Any]], Retry | None]:
        markers = markers_of(function)
        return markers, next((m for _, m in markers if isinstance(m, Retry)), None)

    def _coroutine_function(self, function: Any) -> bool:
        try:
            return self._is_async[function]
        except KeyError:
            pass
        except TypeError:  # an unhashable callable: asked each time
            return inspect.iscoroutinefunction(function)
        answer = self._is_async[function] = inspect.iscoroutinefunction(function)
        return answer

    async def _call(
        self, function: TaskFunction, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if self._coroutine_function(function):
            return await function(*args, **kwargs)
        result = await asyncio.to_thread(function, *args, **kwargs)
        if inspect.isawaitable(result):
            return await result
        return result
