"""One run of a task that has markers: resolve them, call the task under its `Timeout`, and
clean up per-run values afterwards, whatever the outcome."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

from strew.dependencies.base import (
    Dependency,
    RunContext,
    SharedScope,
    WorkerHooks,
    passed_arguments,
    plain_defaults,
)
from strew.dependencies.factories import _Depends
from strew.dependencies.hooks import Hooks, RunReport
from strew.dependencies.timeout import Timeout
from strew.task.execution import Execution, TaskFunction

Call = Callable[[TaskFunction, tuple[Any, ...], dict[str, Any]], Awaitable[Any]]


class TaskTimedOut(TimeoutError):
    """A run cut off by its `Timeout`: a failure like any other, so a `Retry` applies."""

    def __init__(self, limit: timedelta) -> None:
        super().__init__(f"timed out after {limit}")


class WorkerDependencyFailed(Exception):
    """A factory of ``Worker(dependencies=...)`` failed for this run, which then fails
    without its body running (a `Retry` of the task applies)."""


class CancelledByTask(Exception):
    """A task raised `asyncio.CancelledError` while nothing was cancelling it: a failure of
    that run like any other (a `Retry` applies, a perpetual chain goes on). Let through as a
    cancellation it would end the runner with the claim neither acknowledged nor handed
    back: shown as running until its lease ran out, and a draining worker waiting for it."""


async def call_task(
    call: Call, function: TaskFunction, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """``call`` the task; a CancelledError it raises itself becomes `CancelledByTask`."""
    try:
        return await call(function, args, kwargs)
    except asyncio.CancelledError as error:
        if _cancelling() == 0:
            name = getattr(function, "__name__", repr(function))
            raise CancelledByTask(
                f"{name} raised CancelledError, but nothing cancelled it"
            ) from error
        raise


async def call_with_dependencies(
    call: Call,
    function: TaskFunction,
    execution: Execution,
    markers: list[tuple[str, Dependency]],
    hooks: WorkerHooks,
    shared: SharedScope,
    report: RunReport | None = None,
) -> Any:
    """Fill the marker parameters the caller did not pass and ``call`` the task with them.

    Returns what the task returned. Raises whatever the task (or a factory, or a cleanup)
    raised; `TaskTimedOut` when its `Timeout` cut it off. Cleanups run outside the time
    limit, so a timed-out run still closes what it opened. pydocket's hooks among the
    values (`strew.dependencies.hooks`) run as its worker runs them; what they decided goes
    in ``report``.
    """
    started = time.perf_counter()
    passed = passed_arguments(function, execution.args, execution.kwargs)
    async with AsyncExitStack() as stack:
        context = RunContext(
            hooks,
            execution,
            passed,
            stack,
            shared,
            task_markers=dict(markers),
            defaults=plain_defaults(function),
        )
        for name, factory in hooks.around_every_task:
            # pydocket's worker dependencies: made first, cleaned up last, their values
            # given to no parameter; a factory a task's Depends shares is made once.
            try:
                await _Depends(factory).resolve(context, name)
            except Exception as error:
                raise WorkerDependencyFailed(
                    f"worker dependency {name!r} failed: {error!r}"
                ) from error
        kwargs = dict(execution.kwargs)
        timeout: Timeout | None = None
        values: list[Any] = []
        for name, _ in markers:
            if name in passed:  # what the caller passed wins
                continue
            # Through task_value: a value a CallArgument already asked for is the same one.
            kwargs[name] = value = await context.task_value(name)
            values.append(value)
            if isinstance(value, Timeout):
                timeout = value
        hooks_of_run = Hooks.among(values)
        if hooks_of_run:
            # pydocket's hooks run while the dependencies are still entered.
            return await _call_hooked(
                call, function, context, kwargs, hooks_of_run, report or RunReport(), started
            )
        if timeout is None:
            return await call_task(call, function, execution.args, kwargs)
        return await _call_timed(call, function, execution.args, kwargs, timeout)


async def _call_hooked(
    call: Call,
    function: TaskFunction,
    context: RunContext,
    kwargs: dict[str, Any],
    hooks: Hooks,
    report: RunReport,
    started: float,
) -> Any:
    """The call through the run's `Runtime` (if any), then its failure / completion hooks."""
    execution = context.execution
    timeout = next((v for v in kwargs.values() if isinstance(v, Timeout)), None)
    try:
        if hooks.runtime is not None:

            @functools.wraps(function)
            async def the_task(*args: Any, **kwargs: Any) -> Any:
                return await call_task(call, function, args, kwargs)

            value = await hooks.runtime.run(execution, the_task, execution.args, kwargs)
        elif timeout is not None:
            value = await _call_timed(call, function, execution.args, kwargs, timeout)
        else:
            value = await call_task(call, function, execution.args, kwargs)
    except Exception as error:
        await hooks.after_failure(context, error, _since(started), report)
        raise
    await hooks.after_success(context, value, _since(started), report)
    return value


def _since(started: float) -> timedelta:
    return timedelta(seconds=time.perf_counter() - started)


async def _call_timed(
    call: Call,
    function: TaskFunction,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    timeout: Timeout,
) -> Any:
    """The call under the task's `Timeout`: cut off, it raises `TaskTimedOut`."""
    async with asyncio.timeout(None) as scope:
        timeout.start(scope)
        try:
            return await call_task(call, function, args, kwargs)
        except asyncio.CancelledError:
            # Our own deadline and nobody else (docket.cancel, a shutdown) cancelling
            # too: a failure. Otherwise the cancellation goes on its way.
            if scope.expired() and _cancelling() <= 1:
                raise TaskTimedOut(timeout.limit) from None
            raise


def _cancelling() -> int:
    task = asyncio.current_task()
    return 0 if task is None else task.cancelling()
