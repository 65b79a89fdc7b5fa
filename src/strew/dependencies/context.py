"""Context markers: the execution, key, logger and arguments of a run. (`CurrentDocket` and
`CurrentWorker`, whose types live above this layer, are in `strew.worker.markers`.)"""

from __future__ import annotations

import logging
from collections.abc import Callable, MutableMapping
from typing import Any, cast

from strew.dependencies.base import Dependency, RunContext
from strew.task.execution import Execution


class ContextMarker(Dependency):
    """A marker whose value is picked from the run's `RunContext`."""

    def __init__(
        self, pick: Callable[[RunContext], Any], label: str, worker_wide: bool = False
    ) -> None:
        self._pick = pick
        self._label = label
        self.worker_wide = worker_wide

    async def resolve(self, context: RunContext, parameter: str) -> Any:
        return self._pick(context)

    def __repr__(self) -> str:
        return f"{self._label}()"


def CurrentExecution() -> Execution:
    """The running `Execution` (its key, arguments, ``attempt``)."""
    return cast(Execution, ContextMarker(lambda c: c.execution, "CurrentExecution"))


def TaskKey() -> str:
    """The running task's key."""
    return cast(str, ContextMarker(lambda c: c.execution.key, "TaskKey"))


class _TaskLoggerAdapter(logging.LoggerAdapter[logging.Logger]):
    """Python's LoggerAdapter replaces a call's ``extra=`` with its own (before 3.13's
    ``merge_extra``): this one merges them, the call's fields winning, so what a task logs as
    ``extra=`` reaches structured handlers (``--logging-format json``)."""

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        kwargs["extra"] = {**(self.extra or {}), **(kwargs.get("extra") or {})}
        return msg, kwargs


def TaskLogger() -> logging.LoggerAdapter[logging.Logger]:
    """A logger for the task whose records carry ``docket``, ``worker``, ``task``, ``key`` and
    ``attempt`` attributes (for structured handlers and format strings alike), and whatever a
    call adds with ``extra=``."""

    def make(context: RunContext) -> logging.LoggerAdapter[logging.Logger]:
        execution = context.execution
        extra = {
            "docket": context.hooks.docket_name,
            "worker": context.hooks.worker_name,
            "task": execution.function_name,
            "key": execution.key,
            "attempt": execution.attempt,
        }
        return _TaskLoggerAdapter(logging.getLogger(f"strew.task.{execution.function_name}"), extra)

    return cast("logging.LoggerAdapter[logging.Logger]", ContextMarker(make, "TaskLogger"))


class TaskArgumentMarker(Dependency):
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


def TaskArgument(
    name: str | None = None, optional: bool = False, *, parameter: str | None = None
) -> Any:
    """The value of another argument of this task call, by parameter name (by default the
    name of the parameter this marker is the default of: useful in `Depends` factories).
    A missing argument is None when ``optional``, an error otherwise. ``parameter=`` is
    pydocket's spelling of ``name=``."""
    if parameter is not None:
        if name is not None:
            raise TypeError(
                f"TaskArgument takes name or parameter (the same thing), not both: got "
                f"name={name!r}, parameter={parameter!r}"
            )
        name = parameter
    return TaskArgumentMarker(name, optional)


class CallArgumentMarker(Dependency):
    def __init__(self, parameter: str | None, optional: bool, default: Any) -> None:
        self.parameter = parameter
        self.optional = optional
        self.default = default

    def problem(self) -> str | None:
        if self.optional and self.default is not _NO_DEFAULT:
            return "CallArgument takes optional=True or a default, not both"
        given: object = self.parameter  # typed str | None, but callers are not always typed
        if given is not None and (not isinstance(given, str) or not given):
            return f"parameter must be a parameter name, got {given!r}"
        return None

    async def resolve(self, context: RunContext, parameter: str) -> Any:
        name = self.parameter or parameter
        try:
            return await context.task_value(name)
        except LookupError:
            if self.optional:
                return None
            if self.default is not _NO_DEFAULT:
                return self.default
            raise TypeError(
                f"task {context.execution.function_name!r}: parameter {name!r} has no value "
                f"(not passed, no dependency, no default), which {parameter!r} needs "
                "(CallArgument)"
            ) from None

    def __repr__(self) -> str:
        shown = f"CallArgument(parameter={self.parameter!r}, optional={self.optional!r}"
        if self.default is not _NO_DEFAULT:
            shown += f", default={self.default!r}"
        return shown + ")"


_NO_DEFAULT: Any = object()


def CallArgument(
    parameter: str | None = None, optional: bool = False, default: Any = _NO_DEFAULT
) -> Any:
    """The value the task is called with for ``parameter`` (by default the name of the
    parameter this marker is the default of): like `TaskArgument`, but when the caller did
    not pass it, the value its own dependency makes (the same one the task gets) or its
    plain default. With none of those it is None when ``optional``, ``default`` when given,
    an error otherwise."""
    return CallArgumentMarker(parameter, optional, default)


def CurrentDocket() -> Any:
    """The docket the running task belongs to. (``strew.CurrentDocket`` is the same marker,
    typed as `Docket`; this one is here for ``from strew.dependencies import CurrentDocket``,
    pydocket's spelling, below the layer that knows the type.)"""
    return ContextMarker(lambda c: c.hooks.docket, "CurrentDocket", True)


def CurrentWorker() -> Any:
    """The worker running the task (see `CurrentDocket` for why this one is untyped)."""
    return ContextMarker(lambda c: c.hooks.worker, "CurrentWorker", True)
