"""pydocket's hook classes: dependencies that wrap a run (`Runtime`), are told of its failure
(`FailureHandler`) or of its end (`CompletionHandler`), with the `TaskOutcome` they are given.

A pydocket program defines one by subclassing and writing ``__aenter__`` (what the task's
parameter gets) and the hook method; it works here unchanged::

    class Alert(FailureHandler["Alert"]):
        async def __aenter__(self) -> Alert:
            return self

        async def handle_failure(self, execution: Execution, outcome: TaskOutcome) -> bool:
            await page_someone(execution.key, outcome.exception)
            return False  # not handled: the run ends as failed, as it would have

The contract, pydocket's (its worker's ``_execute``):

* the hook is the **value** the parameter got (what ``__aenter__`` returned), and its
  ``__aexit__`` runs after the run and its hooks, whatever the outcome;
* ``Runtime.run(execution, function, args, kwargs)`` is awaited *instead of* the call: it
  must call ``function(*args, **kwargs)`` itself (kwargs hold the resolved dependencies);
* after a run that raised an ``Exception`` (not a cancellation), ``handle_failure`` is
  asked first: True means it took responsibility (a retry it scheduled, say), so the run is
  acknowledged without a failure record and no completion hook runs;
* otherwise, once the run is truly over (it succeeded, or failed with no retry to come),
  ``on_complete`` is told: True means it did its own logging (and, after a success, that
  the result is not kept); False lets the worker log and record as usual.

One of each per task (``single``). strew's own `Timeout` counts as the task's `Runtime`,
`Retry` as its `FailureHandler` and `Perpetual` / `Cron` as its `CompletionHandler`, as
their pydocket counterparts are: `register` refuses a task that has two of a family.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from types import TracebackType
from typing import Any, Generic, TypeVar

from strew.dependencies.base import Dependency, RunContext
from strew.dependencies.perpetual import Perpetual
from strew.dependencies.retry import Retry
from strew.dependencies.timeout import Timeout
from strew.task.execution import Execution

T = TypeVar("T", covariant=True)


@dataclass
class TaskOutcome:
    """How a run went, as a hook is told: how long it took, and what it returned or raised."""

    duration: timedelta
    result: Any = field(default=None)
    exception: BaseException | None = field(default=None)


class HookDependency(Dependency, Generic[T], abc.ABC):
    """A dependency resolved as pydocket's are: the parameter gets ``await __aenter__()``
    (the dependency itself unless overridden) and ``__aexit__`` is called after the run."""

    async def __aenter__(self) -> Any:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        return None

    async def resolve(self, context: RunContext, parameter: str) -> Any:
        value = await self.__aenter__()
        context.stack.push_async_exit(self.__aexit__)
        return value


class Runtime(HookDependency[T]):
    """Controls how the task is called: `run` is awaited instead of the call."""

    single = True

    @abc.abstractmethod
    async def run(
        self,
        execution: Execution,
        function: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        """Call ``function(*args, **kwargs)`` (the task) your way and return its result."""


class FailureHandler(HookDependency[T]):
    """Told of a run that raised: True if it took responsibility for what comes next."""

    single = True

    @abc.abstractmethod
    async def handle_failure(self, execution: Execution, outcome: TaskOutcome) -> bool:
        """True: handled (the run is not recorded as failed); False: the worker goes on."""


class CompletionHandler(HookDependency[T]):
    """Told when a run is truly over: True if it did its own logging."""

    single = True

    @abc.abstractmethod
    async def on_complete(self, execution: Execution, outcome: TaskOutcome) -> bool:
        """True: handled (the worker does not log it, nor keep a success's result)."""


FAMILIES: tuple[tuple[type[HookDependency[Any]], type[Dependency]], ...] = (
    (Runtime, Timeout),
    (FailureHandler, Retry),
    (CompletionHandler, Perpetual),
)
"""Each hook class, with strew's own marker that plays its part."""


def hook_family(marker: Dependency) -> type[HookDependency[Any]] | None:
    """The hook class whose one-per-task rule ``marker`` falls under, if any."""
    for hook, builtin in FAMILIES:
        if isinstance(marker, hook | builtin):
            return hook
    return None


@dataclass
class RunReport:
    """What the hooks decided about one run, for the worker that acknowledges it."""

    failure_handled: bool = False
    """A `FailureHandler` took responsibility for the failure: no failure record, no retry."""
    completion_handled: bool = False
    """A `CompletionHandler` did its own logging (and, after a success, keeps no result)."""


@dataclass
class Hooks:
    """The hooks among one run's resolved values."""

    runtime: Runtime[Any] | None = None
    failure: FailureHandler[Any] | None = None
    completion: CompletionHandler[Any] | None = None
    retry: Retry | None = None

    @classmethod
    def among(cls, values: list[Any]) -> Hooks:
        found = cls()
        for value in values:
            if isinstance(value, Runtime) and found.runtime is None:
                found.runtime = value
            elif isinstance(value, FailureHandler) and found.failure is None:
                found.failure = value
            elif isinstance(value, CompletionHandler) and found.completion is None:
                found.completion = value
            elif isinstance(value, Retry) and found.retry is None:
                found.retry = value
        return found

    def __bool__(self) -> bool:
        return any((self.runtime, self.failure, self.completion))

    async def after_failure(
        self, context: RunContext, error: Exception, duration: timedelta, report: RunReport
    ) -> None:
        """Ask the failure hook, then (when the run is over) tell the completion hook."""
        outcome = TaskOutcome(duration, exception=error)
        if self.failure is not None and await self.failure.handle_failure(
            context.execution, outcome
        ):
            report.failure_handled = context.failure_handled = True
            return
        if self.retry is not None and not self.retry.exhausted(context.execution.attempt):
            return  # a retry comes: the run is not over
        if self.completion is not None and await self.completion.on_complete(
            context.execution, outcome
        ):
            report.completion_handled = True

    async def after_success(
        self, context: RunContext, value: Any, duration: timedelta, report: RunReport
    ) -> None:
        if self.completion is not None and await self.completion.on_complete(
            context.execution, TaskOutcome(duration, result=value)
        ):
            report.completion_handled = True


__all__ = [
    "CompletionHandler",
    "FailureHandler",
    "HookDependency",
    "Hooks",
    "RunReport",
    "Runtime",
    "TaskOutcome",
    "hook_family",
]
