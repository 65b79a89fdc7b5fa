"""A ConcurrencyLimit holds across worker processes: never more than its slots run at once,
through a worker killed with SIGKILL mid-run and a Redis killed and restarted."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from strew import ConcurrencyLimit, Docket
from strew.testing import RedisServer

from ..helpers import wait_until
from ..processes import spawn

TASKS = 60


async def _guarded_here(  # pragma: no cover - only its name and limit are used here
    marker: str, n: int, limit: ConcurrencyLimit = ConcurrencyLimit(2)
) -> None:
    raise AssertionError("scheduled by name for the worker processes")


_guarded_here.__name__ = "guarded"


def runs(marker: Path) -> list[tuple[str, int, float, int]]:
    if not marker.exists():
        return []
    out = []
    for line in marker.read_text().splitlines():
        event, n, at, pid = line.split()
        out.append((event, int(n), float(at), int(pid)))
    return out


def most_at_once(events: list[tuple[str, int, float, int]], killed: dict[int, float]) -> int:
    """The most runs going at one moment. A run of a killed process ends when it was killed."""
    open_runs: dict[tuple[int, int], float] = {}
    intervals: list[tuple[float, float]] = []
    for event, n, at, pid in events:
        if event == "start":
            open_runs[(n, pid)] = at
        else:
            intervals.append((open_runs.pop((n, pid)), at))
    for (_, pid), began in open_runs.items():
        assert pid in killed, f"a run of live process {pid} never ended"
        intervals.append((began, killed[pid]))
    edges = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    now = most = 0
    for _, step in edges:  # an end before a start at the same instant: they did not overlap
        now += step
        most = max(most, now)
    return most


async def test_never_more_than_the_limit_run_across_processes_through_a_kill_and_a_restart(
    redis_server: RedisServer,
    docket_name: str,
    tmp_path: Path,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    marker = tmp_path / "runs.events"
    killed: dict[int, float] = {}
    async with Docket(docket_name, url=redis_server.url) as docket:
        docket.register(_guarded_here)
        await docket.add_many(
            [docket.call(_guarded_here, key=f"g{n}")(str(marker), n) for n in range(TASKS)]
        )
        for i in range(3):
            worker = spawn(
                docket_name,
                redis_server.url,
                "--redelivery",
                "1",
                "--concurrency",
                "4",
                log=tmp_path / f"worker-{i}.log",
            )
            processes.append(worker)

        def ended() -> set[int]:
            return {n for event, n, _, _ in runs(marker) if event == "end"}

        await wait_until(lambda: len(ended()) >= 10, timeout=60, message="ten runs")

        # Kill a worker that is in the middle of a run: it holds a slot it never gives back.
        def a_run_going() -> int | None:
            going: dict[tuple[int, int], bool] = {}
            for event, n, _, pid in runs(marker):
                going[(n, pid)] = event == "start"
            pids = {p.pid for p in processes}
            return next((pid for (_, pid), on in going.items() if on and pid in pids), None)

        await wait_until(lambda: a_run_going() is not None, timeout=30, interval=0.001)
        victim = a_run_going()
        assert victim is not None
        os.kill(victim, signal.SIGKILL)
        killed[victim] = time.time()

        await wait_until(lambda: len(ended()) >= 30, timeout=60, message="thirty runs")
        redis_server.stop(kill=True)
        redis_server.start()

        await wait_until(lambda: len(ended()) == TASKS, timeout=120, message="every run")
        await docket.store.destroy()

    events = runs(marker)
    assert most_at_once(events, killed) == 2
    assert {n for event, n, _, _ in events if event == "start"} == set(range(TASKS))
