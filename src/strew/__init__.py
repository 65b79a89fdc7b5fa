"""strew: distributed background tasks on Redis that scatter a batch evenly over time."""

from .agenda import Agenda, AgendaEntry, Scattered, ScatterError
from .annotations import Logged
from .catch_up import CatchUp
from .dependencies import (
    CallArgument,
    Cron,
    CurrentDocket,
    CurrentExecution,
    CurrentWorker,
    CycleError,
    Depends,
    ExponentialRetry,
    Perpetual,
    Progress,
    Retry,
    Shared,
    TaskArgument,
    TaskKey,
    TaskLogger,
    Timeout,
)
from .docket import Docket
from .execution import Disposition, Execution, TaskCall
from .results import (
    ExecutionCancelled,
    ExecutionProgress,
    ExecutionState,
    ResultError,
    ResultUnavailable,
    TaskCancelled,
    TaskFailed,
)
from .snapshots import DocketSnapshot, RunningExecution, WorkerInfo
from .stores import StoreError, StoreUnavailable
from .worker import Worker

__version__ = "0.1.0"

__all__ = [
    "Agenda",
    "AgendaEntry",
    "CallArgument",
    "CatchUp",
    "Cron",
    "CurrentDocket",
    "CurrentExecution",
    "CurrentWorker",
    "CycleError",
    "Depends",
    "Disposition",
    "Docket",
    "DocketSnapshot",
    "Execution",
    "ExecutionCancelled",
    "ExecutionProgress",
    "ExecutionState",
    "ExponentialRetry",
    "Logged",
    "Perpetual",
    "Progress",
    "ResultError",
    "ResultUnavailable",
    "Retry",
    "RunningExecution",
    "ScatterError",
    "Scattered",
    "Shared",
    "StoreError",
    "StoreUnavailable",
    "TaskArgument",
    "TaskCall",
    "TaskCancelled",
    "TaskFailed",
    "TaskKey",
    "TaskLogger",
    "Timeout",
    "Worker",
    "WorkerInfo",
    "__version__",
]
