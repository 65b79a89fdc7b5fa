"""OpenTelemetry spans for strew, through the API only (see metrics.py for where
they are made): which tracer, the trace context a payload carries, and the run span linked
to the span that scheduled the task."""

from __future__ import annotations

import time
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import (
    Link,
    NoOpTracerProvider,
    ProxyTracerProvider,
    SpanKind,
    Tracer,
    TracerProvider,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from strew.task.execution import Disposition

if TYPE_CHECKING:
    from strew.task.execution import Execution

CONSUMER = SpanKind.CONSUMER
_NO_PARENT = otel_context.Context()
_propagator = TraceContextTextMapPropagator()
_global_tracer = trace.get_tracer("strew")
_own_tracer: Tracer | None = None
_global_on = False
_recheck_at = float("-inf")
_SILENT = nullcontext(trace.INVALID_SPAN)


def use_tracer_provider(provider: TracerProvider | None) -> None:
    """Make strew's spans go to ``provider`` instead of the global one (None: back to the
    global provider, `opentelemetry.trace.set_tracer_provider`'s)."""
    global _own_tracer
    _own_tracer = None if provider is None else provider.get_tracer("strew")


def active_tracer() -> Tracer | None:
    """The tracer to use, or None when no SDK is configured.

    Even a no-op span costs a microsecond or two through the API's proxy, on every task
    run; checking the global provider once a second instead makes tracing that is off free.
    A provider installed later is picked up within that second."""
    global _global_on, _recheck_at
    if _own_tracer is not None:
        return _own_tracer
    now = time.monotonic()
    if now >= _recheck_at:
        provider = trace.get_tracer_provider()
        _global_on = not isinstance(provider, ProxyTracerProvider | NoOpTracerProvider)
        _recheck_at = now + 1.0
    return _global_tracer if _global_on else None


def producer_span(name: str) -> AbstractContextManager[trace.Span]:
    """A PRODUCER span made current for the block (a shared no-op when tracing is off)."""
    tracer = active_tracer()
    if tracer is None:
        return _SILENT
    return tracer.start_as_current_span(name, kind=SpanKind.PRODUCER)


def trace_meta() -> dict[str, str]:
    """The W3C trace context of the current span, to store in a payload's ``meta`` — empty
    (no bytes added) unless that span is recording."""
    if not trace.get_current_span().is_recording():
        return {}
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier


def run_span(docket: str, execution: Execution) -> trace.Span:
    """The span of one run: a new root (the run belongs to no span that happened to be
    current in the worker) linked to the span that scheduled it, if the payload says."""
    tracer = active_tracer()
    if tracer is None:
        return trace.INVALID_SPAN
    parent = scheduling_span(execution.meta) if execution.meta else None
    links = None if parent is None else [Link(parent)]
    span = tracer.start_span("strew.run", _NO_PARENT, CONSUMER, links=links)
    if span.is_recording():
        span.set_attributes(
            {
                "strew.docket": docket,
                "strew.task": execution.function_name,
                "strew.key": execution.key,
                "strew.attempt": execution.attempt,
                "strew.redelivered": execution.redelivered,
            }
        )
    return span


def describe_batch(span: trace.Span, docket: str, executions: list[Execution]) -> None:
    """What a batch write did, as attributes: counts and task names, never the keys."""
    tasks = sorted({execution.function_name for execution in executions})
    scheduled = sum(execution.disposition is Disposition.SCHEDULED for execution in executions)
    span.set_attributes(
        {
            "strew.docket": docket,
            "strew.task": ",".join(tasks),
            "strew.count": len(executions),
            "strew.scheduled": scheduled,
        }
    )


def scheduling_span(meta: dict[str, Any]) -> trace.SpanContext | None:
    """The span that scheduled a task, from its payload's ``meta`` (None if it carries no
    valid trace context: tracing was off, or the value is damaged)."""
    parent = meta.get("traceparent")
    if not isinstance(parent, str):
        return None
    carrier = {"traceparent": parent}
    state = meta.get("tracestate")
    if isinstance(state, str):
        carrier["tracestate"] = state
    found = trace.get_current_span(_propagator.extract(carrier)).get_span_context()
    return found if found.is_valid else None
