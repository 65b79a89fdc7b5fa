"""The producer side's signals: each write (add, replace, add_many, scatter, cancel) in a
span of its own, then counted in the metrics (see metrics.py)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from strew.signals import tracing
from strew.signals.metrics import record_added, record_cancelled
from strew.task.execution import Execution

P = ParamSpec("P")


def scheduling(
    operation: str, docket: str, task: str
) -> Callable[[Callable[P, Awaitable[Execution]]], Callable[P, Awaitable[Execution]]]:
    """Wrap a single add or replace: a span around it, and the added count after it."""

    def decorate(write: Callable[P, Awaitable[Execution]]) -> Callable[P, Awaitable[Execution]]:
        @functools.wraps(write)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> Execution:
            with tracing.producer_span(f"strew.{operation}") as span:
                if span.is_recording():
                    span.set_attributes({"strew.docket": docket, "strew.task": task})
                execution = await write(*args, **kwargs)
                if span.is_recording():
                    span.set_attributes(
                        {
                            "strew.key": execution.key,
                            "strew.disposition": execution.disposition.value,
                        }
                    )
            record_added(docket, (execution,))
            return execution

        return wrapper

    return decorate


class _Named(Protocol):
    @property
    def name(self) -> str: ...


D = TypeVar("D", bound=_Named)
"""A `Docket` (what the wrappers below need of it is its name)."""
A = TypeVar("A")
"""An `Agenda`."""
S = TypeVar("S", bound=list[Execution])
"""`Scattered`: the executions of a scatter, with its ``scatter_id``."""


def scheduling_many(
    write: Callable[Concatenate[D, P], Awaitable[list[Execution]]],
) -> Callable[Concatenate[D, P], Awaitable[list[Execution]]]:
    """Wrap `Docket` add_many / replace_many: one span for the batch, then the added count."""

    @functools.wraps(write)
    async def wrapper(docket: D, /, *args: P.args, **kwargs: P.kwargs) -> list[Execution]:
        operation = "replace_many" if kwargs.get("replace") else "add_many"
        with tracing.producer_span(f"strew.{operation}") as span:
            executions = await write(docket, *args, **kwargs)
            if span.is_recording():
                tracing.describe_batch(span, docket.name, executions)
                for execution in executions:
                    # The batch shared one meta dict (the trace context); give each its own.
                    execution.meta = dict(execution.meta)
        record_added(docket.name, executions)
        return executions

    return wrapper


def scattering(
    scatter: Callable[Concatenate[A, P], Awaitable[S]],
) -> Callable[Concatenate[A, P], Awaitable[S]]:
    """Wrap `Agenda.scatter`: one span per scatter, then the added count (also for the part
    a failed streaming scatter did write)."""

    @functools.wraps(scatter)
    async def wrapper(agenda: A, /, *args: P.args, **kwargs: P.kwargs) -> S:
        target = args[0] if args else kwargs.get("docket")
        name = str(getattr(target, "name", "?"))
        with tracing.producer_span("strew.scatter") as span:
            try:
                scattered = await scatter(agenda, *args, **kwargs)
            except Exception as error:
                partial = getattr(error, "executions", None)
                if isinstance(partial, list):
                    record_added(name, partial)
                raise
            if span.is_recording():
                tracing.describe_batch(span, name, scattered)
                scatter_id = getattr(scattered, "scatter_id", None)
                if isinstance(scatter_id, str):
                    span.set_attribute("strew.scatter_id", scatter_id)
        record_added(name, scattered)
        return scattered

    return wrapper


@contextmanager
def cancelling(
    docket: str, target: str, *, scatter: bool = False
) -> Iterator[Callable[[int], int]]:
    """Around a cancel by key (or by scatter id): a span, and the removed count recorded
    through the function it yields."""
    with tracing.producer_span("strew.cancel") as span:
        if span.is_recording():
            span.set_attributes(
                {"strew.docket": docket, "strew.scatter_id" if scatter else "strew.key": target}
            )

        def removed(count: int) -> int:
            record_cancelled(docket, None, count)
            if span.is_recording():
                span.set_attribute("strew.removed", count)
            return count

        yield removed
