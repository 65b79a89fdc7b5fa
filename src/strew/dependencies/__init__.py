"""Task behaviour declared as parameter defaults: injected context, Retry, Timeout, Depends.

A task function asks for what it needs by giving a parameter a *dependency marker* as its
default value, the same spellings pydocket uses::

    async def sync_customer(
        customer_id: int,
        key: str = TaskKey(),
        retry: Retry = ExponentialRetry(attempts=5),
        timeout: Timeout = Timeout(timedelta(seconds=30)),
        client: ApiClient = Depends(make_client),
    ) -> None: ...

Callers never pass these parameters; before each run the worker fills every parameter whose
default is a marker and that the call did not pass. Markers are checked when the function is
registered (`check_task`), so a bad one fails before any task of that function is written.
"""

from strew.dependencies.admission import (
    AdmissionControl,
    ConcurrencyLimit,
    Cooldown,
    Debounce,
    RateLimit,
    controls_of,
    gates_for,
)
from strew.dependencies.base import (
    CycleError,
    Dependency,
    RunContext,
    SharedScope,
    WorkerHooks,
    markers_of,
    passed_arguments,
)
from strew.dependencies.checks import check_task
from strew.dependencies.context import (
    CallArgument,
    CurrentDocket,
    CurrentExecution,
    CurrentWorker,
    TaskArgument,
    TaskKey,
    TaskLogger,
)
from strew.dependencies.factories import Depends, Shared
from strew.dependencies.hooks import CompletionHandler, FailureHandler, Runtime, TaskOutcome
from strew.dependencies.perpetual import Cron, Perpetual
from strew.dependencies.progress import Progress
from strew.dependencies.retry import ExponentialRetry, Retry, RetryRequested
from strew.dependencies.timeout import Timeout

__all__ = [
    "AdmissionControl",
    "CallArgument",
    "CompletionHandler",
    "ConcurrencyLimit",
    "Cooldown",
    "Cron",
    "CurrentDocket",
    "CurrentExecution",
    "CurrentWorker",
    "CycleError",
    "Debounce",
    "Dependency",
    "Depends",
    "ExponentialRetry",
    "FailureHandler",
    "Perpetual",
    "Progress",
    "RateLimit",
    "Retry",
    "RetryRequested",
    "RunContext",
    "Runtime",
    "Shared",
    "SharedScope",
    "TaskArgument",
    "TaskKey",
    "TaskLogger",
    "TaskOutcome",
    "Timeout",
    "WorkerHooks",
    "check_task",
    "controls_of",
    "gates_for",
    "markers_of",
    "passed_arguments",
]
