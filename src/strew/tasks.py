"""The built-in tasks (`trace`, `fail`, `sleep`), at the address pydocket gives its own
(``docket.tasks``): ``--tasks strew.tasks:standard_tasks`` and ``from strew.tasks import
trace`` work. They live in `strew.task.standard`, low enough that every `Worker` registers
them, as pydocket's workers know them."""

from strew.task.standard import (
    SmokeTestFailure,
    current_key,
    fail,
    sleep,
    standard,
    standard_tasks,
    trace,
)

__all__ = [
    "SmokeTestFailure",
    "current_key",
    "fail",
    "sleep",
    "standard",
    "standard_tasks",
    "trace",
]
