"""pydocket's ``docket.execution`` module, by the same name: ``from strew.execution import
Execution`` works as ``from docket.execution import Execution`` does. The names live in
`strew.task`; this module only gives them pydocket's address."""

from strew.task.execution import Disposition, Execution, TaskCall
from strew.task.results import ExecutionProgress, ExecutionState

__all__ = ["Disposition", "Execution", "ExecutionProgress", "ExecutionState", "TaskCall"]
