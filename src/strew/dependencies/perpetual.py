"""Perpetual and Cron: tasks that put their own next run on the schedule.

After each run the worker acknowledges the run and schedules the next one under the **same
key** in one atomic store step (a `Finish` with a reschedule), so a chain is never lost
between two runs and never forks into two. A run that fails goes on the same way once its
`Retry` has nothing left to try; a pending retry comes first. A run cancelled with
``docket.cancel(key)`` ends the chain. An automatic chain that ends itself
(``perpetual.cancel()``) is remembered as ended in the store, so the workers' periodic check
does not put it back (see `strew.worker.perpetual`); a worker that starts later does.

Cadence: the next run is due one ``every`` after the previous run was *due* (not after it
ended, so the schedule does not drift by the run's own duration). If that moment has already
passed (the run overran, or no worker was up for a while), whole periods are skipped: the
next run is the first moment of the original cadence that is not in the past. A worker coming
back after an hour's outage runs a one-minute task once, not sixty times. A `Cron` runs at
the first match of its expression after the later of the previous due time and now.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo
from types import TracebackType
from typing import TYPE_CHECKING, Any

from strew.dependencies.base import Dependency, RunContext, check_duration, markers_of
from strew.dependencies.cron import CronError, CronSchedule
from strew.stores.records import Entry
from strew.task.checks import check_when
from strew.task.clock import from_micros, micros, to_micros
from strew.task.codec import Codec
from strew.task.execution import TaskFunction

if TYPE_CHECKING:
    from strew.task.execution import Execution

logger = logging.getLogger("strew.worker")

CHAIN_DUE = "perpetual_due"
"""Key in an envelope's ``meta``: the due time of the chain's current step, in microseconds.
A retry of a run keeps the meta it had, so the cadence counts from the step, not the retry."""


class Perpetual(Dependency):
    """Run the task again after each run, under the same key, every ``every``.

    With ``automatic=True`` the task needs no producer: each worker starts its chain (key =
    the task's name) when it starts, and puts it back if the chain was lost. Such a task must
    be callable without arguments.

    ``every`` defaults to zero, as in pydocket: ``Perpetual()`` runs again as soon as each run
    ends (back to back), unless the run chose its next time with ``after`` or ``at``.

    Inside the task, the parameter's value is this run's copy:

    * ``perpetuate(*args, **kwargs)``: the next run gets these arguments instead;
    * ``cancel()``: this is the last run (whatever else the run asked for);
    * ``after(delay)`` / ``at(when)``: the next run is ``delay`` after the call, or at
      ``when``, instead of the usual cadence (later runs keep the cadence from there). The
      last of the two calls wins.
    """

    single = True

    def __init__(self, every: timedelta = timedelta(0), automatic: bool = False) -> None:
        self.every = every
        self.automatic = automatic
        self.args: tuple[Any, ...] = ()
        """The arguments the next run gets (this run's, unless `perpetuate` changed them)."""
        self.kwargs: dict[str, Any] = {}
        self.cancelled = False
        self._next_at: datetime | None = None
        self._next_after: timedelta | None = None
        self._clock: Callable[[], int] | None = None
        """The store's clock, once resolved for a run: ``after`` counts from its call."""
        self._next_due: int | None = None

    # -- checked at register() --------------------------------------------------------------

    def problem(self) -> str | None:
        automatic: object = self.automatic
        if not isinstance(automatic, bool):
            return f"automatic must be True or False, got {automatic!r}"
        return check_duration("every", self.every, zero_ok=True)

    # -- one run ----------------------------------------------------------------------------

    def _copy(self) -> Perpetual:
        copy = object.__new__(type(self))
        copy.__dict__.update(self.__dict__)
        return copy

    async def resolve(self, context: RunContext, parameter: str) -> Perpetual:
        run = self._copy()
        execution = context.execution
        run.args, run.kwargs = execution.args, dict(execution.kwargs)
        run.cancelled, run._next_at, run._next_after = False, None, None
        hooks = context.hooks
        run._clock, run._next_due = hooks.store_now, None

        def after_run(
            kind: type[BaseException] | None,
            error: BaseException | None,
            trace: TracebackType | None,
        ) -> None:
            # Success and failure alike continue the chain; a cancellation (docket.cancel,
            # or a shutdown handing the run back) does not, nor a failure that a pydocket
            # FailureHandler took over (pydocket then skips its completion handler).
            if context.failure_handled:
                return
            if kind is None or issubclass(kind, Exception):
                entry = run.follow_up(execution, hooks.store_now())
                if entry is not None:
                    hooks.chain_next(execution.key, entry)
                    return
                logger.info(
                    "%s (key %s) cancelled its perpetual chain: no further runs",
                    execution.function_name,
                    execution.key,
                )
                if run.automatic and execution.key == execution.function_name:
                    # Workers would otherwise put the automatic chain back as if it were
                    # lost; the store remembers, with the acknowledgement, that it ended.
                    hooks.chain_end(execution.key)

        context.stack.push(after_run)
        return run

    def perpetuate(self, *args: Any, **kwargs: Any) -> None:
        """Give the next run these arguments."""
        self.args, self.kwargs = args, kwargs

    def cancel(self) -> None:
        """End the chain after this run."""
        self.cancelled = True

    def after(self, delay: timedelta) -> None:
        """Run next ``delay`` after now (this call), instead of at the usual cadence.

        As pydocket's: the delay counts from the call, not from the end of the run. Raises
        `TypeError` for a ``delay`` that is not a timedelta, `ValueError` for a negative one.
        """
        if not isinstance(delay, timedelta):
            raise TypeError(f"delay must be a timedelta, got {delay!r}")
        problem = check_duration("delay", delay, zero_ok=True)
        if problem:
            raise ValueError(problem)
        self._next_at, self._next_after, self._next_due = None, delay, None
        if self._clock is not None:
            self._next_due = self._clock() + micros(delay)

    def at(self, when: datetime) -> None:
        """Run next at ``when`` (timezone-aware), instead of at the usual cadence. A time in
        the past runs it as soon as this run ends. Raises `TypeError` for a ``when`` that is
        not a datetime, `ValueError` for a naive one."""
        self._next_at, self._next_after, self._next_due = check_when(when), None, None

    # -- the next step ----------------------------------------------------------------------

    def next_due(self, previous: int, now: int) -> int:
        """When the step after one due at ``previous`` is due, on the cadence, never before
        ``now`` (microseconds since the epoch)."""
        every = micros(self.every)
        due = previous + every
        if due >= now:
            return due
        if every == 0:
            return now
        skipped = -(-(now - due) // every)  # whole periods, rounded up
        return due + skipped * every

    def follow_up(self, execution: Execution, now: int) -> Entry | None:
        """The entry for the chain's next step after ``execution``, or None if cancelled."""
        if self.cancelled:
            return None
        if self._next_at is not None:
            due = to_micros(self._next_at)
        elif self._next_due is not None:
            due = self._next_due
        elif self._next_after is not None:
            due = now + micros(self._next_after)
        else:
            previous = execution.meta.get(CHAIN_DUE)
            if not isinstance(previous, int):
                previous = to_micros(execution.when)
            due = self.next_due(previous, now)
        meta = {**execution.meta, CHAIN_DUE: due}
        codec = execution.docket.codec
        payload = codec.dump(execution.function_name, self.args, self.kwargs, due, 1, meta)
        return Entry(execution.key, due, payload)

    def first_due(self, now: int) -> int:
        """When an automatic chain started at ``now`` first runs."""
        return now

    def __repr__(self) -> str:
        return f"Perpetual(every={self.every!r}, automatic={self.automatic!r})"


class Cron(Perpetual):
    """A `Perpetual` that runs at the wall-clock times of a cron ``expression`` (see
    `strew.dependencies.cron` for the syntax), read in the time zone ``tz`` (a `tzinfo` or an
    IANA name; None means UTC). Automatic by default: workers start it on their own."""

    def __init__(
        self, expression: str, tz: tzinfo | str | None = None, automatic: bool = True
    ) -> None:
        super().__init__(timedelta(0), automatic)
        self.expression = expression
        self.tz = tz
        self.schedule: CronSchedule | None = None
        self._error: str | None = None
        try:
            self.schedule = CronSchedule.parse(expression, tz)
        except CronError as error:
            self._error = str(error)

    def problem(self) -> str | None:
        automatic: object = self.automatic
        if not isinstance(automatic, bool):
            return f"automatic must be True or False, got {automatic!r}"
        return self._error

    def _parsed(self) -> CronSchedule:
        if self.schedule is None:
            raise CronError(self._error or f"cron expression {self.expression!r} is invalid")
        return self.schedule

    def next_after(self, when: datetime) -> datetime:
        """The first wall-clock match strictly after ``when``."""
        return self._parsed().next_after(when)

    def next_due(self, previous: int, now: int) -> int:
        return to_micros(self.next_after(from_micros(max(previous, now))))

    def first_due(self, now: int) -> int:
        return to_micros(self.next_after(from_micros(now)))

    def __repr__(self) -> str:
        return f"Cron({self.expression!r}, tz={self.tz!r}, automatic={self.automatic!r})"


def perpetual_of(function: TaskFunction) -> Perpetual | None:
    """The Perpetual (or Cron) marker of ``function``, if it has one."""
    for _, marker in markers_of(function):
        if isinstance(marker, Perpetual):
            return marker
    return None


def check_perpetual(function: TaskFunction, label: str) -> None:
    """An automatic task is started by workers with no arguments: refuse one that needs
    some (a parameter without a default that is not ``*args`` / ``**kwargs``)."""
    marker = perpetual_of(function)
    if marker is None or not marker.automatic:
        return
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return
    required = [
        p.name
        for p in parameters
        if p.default is inspect.Parameter.empty
        and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]
    if required:
        raise ValueError(
            f"task {label}: {marker!r} is automatic, so workers start it without arguments, "
            f"but it requires {', '.join(repr(name) for name in required)}; give "
            "them defaults or make the task not automatic"
        )


def perpetual_payload(codec: Codec, name: str, due: int) -> bytes:
    """The payload of an automatic chain's first step."""
    return codec.dump(name, (), {}, due, 1, {CHAIN_DUE: due})


__all__ = [
    "CHAIN_DUE",
    "Cron",
    "Perpetual",
    "check_perpetual",
    "perpetual_of",
    "perpetual_payload",
]
