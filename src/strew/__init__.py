"""strew: distributed background tasks on Redis that scatter a batch evenly over time."""

from strew.agenda.agenda import Agenda, AgendaEntry, Scattered, ScatterError
from strew.agenda.catch_up import CatchUp
from strew.agenda.limits import RateLimitWarning
from strew.dependencies import (
    CallArgument,
    CompletionHandler,
    ConcurrencyLimit,
    Cooldown,
    Cron,
    CurrentExecution,
    CycleError,
    Debounce,
    Depends,
    ExponentialRetry,
    FailureHandler,
    Perpetual,
    Progress,
    RateLimit,
    Retry,
    Runtime,
    Shared,
    TaskArgument,
    TaskKey,
    TaskLogger,
    TaskOutcome,
    Timeout,
)
from strew.docket.docket import Docket
from strew.docket.failures import Failure, FailureRetention
from strew.docket.snapshots import DocketSnapshot, RunningExecution, WorkerInfo
from strew.docket.strikelist import Operator, Strike, StrikeList
from strew.stores import (
    EvictionPolicyError,
    NotReplicated,
    StoreAuthError,
    StoreError,
    StoreUnavailable,
)
from strew.task.annotations import Logged
from strew.task.execution import Disposition, Execution, TaskCall
from strew.task.results import (
    ExecutionCancelled,
    ExecutionProgress,
    ExecutionState,
    ResultError,
    ResultTooLarge,
    ResultUnavailable,
    TaskCancelled,
    TaskFailed,
)
from strew.worker.markers import CurrentDocket, CurrentWorker
from strew.worker.worker import Worker

__version__ = "0.1.0"

__all__ = [
    "Agenda",
    "AgendaEntry",
    "CallArgument",
    "CatchUp",
    "CompletionHandler",
    "ConcurrencyLimit",
    "Cooldown",
    "Cron",
    "CurrentDocket",
    "CurrentExecution",
    "CurrentWorker",
    "CycleError",
    "Debounce",
    "Depends",
    "Disposition",
    "Docket",
    "DocketSnapshot",
    "EvictionPolicyError",
    "Execution",
    "ExecutionCancelled",
    "ExecutionProgress",
    "ExecutionState",
    "ExponentialRetry",
    "Failure",
    "FailureHandler",
    "FailureRetention",
    "Logged",
    "NotReplicated",
    "Operator",
    "Perpetual",
    "Progress",
    "RateLimit",
    "RateLimitWarning",
    "ResultError",
    "ResultTooLarge",
    "ResultUnavailable",
    "Retry",
    "RunningExecution",
    "Runtime",
    "ScatterError",
    "Scattered",
    "Shared",
    "StoreAuthError",
    "StoreError",
    "StoreUnavailable",
    "Strike",
    "StrikeList",
    "TaskArgument",
    "TaskCall",
    "TaskCancelled",
    "TaskFailed",
    "TaskKey",
    "TaskLogger",
    "TaskOutcome",
    "Timeout",
    "Worker",
    "WorkerInfo",
    "__version__",
]
