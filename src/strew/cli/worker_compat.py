"""The options of pydocket's ``docket worker`` that have no counterpart in strew's design.

``strew worker`` accepts each of them, with the same name and the same values, so a
deployment's command line or environment carries over unchanged; none of them makes the
worker fail. What each one does in strew (mostly nothing: the thing it tunes does not exist
here) is in docs/cli.md, beside each declaration below, and in one log line at start when it
was given.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated

import typer

from strew.cli.durations import duration, format_duration
from strew.cli.numbers import whole_number

logger = logging.getLogger("strew.cli")

# Hidden from --help, which names them in one line instead: listed as options, their long
# names (--no-enable-internal-instrumentation) leave an 80-column table no room to show them.


def _optional_duration(value: str | timedelta | None) -> timedelta | None:
    # Typer runs the parser on the default too, and these are off (None) by default.
    return None if value is None else duration(value)


MessageBatchOption = Annotated[
    int | None,
    typer.Option(
        "--message-batch",
        envvar="STREW_MESSAGE_BATCH",
        parser=whole_number(1),
        metavar="N",
        hidden=True,
        help="No effect: a worker claims as many due tasks as it has free slots "
        "(--concurrency) in one atomic call.",
    ),
]
MinimumCheckIntervalOption = Annotated[
    timedelta | None,
    typer.Option(
        "--minimum-check-interval",
        envvar="STREW_MINIMUM_CHECK_INTERVAL",
        parser=_optional_duration,
        metavar="DURATION",
        hidden=True,
        help="No effect: a worker sleeps until the next due time and is woken when an "
        "earlier task arrives (--poll-ceiling bounds the sleep).",
    ),
]
SchedulingResolutionOption = Annotated[
    timedelta | None,
    typer.Option(
        "--scheduling-resolution",
        envvar="STREW_SCHEDULING_RESOLUTION",
        parser=_optional_duration,
        metavar="DURATION",
        hidden=True,
        help="No effect: future and immediate tasks share one schedule, with nothing to "
        "move between them (--prefetch is the nearest setting).",
    ),
]
ScheduleAutomaticTasksOption = Annotated[
    bool,
    typer.Option(
        "--schedule-automatic-tasks/--no-schedule-automatic-tasks",
        envvar="STREW_SCHEDULE_AUTOMATIC_TASKS",
        hidden=True,
        help="On by default, as in pydocket: this worker starts and keeps the "
        "Perpetual(automatic=True) tasks; off, it starts none.",
    ),
]
EnableInternalInstrumentationOption = Annotated[
    bool,
    typer.Option(
        "--enable-internal-instrumentation/--no-enable-internal-instrumentation",
        envvar="STREW_ENABLE_INTERNAL_INSTRUMENTATION",
        hidden=True,
        help="No effect: strew makes spans for tasks, never for its own store calls.",
    ),
]
FallbackTaskOption = Annotated[
    str | None,
    typer.Option(
        "--fallback-task",
        envvar="STREW_FALLBACK_TASK",
        metavar="MODULE:ATTRIBUTE",
        hidden=True,
        help="MODULE:FUNCTION run, with the task's arguments, for a task this worker does "
        "not know (without it, such a task is put back 30s later, for a worker that knows it).",
    ),
]


def explain(
    *,
    message_batch: int | None,
    minimum_check_interval: timedelta | None,
    scheduling_resolution: timedelta | None,
    schedule_automatic_tasks: bool,
    enable_internal_instrumentation: bool,
    fallback_task: str | None,
) -> None:
    """Log, once as the worker starts, what strew does with each of these that was given,
    so an operator who set one learns it here rather than by its absence."""
    ignored = []
    if message_batch is not None:
        ignored.append(f"--message-batch {message_batch}")
    if minimum_check_interval is not None:
        ignored.append(f"--minimum-check-interval {format_duration(minimum_check_interval)}")
    if scheduling_resolution is not None:
        ignored.append(f"--scheduling-resolution {format_duration(scheduling_resolution)}")
    if enable_internal_instrumentation:
        ignored.append("--enable-internal-instrumentation")
    if ignored:
        logger.info(
            "pydocket's %s: no effect in strew (see strew worker --help)", ", ".join(ignored)
        )
    if not schedule_automatic_tasks:
        logger.info("--no-schedule-automatic-tasks: this worker starts no automatic Perpetual task")
    if fallback_task is not None:
        logger.info("--fallback-task %s runs the tasks this worker does not know", fallback_task)


__all__ = [
    "EnableInternalInstrumentationOption",
    "FallbackTaskOption",
    "MessageBatchOption",
    "MinimumCheckIntervalOption",
    "ScheduleAutomaticTasksOption",
    "SchedulingResolutionOption",
    "explain",
]
