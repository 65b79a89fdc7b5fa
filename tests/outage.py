"""The outage experiment behind catch-up: a scatter runs, every worker stops for a while in the
middle of it, fresh workers come back (one or several, all at once). Shared by
tests/agenda/test_catch_up.py and bench/catch_up.py.

Start times are read in-process from the monotonic clock, relative to the moment the scatter's
start was read from the store, so they are on the scatter's own time line (give or take the
worker's estimate of the store's clock offset, a millisecond or so).
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field
from datetime import timedelta

from strew import Agenda, CatchUp, Docket, Worker
from strew.task.clock import from_micros

from .helpers import wait_until


@dataclass
class OutageRun:
    tasks: int
    seconds: float
    down: tuple[float, float]
    starts: dict[int, list[float]] = field(default_factory=dict)
    """Seconds from the scatter's start at which each task (by index) started, every run."""
    skipped: int = 0
    retimed: int = 0
    handed_back: int = 0
    """Late claims the returning workers handed back into a re-spread."""

    @property
    def started(self) -> int:
        return len(self.starts)

    @property
    def duplicates(self) -> int:
        return sum(len(runs) - 1 for runs in self.starts.values())

    def per_second(self) -> list[int]:
        """Starts in each whole second of the time line (second 0 = the scatter's start)."""
        times = [t for runs in self.starts.values() for t in runs]
        if not times:
            return []
        counts = [0] * (math.floor(max(times)) + 1)
        for t in times:
            counts[max(0, math.floor(t))] += 1
        return counts

    def peak_after_recovery(self) -> int:
        """The most starts in any one-second bucket from the moment workers came back."""
        return max(self.per_second()[math.floor(self.down[1]) :], default=0)

    @property
    def planned_rate(self) -> float:
        return (self.tasks - 1) / self.seconds

    @property
    def last_start(self) -> float:
        return max((t for runs in self.starts.values() for t in runs), default=0.0)


async def run_outage(
    docket: Docket,
    catch_up: CatchUp | None,
    *,
    tasks: int = 3000,
    seconds: float = 30.0,
    down: tuple[float, float] = (10.0, 20.0),
    workers: int = 1,
    concurrency: int = 10,
    finish_within: float = 60.0,
) -> OutageRun:
    """Scatter ``tasks`` over ``seconds`` with ``catch_up``, run ``workers`` workers (each of
    ``concurrency``) until ``down[0]``, none until ``down[1]``, then as many fresh ones, all
    at once, until every task has run or was skipped."""
    run = OutageRun(tasks, seconds, down)
    origin = 0.0

    async def outage_tick(index: int) -> None:
        run.starts.setdefault(index, []).append(time.monotonic() - origin)

    agenda = Agenda()
    for i in range(tasks):
        agenda.add(outage_tick, key=f"outage-{i}")(i)
    start = from_micros(await docket.store.now())
    origin = time.monotonic()
    await agenda.scatter(docket, over=timedelta(seconds=seconds), start=start, catch_up=catch_up)

    everyone: list[Worker] = []

    async def work_until(moment: float | None) -> None:
        crew = [
            Worker(docket, concurrency=concurrency, poll_ceiling=timedelta(milliseconds=200))
            for _ in range(workers)
        ]
        everyone.extend(crew)
        running = [asyncio.create_task(worker.run_forever()) for worker in crew]
        try:
            if moment is None:
                await wait_until(
                    lambda: run.started + sum(w.stats.skipped for w in everyone) >= tasks,
                    timeout=finish_within + max(0.0, origin + seconds - time.monotonic()),
                    interval=0.05,
                    message=f"all {tasks} outage tasks to run or be skipped",
                )
            else:
                # The experiment itself is timed: the workers stop at a chosen moment.
                await asyncio.sleep(max(0.0, origin + moment - time.monotonic()))
        finally:
            for worker in crew:
                worker.stop()
            await asyncio.gather(*running)

    await work_until(down[0])
    await asyncio.sleep(max(0.0, origin + down[1] - time.monotonic()))
    await work_until(None)
    run.skipped = sum(w.stats.skipped for w in everyone)
    run.retimed = sum(w.catch_up.retimed for w in everyone)
    run.handed_back = sum(w.catch_up.handed_back for w in everyone)
    return run
