"""The arguments of pydocket's ``Worker.__init__`` that strew's own settings do not cover:
each is checked here (a wrong type or value fails naming the argument and the value, before
the worker exists) and kept as `PydocketSettings`.

What each does in strew (docs/workers.md has the table):

* ``minimum_check_interval``, ``scheduling_resolution``, ``message_batch``: nothing. pydocket
  polls a stream and moves due tasks onto it on those intervals, in batches of that size;
  strew's claimer takes due tasks straight off one schedule, woken by the store when an
  earlier task arrives (``poll_ceiling`` and ``prefetch`` are its own knobs).
* ``enable_internal_instrumentation``: nothing. strew makes spans for task runs only, never
  for its own store calls, which is what pydocket's default (False) gives.
* ``schedule_automatic_tasks``: False keeps this worker from starting, or putting back, the
  automatic perpetual chains (another worker may still do it).
* ``fallback_task``: runs a claimed task whose name this worker does not know (see `Runner`).
* ``dependencies``: factories run around every task this worker runs (see
  `strew.dependencies.running`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from strew.dependencies import check_task, markers_of
from strew.task.clock import check_positive
from strew.task.execution import TaskFunction


@dataclass(frozen=True)
class PydocketSettings:
    minimum_check_interval: timedelta
    scheduling_resolution: timedelta
    schedule_automatic_tasks: bool
    enable_internal_instrumentation: bool
    fallback_task: TaskFunction | None
    dependencies: dict[str, Any]
    message_batch: int


def _flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def check_fallback_task(value: object) -> TaskFunction | None:
    if value is None:
        return None
    if not callable(value):
        raise TypeError(f"fallback_task must be a task function or None, got {value!r}")
    check_task(value)  # its markers (Retry, Timeout, Depends...) fail now, not at its first run
    return value


def check_dependencies(value: object) -> dict[str, Any]:
    """pydocket's two spellings: a mapping of name -> factory, or a sequence of factories
    (named ``__worker_dep_0__``, ``__worker_dep_1__``... in order)."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        items: list[tuple[object, object]] = list(value.items())
    elif isinstance(value, Sequence) and not isinstance(value, str | bytes):
        items = [(None, factory) for factory in value]
    else:
        raise TypeError(
            f"dependencies must be a mapping of names to factories or a list of factories, "
            f"got {value!r}"
        )
    checked: dict[str, Any] = {}
    for index, (name, factory) in enumerate(items):
        if name is None:
            name = f"__worker_dep_{index}__"
        elif not isinstance(name, str) or not name:
            raise TypeError(f"dependencies: a name must be a non-empty string, got {name!r}")
        elif name.startswith("__"):
            raise ValueError(
                f"dependencies: the name {name!r} is reserved (names starting with '__' are)"
            )
        if not callable(factory):
            raise TypeError(f"dependencies: {name!r} must be a callable factory, got {factory!r}")
        # Its markers' own settings, now. Not `check_task`: a TaskArgument here names a
        # parameter of the task, not of the factory.
        for parameter, marker in markers_of(factory):
            problem = marker.problem()
            if problem is not None:
                raise ValueError(f"dependencies: {name!r}, parameter {parameter!r}: {problem}")
        checked[name] = factory
    return checked


def check_pydocket_settings(
    *,
    minimum_check_interval: object,
    scheduling_resolution: object,
    schedule_automatic_tasks: object,
    enable_internal_instrumentation: object,
    fallback_task: object,
    dependencies: object,
    message_batch: object,
) -> PydocketSettings:
    if isinstance(message_batch, bool) or not isinstance(message_batch, int) or message_batch < 1:
        raise ValueError(f"message_batch must be a positive integer, got {message_batch!r}")
    return PydocketSettings(
        minimum_check_interval=check_positive(minimum_check_interval, "minimum_check_interval"),
        scheduling_resolution=check_positive(scheduling_resolution, "scheduling_resolution"),
        schedule_automatic_tasks=_flag(schedule_automatic_tasks, "schedule_automatic_tasks"),
        enable_internal_instrumentation=_flag(
            enable_internal_instrumentation, "enable_internal_instrumentation"
        ),
        fallback_task=check_fallback_task(fallback_task),
        dependencies=check_dependencies(dependencies),
        message_batch=message_batch,
    )
