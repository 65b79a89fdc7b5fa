"""Drain against huey's thread worker, and `strew worker --processes N`: tasks/s of no-op tasks.

Issue 18's yardstick for one worker process is huey's thread worker (``RedisHuey``, consumer
with ``worker_type="thread"``) at the same concurrency, on the same Redis, in the same run.
Each run, alternating:

- **strew, one process**: `bench.drain.drain_strew` (one `Worker` in this process,
  ``run_until_finished``; start-up and shutdown included);
- **huey, one process**: tasks enqueued first (untimed, one ``enqueue`` each: huey has no
  batch add), then a consumer of ``--concurrency`` threads started in this process; the rate
  is tasks over the time from ``consumer.start()`` to the last task's start;
- **strew, N processes** (``--processes``, default 2): the real command,
  ``strew worker --processes N --until-finished``, as a subprocess; the rate is tasks over its
  wall time, process start-up (imports, forks) included — a lower bound of the steady rate.

    .venv/bin/python -m bench.drain_processes [--runs 3] [--tasks 20000] [--processes 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import common, drain

NAME = "drain_processes"
TASKS_MODULE = "bench_drain_processes_tasks"
MODULE_TEXT = "async def noop() -> None:\n    pass\n\n\ntasks = [noop]\n"


async def drain_huey(url: str, tasks: int, concurrency: int) -> dict[str, Any]:
    name = common.docket_name(NAME, "huey")
    try:
        # Blocking, in the main thread (huey's consumer installs signal handlers): nothing
        # else runs on this event loop meanwhile.
        return huey_run(url, name, tasks, concurrency)
    finally:
        await common.delete_keys(url, f"huey*{name}*")


def huey_run(url: str, name: str, tasks: int, concurrency: int) -> dict[str, Any]:
    from huey import RedisHuey

    huey = RedisHuey(name, url=common.pydocket_url(url), results=False)  # 100 threads
    starts: list[float] = []
    lock = threading.Lock()

    @huey.task()
    def noop() -> None:
        with lock:
            starts.append(time.perf_counter())

    for _ in range(tasks):
        noop()
    common.settle()
    consumer = huey.create_consumer(
        workers=concurrency,
        worker_type="thread",
        periodic=False,
        initial_delay=0.001,
        backoff=1.0,
        max_delay=0.01,
    )
    started, cpu = time.perf_counter(), time.process_time()
    consumer.start()
    deadline = started + 600
    while len(starts) < tasks and time.perf_counter() < deadline:
        time.sleep(0.005)
    elapsed = max(starts) - started
    cpu = time.process_time() - cpu
    consumer.stop(graceful=True)
    return {**drain.result(tasks, elapsed, starts), "cpu_us_per_task": cpu / tasks * 1e6}


async def drain_strew(url: str, tasks: int, concurrency: int) -> dict[str, Any]:
    """`bench.drain.drain_strew`, with this process's CPU time over the drain alone (the
    worker's, as huey's figure is its consumer threads')."""
    import strew

    name = common.docket_name(NAME, "strew")
    starts, noop = drain.recorder()
    try:
        async with strew.Docket(name, url) as docket:
            docket.register(noop)
            await docket.add_many([docket.call(noop)() for _ in range(tasks)])
            common.settle()
            worker = strew.Worker(docket, concurrency=concurrency)
            started, cpu = time.perf_counter(), time.process_time()
            await worker.run_until_finished()
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        await common.forget(url, name)
    return {**drain.result(tasks, elapsed, starts), "cpu_us_per_task": cpu / tasks * 1e6}


async def drain_command(url: str, tasks: int, concurrency: int, processes: int) -> dict[str, Any]:
    """The real ``strew worker --processes N``: started first and waited for (every process
    in the docket's worker list), then ``tasks`` no-op tasks all due at one moment a little
    ahead; the rate is tasks over the time from that moment to an empty docket (polled every
    10 ms, so up to 10 ms long). Start-up is left out: it is paid once per deployment."""
    import strew

    name = common.docket_name(NAME, "strew-processes")
    workdir = Path(tempfile.gettempdir()) / "strew-bench-drain-processes"
    workdir.mkdir(exist_ok=True)
    (workdir / f"{TASKS_MODULE}.py").write_text(MODULE_TEXT)
    sys.path.insert(0, str(workdir))
    command = [str(Path(sys.executable).parent / "strew"), "worker"]
    command += ["--tasks", f"{TASKS_MODULE}:tasks", "--url", url, "--docket", name]
    command += ["--concurrency", str(concurrency), "--processes", str(processes)]
    command += ["--logging-level", "warning"]
    worker = await asyncio.create_subprocess_exec(*command, cwd=workdir, env={**os.environ})
    try:
        module = __import__(TASKS_MODULE)
        async with strew.Docket(name, url) as docket:
            docket.register(module.noop)
            while len((await docket.snapshot(limit=0)).workers) < processes:  # noqa: ASYNC110 - polls Redis
                await asyncio.sleep(0.05)
            calls = [docket.call(module.noop)() for _ in range(tasks)]
            due = datetime.now(UTC) + timedelta(seconds=1.0 + tasks / 50_000)
            await docket.add_many([docket.call(module.noop, when=due)() for _ in calls])
            while (await docket.snapshot(limit=0)).total_tasks:  # noqa: ASYNC110 - polls Redis
                await asyncio.sleep(0.01)
            elapsed = (datetime.now(UTC) - due).total_seconds()
    finally:
        worker.send_signal(signal.SIGTERM)
        await asyncio.wait_for(worker.wait(), 60)
        sys.path.remove(str(workdir))
        await common.forget(url, name)
    return {"tasks": tasks, "seconds": elapsed, "rate": tasks / elapsed}


async def main(args: argparse.Namespace) -> None:
    with common.redis_server(args.url) as url:
        runs: dict[str, list[dict[str, Any]]] = {}
        for i in range(args.runs):
            for concurrency in args.concurrency:
                figures = {
                    "strew": await drain_strew(url, args.tasks, concurrency),
                    "huey": await drain_huey(url, args.huey_tasks, concurrency),
                }
                for n in sorted({1, args.processes}):
                    common.settle()
                    figures[f"strew worker x{n}"] = await drain_command(
                        url, args.tasks, concurrency, n
                    )
                common.settle()
                for label, figure in figures.items():
                    runs.setdefault(f"{label} c{concurrency}", []).append(figure)
                print(
                    f"run {i + 1}/{args.runs} concurrency {concurrency}: "
                    + ", ".join(f"{k} {v['rate']:,.0f}/s" for k, v in figures.items())
                    + " | cpu µs/task "
                    + ", ".join(
                        f"{k} {v['cpu_us_per_task']:.0f}"
                        for k, v in figures.items()
                        if "cpu_us_per_task" in v
                    )
                    + f" (load {os.getloadavg()[0]:.1f})",
                    flush=True,
                )
        medians = {key: common.median([r["rate"] for r in values]) for key, values in runs.items()}
        cpu = {
            key: common.median([r["cpu_us_per_task"] for r in values])
            for key, values in runs.items()
            if "cpu_us_per_task" in values[0]
        }
        print(f"\ndrain: medians of {args.runs} runs, tasks/s (and against huey)")
        for key, rate in medians.items():
            huey = medians[f"huey c{key.rsplit(' c', 1)[1]}"]
            print(f"  {key:<28} {rate:>10,.0f} /s  {common.ratio(rate, huey):5.1f}x huey")
        print("client CPU per task, µs (this process; Redis's own not counted)")
        for key, value in cpu.items():
            print(f"  {key:<28} {value:>10,.1f}")
        common.save(NAME, args, url, {"medians": medians, "cpu_us_per_task": cpu, "runs": runs})


def parse() -> argparse.Namespace:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--tasks", type=int, default=20_000, help="tasks strew drains")
    p.add_argument("--huey-tasks", type=int, default=10_000, help="tasks huey drains")
    p.add_argument("--concurrency", type=int, nargs="+", default=[10, 100])
    p.add_argument("--processes", type=int, default=2)
    return p.parse_args()


if __name__ == "__main__":
    common.run(main(parse()))
