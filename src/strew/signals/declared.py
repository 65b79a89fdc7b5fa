"""Every metric strew exposes, declared once: names, kinds, labels, help, and the buckets of
its histograms. `strew.signals.metrics` counts, collects and serves them."""

from __future__ import annotations

from dataclasses import dataclass

TASK_LABELS = ("docket", "task")
DOCKET_LABELS = ("docket",)
LIMIT_LABELS = ("docket", "limit")
LIMITS_SHOWN = 20
"""The busiest concurrency limits per docket that get a gauge (per-value limits are many)."""

DURATION_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
)  # fmt: skip
"""Task run time, seconds: a millisecond to an hour."""

PUNCTUALITY_BUCKETS = (
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
)  # fmt: skip
"""Start minus due time, seconds: resolves milliseconds (a healthy worker) up to minutes (a
backlog). A start a hair early (the clock offset's error) falls in the first bucket."""


@dataclass(frozen=True, slots=True)
class MetricInfo:
    name: str
    kind: str
    """counter, gauge or histogram."""
    labels: tuple[str, ...]
    help: str
    field: str
    """The attribute of a task tally (or of a docket's depth) that holds the value."""


METRICS: tuple[MetricInfo, ...] = (
    MetricInfo(
        "strew_tasks_added_total",
        "counter",
        TASK_LABELS,
        "Tasks written to the schedule by add, replace, add_many, replace_many and "
        "Agenda.scatter (a key already scheduled, kept as it was, is not counted).",
        "added",
    ),
    MetricInfo(
        "strew_tasks_started_total",
        "counter",
        TASK_LABELS,
        "Task runs started by a worker in this process (redeliveries and retries included).",
        "started",
    ),
    MetricInfo(
        "strew_tasks_succeeded_total",
        "counter",
        TASK_LABELS,
        "Task runs that returned normally.",
        "succeeded",
    ),
    MetricInfo(
        "strew_tasks_failed_total",
        "counter",
        TASK_LABELS,
        "Task runs that raised (whether or not a Retry puts them back), or asked for a "
        "retry they had no attempts left for.",
        "failed",
    ),
    MetricInfo(
        "strew_tasks_retried_total",
        "counter",
        TASK_LABELS,
        "Task runs put back on the schedule for another attempt by their Retry.",
        "retried",
    ),
    MetricInfo(
        "strew_tasks_redelivered_total",
        "counter",
        TASK_LABELS,
        "Task runs started again after an earlier worker's lease expired (it died or hung).",
        "redelivered",
    ),
    MetricInfo(
        "strew_tasks_cancelled_total",
        "counter",
        TASK_LABELS,
        "Tasks cancelled: runs a worker cancelled (task label set), and scheduled tasks "
        "removed by Docket.cancel or Agenda.cancel (task label empty: the store removes "
        "them without reading them).",
        "cancelled",
    ),
    MetricInfo(
        "strew_tasks_stricken_total",
        "counter",
        TASK_LABELS,
        "Task calls blocked by a strike rule (nothing was written).",
        "stricken",
    ),
    MetricInfo(
        "strew_tasks_waited_total",
        "counter",
        TASK_LABELS,
        "Due tasks a ConcurrencyLimit made wait for a slot (each time it found none free).",
        "waited",
    ),
    MetricInfo(
        "strew_tasks_deferred_total",
        "counter",
        TASK_LABELS,
        "Due tasks a RateLimit or Debounce put back on the schedule for later.",
        "deferred",
    ),
    MetricInfo(
        "strew_tasks_dropped_total",
        "counter",
        TASK_LABELS,
        "Due tasks a Cooldown, Debounce or RateLimit(drop=True) dropped without running.",
        "dropped",
    ),
    MetricInfo(
        "strew_tasks_running",
        "gauge",
        TASK_LABELS,
        "Task runs in progress in this process.",
        "running",
    ),
    MetricInfo(
        "strew_task_duration_seconds",
        "histogram",
        TASK_LABELS,
        "How long task runs took, whatever their outcome.",
        "duration",
    ),
    MetricInfo(
        "strew_task_punctuality_seconds",
        "histogram",
        TASK_LABELS,
        "Start minus due time of first deliveries (redeliveries are left out: their lateness "
        "is the lease, not the worker's).",
        "punctuality",
    ),
    MetricInfo(
        "strew_queue_depth",
        "gauge",
        DOCKET_LABELS,
        "Scheduled tasks already due and not started, as of this process's latest look "
        "(every claim, and every heartbeat while all its slots are busy).",
        "due",
    ),
    MetricInfo(
        "strew_limit_slots_in_use",
        "gauge",
        LIMIT_LABELS,
        "Concurrency slots held now, for the busiest concurrency limits of the docket (at most "
        "20; the limit label is the limit's name, prefixed by its scope and a slash if it has "
        "one), as of this process's latest heartbeat.",
        "in_use",
    ),
    MetricInfo(
        "strew_limit_waiting",
        "gauge",
        LIMIT_LABELS,
        "Tasks waiting for a slot of the same concurrency limits.",
        "waiting",
    ),
    MetricInfo(
        "strew_schedule_depth",
        "gauge",
        DOCKET_LABELS,
        "Scheduled tasks due in the future, as of this process's latest look.",
        "future",
    ),
)
