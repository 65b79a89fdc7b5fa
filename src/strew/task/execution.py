"""What one task is: `Execution`, its `Disposition`, and the call that schedules it."""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from strew.stores.protocol import ResultStore
from strew.task.annotations import call_text, safe_repr, shown_arguments
from strew.task.clock import to_micros
from strew.task.codec import Codec
from strew.task.results import ExecutionProgress, ExecutionState, Reading, read_state
from strew.task.waiting import (
    FOLLOW_INTERVAL,
    ProgressEvent,
    StateEvent,
    check_interval,
    follow,
    time_limit,
    wait_for_result,
)

TaskFunction = Callable[..., Any]


class TaskHome(Protocol):
    """What an `Execution` needs of the docket it belongs to (a `Docket` is one): its name,
    and the store its state is read from."""

    @property
    def name(self) -> str: ...

    @property
    def store(self) -> ResultStore: ...

    @property
    def codec(self) -> Codec: ...


class Disposition(enum.Enum):
    """What happened when a caller tried to schedule a task."""

    LOADED = "loaded"
    """Not the result of a scheduling attempt (read back from the store by a worker)."""

    SCHEDULED = "scheduled"
    """The task was written to the schedule."""

    ALREADY_SCHEDULED = "already_scheduled"
    """A task with this key was already scheduled or running; the earlier one was kept."""

    STRUCK = "struck"
    """A strike rule blocked the call; nothing was written."""

    FAILED = "failed"
    """The store refused this task (batch forms only; the error is on the execution)."""


@dataclass(frozen=True)
class TaskCall:
    """A fully resolved request to schedule one task, built by `Docket.call` and written in
    bulk by `Docket.add_many`."""

    function: TaskFunction
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    key: str
    when: datetime
    function_name: str


class Execution:
    """One scheduled (or running) call of a task function."""

    # Read from the store by `sync`, `get_result` and `subscribe` (see task/results.py);
    # None until then.
    state: ExecutionState | None = None
    progress: ExecutionProgress | None = None
    finished_at: datetime | None = None
    worker: str | None = None
    """The worker running it (while `RUNNING`)."""
    started_at: datetime | None = None
    """When the worker running it claimed it (while `RUNNING`)."""
    error: str | None = None
    """``"TypeName: message"`` of the exception a `FAILED` task raised (pydocket's form)."""
    unloaded: int | None = None
    """The size of the payload whose arguments a view did not unpickle (it could not verify
    them: see `Docket.loads_arguments`); None when the arguments are here."""

    def __init__(
        self,
        docket: TaskHome,
        function: TaskFunction,
        function_name: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        key: str,
        when: datetime,
        attempt: int = 1,
        disposition: Disposition = Disposition.LOADED,
        redelivered: bool = False,
        meta: dict[str, Any] | None = None,
    ) -> None:
        self.docket = docket
        self.function = function
        self.function_name = function_name
        self.args = args
        self.kwargs = kwargs
        self.key = key
        self.when = when
        self.attempt = attempt
        self.disposition = disposition
        self.redelivered = redelivered
        self.meta: dict[str, Any] = meta or {}
        self.schedule_exception: BaseException | None = None

    @property
    def scatter_id(self) -> str | None:
        """The id of the `Agenda.scatter` that scheduled this task, if one did."""
        value = self.meta.get("scatter")
        return value if isinstance(value, str) else None

    def payload(self) -> bytes:
        return self.docket.codec.dump(
            self.function_name,
            self.args,
            self.kwargs,
            to_micros(self.when),
            self.attempt,
            self.meta,
        )

    async def sync(self) -> ExecutionState | None:
        """Read this key's state, progress and finish time from the store into ``state``,
        ``progress`` and ``finished_at``; returns the state (None: nothing is known)."""
        return await read_state(self.docket.store, self.key, self.saw, self.docket.codec.json)

    @property
    def completed_at(self) -> datetime | None:
        """pydocket's name for ``finished_at``: when the task completed, failed or was
        cancelled."""
        return self.finished_at

    async def get_result(
        self, timeout: timedelta | float | None = None, *, deadline: datetime | None = None
    ) -> Any:
        """Wait for the task to finish and return its return value, or raise its exception
        (`TaskFailed` when it cannot be re-raised as its own type). Raises `TaskCancelled`,
        `ResultUnavailable` (unknown key, or its record expired), and `TimeoutError` once
        ``timeout`` (a timedelta or seconds) has passed or ``deadline`` (a timezone-aware
        datetime) has come; give one or neither (None waits for ever)."""
        seconds, limit = time_limit(timeout, deadline)
        return await wait_for_result(
            self.docket.store,
            self.key,
            seconds,
            self.saw,
            json_only=self.docket.codec.json,
            limit=limit,
        )

    def subscribe(
        self, *, interval: timedelta | float = FOLLOW_INTERVAL
    ) -> AsyncIterator[StateEvent | ProgressEvent]:
        """The task's current state and progress (a ``{"type": "state", ...}`` and a
        ``{"type": "progress", ...}`` event), then an event for each change of either, until
        it reaches a final state (that state's event is the last). Ends with no events when
        nothing is known about the key, and without a final event if the key is forgotten
        meanwhile (a docket that keeps no records). The store is read at most ``interval``
        (a timedelta or seconds) apart while nothing changes: see
        docs/results-and-progress.md for what that costs."""
        seconds = check_interval(interval)  # (here, so a bad one raises at the call)
        return follow(
            self.docket.store,
            self.key,
            self.when,
            self.saw,
            seconds,
            json_only=self.docket.codec.json,
        )

    def saw(self, reading: Reading) -> None:
        """Keep what a read of this key's state found as this execution's attributes."""
        self.state = reading.state
        self.progress = reading.progress
        finished = reading.finished
        self.finished_at = None if finished is None else finished.finished_at
        self.worker = reading.worker
        self.started_at = reading.started_at
        self.error = reading.error

    def call_repr(self, *, all_arguments: bool = False) -> str:
        """``name(args)`` as a log line shows the call: the arguments of `Logged` parameters,
        ``...`` for the others (see annotations.py). ``all_arguments`` shows every argument,
        for views that are asked for them (`strew snapshot`, `strew watch`)."""
        if self.unloaded is not None:
            parts = [f"<arguments not loaded: {self.unloaded:,} bytes>"]
        elif all_arguments:
            parts = [safe_repr(a) for a in self.args]
            parts += [f"{k}={safe_repr(v)}" for k, v in self.kwargs.items()]
        else:
            parts = shown_arguments(self.function, self.args, self.kwargs)
        return call_text(self.function_name, parts)

    def __repr__(self) -> str:
        return (
            f"Execution({self.call_repr()}, key={self.key!r}, when={self.when.isoformat()}, "
            f"attempt={self.attempt}, disposition={self.disposition.name})"
        )


_running: ContextVar[Execution | None] = ContextVar("strew_execution", default=None)


def current_execution() -> Execution | None:
    """The execution a worker is running in this context (its asyncio task, or the thread a
    plain function runs in), None outside one. Log filters and helpers read it; tasks should
    prefer the `CurrentExecution()` dependency."""
    return _running.get()


def set_current_execution(execution: Execution) -> None:
    """Called by the worker in the asyncio task that runs ``execution`` (each task has its
    own context, so nothing needs resetting)."""
    _running.set(execution)
