"""What every marker shares: `Dependency`, the `RunContext` it resolves in (with the
`WorkerHooks` a worker hands down and the worker-lifetime `SharedScope`), `markers_of` which
reads markers off a function, and the duration check their settings use.

Dependencies sit below the docket and the worker: what they need of those comes through
`WorkerHooks`, named values and callbacks, never the `Worker` or `Docket` objects' insides."""

from __future__ import annotations

import asyncio
import inspect
import weakref
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from strew.stores.protocol import ResultStore
from strew.stores.records import Entry
from strew.task.execution import Execution
from strew.task.signatures import PerFunction, layout_of, per_function


@dataclass(frozen=True, slots=True)
class WorkerHooks:
    """What a worker hands the dependencies of its runs: names, the store slice progress is
    written to, and named callbacks for what only the worker can do."""

    docket: object
    """What `CurrentDocket` gives a task (the worker's `Docket`)."""
    worker: object
    """What `CurrentWorker` gives a task (the `Worker` itself)."""
    docket_name: str
    worker_name: str
    store: ResultStore
    progress_ttl: int
    """How long (microseconds) a task's progress is kept after each update."""
    store_now: Callable[[], int]
    """The store's clock, in microseconds (a perpetual task's next due time is reckoned on it)."""
    chain_next: Callable[[str, Entry], None]
    """Acknowledge the run of ``key`` by scheduling ``entry``, its next run, in the same
    atomic step (a perpetual chain)."""
    chain_end: Callable[[str], None]
    """Acknowledge the run of ``key`` as the end of its automatic perpetual chain."""
    around_every_task: tuple[tuple[str, Callable[..., Any]], ...] = ()
    """The worker's own dependencies (``Worker(dependencies=...)``), by name: factories made
    before each task's markers and cleaned up after them, whatever the task."""


class SharedScope:
    """The worker-lifetime values of `Shared` markers, and their cleanups."""

    def __init__(self) -> None:
        self.stack = AsyncExitStack()
        """Closed when the worker stops: a Shared value's cleanup goes here."""
        self._values: dict[int, Any] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._factories: list[object] = []
        """Held so that the ids used as keys stay theirs while the worker runs."""

    async def get(self, factory: object, make: Callable[[], Awaitable[Any]]) -> Any:
        """The value of ``factory``, made by ``make`` the first time it is asked for."""
        slot = id(factory)
        if slot in self._values:
            return self._values[slot]
        # A lock per factory: two tasks starting together make the value once, and a Shared
        # factory that needs another Shared value takes that one's lock, not its own again
        # (register refuses cycles, so these locks cannot deadlock).
        lock = self._locks.setdefault(slot, asyncio.Lock())
        async with lock:
            if slot not in self._values:
                self._values[slot] = await make()
                self._factories.append(factory)
            return self._values[slot]

    async def close(self) -> None:
        self._values.clear()
        self._factories.clear()
        await self.stack.aclose()


@dataclass
class RunContext:
    """What a dependency can see while one task run is being prepared."""

    hooks: WorkerHooks
    execution: Execution
    arguments: dict[str, Any]
    """The task's arguments by parameter name, as the caller passed them."""
    stack: AsyncExitStack
    """Closed after the run, whatever its outcome: per-run cleanups go here."""
    shared: SharedScope
    cache: dict[int, Any] = field(default_factory=dict)
    """Values of `Depends` factories already made in this run, by id of the marker's factory."""
    task_markers: dict[str, Dependency] = field(default_factory=dict)
    """The task's own parameters that carry a marker, by name."""
    defaults: dict[str, Any] = field(default_factory=dict)
    """The task's plain parameter defaults (not markers), by name."""
    resolved: dict[str, Any] = field(default_factory=dict)
    """Values already made for the task's marker parameters in this run."""
    resolving: list[str] = field(default_factory=list)
    """The task parameters being resolved now, outermost first (to name a cycle)."""
    failure_handled: bool = False
    """A pydocket `FailureHandler` took responsibility for this run's failure: as in
    pydocket, the run is then not "over", so a `Perpetual` chain does not go on from it."""

    async def task_value(self, name: str) -> Any:
        """The value the task gets for parameter ``name``: what the caller passed, else its
        marker's value (made once per run, and shared with whoever else asks), else its
        default. `LookupError` when it has none of them; `CycleError` when making it needs
        itself."""
        if name in self.arguments:
            return self.arguments[name]
        if name in self.resolved:
            return self.resolved[name]
        marker = self.task_markers.get(name)
        if marker is None:
            if name in self.defaults:
                return self.defaults[name]
            raise LookupError(name)
        if name in self.resolving:
            chain = " -> ".join([*self.resolving[self.resolving.index(name) :], name])
            raise CycleError(
                f"task {self.execution.function_name!r}: parameter {name!r} needs itself ({chain})"
            )
        self.resolving.append(name)
        try:
            value = self.resolved[name] = await marker.resolve(self, name)
        finally:
            self.resolving.pop()
        return value


class CycleError(ValueError):
    """Parameters whose values need each other (through `CallArgument`), so none can be
    made. Raised by the run that needs them (a caller that passes one of them breaks the
    cycle, so `Docket.register` cannot reject it); a parameter naming itself is refused at
    register time."""


class Dependency:
    """Base of every marker. ``resolve`` makes the value one run gets."""

    single: bool = False
    """At most one parameter of a task may carry a marker of this kind (Retry, Timeout)."""

    worker_wide: bool = False
    """The value does not depend on the run, so a `Shared` factory may ask for it."""

    async def resolve(self, context: RunContext, parameter: str) -> Any:
        raise NotImplementedError

    def problem(self) -> str | None:
        """What is wrong with this marker's settings, or None; reported at register time."""
        return None

    def nested(self) -> list[tuple[str, Dependency]]:
        """Markers among the parameters of this marker's own factory, if it has one."""
        return []


_markers: PerFunction[list[tuple[str, Dependency]]] = weakref.WeakKeyDictionary()
_defaults: PerFunction[dict[str, Any]] = weakref.WeakKeyDictionary()


def markers_of(function: Callable[..., Any]) -> list[tuple[str, Dependency]]:
    """The (parameter name, marker) pairs of ``function``, in signature order (cached)."""

    def read() -> list[tuple[str, Dependency]]:
        parameters = layout_of(function).parameters
        return [(p.name, p.default) for p in parameters if isinstance(p.default, Dependency)]

    return per_function(_markers, function, read)


def plain_defaults(function: Callable[..., Any]) -> dict[str, Any]:
    """The defaults of ``function``'s parameters that are not markers, by name (cached)."""

    def read() -> dict[str, Any]:
        return {
            p.name: p.default
            for p in layout_of(function).parameters
            if p.default is not inspect.Parameter.empty and not isinstance(p.default, Dependency)
        }

    return per_function(_defaults, function, read)


def passed_arguments(
    function: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """The arguments of one call by parameter name: the positional ones matched to their
    parameters, then the keyword ones. (What ``Signature.bind_partial`` gives, at a fraction
    of its cost per run, and without its checks: the call itself reports a bad argument.)"""
    passed = dict(zip(layout_of(function).positional, args, strict=False))
    passed.update(kwargs)
    return passed


def check_duration(name: str, value: object, *, zero_ok: bool) -> str | None:
    """What is wrong with a duration setting called ``name``, or None."""
    if not isinstance(value, timedelta):
        return f"{name} must be a timedelta, got {value!r}"
    if value < timedelta(0) or (not zero_ok and value == timedelta(0)):
        kind = "a duration of zero or more" if zero_ok else "a positive duration"
        return f"{name} must be {kind}, got {value}"
    return None
