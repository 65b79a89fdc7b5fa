"""Built-in tasks for smoke tests: prove that scheduling, claiming and running work end to
end in a deployment, without writing a task of your own.

Every `Worker` registers them on its docket, as pydocket's workers know them (a task of the
docket's own under the same name keeps it), and ``strew tasks trace|fail|sleep`` schedules
one::

    strew tasks trace "hello from the deploy" --delay 5s   # a worker logs it 5 s later
    strew tasks fail "does failure reach the logs?"        # the worker logs the traceback
    strew tasks sleep 30                                   # holds a worker slot for 30 s

They are registered under their plain names ``trace``, ``fail`` and ``sleep``; their
arguments are `Logged`, so the worker's log shows them.
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Annotated

from strew.task.annotations import Logged
from strew.task.execution import TaskFunction, current_execution

logger = logging.getLogger("strew.tasks")


class SmokeTestFailure(Exception):
    """What `fail` raises: an error nobody will mistake for a real one."""


def current_key() -> str | None:
    """The key of the task running in this context (its asyncio task, or the thread a plain
    task runs in), None outside one; lets a log handler tag any record logged while a task
    runs."""
    execution = current_execution()
    return execution.key if execution is not None else None


def _current_key() -> str:
    return current_key() or "?"


async def trace(message: Annotated[str, Logged]) -> None:
    """Log ``message`` at INFO on the ``strew.tasks`` logger, with the task's key."""
    key = _current_key()
    logger.info("trace: %s (key %s)", message, key, extra={"key": key})


async def fail(message: Annotated[str, Logged]) -> None:
    """Raise `SmokeTestFailure` with ``message``: the worker logs it as a failed task."""
    raise SmokeTestFailure(message)


async def sleep(seconds: Annotated[float, Logged]) -> None:
    """Hold a worker slot for ``seconds`` (to watch leases, shutdown grace, `strew workers`)."""
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not math.isfinite(seconds)
        or seconds < 0
    ):
        raise ValueError(f"seconds must be a finite number of zero or more, got {seconds!r}")
    key = _current_key()
    logger.info("sleep: %gs (key %s)", seconds, key, extra={"key": key})
    await asyncio.sleep(seconds)


standard: list[TaskFunction] = [trace, fail, sleep]
"""The built-in tasks, in the form ``--tasks`` and `Docket.register` take."""

standard_tasks = standard
"""pydocket's name for the same list (``docket.tasks:standard_tasks``), so
``--tasks strew.tasks:standard_tasks`` and ``from strew.tasks import standard_tasks`` work."""

__all__ = [
    "SmokeTestFailure",
    "current_key",
    "fail",
    "sleep",
    "standard",
    "standard_tasks",
    "trace",
]
