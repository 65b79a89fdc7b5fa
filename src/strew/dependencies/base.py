"""What every marker shares: `Dependency`, the `RunContext` it resolves in, `markers_of`
which reads markers off a function, and the duration check their settings use."""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from strew.task.execution import Execution
from strew.task.signatures import PerFunction, layout_of, per_function

if TYPE_CHECKING:
    from strew.dependencies.factories import SharedScope
    from strew.docket.docket import Docket
    from strew.worker.worker import Worker


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
    task_markers: dict[str, Dependency] = field(default_factory=dict)
    """The task's own parameters that carry a marker, by name."""
    defaults: dict[str, Any] = field(default_factory=dict)
    """The task's plain parameter defaults (not markers), by name."""
    resolved: dict[str, Any] = field(default_factory=dict)
    """Values already made for the task's marker parameters in this run."""
    resolving: list[str] = field(default_factory=list)
    """The task parameters being resolved now, outermost first (to name a cycle)."""

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
