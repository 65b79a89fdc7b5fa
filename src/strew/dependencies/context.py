"""Context markers: the docket, worker, execution, key, logger and arguments of a run."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from ..execution import Execution

if TYPE_CHECKING:
    from ..docket import Docket
    from ..worker import Worker

from .base import Dependency, RunContext


class _Context(Dependency):
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


def CurrentDocket() -> Docket:
    """The docket the running task belongs to."""
    return cast("Docket", _Context(lambda c: c.docket, "CurrentDocket", True))


def CurrentWorker() -> Worker:
    """The worker running the task."""
    return cast("Worker", _Context(lambda c: c.worker, "CurrentWorker", True))


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


def TaskArgument(name: str | None = None, optional: bool = False) -> Any:
    """The value of another argument of this task call, by parameter name (by default the
    name of the parameter this marker is the default of: useful in `Depends` factories).
    A missing argument is None when ``optional``, an error otherwise."""
    return TaskArgumentMarker(name, optional)
