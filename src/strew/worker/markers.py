"""The markers whose values are the docket and the worker themselves. They live here, above
both, so that the dependency machinery below never needs the `Docket` or `Worker` types: the
worker hands their objects down through `WorkerHooks`."""

from __future__ import annotations

from typing import cast

from strew.dependencies import context
from strew.docket.docket import Docket
from strew.worker.worker import Worker


def CurrentDocket() -> Docket:
    """The docket the running task belongs to."""
    return cast(Docket, context.CurrentDocket())


def CurrentWorker() -> Worker:
    """The worker running the task."""
    return cast(Worker, context.CurrentWorker())
