"""What a worker does after a run fails or asks for another: retry or give up.

A retry is acknowledged and rescheduled in one atomic store step (`Finish` with a
``reschedule``), with the attempt number one higher, so it is never lost and never doubled.
Every failed run, retried or not, leaves its note in the record of failures in that same
step (`Finish.failure`, see docket/failures.py); a task that asks for a retry itself
(``RetryRequested``) leaves one only when no retry is left, since asking is not failing.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from strew.dependencies import Retry, RetryRequested
from strew.docket.failures import failure_note
from strew.signals import metrics as instrumentation
from strew.stores.records import Claim, Entry, FailureNote
from strew.task.clock import from_micros, to_micros
from strew.task.clock import micros as _micros
from strew.task.execution import Execution
from strew.worker.state import WorkerState

logger = logging.getLogger("strew.worker")


def run_fields(execution: Execution, **more: object) -> dict[str, object]:
    """The structured fields of a log record about one run (``extra=`` of the record): the
    task function, key and attempt, and whatever the line adds (``lateness_ms``,
    ``duration_ms``, ``outcome``...). The JSON log format writes them as fields of their own,
    so a collector filters on numbers instead of parsing the message."""
    return {
        "task": execution.function_name,
        "key": execution.key,
        "attempt": execution.attempt,
        **more,
    }


def _millis(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


class Outcomes:
    """What becomes of a run that failed or asked for another: a retry, or its end."""

    def __init__(self, state: WorkerState) -> None:
        self.state = state

    def note(
        self, execution: Execution, error: BaseException, next_due: int | None = None
    ) -> FailureNote:
        retention = self.state.docket.failure_retention
        return failure_note(retention, execution.function_name, error, execution.attempt, next_due)

    def retry_entry(self, claim: Claim, execution: Execution, due: int) -> Entry:
        payload = self.state.docket.codec.dump(
            execution.function_name,
            execution.args,
            execution.kwargs,
            due,
            execution.attempt + 1,
            execution.meta,
        )
        return Entry(claim.key, due, payload)

    def retry(
        self,
        claim: Claim,
        execution: Execution,
        retry: Retry | None,
        request: RetryRequested,
        started: float,
    ) -> None:
        """The task asked for another run (``retry.after`` / ``retry.at``)."""
        name, attempt = execution.function_name, execution.attempt
        if retry is None or retry.exhausted(attempt):
            self.state.stats.failed += 1
            instrumentation.record_failed(self.state.docket.name, name)
            logger.error(
                "%s asked for a retry (key %s) after attempt %d, but %s; not retried",
                name,
                claim.key,
                attempt,
                "it has no Retry parameter"
                if retry is None
                else f"its Retry allows {retry.attempts} attempt(s)",
                extra=run_fields(execution, duration_ms=_millis(started), outcome="failed"),
            )
            self.state.done(
                claim,
                record=self.state.failed(execution.function_name, request),
                failure=self.note(execution, request),
            )
            return
        if request.when is not None:
            due = to_micros(request.when)
        else:
            due = self.state.store_now() + _micros(request.delay or timedelta(0))
        self.state.stats.retried += 1
        instrumentation.record_retried(self.state.docket.name, name)
        elapsed = _millis(started)
        logger.info(
            "%s asked for a retry (key %s) after attempt %d, in %.1f ms; next run at %s",
            name,
            claim.key,
            attempt,
            elapsed,
            from_micros(due).isoformat(),
            extra=run_fields(execution, duration_ms=elapsed, outcome="retried"),
        )
        self.state.done(claim, self.retry_entry(claim, execution, due))

    def failed(
        self,
        claim: Claim,
        execution: Execution,
        retry: Retry | None,
        error: Exception,
        started: float,
        *,
        logged: bool = False,
    ) -> None:
        """``logged``: a pydocket CompletionHandler already told of the failure (it does
        its own logging), so a failure that is not retried is recorded without a log line."""
        name, attempt = execution.function_name, execution.attempt
        elapsed = _millis(started)
        if retry is None or retry.exhausted(attempt):
            limit = "" if retry is None else f"; attempt {attempt} of {retry.attempts}, none left"
            (logger.debug if logged else logger.error)(
                "%s failed (key %s) after %.1f ms%s",
                name,
                claim.key,
                elapsed,
                limit,
                exc_info=error,
                extra=run_fields(execution, duration_ms=elapsed, outcome="failed"),
            )
            self.state.done(
                claim,
                record=self.state.failed(execution.function_name, error),
                failure=self.note(execution, error),
            )
            return
        delay = retry.delay_after(attempt)
        self.state.stats.retried += 1
        instrumentation.record_retried(self.state.docket.name, name)
        logger.warning(
            "%s failed (key %s) after %.1f ms on attempt %d of %s; retrying in %s",
            name,
            claim.key,
            elapsed,
            attempt,
            "unlimited" if retry.attempts is None else retry.attempts,
            delay,
            exc_info=error,
            extra=run_fields(execution, duration_ms=elapsed, outcome="retried"),
        )
        due = self.state.store_now() + _micros(delay)
        self.state.done(
            claim, self.retry_entry(claim, execution, due), failure=self.note(execution, error, due)
        )
