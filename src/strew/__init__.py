"""strew: distributed background tasks on Redis that scatter a batch evenly over time."""

from .agenda import Agenda, AgendaEntry, Scattered, ScatterError
from .docket import Docket, DocketSnapshot, RunningExecution, WorkerInfo
from .execution import Disposition, Execution, TaskCall
from .stores import StoreError, StoreUnavailable
from .worker import Worker

__version__ = "0.1.0"

__all__ = [
    "Agenda",
    "AgendaEntry",
    "Disposition",
    "Docket",
    "DocketSnapshot",
    "Execution",
    "RunningExecution",
    "ScatterError",
    "Scattered",
    "StoreError",
    "StoreUnavailable",
    "TaskCall",
    "Worker",
    "WorkerInfo",
    "__version__",
]
