"""Metrics and tracing: every metric strew exposes is declared once, in `METRICS`
(`strew.signals.declared`).

**Metrics.** The code paths that emit (the worker's lifecycle points, `Docket` and `Agenda`
writes) only add to plain integers, under one lock, in a tally per (docket, task function);
a Prometheus collector turns the tallies into samples when something scrapes. That keeps
the cost of a task run's metrics to about two microseconds (two lock round trips, two
histogram buckets) whether or not anyone scrapes, and a tally is created once per
(docket, task), not per task. Labels are ``docket`` and
``task`` (the function name) — never the task key, which is unbounded.

The collector lives in prometheus_client's *default* registry (`prometheus_client.REGISTRY`):
an application that already serves ``/metrics`` shows strew's metrics with no extra step, and
`serve_metrics` (behind ``strew worker --metrics-port``) serves that registry too, with the
process and Python collectors beside ours. It registers once, at import; any number of
workers and dockets in one process share it, each series keyed by its docket and task.

**Tracing.** OpenTelemetry spans through the API only: with no SDK configured no span is
made at all and nothing is added to a payload. When the span current at an add,
replace, add_many or scatter is recording, its W3C ``traceparent`` is stored in the payload
envelope's ``meta``; the span of each run is then *linked* to it (not a child: the run may
happen days later, in another trace's lifetime).
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable
from contextvars import Token
from typing import TYPE_CHECKING, Any, Literal, ParamSpec

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode
from prometheus_client import REGISTRY, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from strew.signals import tracing
from strew.signals.declared import (
    DOCKET_LABELS,
    DURATION_BUCKETS,
    LIMIT_LABELS,
    LIMITS_SHOWN,
    METRICS,
    PUNCTUALITY_BUCKETS,
    MetricInfo,
)
from strew.signals.tracing import trace_meta as trace_meta
from strew.signals.tracing import use_tracer_provider as use_tracer_provider
from strew.task.execution import Disposition, Execution
from strew.task.results import error_text

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer


P = ParamSpec("P")


class _Histogram:
    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one is +Inf
        self.total = 0.0

    def observe(self, value: float) -> None:
        # bisect_left: a value equal to a bound belongs to that bound's bucket (le="bound").
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    def cumulative(self) -> list[tuple[str, float]]:
        running = 0
        out: list[tuple[str, float]] = []
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            running += count
            out.append(("+Inf" if bound == float("inf") else repr(bound), float(running)))
        return out


class _Tally:
    """The counts of one (docket, task); changed only under `_lock`."""

    __slots__ = (
        "added",
        "cancelled",
        "deferred",
        "dropped",
        "duration",
        "failed",
        "punctuality",
        "redelivered",
        "retried",
        "running",
        "started",
        "stricken",
        "succeeded",
        "waited",
    )

    def __init__(self) -> None:
        self.added = self.started = self.succeeded = self.failed = self.retried = 0
        self.redelivered = self.cancelled = self.stricken = self.running = 0
        self.waited = self.deferred = self.dropped = 0
        self.duration = _Histogram(DURATION_BUCKETS)
        self.punctuality = _Histogram(PUNCTUALITY_BUCKETS)


_COUNTS = tuple(name for name in _Tally.__slots__ if name not in ("duration", "punctuality"))


class _Depth:
    __slots__ = ("due", "future")

    def __init__(self) -> None:
        self.due = self.future = 0


_lock = threading.Lock()
_tallies: dict[tuple[str, str], _Tally] = {}
_depths: dict[str, _Depth] = {}
_removed: dict[str, int] = {}
_limits: dict[str, list[tuple[str, int, int]]] = {}
"""Per docket: (limit, slots in use, tasks waiting) of its busiest concurrency limits."""
"""Scheduled tasks removed by a cancel, per docket (the function is unknown: see METRICS)."""


def _tally(docket: str, task: str) -> _Tally:
    """The tally of (docket, task); call with `_lock` held."""
    found = _tallies.get((docket, task))
    if found is None:
        found = _tallies[(docket, task)] = _Tally()
    return found


class _Collector:
    """Turns the tallies into Prometheus metric families at scrape time."""

    def describe(self) -> Iterable[Metric]:
        return [_family(info) for info in METRICS]

    def collect(self) -> Iterable[Metric]:
        with _lock:
            tallies = [(key, _snapshot(tally)) for key, tally in _tallies.items()]
            depths = [(name, depth.due, depth.future) for name, depth in _depths.items()]
            removed = list(_removed.items())
            limits = [(name, list(usages)) for name, usages in _limits.items()]
        for info in METRICS:
            family = _family(info)
            if isinstance(family, GaugeMetricFamily) and info.labels == LIMIT_LABELS:
                for name, usages in limits:
                    for limit, in_use, waiting in usages:
                        value = in_use if info.field == "in_use" else waiting
                        family.add_metric([name, limit], float(value))
            elif isinstance(family, HistogramMetricFamily):
                for key, values in tallies:
                    buckets, total = values[info.field]
                    family.add_metric(list(key), buckets, total)
            elif info.labels == DOCKET_LABELS:
                for name, due, future in depths:
                    family.add_metric([name], float(due if info.field == "due" else future))
            else:
                for key, values in tallies:
                    family.add_metric(list(key), float(values[info.field]))
                if info.field == "cancelled":
                    for name, count in removed:
                        family.add_metric([name, ""], float(count))
            yield family


def _family(
    info: MetricInfo,
) -> CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily:
    labels = list(info.labels)
    if info.kind == "counter":
        return CounterMetricFamily(info.name, info.help, labels=labels)
    if info.kind == "gauge":
        return GaugeMetricFamily(info.name, info.help, labels=labels)
    return HistogramMetricFamily(info.name, info.help, labels=labels, unit="seconds")


def _snapshot(tally: _Tally) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(tally, name) for name in _COUNTS}
    values["duration"] = (tally.duration.cumulative(), tally.duration.total)
    values["punctuality"] = (tally.punctuality.cumulative(), tally.punctuality.total)
    return values


REGISTRY.register(_Collector())


# -- recording (called from the worker, Docket and Agenda) ---------------------------------


def record_added(docket: str, executions: Iterable[Execution]) -> None:
    """Count the executions a write scheduled (disposition SCHEDULED), per task function."""
    scheduled = Disposition.SCHEDULED
    counts = Counter([e.function_name for e in executions if e.disposition is scheduled])
    if counts:
        with _lock:
            for name, count in counts.items():
                _tally(docket, name).added += count


def record_stricken(docket: str, task: str, count: int = 1) -> None:
    """Count task calls a strike rule blocked."""
    with _lock:
        _tally(docket, task).stricken += count


def record_cancelled(docket: str, task: str | None, count: int = 1) -> None:
    """Count cancelled tasks; ``task`` None for scheduled tasks removed unread."""
    if count:
        with _lock:
            if task is None:
                _removed[docket] = _removed.get(docket, 0) + count
            else:
                _tally(docket, task).cancelled += count


def record_admission(
    docket: str, task: str, decision: Literal["waited", "deferred", "dropped"]
) -> None:
    """Count a due task an admission control kept from starting now."""
    with _lock:
        tally = _tally(docket, task)
        setattr(tally, decision, getattr(tally, decision) + 1)


def record_retried(docket: str, task: str) -> None:
    with _lock:
        _tally(docket, task).retried += 1


def record_failed(docket: str, task: str) -> None:
    with _lock:
        _tally(docket, task).failed += 1


def record_depth(docket: str, due_now: int, scheduled: int) -> None:
    """A claim's view of the schedule: ``due_now`` of its ``scheduled`` tasks are due."""
    with _lock:
        depth = _depths.get(docket)
        if depth is None:
            depth = _depths[docket] = _Depth()
        depth.due, depth.future = due_now, max(scheduled - due_now, 0)


def record_limits(docket: str, usages: Iterable[tuple[str, int, int]]) -> None:
    """The busiest concurrency limits of ``docket`` as a heartbeat saw them: (limit, slots in
    use, tasks waiting) each; a limit no longer busy disappears from the gauges."""
    with _lock:
        _limits[docket] = list(usages)[:LIMITS_SHOWN]


def sample(
    name: str, docket: str, task: str | None = None, limit: str | None = None
) -> float | None:
    """The current value of one sample of the default registry (for tests and checks)."""
    labels = {"docket": docket} if task is None else {"docket": docket, "task": task}
    if limit is not None:
        labels = {"docket": docket, "limit": limit}
    return REGISTRY.get_sample_value(name, labels)


# -- serving ---------------------------------------------------------------------------------


class MetricsServer:
    """``/metrics`` over HTTP from a background thread; `close` stops it."""

    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        self.host, self.port = server.server_address[:2]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def serve_metrics(port: int, host: str = "0.0.0.0") -> MetricsServer:
    """Serve the default registry (strew's metrics and the process's) on ``host:port``.

    Raises OSError if the port cannot be bound. Port 0 picks a free one (see ``.port``)."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"port must be an integer from 0 to 65535, got {port!r}")
    server, thread = start_http_server(port, addr=host)
    return MetricsServer(server, thread)


# -- one task run --------------------------------------------------------------------------------


class TaskRun:
    """The metrics and span of one run, from its start to `end` (which must always come).

    Two lock round trips per run: one at the start (``started``, ``running``, punctuality),
    one at the end (the outcome, ``running``, duration); the outcome methods only note it."""

    __slots__ = ("_outcome", "_span", "_started", "_tally", "_token")

    def __init__(self, docket: str, execution: Execution, lateness: float) -> None:
        with _lock:
            tally = self._tally = _tally(docket, execution.function_name)
            tally.started += 1
            tally.running += 1
            if execution.redelivered:
                tally.redelivered += 1
            else:
                tally.punctuality.observe(lateness)
        self._outcome = ""
        self._token: Token[otel_context.Context] | None = None
        self._span = tracing.run_span(docket, execution)
        if self._span.is_recording():
            # Current while the task runs, so the spans the task makes are its children.
            self._token = otel_context.attach(trace.set_span_in_context(self._span))
        self._started = time.perf_counter()

    def succeeded(self) -> None:
        self._outcome = "succeeded"

    def failed(self, error: BaseException) -> None:
        self._outcome = "failed"
        if self._span.is_recording():
            self._span.record_exception(error)
            said = error_text(error)
            self._span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {said}"))

    def cancelled(self) -> None:
        self._outcome = "cancelled"
        if self._span.is_recording():
            self._span.set_attribute("strew.cancelled", True)

    def end(self) -> None:
        elapsed = time.perf_counter() - self._started
        tally = self._tally
        with _lock:
            tally.running -= 1
            tally.duration.observe(elapsed)
            if self._outcome == "succeeded":
                tally.succeeded += 1
            elif self._outcome == "failed":
                tally.failed += 1
            elif self._outcome == "cancelled":
                tally.cancelled += 1
        if self._token is not None:
            otel_context.detach(self._token)
        self._span.end()
