"""Task behaviour declared as parameter defaults: injected context, Retry, Timeout, Depends.

A task function asks for what it needs by giving a parameter a *dependency marker* as its
default value, the same spellings pydocket uses::

    async def sync_customer(
        customer_id: int,
        key: str = TaskKey(),
        retry: Retry = ExponentialRetry(attempts=5),
        timeout: Timeout = Timeout(timedelta(seconds=30)),
        client: ApiClient = Depends(make_client),
    ) -> None: ...

Callers never pass these parameters; before each run the worker fills every parameter whose
default is a marker and that the call did not pass. Markers are checked when the function is
registered (`check_task`), so a bad one fails before any task of that function is written.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    AsyncExitStack,
    asynccontextmanager,
    contextmanager,
    suppress,
)
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar, cast, overload

from .execution import Execution, TaskFunction, check_when

if TYPE_CHECKING:
    from .docket import Docket
    from .worker import Worker

R = TypeVar("R")

__all__ = [
    "CurrentDocket",
    "CurrentExecution",
    "CurrentWorker",
    "Dependency",
    "Depends",
    "ExponentialRetry",
    "Retry",
    "RetryRequested",
    "Shared",
    "TaskArgument",
    "TaskKey",
    "TaskLogger",
    "Timeout",
]


@dataclass
class RunContext:
    """What a dependency can see while one task run is being prepared."""

    docket: Docket
    worker: Worker
    execution: Execution
    arguments: dict[str, Any]
    """The task's arguments by parameter name, as the caller passed them."""
    stack: AsyncExitStack
    """Closed after the run, whatever its outcome: per-run cleanups go here."""
    shared: SharedScope
    cache: dict[int, Any] = field(default_factory=dict)
    """Values of `Depends` factories already made in this run, by id of the marker's factory."""


class Dependency:
    """Base of every marker. ``resolve`` makes the value one run gets."""

    single: bool = False
    """At most one parameter of a task may carry a marker of this kind (Retry, Timeout)."""

    async def resolve(self, context: RunContext, parameter: str) -> Any:
        raise NotImplementedError

    def problem(self) -> str | None:
        """What is wrong with this marker's settings, or None; reported at register time."""
        return None

    def nested(self) -> list[tuple[str, Dependency]]:
        """Markers among the parameters of this marker's own factory, if it has one."""
        return []


class _Context(Dependency):
    def __init__(self, pick: Callable[[RunContext], Any], label: str) -> None:
        self._pick = pick
        self._label = label

    async def resolve(self, context: RunContext, parameter: str) -> Any:
        return self._pick(context)

    def __repr__(self) -> str:
        return f"{self._label}()"


def CurrentDocket() -> Docket:
    """The docket the running task belongs to."""
    return cast("Docket", _Context(lambda c: c.docket, "CurrentDocket"))


def CurrentWorker() -> Worker:
    """The worker running the task."""
    return cast("Worker", _Context(lambda c: c.worker, "CurrentWorker"))


def CurrentExecution() -> Execution:
    """The running `Execution` (its key, arguments, ``attempt``)."""
    return cast(Execution, _Context(lambda c: c.execution, "CurrentExecution"))


def TaskKey() -> str:
    """The running task's key."""
    return cast(str, _Context(lambda c: c.execution.key, "TaskKey"))


def TaskLogger() -> logging.LoggerAdapter[logging.Logger]:
    """A logger for the task whose records carry ``docket``, ``worker``, ``task``, ``key`` and
    ``attempt`` attributes (for structured handlers and format strings alike)."""

    def make(context: RunContext) -> logging.LoggerAdapter[logging.Logger]:
        execution = context.execution
        extra = {
            "docket": context.docket.name,
            "worker": context.worker.name,
            "task": execution.function_name,
            "key": execution.key,
            "attempt": execution.attempt,
        }
        return logging.LoggerAdapter(
            logging.getLogger(f"strew.task.{execution.function_name}"), extra
        )

    return cast("logging.LoggerAdapter[logging.Logger]", _Context(make, "TaskLogger"))


class _TaskArgument(Dependency):
    def __init__(self, name: str | None, optional: bool) -> None:
        self.name = name
        self.optional = optional

    async def resolve(self, context: RunContext, parameter: str) -> Any:
        name = self.name or parameter
        if name in context.arguments:
            return context.arguments[name]
        if self.optional:
            return None
        raise TypeError(
            f"task {context.execution.function_name!r} was called without argument {name!r}, "
            f"which parameter {parameter!r} needs (TaskArgument)"
        )

    def __repr__(self) -> str:
        return f"TaskArgument(name={self.name!r}, optional={self.optional!r})"


def TaskArgument(name: str | None = None, optional: bool = False) -> Any:
    """The value of another argument of this task call, by parameter name (by default the
    name of the parameter this marker is the default of: useful in `Depends` factories).
    A missing argument is None when ``optional``, an error otherwise."""
    return _TaskArgument(name, optional)


# -- Retry ------------------------------------------------------------------------------------


class RetryRequested(Exception):
    """Raised by `Retry.after` / `Retry.at`; the worker catches it and schedules the retry."""

    def __init__(self, delay: timedelta | None = None, when: datetime | None = None) -> None:
        super().__init__(f"retry requested ({delay if when is None else when})")
        self.delay = delay
        self.when = when


class Retry(Dependency):
    """Run a failing task again. ``attempts`` counts every run, the first included
    (``attempts=4``: at most four runs); None means no limit. Inside the task, the marker's
    value is this run's copy: ``retry.attempt`` is the run's number, and ``retry.after(d)`` /
    ``retry.at(when)`` ask for another run even without a failure."""

    single = True

    def __init__(self, attempts: int | None = 1, delay: timedelta = timedelta(0)) -> None:
        self.attempts = attempts
        self.delay = delay
        self.attempt = 1

    @classmethod
    def forever(cls, delay: timedelta = timedelta(0)) -> Retry:
        return cls(attempts=None, delay=delay)

    def problem(self) -> str | None:
        attempts = self.attempts
        if attempts is not None and (
            isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1
        ):
            return f"attempts must be a positive integer or None, got {attempts!r}"
        return _check_duration("delay", self.delay, zero_ok=True)

    def _copy(self, attempt: int) -> Retry:
        copy = object.__new__(type(self))
        copy.__dict__.update(self.__dict__)
        copy.attempt = attempt
        return copy

    async def resolve(self, context: RunContext, parameter: str) -> Retry:
        return self._copy(context.execution.attempt)

    def delay_after(self, attempt: int) -> timedelta:
        """How long to wait after run number ``attempt`` failed."""
        return self.delay

    def exhausted(self, attempt: int) -> bool:
        """True when run number ``attempt`` was the last one allowed."""
        return self.attempts is not None and attempt >= self.attempts

    def after(self, delay: timedelta) -> None:
        """Stop this run and run the task again ``delay`` from now (counts as an attempt)."""
        problem = _check_duration("delay", delay, zero_ok=True)
        if problem:
            raise ValueError(problem)
        raise RetryRequested(delay=delay)

    def in_(self, delay: timedelta) -> None:
        """pydocket's spelling of `after`."""
        self.after(delay)

    def at(self, when: datetime) -> None:
        """Stop this run and run the task again at ``when`` (counts as an attempt)."""
        raise RetryRequested(when=check_when(when))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(attempts={self.attempts!r}, delay={self.delay!r})"


class ExponentialRetry(Retry):
    """`Retry` whose delay doubles after each failure: ``minimum_delay`` after the first,
    then twice that, and so on, never more than ``maximum_delay``."""

    def __init__(
        self,
        attempts: int | None = 1,
        minimum_delay: timedelta = timedelta(seconds=1),
        maximum_delay: timedelta = timedelta(seconds=64),
    ) -> None:
        super().__init__(attempts, minimum_delay)
        self.minimum_delay = minimum_delay
        self.maximum_delay = maximum_delay

    @classmethod
    def forever(
        cls,
        minimum_delay: timedelta = timedelta(seconds=1),
        maximum_delay: timedelta = timedelta(seconds=64),
    ) -> ExponentialRetry:
        return cls(None, minimum_delay, maximum_delay)

    def problem(self) -> str | None:
        attempts = self.attempts
        if attempts is not None and (
            isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1
        ):
            return f"attempts must be a positive integer or None, got {attempts!r}"
        found = _check_duration("minimum_delay", self.minimum_delay, zero_ok=True)
        found = found or _check_duration("maximum_delay", self.maximum_delay, zero_ok=True)
        if found is None and self.maximum_delay < self.minimum_delay:
            found = (
                f"maximum_delay must be at least minimum_delay ({self.minimum_delay}), "
                f"got {self.maximum_delay}"
            )
        return found

    def delay_after(self, attempt: int) -> timedelta:
        # Doubling stops at the cap, so a forever-retrying task never overflows timedelta.
        delay = self.minimum_delay
        for _ in range(max(attempt - 1, 0)):
            if delay >= self.maximum_delay:
                break
            delay *= 2
        return min(delay, self.maximum_delay)

    def __repr__(self) -> str:
        return (
            f"ExponentialRetry(attempts={self.attempts!r}, minimum_delay={self.minimum_delay!r}, "
            f"maximum_delay={self.maximum_delay!r})"
        )


def _check_duration(name: str, value: object, *, zero_ok: bool) -> str | None:
    if not isinstance(value, timedelta):
        return f"{name} must be a timedelta, got {value!r}"
    if value < timedelta(0) or (not zero_ok and value == timedelta(0)):
        kind = "a duration of zero or more" if zero_ok else "a positive duration"
        return f"{name} must be {kind}, got {value}"
    return None


# -- Timeout ----------------------------------------------------------------------------------


class Timeout(Dependency):
    """Cancel the run once it has taken ``limit``; a timed-out run is a failure (a `Retry`
    applies). Inside the task, ``timeout.remaining()`` tells what is left and
    ``timeout.extend(by)`` adds time (by default another ``limit``).

    A plain (non-async) function runs in a thread, which cannot be interrupted: its run is
    abandoned at the limit and counted as failed, but the thread finishes on its own."""

    single = True

    def __init__(self, limit: timedelta) -> None:
        self.limit = limit
        self._deadline: float | None = None
        self._scope: asyncio.Timeout | None = None

    def problem(self) -> str | None:
        return _check_duration("limit", self.limit, zero_ok=False)

    async def resolve(self, context: RunContext, parameter: str) -> Timeout:
        return Timeout(self.limit)

    def start(self, scope: asyncio.Timeout) -> None:
        """Called by the worker as the task starts; the clock runs from here."""
        self._scope = scope
        self._deadline = asyncio.get_running_loop().time() + self.limit.total_seconds()
        scope.reschedule(self._deadline)

    def remaining(self) -> timedelta:
        if self._deadline is None:
            return self.limit
        left = self._deadline - asyncio.get_running_loop().time()
        return timedelta(seconds=max(left, 0.0))

    def extend(self, by: timedelta | None = None) -> None:
        by = self.limit if by is None else by
        problem = _check_duration("by", by, zero_ok=True)
        if problem:
            raise ValueError(problem)
        if self._deadline is None or self._scope is None:
            self.limit += by
            return
        self._deadline += by.total_seconds()
        self._scope.reschedule(self._deadline)

    def __repr__(self) -> str:
        return f"Timeout({self.limit!r})"


# -- Depends and Shared -----------------------------------------------------------------------

Factory = Callable[..., Any]


async def _enter(value: Any, stack: AsyncExitStack) -> Any:
    """The value a factory's result stands for: awaited, or entered as a context manager
    whose exit ``stack`` runs later."""
    if inspect.isawaitable(value):
        value = await value
    if isinstance(value, AbstractAsyncContextManager):
        return await stack.enter_async_context(value)
    if isinstance(value, AbstractContextManager):
        return stack.enter_context(value)
    return value


def _call_form(factory: Factory) -> Factory:
    """Generator factories become context managers: code after ``yield`` is the cleanup."""
    if inspect.isasyncgenfunction(factory):
        return asynccontextmanager(factory)
    if inspect.isgeneratorfunction(factory):
        return contextmanager(factory)
    return factory


class _FactoryDependency(Dependency):
    def __init__(self, factory: Factory) -> None:
        self.factory = factory
        self._form = _call_form(factory)

    def problem(self) -> str | None:
        factory: object = self.factory
        if not callable(factory):
            return f"the factory must be callable, got {factory!r}"
        return None

    def nested(self) -> list[tuple[str, Dependency]]:
        return markers_of(self.factory)

    async def _make(self, context: RunContext, stack: AsyncExitStack) -> Any:
        kwargs = {
            name: await resolve_marker(marker, context, name)
            for name, marker in markers_of(self.factory)
        }
        return await _enter(self._form(**kwargs), stack)


class _Depends(_FactoryDependency):
    async def resolve(self, context: RunContext, parameter: str) -> Any:
        # Once per run: two parameters (or two factories) asking for one factory share it.
        slot = id(self.factory)
        if slot not in context.cache:
            context.cache[slot] = await self._make(context, context.stack)
        return context.cache[slot]

    def __repr__(self) -> str:
        return f"Depends({getattr(self.factory, '__qualname__', self.factory)!r})"


class _Shared(_FactoryDependency):
    async def resolve(self, context: RunContext, parameter: str) -> Any:
        return await context.shared.get(self, context)

    def __repr__(self) -> str:
        return f"Shared({getattr(self.factory, '__qualname__', self.factory)!r})"


@overload
def Depends(factory: Callable[..., AsyncIterator[R]]) -> R: ...
@overload
def Depends(factory: Callable[..., Iterator[R]]) -> R: ...
@overload
def Depends(factory: Callable[..., AbstractAsyncContextManager[R]]) -> R: ...
@overload
def Depends(factory: Callable[..., Awaitable[R]]) -> R: ...
@overload
def Depends(factory: Callable[..., R]) -> R: ...
def Depends(factory: Factory) -> Any:
    """A value made by ``factory`` for each run. The factory may be a plain or async function,
    a (async) generator function (the code after ``yield`` cleans up after the task, whatever
    its outcome) or return a (async) context manager (entered, and exited after the task).
    Its own parameters may be markers too; within one run each factory is called once."""
    return _Depends(factory)


@overload
def Shared(factory: Callable[..., AsyncIterator[R]]) -> R: ...
@overload
def Shared(factory: Callable[..., Iterator[R]]) -> R: ...
@overload
def Shared(factory: Callable[..., AbstractAsyncContextManager[R]]) -> R: ...
@overload
def Shared(factory: Callable[..., Awaitable[R]]) -> R: ...
@overload
def Shared(factory: Callable[..., R]) -> R: ...
def Shared(factory: Factory) -> Any:
    """Like `Depends`, but one value for the worker's lifetime: made on first use, cleaned up
    when the worker stops. Its factory sees the run that first needed it."""
    return _Shared(factory)


class SharedScope:
    """The worker-lifetime values of `Shared` markers, and their cleanups."""

    def __init__(self) -> None:
        self.stack = AsyncExitStack()
        self._values: dict[int, Any] = {}
        self._lock = asyncio.Lock()

    async def get(self, marker: _Shared, context: RunContext) -> Any:
        slot = id(marker.factory)
        if slot in self._values:
            return self._values[slot]
        # One lock for all: two tasks starting together must not both make the value, and a
        # factory may itself need another Shared value (so no lock per factory to deadlock on).
        async with self._lock:
            if slot not in self._values:
                self._values[slot] = await marker._make(context, self.stack)
            return self._values[slot]

    async def close(self) -> None:
        self._values.clear()
        await self.stack.aclose()


# -- reading a function's markers -------------------------------------------------------------

_markers: dict[Any, list[tuple[str, Dependency]]] = {}


def markers_of(function: Callable[..., Any]) -> list[tuple[str, Dependency]]:
    """The (parameter name, marker) pairs of ``function``, in signature order (cached)."""
    try:
        return _markers[function]
    except (KeyError, TypeError):
        pass
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        found: list[tuple[str, Dependency]] = []
    else:
        found = [(p.name, p.default) for p in parameters if isinstance(p.default, Dependency)]
    with suppress(TypeError):  # an unhashable callable is simply not cached
        _markers[function] = found
    return found


async def resolve_marker(marker: Dependency, context: RunContext, parameter: str) -> Any:
    return await marker.resolve(context, parameter)


def check_task(function: TaskFunction) -> None:
    """Raise ValueError, naming the function, the parameter and the value, for markers that
    cannot work: two of a single kind, bad settings, a TaskArgument naming no parameter."""
    label = getattr(function, "__qualname__", repr(function))
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return
    names = set(signature.parameters)
    seen: dict[type, str] = {}
    for name, marker in markers_of(function):
        kind = Retry if isinstance(marker, Retry) else type(marker)
        if marker.single:
            if kind in seen:
                raise ValueError(
                    f"task {label}: parameter {name!r} is a second {kind.__name__} "
                    f"({marker!r}); parameter {seen[kind]!r} already is one"
                )
            seen[kind] = name
        if signature.parameters[name].kind is inspect.Parameter.POSITIONAL_ONLY:
            raise ValueError(
                f"task {label}: parameter {name!r} has a dependency default ({marker!r}) but "
                "is positional-only; the worker passes dependencies by name"
            )
        _check_marker(label, name, marker, names, top=True, seen=set())


def _check_marker(
    label: str,
    path: str,
    marker: Dependency,
    task_parameters: set[str],
    *,
    top: bool,
    seen: set[int],
) -> None:
    """``path`` names the parameter for the error (``client.session.customer_id`` for a
    marker nested in factories); its last part is the parameter itself."""
    name = path.rpartition(".")[2]
    problem = marker.problem()
    if problem:
        raise ValueError(f"task {label}: parameter {path!r} ({marker!r}): {problem}")
    if isinstance(marker, _TaskArgument):
        target = marker.name or name
        if top and marker.name is None:
            raise ValueError(
                f"task {label}: parameter {path!r} is TaskArgument() without a name, which "
                "would be its own value; name another parameter"
            )
        if target not in task_parameters:
            raise ValueError(
                f"task {label}: parameter {path!r} ({marker!r}) names {target!r}, which is not "
                f"a parameter of the task (parameters: {', '.join(sorted(task_parameters))})"
            )
    if id(marker) in seen:  # a factory that depends on itself: stop here, do not recurse
        return
    seen.add(id(marker))
    for inner_name, inner in marker.nested():
        _check_marker(label, f"{path}.{inner_name}", inner, task_parameters, top=False, seen=seen)
